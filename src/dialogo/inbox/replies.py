"""Sending a reply: one job per reply, through the provider, as a real reply in the thread.

Like the publishing dispatcher: the reply has a stable idempotency key sent to the network;
the job's unique key is made from it, so a reply gets one job; a retried job (the previous
attempt may have reached the network: an answer lost, a worker killed) first asks the network
for the account's own recent messages in the thread of the message answered
(``Provider.recent_replies``: the comments under it, the direct conversation, or the account's
recent posts where replies are posts) and matches the key (or the text) before sending; a
network that cannot read them leaves the reply ``unconfirmed`` for a person instead of sending
twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.channels.service import open_provider
from dialogo.core.clock import ensure_aware
from dialogo.inbox.ingest import _insert
from dialogo.inbox.models import Conversation, Direction, Message, Reply, ReplyStatus
from dialogo.jobs import service as jobs
from dialogo.notifications import service as notifications
from dialogo.providers.base import Draft, Provider, PublishResult, RemoteRef, takes_since
from dialogo.providers.errors import (
    Disconnected,
    InsufficientScopes,
    InvalidPayload,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    ReauthRequired,
)
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing.dispatcher import CLOCK_SKEW

log = logging.getLogger("dialogo.inbox")

SEND_TASK = "inbox.send_reply"
#: Attempts (transient errors, lost answers) before a person is asked to look.
SEND_MAX_ATTEMPTS = 6
RECENT_POSTS_LIMIT = 50


def job_key(reply: Reply) -> str:
    return f"inbox.reply:{reply.idempotency_key}"


def enqueue_send(session: Session, reply: Reply, *, run_at: dt.datetime | None = None) -> None:
    job = jobs.enqueue(
        session,
        SEND_TASK,
        {"reply_id": reply.id},
        run_at=run_at,
        workspace_id=reply.workspace_id,
        unique_key=job_key(reply),
        max_attempts=SEND_MAX_ATTEMPTS + 1,
    )
    reply.job_id = job.id


def target_of(message: Message) -> RemoteRef:
    return RemoteRef(
        remote_id=message.remote_id,
        conversation_id=message.remote_conversation_id,
        extra=dict(message.ref or {}),
    )


def matches(reply: Reply, found: PublishResult) -> bool:
    state = found.state or {}
    key = reply.idempotency_key
    if state.get("idempotency_key") == key:
        return True
    if state.get("transaction_id", "").startswith(f"dialogo.{key}."):
        return True
    text = state.get("text")
    if text is None or text.strip() != reply.text.strip():
        return False
    created = state.get("created_at")
    if created:
        try:
            when = ensure_aware(dt.datetime.fromisoformat(created.replace("Z", "+00:00")))
        except ValueError:
            return True
        return when >= ensure_aware(reply.created_at) - CLOCK_SKEW
    return True


@dataclasses.dataclass(frozen=True)
class SendOutcome:
    status: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail}


def _attention(session: Session, reply: Reply, variant: str, network: str, body: str) -> None:
    """``variant``: "unconfirmed", "failed", "refused" or "not_sent" (the wordings of
    ``inbox_reply_failed`` in :data:`dialogo.notifications.kinds.MESSAGES`)."""
    notifications.notify(
        session,
        reply.workspace_id,
        kind="inbox_reply_failed",
        severity="error",
        params={"variant": variant, "network": network},
        body=body,
        link=f"/w/{reply.workspace_id}/inbox/{reply.conversation_id}",
        dedupe_key=f"reply:{reply.id}",
    )


def _sent(
    session: Session, reply: Reply, channel: Channel, result: PublishResult, now: dt.datetime
) -> None:
    reply.status = ReplyStatus.sent.value
    reply.remote_id = result.remote_id
    reply.url = result.url
    reply.needs_check = False
    reply.last_error = None
    reply.sent_at = now
    conversation = session.get(Conversation, reply.conversation_id)
    if result.remote_id:
        target = session.get(Message, reply.in_reply_to_id) if reply.in_reply_to_id else None
        session.execute(
            _insert(session, Message)
            .values(
                workspace_id=reply.workspace_id,
                channel_id=channel.id,
                conversation_id=reply.conversation_id,
                remote_id=result.remote_id,
                direction=Direction.outbound.value,
                kind="reply",
                remote_conversation_id=target.remote_conversation_id if target else None,
                in_reply_to=target.remote_id if target else None,
                author_remote_id=channel.account_remote_id,
                author_handle=channel.account_handle,
                author_name=channel.name,
                text=reply.text,
                url=result.url,
                created_at=now,
                ingested_at=now,
                is_question=False,
                is_complaint=False,
                sent_by=reply.agent_id,
                automated=reply.automated,
                ref={k: v for k, v in (result.state or {}).items() if isinstance(v, str)},
            )
            .on_conflict_do_nothing(index_elements=["channel_id", "remote_id"])
        )
    if conversation is not None:
        # An automated acknowledgement is not an answer: the first-response time keeps running
        # and the conversation keeps waiting for a person.
        if not reply.automated:
            if conversation.first_response_at is None:
                conversation.first_response_at = now
            conversation.waiting_since = None
        conversation.message_count += 1
        conversation.last_message_at = now
        conversation.updated_at = now
    session.flush()


def send_reply(
    session: Session,
    reply_id: int,
    *,
    attempt: int,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    now: dt.datetime,
    backoff_base: float,
    backoff_cap: float,
    http: httpx.Client | None = None,
) -> SendOutcome:
    """The body of a send job (in the job's unit of work). Raises ``RetryLater`` for
    transient errors; everything else ends in a recorded state."""
    reply = session.scalar(
        select(Reply)
        .where(Reply.id == reply_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if reply is None:
        return SendOutcome("skipped", "the reply was deleted")
    if reply.status != ReplyStatus.queued.value:
        return SendOutcome("skipped", f"the reply is {reply.status}")
    conversation = session.get(Conversation, reply.conversation_id)
    channel = session.get(Channel, conversation.channel_id) if conversation else None
    target = session.get(Message, reply.in_reply_to_id) if reply.in_reply_to_id else None
    # No write before the network call: on SQLite the first write takes the database's lock,
    # which would then be held while waiting for the network.
    try:
        return _send(
            session,
            reply,
            channel,
            target,
            attempt=attempt,
            registry=registry,
            cipher=cipher,
            now=now,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            http=http,
        )
    finally:
        reply.attempts = attempt


def _send(
    session: Session,
    reply: Reply,
    channel: Channel | None,
    target: Message | None,
    *,
    attempt: int,
    registry: ProviderRegistry,
    cipher: CredentialCipher,
    now: dt.datetime,
    backoff_base: float,
    backoff_cap: float,
    http: httpx.Client | None,
) -> SendOutcome:
    if channel is None or target is None:
        reply.status = ReplyStatus.failed.value
        reply.last_error = "the conversation or its message is gone"
        return SendOutcome("failed", "gone")
    if channel.network not in registry:
        reply.status = ReplyStatus.failed.value
        reply.last_error = f"no provider for {channel.network!r} is installed"
        return SendOutcome("failed", "no provider")
    if channel.status != ChannelStatus.ok.value:
        # Waits for the channel: the job retries later (a person reconnects it meanwhile).
        raise jobs.RetryLater(f"the channel is {channel.status}", delay=max(60.0, backoff_base))
    check_first = reply.needs_check or attempt > 1
    try:
        with open_provider(session, channel, registry=registry, cipher=cipher, http=http) as p:
            if check_first:
                try:
                    found = _find_on_network(p, reply, target)
                except NotImplementedError as exc:
                    reply.status = ReplyStatus.unconfirmed.value
                    reason = str(exc) or f"{channel.network} cannot list its recent messages"
                    reply.last_error = (
                        f"{reason}, so whether the reply went out is unknown: look at the "
                        "thread and answer again by hand if it is not there"
                    )
                    _attention(session, reply, "unconfirmed", channel.network, reply.last_error)
                    return SendOutcome("unconfirmed", "cannot reconcile")
                if found is not None:
                    _sent(session, reply, channel, found, now)
                    return SendOutcome("sent", "found on the network")
            result = p.reply(
                target_of(target), Draft(text=reply.text, idempotency_key=reply.idempotency_key)
            )
            _sent(session, reply, channel, result, now)
            return SendOutcome("sent")
    except NotImplementedError as exc:  # the network cannot answer messages
        reply.status = ReplyStatus.failed.value
        reply.last_error = str(exc) or f"{channel.network} cannot reply"
        _attention(session, reply, "failed", channel.network, reply.last_error)
        return SendOutcome("failed", "cannot reply")
    except (ReauthRequired, InsufficientScopes, Disconnected) as exc:  # channel flagged
        reply.last_error = exc.message
        raise jobs.RetryLater(exc.message, delay=max(60.0, backoff_base)) from exc
    except InvalidPayload as exc:
        reply.status = ReplyStatus.failed.value
        reply.last_error = exc.message + (f" ({'; '.join(exc.issues)})" if exc.issues else "")
        _attention(session, reply, "refused", channel.network, reply.last_error)
        return SendOutcome("failed", exc.code)
    except ProviderError as exc:
        if not exc.transient:
            reply.status = ReplyStatus.failed.value
            reply.last_error = exc.message
            _attention(session, reply, "failed", channel.network, exc.message)
            return SendOutcome("failed", exc.code)
        if attempt >= SEND_MAX_ATTEMPTS:
            reply.status = (
                ReplyStatus.unconfirmed.value
                if isinstance(exc, OutcomeUnknown)
                else ReplyStatus.failed.value
            )
            reply.last_error = f"gave up after {attempt} attempts: {exc.message}"
            _attention(session, reply, "not_sent", channel.network, reply.last_error)
            return SendOutcome(reply.status, "attempts exhausted")
        if isinstance(exc, RateLimited):
            delay = max(1.0, float(exc.retry_after))
        elif isinstance(exc, OutcomeUnknown):
            delay = 5.0  # the next attempt asks the network first (attempt > 1)
        else:
            delay = jobs.backoff_delay(attempt, base=backoff_base, cap=backoff_cap)
        raise jobs.RetryLater(f"{channel.network}: {exc.message}", delay=delay) from exc


def _find_on_network(provider: Provider, reply: Reply, target: Message) -> PublishResult | None:
    """Our own recent message in the thread of ``target`` that is this reply, if any. Nothing
    made before the reply was written, less the clock skew :func:`matches` allows, can be it:
    that is the ``since`` the provider may ask the network for (one written before ``since``
    was a parameter of ``recent_replies`` is asked as before, :func:`takes_since`)."""
    ref = target_of(target)
    if takes_since(provider, "recent_replies"):
        since = ensure_aware(reply.created_at) - CLOCK_SKEW
        found = provider.recent_replies(ref, limit=RECENT_POSTS_LIMIT, since=since)
    else:
        found = provider.recent_replies(ref, limit=RECENT_POSTS_LIMIT)
    for candidate in found:
        if matches(reply, candidate):
            return candidate
    return None
