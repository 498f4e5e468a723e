"""Instagram @mentions pushed by the Meta webhook: the notification carries only the media id
(and the comment id for a mention in a comment), so the webhook request only queues one job per
mention (Meta is answered at once) and the job reads the content from the Graph API
(:meth:`dialogo.providers.instagram.provider.InstagramProvider.fetch_mention`) and stores it
as an inbox message of kind ``mention``.

- **Exactly one row per remote item.** The job's unique key is the mentioning item's id (the
  comment, else the media), so Meta resending the notification queues nothing new, and the
  message goes through the same ingest as everything else (one row per remote id).
- **Transient failures are retried** (5xx, timeouts, rate limits — after the network's wait)
  up to :data:`MAX_ATTEMPTS`; the last one, and any **permanent failure** (the item was
  deleted or is no longer visible, comments disabled, the channel must be reconnected), puts
  the mention into the quarantine with the reason, so it is never lost silently.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.channels import app_limits
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.service import open_provider
from dialogo.inbox import ingest
from dialogo.inbox.models import Message
from dialogo.jobs import service as jobs
from dialogo.providers.base import InboundMessage
from dialogo.providers.errors import ProviderError, RateLimited
from dialogo.providers.meta.webhook import MentionRef
from dialogo.providers.ratelimits import AppSignal
from dialogo.providers.registry import ProviderRegistry

TASK = "inbox.instagram_mention"
MAX_ATTEMPTS = 5


def enqueue(
    session: Session, channel: Channel, mentions: Sequence[MentionRef], *, now: dt.datetime
) -> int:
    """One job per mention (a resent notification finds its job already there)."""
    for ref in mentions:
        jobs.enqueue(
            session,
            TASK,
            {
                "channel_id": channel.id,
                "media_id": ref.media_id,
                "comment_id": ref.comment_id,
                "where": ref.where,
                "time": ref.time.isoformat() if ref.time else None,
            },
            run_at=now,
            workspace_id=channel.workspace_id,
            unique_key=f"{TASK}:{channel.id}:{ref.remote_id}",
            max_attempts=MAX_ATTEMPTS,
        )
    return len(mentions)


@dataclasses.dataclass(frozen=True)
class MentionOutcome:
    status: str  # stored, duplicate, quarantined, skipped
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status, "detail": self.detail}


def _ref(payload: dict[str, Any]) -> MentionRef:
    comment = payload.get("comment_id")
    return MentionRef(
        media_id=str(payload.get("media_id") or ""),
        comment_id=str(comment) if comment else None,
        where=str(payload.get("where") or ""),
        time=dt.datetime.fromisoformat(payload["time"]) if payload.get("time") else None,
        raw={"media_id": payload.get("media_id"), "comment_id": comment},
    )


def fetch_and_store(
    session: Session,
    payload: dict[str, Any],
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    now: dt.datetime,
    attempt: int,
    backoff_base: float,
    backoff_cap: float,
    http: httpx.Client | None = None,
) -> MentionOutcome:
    """Read one mention and store it (in the job's unit of work), quarantine it for good, or
    raise :class:`~dialogo.jobs.service.RetryLater` for a transient failure."""
    channel = session.get(Channel, int(payload["channel_id"]))
    if channel is None:
        return MentionOutcome("skipped", "the channel was removed")
    ref = _ref(payload)
    stored = session.scalar(
        select(Message.id).where(
            Message.channel_id == channel.id, Message.remote_id == ref.remote_id
        )
    )
    if stored is not None:
        return MentionOutcome("duplicate")
    signals: list[AppSignal] = []
    error: ProviderError | None = None
    message: InboundMessage | None = None
    try:
        with open_provider(session, channel, registry=registry, cipher=cipher, http=http) as p:
            signals = p.app_signals
            fetch = getattr(p, "fetch_mention", None)
            if fetch is None:
                return _quarantine(
                    session, channel, ref, f"{channel.network} cannot read mentions", now
                )
            message = fetch(ref.media_id, ref.comment_id, at=ref.time)
    except ProviderError as exc:
        error = exc
    notes, _own = app_limits.notes_for(
        channel.network, channel.config, signals, now=now, error=error
    )
    app_limits.note(session, notes, now=now)
    if error is not None:
        if not error.transient:
            return _quarantine(session, channel, ref, error.message, now)
        if attempt >= MAX_ATTEMPTS:
            reason = f"gave up after {attempt} attempts: {error.message}"
            return _quarantine(session, channel, ref, reason, now)
        if isinstance(error, RateLimited):
            delay = max(1.0, float(error.retry_after))
        else:
            delay = jobs.backoff_delay(attempt, base=backoff_base, cap=backoff_cap)
        raise jobs.RetryLater(f"instagram mention: {error.message}", delay=delay) from error
    assert message is not None
    report = ingest.store_messages(session, channel, [message], now=now)
    return MentionOutcome("stored" if report.stored else "duplicate")


def _quarantine(
    session: Session, channel: Channel, ref: MentionRef, why: str, now: dt.datetime
) -> MentionOutcome:
    kind = "comment" if ref.comment_id else "caption"
    reason = (
        f"Instagram webhook, {ref.where}: an @mention in a {kind} (media {ref.media_id}"
        + (f", comment {ref.comment_id}" if ref.comment_id else "")
        + f") could not be read: {why}"
    )
    ingest.quarantine(session, channel, ref, reason, now=now)
    session.flush()
    return MentionOutcome("quarantined", reason)
