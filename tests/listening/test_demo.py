import dataclasses

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.core.context import AppContext
from dialogo.listening.demo import demo_step
from dialogo.listening.models import ListeningQuery, Mention
from tests.listening.conftest import Brand


def test_demo_step_creates_queries_ingests_and_is_repeatable(
    ctx: AppContext, db: Session, brand: Brand
) -> None:
    db.commit()
    demo = dataclasses.replace(ctx, providers=brand.providers)
    demo_step(demo, brand.id)
    db.expire_all()
    queries = db.scalars(
        select(ListeningQuery).where(ListeningQuery.workspace_id == brand.id)
    ).all()
    assert [q.kind for q in queries] == ["brand", "competitor", "competitor", "competitor"][
        : len(queries)
    ]
    assert queries[0].name == "Caffè Aurora"
    count = db.scalar(
        select(func.count()).select_from(Mention).where(Mention.workspace_id == brand.id)
    )
    assert count and count > 0
    demo_step(demo, brand.id)  # a second run adds nothing
    db.expire_all()
    assert (
        db.scalar(select(func.count()).select_from(Mention).where(Mention.workspace_id == brand.id))
        == count
    )
