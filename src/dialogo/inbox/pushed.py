"""Messages a network pushed (a signed webhook) into the inbox, whichever network sent them.

The webhook parsers (``providers/*/webhook.py``) give the messages, each with the account it is
addressed to, and the parts they could not read. The messages addressed to the channel go
through the same ingest as polling (one row per remote message, so a message that also comes
by the next poll is stored once); the others, and every unreadable part, go to the quarantine
with the reason, so nothing is dropped silently. The ingest cursor is not touched.

A notification that names an item only by its id is answered at once and the item read by a
job (:func:`fetch_pushed`, one mechanism for every network that does this).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.channels import app_limits
from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel
from dialogo.channels.service import open_provider
from dialogo.core.text import storable
from dialogo.inbox import ingest
from dialogo.inbox.models import Direction, Message
from dialogo.jobs import service as jobs
from dialogo.providers.base import InboundMessage, Provider
from dialogo.providers.errors import ProviderError, RateLimited
from dialogo.providers.ratelimits import AppSignal
from dialogo.providers.registry import ProviderRegistry


class Problem(Protocol):
    @property
    def where(self) -> str: ...

    @property
    def reason(self) -> str: ...


def store_pushed(
    session: Session,
    channel: Channel,
    messages: Sequence[tuple[str, InboundMessage]],
    problems: Sequence[Problem],
    *,
    accepts: Callable[[str], bool],
    foreign: Callable[[str], str],
    source: str,
    now: dt.datetime,
    prepare: Callable[[list[InboundMessage]], list[InboundMessage]] | None = None,
) -> ingest.IngestReport:
    """Store the ``(addressee, message)`` pairs ``accepts`` takes; quarantine the others with
    ``foreign(addressee)`` as the reason, and each problem as "``source``, where: reason".
    ``prepare`` may rework the accepted messages (threading) before they are stored. Flushes;
    the caller commits."""
    ours = []
    for to, message in messages:
        if accepts(to):
            ours.append(message)
        else:
            ingest.quarantine(session, channel, message, foreign(to), now=now)
    for problem in problems:
        reason = f"{source}, {problem.where}: {problem.reason}"
        ingest.quarantine(session, channel, problem, reason, now=now)
    report = ingest.store_messages(session, channel, prepare(ours) if prepare else ours, now=now)
    report.quarantined += len(problems) + (len(messages) - len(ours))
    session.flush()
    return report


# -- webhook ids → fetch job → store, retry or quarantine ---------------------------------------


@dataclasses.dataclass(frozen=True)
class FetchOutcome:
    """What a fetch job did: ``stored``, ``duplicate``, ``ignored`` (nothing for the inbox),
    ``quarantined`` or ``skipped`` (the channel is gone)."""

    status: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status, "detail": self.detail}


@dataclasses.dataclass(frozen=True)
class FetchRun:
    """One run of a fetch job: where to reach the network, the worker's attempt and its
    backoff settings."""

    registry: ProviderRegistry
    cipher: CredentialCipher
    now: dt.datetime
    attempt: int
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    http: httpx.Client | None = None


def fetch_pushed(
    session: Session,
    channel: Channel,
    run: FetchRun,
    fetch: Callable[[Provider], InboundMessage | None],
    quarantine: Callable[[str], tuple[Any, str]],
    *,
    max_attempts: int,
    label: str,
) -> FetchOutcome:
    """The body of a job that reads what a webhook named only by id, shared by every network
    whose notifications carry ids (Instagram @mentions, Threads replies and mentions).

    ``fetch`` reads the item with the channel's provider (``None``: nothing for the inbox);
    the message is stored through the same ingest as everything else (one row per remote id).
    What the calls said about the app's rate limit is recorded
    (:mod:`dialogo.channels.app_limits`: the poller and the dispatcher then wait too). A
    transient failure raises :class:`~dialogo.jobs.service.RetryLater` — after the network's
    wait for a rate limit, else the worker's backoff — until the last attempt; that one, and a
    permanent failure, quarantine the item: ``quarantine(why)`` gives the item to keep and
    the reason. Flushes; the job's unit of work commits."""
    signals: list[AppSignal] = []
    error: ProviderError | None = None
    message: InboundMessage | None = None
    try:
        with open_provider(
            session, channel, registry=run.registry, cipher=run.cipher, http=run.http
        ) as p:
            signals = p.app_signals
            message = fetch(p)
    except ProviderError as exc:
        error = exc
    notes, _own = app_limits.notes_for(
        channel.network, channel.config, signals, now=run.now, error=error
    )
    app_limits.note(session, notes, now=run.now)
    if error is not None:
        why = error.message
        if error.transient:
            if run.attempt < max_attempts:
                if isinstance(error, RateLimited):
                    delay = max(1.0, float(error.retry_after))
                else:
                    delay = jobs.backoff_delay(
                        run.attempt, base=run.backoff_base, cap=run.backoff_cap
                    )

                def keep(other: Session) -> None:  # the attempt is rolled back: not the notes
                    app_limits.note(other, notes, now=run.now)

                raise jobs.RetryLater(f"{label}: {why}", delay=delay, keep=keep) from error
            why = f"gave up after {run.attempt} attempts: {why}"
        item, reason = quarantine(why)
        ingest.quarantine(session, channel, item, reason, now=run.now)
        session.flush()
        return FetchOutcome("quarantined", reason)
    if message is None:
        return FetchOutcome("ignored", "nothing for the inbox")
    report = ingest.store_messages(session, channel, [message], now=run.now)
    session.flush()
    return FetchOutcome("stored" if report.stored else "duplicate")


# -- what a network says changed: edits and deletions of stored messages ------------------------


class Gone(Protocol):
    """A deletion a network pushed: the remote id, and when (if it says)."""

    @property
    def remote_id(self) -> str: ...

    @property
    def deleted_at(self) -> dt.datetime | None: ...


def _stored(
    session: Session, channel: Channel, remote_ids: Iterable[str], *where: Any
) -> Sequence[Message]:
    """The channel's stored messages with these remote ids (and ``where``)."""
    query = select(Message).where(
        Message.channel_id == channel.id, Message.remote_id.in_(list(remote_ids)), *where
    )
    return session.scalars(query).all()


def apply_edits(
    session: Session, channel: Channel, messages: Sequence[InboundMessage], *, now: dt.datetime
) -> int:
    """A pushed message the inbox already holds, whose text changed, is an edit: the stored
    text (and its enrichment, computed again) becomes the new one. A message without text
    changes nothing (a network that names an edited item only by id, with no text, leaves
    the stored text as it was). Returns how many were edited. Flushes."""
    texts: dict[str, InboundMessage] = {}
    for message in messages:
        text = message.text if isinstance(message, InboundMessage) else None
        if isinstance(text, str) and text.strip() and "\x00" not in text:
            texts[message.remote_id] = message
    if not texts:
        return 0
    rows = _stored(session, channel, texts, Message.direction == Direction.inbound.value)
    analyse = ingest.default_analyser()
    edited = 0
    for row in rows:
        new = storable(texts[row.remote_id].text)
        if new == row.text:
            continue
        enrichment = analyse(new, texts[row.remote_id].language)
        row.text = new
        row.language = enrichment.language
        row.sentiment = enrichment.sentiment
        row.sentiment_label = enrichment.label
        row.is_question = enrichment.is_question
        row.is_complaint = enrichment.is_complaint
        edited += 1
    session.flush()
    return edited


def mark_deleted(
    session: Session, channel: Channel, gone: Sequence[Gone], *, now: dt.datetime
) -> int:
    """Mark the channel's stored messages that the network says were deleted (kept, with
    their text, for the record: the conversation labels them). A deletion of something the
    inbox never stored is nothing to do. Returns how many were marked. Flushes."""
    when = {g.remote_id: g.deleted_at or now for g in gone if g.remote_id}
    if not when:
        return 0
    rows = _stored(session, channel, when, Message.deleted_at.is_(None))
    for row in rows:
        row.deleted_at = when[row.remote_id]
    session.flush()
    return len(rows)
