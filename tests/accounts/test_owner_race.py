"""Two owners demoting each other at the same moment: one must fail, one owner must remain.

Runs on a committed database with two real connections, on both backends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from dialogo.accounts import service as accounts
from dialogo.accounts.models import Membership
from dialogo.accounts.permissions import Role
from dialogo.core.db import make_engine, make_session_factory
from dialogo.core.errors import Conflict
from tests.conftest import make_settings
from tests.factories import add_member, make_user, make_workspace

pytestmark = [pytest.mark.usefixtures("cheap_hashing"), pytest.mark.integration]


@pytest.fixture
def engine(fresh_database: str, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(make_settings(tmp_path, fresh_database))
    yield engine
    engine.dispose()


Change = Callable[[Session, accounts.Principal, int, int], object]


def demote(session: Session, principal: accounts.Principal, ws: int, member: int) -> object:
    return accounts.update_member_role(session, principal, ws, member, Role.editor)


def remove(session: Session, principal: accounts.Principal, ws: int, member: int) -> object:
    return accounts.remove_member(session, principal, ws, member)


@pytest.mark.parametrize("change", [demote, remove], ids=["demote", "remove"])
def test_concurrent_owners_cannot_both_step_down(engine: Engine, change: Change) -> None:
    factory: sessionmaker[Session] = make_session_factory(engine)
    with factory.begin() as session:
        first = make_user(session)
        workspace = make_workspace(session, first)
        second = add_member(session, workspace, first, Role.owner)
        rows = session.scalars(select(Membership).where(Membership.workspace_id == workspace.id))
        ids = {m.user_id: m.id for m in rows}
        ws_id, first_p, second_p = (
            workspace.id,
            accounts.Principal.for_user(first),
            accounts.Principal.for_user(second),
        )

    # The first owner steps the second one down, and has not committed yet ...
    one = factory()
    change(one, first_p, ws_id, ids[second_p.user_id])

    # ... when the second owner steps the first one down.
    outcome: list[object] = []

    def other() -> None:
        with factory() as two:
            try:
                change(two, second_p, ws_id, ids[first_p.user_id])
                two.commit()
                outcome.append("committed")
            except Conflict as exc:
                two.rollback()
                outcome.append(exc.code)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(timeout=1.0)  # it waits for the first one's locks (or, if unguarded, commits)
    one.commit()
    one.close()
    thread.join(timeout=60)
    assert not thread.is_alive()

    assert outcome == ["last_owner"]
    with factory() as session:
        owners = session.scalar(
            select(func.count(Membership.id)).where(
                Membership.workspace_id == ws_id, Membership.role == Role.owner.value
            )
        )
    assert owners == 1
