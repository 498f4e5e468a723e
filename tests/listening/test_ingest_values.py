"""What the bulk ingest stores is what the ORM would: every analysed field, each mention's own
times, converted values shared between rows (flags, the batch's time, topics) not mixed up."""

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.listening import service
from dialogo.listening.models import Mention, MentionSource
from dialogo.nlp import analyse
from tests.listening.conftest import Brand

T0 = dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)

TEXTS = [
    "Why is my refund still not here? #acme",
    "Il pacco è in ritardo da una settimana, vergogna",
    "Great flight, the crew was lovely",
    "",
    "Qualcuno sa come si fa il reso?",
    "the delivery was late and the price too high #delay #price",
    "the delivery was late and the price too high",
    "ok",
]


def test_stored_values_equal_the_analysis_and_the_input(db: Session, brand: Brand) -> None:
    items = [
        service.Incoming(
            channel="import",
            remote_id=f"v{i}",
            text=t,
            # Distinct times, two equal ones, and one given in another time zone.
            posted_at=(T0 + dt.timedelta(minutes=i // 2)).astimezone(
                dt.timezone(dt.timedelta(hours=2)) if i == 3 else dt.UTC
            ),
        )
        for i, t in enumerate(TEXTS)
    ]
    result = service.ingest(db, brand.id, items, source=MentionSource.file, keep_unmatched=True)
    assert result.stored == len(TEXTS)
    db.expire_all()
    stored = {
        m.remote_id: m for m in db.scalars(select(Mention).where(Mention.workspace_id == brand.id))
    }
    ingested = {m.ingested_at for m in stored.values()}
    assert len(ingested) == 1
    for i, text in enumerate(TEXTS):
        m = stored[f"v{i}"]
        a = analyse(text)
        assert m.text == text
        assert (m.language, m.sentiment, m.label) == (a.language, a.sentiment, a.label), text
        assert (m.is_question, m.is_complaint) == (a.is_question, a.is_complaint), text
        assert m.topics == list(a.topics), text
        assert m.emotions is None
        posted = m.posted_at if m.posted_at.tzinfo else m.posted_at.replace(tzinfo=dt.UTC)
        assert posted == T0 + dt.timedelta(minutes=i // 2), text


def test_a_pending_mention_of_the_session_counts_as_stored(db: Session, brand: Brand) -> None:
    db.add(
        Mention(
            workspace_id=brand.id,
            channel="import",
            remote_id="pending",
            source=MentionSource.file.value,
            text="added through the ORM, not flushed yet",
            posted_at=T0,
            ingested_at=T0,
            language="en",
            sentiment=0.0,
            label="neutral",
            is_question=False,
            is_complaint=False,
            topics=[],
        )
    )
    item = service.Incoming(channel="import", remote_id="pending", text="again", posted_at=T0)
    result = service.ingest(db, brand.id, [item], source=MentionSource.file, keep_unmatched=True)
    assert (result.stored, result.duplicates) == (0, 1)
