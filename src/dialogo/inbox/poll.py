"""Polling a channel: fetch pages since the stored cursor and store them (one job per channel).

Provider errors are handled as the channels and publishing code does: the errors that say the
connection is broken flag the channel (``open_provider``) and the channel is skipped until a
person reconnects it; a rate limit pauses the channel for as long as the network says (an
app's limit, or usage near it, pauses every channel of the app, which the tick then skips:
:mod:`dialogo.channels.app_limits`); a transient error is retried by the job with backoff.
Nothing is stored for a page that failed, and the cursor stays where it was.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dialogo.channels import app_limits
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.channels.service import open_provider
from dialogo.core.clock import ensure_aware
from dialogo.inbox.ingest import Analyser, IngestReport, cursor_of, store_page
from dialogo.inbox.models import IngestCursor
from dialogo.providers.base import MessagePage
from dialogo.providers.errors import (
    Disconnected,
    InsufficientScopes,
    ProviderError,
    RateLimited,
    ReauthRequired,
)
from dialogo.providers.ratelimits import AppSignal
from dialogo.providers.registry import ProviderRegistry

log = logging.getLogger("dialogo.inbox")

#: Pages one job fetches at most (the next job goes on from the cursor).
MAX_PAGES = 20


class FetchDeferred(Exception):
    """A transient error before any page: nothing was stored and the cursor stayed. ``notes``
    (what the calls said about the app's rate limit) must outlast the rollback of the attempt:
    the job writes them with :meth:`keep` in the transaction that re-queues it."""

    def __init__(
        self, error: ProviderError, notes: list[app_limits.Note], *, now: dt.datetime
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.notes = notes
        self.now = now

    def keep(self, session: Session) -> None:
        app_limits.note(session, self.notes, now=self.now)


@dataclasses.dataclass
class PollOutcome:
    status: str  # ok, skipped, flagged, rate_limited
    report: IngestReport
    pages: int = 0
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "pages": self.pages,
            "detail": self.detail,
            **self.report.as_dict(),
        }


def channels_to_poll(session: Session, *, now: dt.datetime) -> list[Channel]:
    """Working channels that are not paused by a rate limit, their own or their app's."""
    return list(
        session.scalars(
            select(Channel)
            .outerjoin(IngestCursor, IngestCursor.channel_id == Channel.id)
            .where(
                Channel.status == ChannelStatus.ok.value,
                or_(IngestCursor.paused_until.is_(None), IngestCursor.paused_until <= now),
                Channel.id.not_in(app_limits.limited_channels(now)),
            )
            .order_by(Channel.id)
        )
    )


def poll_channel(
    session: Session,
    channel: Channel,
    *,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    now: dt.datetime,
    max_pages: int = MAX_PAGES,
    http: httpx.Client | None = None,
    analyser: Analyser | None = None,
) -> PollOutcome:
    """Fetch up to ``max_pages`` pages, then store them (in the caller's unit of work).

    Every network call happens before the first write, so the unit of work holds no write
    lock while waiting for the network (on SQLite that lock is the whole database's). Pages
    fetched before an error are stored with their cursor; a transient error before any page
    raises :class:`FetchDeferred` for the job to retry with backoff."""
    total = IngestReport()
    if channel.status != ChannelStatus.ok.value:
        return PollOutcome("skipped", total, detail=f"the channel is {channel.status}")
    if channel.network not in registry:
        return PollOutcome("skipped", total, detail=f"no provider for {channel.network!r}")
    window = app_limits.app_window(session, channel.network, channel.config, now)
    if window is not None:  # queued before the app's window opened: wait with the others
        until = ensure_aware(window.until) if window.until else now
        return PollOutcome(
            "rate_limited", total, detail=f"the channel's app waits until {until.isoformat()}"
        )
    stored_cursor = session.get(IngestCursor, channel.id)
    since = stored_cursor.cursor if stored_cursor is not None else None
    fetched: list[tuple[str | None, MessagePage]] = []
    status, detail = "ok", ""
    paused_until: dt.datetime | None = None
    signals: list[AppSignal] = []
    error: ProviderError | None = None
    try:
        with open_provider(session, channel, registry=registry, cipher=cipher, http=http) as p:
            signals = p.app_signals
            while len(fetched) < max_pages:
                page = p.fetch_messages(since)
                fetched.append((since, page))
                if page.cursor is None or page.cursor == since or not page.messages:
                    break
                since = page.cursor
    except (ReauthRequired, InsufficientScopes, Disconnected) as exc:  # the channel is flagged
        status, detail = "flagged", exc.message
    except RateLimited as exc:
        status, detail, error = "rate_limited", exc.message, exc
        paused_until = now + dt.timedelta(seconds=max(1.0, float(exc.retry_after)))
    except ProviderError as exc:
        if exc.transient and not fetched:
            notes, _own = app_limits.notes_for(
                channel.network, channel.config, signals, now=now, error=exc
            )
            raise FetchDeferred(exc, list(notes), now=now) from exc
        # A permanent refusal of the fetch (an invalid request), or a transient error after
        # some pages: what came is stored, the reason is kept for the admins, the next poll
        # goes on from the cursor.
        status, detail = ("partial" if exc.transient else "failed"), exc.message
    cursor = cursor_of(session, channel.id, now=now)
    for previous, page in fetched:
        total.add(store_page(session, channel, page, previous=previous, now=now, analyser=analyser))
    cursor = session.get(IngestCursor, channel.id, populate_existing=True) or cursor
    own = _note_limits(session, channel, signals, now=now, error=error)
    if own is not None:  # the account's own usage is near its limit: slow down
        paused_until = max(paused_until or own, own)
    cursor.paused_until = paused_until
    cursor.last_error = detail or None
    cursor.last_run_at = now
    session.flush()
    return PollOutcome(status, total, len(fetched), detail)


def _note_limits(
    session: Session,
    channel: Channel,
    signals: list[AppSignal],
    *,
    now: dt.datetime,
    error: ProviderError | None = None,
) -> dt.datetime | None:
    """Store what the calls said about the app's limit; return how long the channel itself
    should pause for its own usage, if at all."""
    notes, own = app_limits.notes_for(
        channel.network, channel.config, signals, now=now, error=error
    )
    app_limits.note(session, notes, now=now)
    return own
