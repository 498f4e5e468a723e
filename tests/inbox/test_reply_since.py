"""The retry of a reply whose answer was lost asks the provider only for what can be it:
``recent_replies(since=…)`` from when the reply was written, less the clock skew that
:func:`dialogo.inbox.replies.matches` allows; a provider written before ``since`` existed is
asked as before."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dialogo.core.clock import ensure_aware
from dialogo.inbox.models import Reply, ReplyStatus
from dialogo.providers.base import PublishResult, RemoteRef
from dialogo.providers.errors import OutcomeUnknown
from dialogo.publishing.dispatcher import CLOCK_SKEW
from tests.inbox.conftest import Rig
from tests.inbox.test_replies import setup_conversation, write


def lose_the_first_answer(rig: Rig) -> Reply:
    """A reply whose first attempt ended without an answer; the retry will look first."""
    reply = write(rig, setup_conversation(rig))
    rig.network.fail_next(OutcomeUnknown("read timeout"))
    rig.run()
    rig.clock.advance(seconds=10)
    return reply


def test_the_retry_asks_for_the_replies_since_the_reply_was_written(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[dict[str, Any]] = []

    def recent_replies(
        self: object, target: RemoteRef, *, limit: int = 20, since: dt.datetime | None = None
    ) -> list[PublishResult]:
        asked.append({"limit": limit, "since": since})
        return [PublishResult("r-1", state={"idempotency_key": reply.idempotency_key})]

    monkeypatch.setattr(rig.providers.get(rig.network.name), "recent_replies", recent_replies)
    reply = lose_the_first_answer(rig)
    rig.run()
    done = rig.db.get(Reply, reply.id, populate_existing=True)
    assert done is not None and done.status == ReplyStatus.sent.value
    assert done.remote_id == "r-1" and rig.network.posts == []  # found, not sent again
    [call] = asked
    assert call["since"] == ensure_aware(reply.created_at) - CLOCK_SKEW


def test_a_provider_without_since_is_asked_as_before(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []

    def recent_replies(self: object, target: RemoteRef, *, limit: int = 20) -> list[object]:
        asked.append(limit)
        return []

    monkeypatch.setattr(rig.providers.get(rig.network.name), "recent_replies", recent_replies)
    reply = lose_the_first_answer(rig)
    rig.run()
    done = rig.db.get(Reply, reply.id, populate_existing=True)
    assert done is not None and done.status == ReplyStatus.sent.value
    assert asked and len(rig.network.posts) == 1  # nothing found: sent once
