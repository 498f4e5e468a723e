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

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.channels.models import Channel
from dialogo.inbox.models import Message
from dialogo.inbox.pushed import FetchOutcome, FetchRun, fetch_pushed
from dialogo.jobs import service as jobs
from dialogo.providers.base import InboundMessage, Provider
from dialogo.providers.errors import ProviderError
from dialogo.providers.meta.webhook import MentionRef

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


#: What a mention job did (the shared fetch jobs' outcome).
MentionOutcome = FetchOutcome


def _ref(payload: dict[str, Any]) -> MentionRef:
    comment = payload.get("comment_id")
    return MentionRef(
        media_id=str(payload.get("media_id") or ""),
        comment_id=str(comment) if comment else None,
        where=str(payload.get("where") or ""),
        time=dt.datetime.fromisoformat(payload["time"]) if payload.get("time") else None,
        raw={"media_id": payload.get("media_id"), "comment_id": comment},
    )


def fetch_and_store(session: Session, payload: dict[str, Any], run: FetchRun) -> MentionOutcome:
    """Read one mention and store it (in the job's unit of work), quarantine it for good, or
    raise :class:`~dialogo.jobs.service.RetryLater` for a transient failure
    (:func:`dialogo.inbox.pushed.fetch_pushed`)."""
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

    def fetch(provider: Provider) -> InboundMessage | None:
        read = getattr(provider, "fetch_mention", None)
        if read is None:
            raise ProviderError(f"{channel.network} cannot read mentions")
        message: InboundMessage | None = read(ref.media_id, ref.comment_id, at=ref.time)
        return message

    def quarantine(why: str) -> tuple[Any, str]:
        kind = "comment" if ref.comment_id else "caption"
        reason = (
            f"Instagram webhook, {ref.where}: an @mention in a {kind} (media {ref.media_id}"
            + (f", comment {ref.comment_id}" if ref.comment_id else "")
            + f") could not be read: {why}"
        )
        return ref, reason

    return fetch_pushed(
        session,
        channel,
        run,
        fetch,
        quarantine,
        max_attempts=MAX_ATTEMPTS,
        label="instagram mention",
    )
