"""The outcomes' transaction commits asynchronously on PostgreSQL, and only it: the claim's
commit, the next transaction on the same connection and an outcome with renewed credentials
stay synchronous (``dispatcher._ASYNC_COMMIT``)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.providers.base import Credentials
from dialogo.publishing import dispatcher
from tests.publishing.test_dispatcher import _claimed_since

pytestmark = pytest.mark.postgres

NOW = dt.datetime(2031, 3, 1, 8, 0, tzinfo=dt.UTC)


def _gone_batch() -> dispatcher.Batch:
    """A published outcome for a variant no longer there (nothing is written: the guarded
    update matches no row), so the test commits on a real connection and leaves no data."""
    claimed = dataclasses.replace(
        _claimed_since(NOW),
        id=-1,
        post_id=-1,
        workspace_id=-1,
        channel_id=-1,
        status="published",
        remote_id="r1",
        published_at=NOW,
    )
    return dispatcher.Batch("gone:1", [claimed])


def _synchronous_commit(session: Session) -> str:
    return str(session.scalar(text("SHOW synchronous_commit")))


def test_only_the_outcomes_transaction_commits_asynchronously(
    engine: Engine, cipher: CredentialCipher
) -> None:
    with engine.connect() as connection, Session(bind=connection) as session:
        batch = dispatcher.claim_batch(session, "a", now=NOW, lease=dt.timedelta(seconds=60))
        assert _synchronous_commit(session) == "on"  # the claim's commit
        session.commit()
        dispatcher.record(session, _gone_batch(), now=NOW, cipher=cipher)
        assert _synchronous_commit(session) == "off"
        session.commit()
        assert _synchronous_commit(session) == "on"  # the next transaction, same connection
        session.rollback()
        assert batch.variants == []


def test_an_outcome_with_renewed_credentials_commits_synchronously(
    engine: Engine, cipher: CredentialCipher
) -> None:
    batch = _gone_batch()
    renewed = Credentials(access_token="new", refresh_token="rotated")
    batch.renewed[-1] = renewed
    batch.read[-1] = cipher.encrypt(Credentials(access_token="old", refresh_token="used"))
    with engine.connect() as connection, Session(bind=connection) as session:
        dispatcher.record(session, batch, now=NOW, cipher=cipher)
        assert _synchronous_commit(session) == "on"
        session.commit()
