"""Signed webhooks for post events, in the Standard Webhooks style (standardwebhooks.com).

A workspace registers endpoints (a URL, the events it wants, a secret ``whsec_…`` shown once
and stored encrypted). When a post's status becomes ``scheduled``, ``published``, ``failed``
or ``unconfirmed``, one delivery per subscribed endpoint is recorded *in the same transaction*
(a session ``before_flush`` hook, so whatever changes the post — a request, the dispatcher, a
command — emits the event, and a rolled-back change emits nothing), with a job to send it.

Each request carries ``webhook-id`` (stable across retries, for the receiver's de-duplication),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: ``v1,`` + base64 of
HMAC-SHA256 over ``"{id}.{timestamp}.{body}"`` keyed with the secret's decoded bytes. A 2xx
answer delivers it; anything else is logged and retried by a new job with exponential backoff,
up to :data:`MAX_ATTEMPTS`, after which the delivery fails and the team is notified.

The body of a post event (:func:`post_payload`) is JSON: ``type`` (``post.published``, …),
``timestamp``, and ``data`` with ``post_id``, ``workspace_id``, ``campaign_id``, ``status``,
``scheduled_at`` and ``variants``, one per channel: ``channel_id``, ``network``, ``status``,
``remote_id``, ``url``, ``error`` (the last error in English, null when none), ``error_code``
(its type: a provider error such as ``rate_limited`` or one of the dispatcher's own,
:data:`dialogo.publishing.reasons.REASONS`) and ``error_params`` (the values of its sentence,
the network's own text as ``detail``), so a receiver can word the error in its own language;
both null when the variant has no error or its error was stored before codes were kept.

Limits: posts created directly in an event status (not through draft first, which every service
does) emit nothing, since they have no id before the flush; status changes made with bulk SQL
``UPDATE`` statements bypass the ORM, so their author calls :func:`emit_status_changes` (the
dispatcher does, for published, failed and unconfirmed). Secrets are encrypted with the
channel credentials key, but ``dialogo channels rotate-key`` does not re-encrypt them yet.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, selectinload

from dialogo.accounts.permissions import Permission
from dialogo.accounts.service import Principal, authorize
from dialogo.channels.crypto import CredentialCipher
from dialogo.core.clock import utcnow
from dialogo.core.errors import NotFound
from dialogo.jobs import service as jobs
from dialogo.jobs.models import Job, JobStatus
from dialogo.notifications import service as notifications
from dialogo.providers.base import Credentials
from dialogo.providers.netpolicy import OutboundRefused
from dialogo.publishing.models import Post, PostStatus, WebhookDelivery, WebhookEndpoint

DELIVER_TASK = "publishing.webhooks.deliver"
EVENTS = {
    PostStatus.scheduled.value: "post.scheduled",
    PostStatus.published.value: "post.published",
    PostStatus.failed.value: "post.failed",
    PostStatus.unconfirmed.value: "post.unconfirmed",
}
EVENT_TYPES = tuple(EVENTS.values())
MAX_ATTEMPTS = 8
TIMEOUT = httpx.Timeout(10.0)
#: Backoff between attempts: base · 2^(attempt-1), jittered, at most the cap.
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 6 * 3600.0


# --- schemas -----------------------------------------------------------------------------------


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=1000, examples=["https://example.com/hooks/dialogo"])
    description: str = Field(default="", max_length=500)
    events: list[str] = Field(default_factory=list, description="empty: every event")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        url = httpx.URL(value.strip())
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("an http:// or https:// address")
        return str(url)

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown events {unknown}; use {list(EVENT_TYPES)}")
        return sorted(set(value))


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    workspace_id: int
    url: str
    description: str
    events: list[str]
    active: bool
    created_at: dt.datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="shown only now: verify signatures with it")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    endpoint_id: int
    message_id: str
    event_type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    log: list[dict[str, Any]]
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime


# --- signing (pure) ----------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers_for(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "Dialogo-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


# --- endpoints ---------------------------------------------------------------------------------


def create_endpoint(
    session: Session,
    principal: Principal,
    workspace_id: int,
    data: WebhookIn,
    *,
    cipher: CredentialCipher,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret (in clear, this once)."""
    authorize(session, principal, workspace_id, Permission.workspace_update)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        workspace_id=workspace_id,
        url=data.url,
        description=data.description,
        events=list(data.events),
        secret=cipher.encrypt(Credentials(access_token=secret)),
        active=True,
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def list_endpoints(
    session: Session, principal: Principal, workspace_id: int
) -> list[WebhookEndpoint]:
    authorize(session, principal, workspace_id, Permission.workspace_update)
    return list(
        session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.workspace_id == workspace_id)
            .order_by(WebhookEndpoint.id)
        )
    )


def _endpoint(session: Session, workspace_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.workspace_id != workspace_id:
        raise NotFound("webhook endpoint not found")
    return endpoint


def delete_endpoint(
    session: Session, principal: Principal, workspace_id: int, endpoint_id: int
) -> None:
    authorize(session, principal, workspace_id, Permission.workspace_update)
    session.delete(_endpoint(session, workspace_id, endpoint_id))
    session.flush()


def list_deliveries(
    session: Session, principal: Principal, workspace_id: int, endpoint_id: int, limit: int = 100
) -> list[WebhookDelivery]:
    authorize(session, principal, workspace_id, Permission.workspace_update)
    _endpoint(session, workspace_id, endpoint_id)
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(min(limit, 500))
        )
    )


# --- events ------------------------------------------------------------------------------------


def post_payload(post: Post, event_type: str, at: dt.datetime) -> dict[str, Any]:
    """The event's body. Each variant's ``error`` is its last error in English (null: none);
    ``error_code`` is its type (a provider error code or one of the dispatcher's own,
    :mod:`dialogo.publishing.reasons`) and ``error_params`` the values of its sentence, with
    the network's own text as ``detail``, so a receiver can word it itself (both null when
    the variant has no error, or its error was stored before codes were kept)."""
    return {
        "type": event_type,
        "timestamp": at.isoformat(),
        "data": {
            "post_id": post.id,
            "workspace_id": post.workspace_id,
            "campaign_id": post.campaign_id,
            "status": post.status,
            "scheduled_at": post.scheduled_at.isoformat() if post.scheduled_at else None,
            "variants": [
                {
                    "channel_id": v.channel_id,
                    "network": v.network,
                    "status": v.status,
                    "remote_id": v.remote_id,
                    "url": v.url,
                    "error": v.last_error,
                    "error_code": v.last_error_code,
                    "error_params": v.last_error_params,
                }
                for v in post.variants
            ],
        },
    }


def _status_changes(session: Session) -> list[tuple[Post, str]]:
    found = []
    for obj in session.dirty:
        if not isinstance(obj, Post) or obj.id is None:
            continue
        history = inspect(obj).attrs.status.history
        if not history.added:
            continue
        new = history.added[0]
        old = history.deleted[0] if history.deleted else None
        if new != old and new in EVENTS:
            found.append((obj, EVENTS[new]))
    return found


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    changes = _status_changes(session)
    if changes:
        _queue(session, changes)


def _queue(session: Session, changes: Sequence[tuple[Post, str]]) -> None:
    now = utcnow()
    with session.no_autoflush:
        by_workspace: dict[int, list[WebhookEndpoint]] = {}
        for post, event_type in changes:
            if post.workspace_id not in by_workspace:
                by_workspace[post.workspace_id] = list(
                    session.scalars(
                        select(WebhookEndpoint).where(
                            WebhookEndpoint.workspace_id == post.workspace_id,
                            WebhookEndpoint.active.is_(True),
                        )
                    )
                )
            endpoints = [
                e for e in by_workspace[post.workspace_id] if not e.events or event_type in e.events
            ]
            if not endpoints:
                continue
            payload = post_payload(post, event_type, now)
            for endpoint in endpoints:
                message_id = f"msg_{uuid.uuid4().hex}"
                session.add(
                    WebhookDelivery(
                        workspace_id=post.workspace_id,
                        endpoint_id=endpoint.id,
                        message_id=message_id,
                        event_type=event_type,
                        payload=payload,
                        status="pending",
                        attempts=0,
                        log=[],
                        next_attempt_at=now,
                    )
                )
                # A plain insert (enqueue() flushes, which a flush hook cannot do); the message
                # id is new, so the unique key cannot clash.
                session.add(
                    Job(
                        task=DELIVER_TASK,
                        payload={"message_id": message_id},
                        workspace_id=post.workspace_id,
                        unique_key=f"{DELIVER_TASK}:{message_id}:1",
                        status=JobStatus.queued.value,
                        run_at=now,
                        max_attempts=3,  # crashes only; HTTP failures are retried by new jobs
                    )
                )


def emit_status_changes(session: Session, changes: Sequence[tuple[int, str]]) -> None:
    """Record the events of post status changes made with bulk SQL, which the flush hook
    cannot see: ``changes`` is ``[(post_id, new_status), …]``, called in the same transaction
    after the update (the dispatcher's batched roll-up calls this). Posts of workspaces with no
    active endpoint cost one query for the whole call and load nothing."""
    wanted = [(pid, EVENTS[status]) for pid, status in changes if status in EVENTS]
    if not wanted:
        return
    subscribed = set(
        session.scalars(
            select(Post.id)
            .join(WebhookEndpoint, WebhookEndpoint.workspace_id == Post.workspace_id)
            .where(Post.id.in_({pid for pid, _ in wanted}), WebhookEndpoint.active.is_(True))
            .distinct()
        )
    )
    wanted = [(pid, kind) for pid, kind in wanted if pid in subscribed]
    if not wanted:
        return
    posts = {
        p.id: p
        for p in session.scalars(
            select(Post)
            .where(Post.id.in_([pid for pid, _ in wanted]))
            .options(selectinload(Post.variants))
            # Bulk updates changed these rows under the session: read them again.
            .execution_options(populate_existing=True)
        )
    }
    _queue(session, [(posts[pid], kind) for pid, kind in wanted if pid in posts])


def install(session_class: type[Session] = Session) -> None:
    """Emit webhook deliveries for post status changes in every session of this class."""
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)


install()


# --- delivery ----------------------------------------------------------------------------------


def deliver(
    session: Session,
    message_id: str,
    *,
    cipher: CredentialCipher,
    http: httpx.Client | None = None,
    now: dt.datetime | None = None,
    backoff_base: float = BACKOFF_BASE_SECONDS,
    backoff_cap: float = BACKOFF_CAP_SECONDS,
) -> WebhookDelivery | None:
    """Send one delivery attempt; on failure log it and enqueue the next attempt's job."""
    delivery = session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.message_id == message_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if delivery is None or delivery.status != "pending":
        return delivery  # gone with its endpoint, or done already (a job run twice)
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    now = now or utcnow()
    if endpoint is None or not endpoint.active:
        delivery.status = "failed"
        delivery.log = [*delivery.log, {"at": now.isoformat(), "error": "endpoint disabled"}]
        session.flush()
        return delivery
    secret = cipher.decrypt(endpoint.secret).access_token or ""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(now.timestamp())
    entry: dict[str, Any] = {"at": now.isoformat()}
    started = time.perf_counter()
    client = http or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
    try:
        response = client.post(
            endpoint.url, content=body, headers=headers_for(secret, message_id, timestamp, body)
        )
        entry["status_code"] = response.status_code
        ok = response.is_success
        if not ok:
            entry["error"] = response.text[:200]
    except httpx.HTTPError as exc:
        ok = False
        entry["error"] = f"{type(exc).__name__}: {exc}"[:300]
    except OutboundRefused as exc:  # an internal address, refused by the outbound policy
        ok = False
        entry["error"] = exc.message[:300]
    finally:
        if http is None:
            client.close()
    entry["duration_ms"] = round((time.perf_counter() - started) * 1000)
    delivery.attempts += 1
    delivery.log = [*delivery.log, entry]
    if ok:
        delivery.status = "delivered"
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "failed"
        delivery.next_attempt_at = None
        notifications.notify(
            session,
            delivery.workspace_id,
            kind="webhook_failed",
            params={"url": endpoint.url, "attempts": delivery.attempts},
            body=f"{delivery.event_type}: {entry.get('error') or entry.get('status_code')}",
            dedupe_key=f"webhook:{endpoint.id}:failed",
        )
    else:
        delay = jobs.backoff_delay(delivery.attempts, base=backoff_base, cap=backoff_cap)
        delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
        jobs.enqueue(
            session,
            DELIVER_TASK,
            {"message_id": message_id},
            run_at=delivery.next_attempt_at,
            workspace_id=delivery.workspace_id,
            unique_key=f"{DELIVER_TASK}:{message_id}:{delivery.attempts + 1}",
            max_attempts=3,
        )
    session.flush()
    return delivery


# --- the settings page's "send a test event" (issue #4, publishing pages) ---------------------

TEST_EVENT = "webhook.test"


def record_test_event(
    session: Session,
    principal: Principal,
    workspace_id: int,
    endpoint_id: int,
    *,
    now: dt.datetime | None = None,
) -> WebhookDelivery:
    """A ``webhook.test`` delivery to one endpoint (whatever events it subscribes to), in its
    delivery log like any event. The caller sends it with :func:`deliver` (the settings page
    does so at once, to show the answer); a failed attempt is retried like any other."""
    authorize(session, principal, workspace_id, Permission.workspace_update)
    endpoint = _endpoint(session, workspace_id, endpoint_id)
    now = now or utcnow()
    delivery = WebhookDelivery(
        workspace_id=workspace_id,
        endpoint_id=endpoint.id,
        message_id=f"msg_{uuid.uuid4().hex}",
        event_type=TEST_EVENT,
        payload={
            "type": TEST_EVENT,
            "timestamp": now.isoformat(),
            "data": {"workspace_id": workspace_id, "endpoint_id": endpoint.id},
        },
        status="pending",
        attempts=0,
        log=[],
        next_attempt_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery
