"""Signed webhooks for post events, delivered to a real local HTTP receiver that verifies the
signatures with the Standard Webhooks reference library."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from dialogo.channels.crypto import CredentialCipher
from dialogo.jobs.models import Job
from dialogo.notifications.models import Notification
from dialogo.providers.netpolicy import OutboundPolicy, guarded_client
from dialogo.providers.registry import ProviderRegistry
from dialogo.publishing import service, webhooks
from dialogo.publishing.models import Post, WebhookDelivery
from dialogo.publishing.webhooks import WebhookIn
from tests.publishing.conftest import Brand, compose, later


@dataclasses.dataclass
class Receiver:
    url: str
    answers: list[int]  # status codes to answer with, in order; then 204
    received: list[tuple[dict[str, str], bytes]] = dataclasses.field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="", answers=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            code = state.answers.pop(0) if state.answers else 204
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def jobs_for(db: Session, message_id: str) -> list[Job]:
    found = db.scalars(select(Job).where(Job.task == webhooks.DELIVER_TASK).order_by(Job.id))
    return [j for j in found if j.payload.get("message_id") == message_id]


def schedule(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> Post:
    post = compose(db, brand, "Si parte!")
    return service.schedule_post(
        db, brand.principal, brand.id, post.id, later(60), registry=providers, cipher=cipher
    )


def test_scheduling_emits_a_signed_event_verified_by_the_reference_library(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    receiver: Receiver,
) -> None:
    endpoint, secret = webhooks.create_endpoint(
        db, brand.principal, brand.id, WebhookIn(url=receiver.url), cipher=cipher
    )
    assert secret.startswith("whsec_") and secret not in endpoint.secret  # stored encrypted
    post = schedule(db, brand, providers, cipher)
    db.flush()
    [delivery] = webhooks.list_deliveries(db, brand.principal, brand.id, endpoint.id)
    assert delivery.event_type == "post.scheduled" and delivery.status == "pending"
    [job] = jobs_for(db, delivery.message_id)
    assert job.task == webhooks.DELIVER_TASK and job.status == "queued"

    done = webhooks.deliver(db, delivery.message_id, cipher=cipher)
    assert done is not None and done.status == "delivered" and done.attempts == 1
    [(headers, body)] = receiver.received
    verified = Webhook(secret).verify(body, headers)  # raises on a bad signature or time
    assert verified["type"] == "post.scheduled"
    assert verified["data"]["post_id"] == post.id
    [variant] = verified["data"]["variants"]
    assert variant["status"] == "scheduled"
    # no error yet: its English text, code and parameters are all null (present, not missing)
    assert (variant["error"], variant["error_code"], variant["error_params"]) == (None, None, None)
    assert headers["webhook-id"] == delivery.message_id
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(webhooks.new_secret()).verify(body, headers)
    # Delivered: a duplicate job run sends nothing.
    webhooks.deliver(db, delivery.message_id, cipher=cipher)
    assert len(receiver.received) == 1


def test_failures_are_logged_and_retried_with_backoff_then_delivered(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    receiver: Receiver,
) -> None:
    endpoint, secret = webhooks.create_endpoint(
        db, brand.principal, brand.id, WebhookIn(url=receiver.url), cipher=cipher
    )
    schedule(db, brand, providers, cipher)
    db.flush()
    [delivery] = webhooks.list_deliveries(db, brand.principal, brand.id, endpoint.id)
    receiver.answers = [500, 503]
    now = dt.datetime.now(dt.UTC)
    first = webhooks.deliver(db, delivery.message_id, cipher=cipher, now=now, backoff_base=10)
    assert first is not None and first.status == "pending" and first.attempts == 1
    assert first.log[0]["status_code"] == 500
    assert first.next_attempt_at is not None
    assert 8 <= (first.next_attempt_at - now).total_seconds() <= 12  # 10 s ± 20 %
    retry = jobs_for(db, delivery.message_id)[-1]
    assert retry.run_at == first.next_attempt_at and retry.unique_key.endswith(":2")
    second = webhooks.deliver(db, delivery.message_id, cipher=cipher, now=now, backoff_base=10)
    assert second is not None and second.attempts == 2
    assert 16 <= (second.next_attempt_at - now).total_seconds() <= 24  # type: ignore[operator]
    third = webhooks.deliver(db, delivery.message_id, cipher=cipher, now=now)
    assert third is not None and third.status == "delivered"
    assert [e.get("status_code") for e in third.log] == [500, 503, 204]
    # The same webhook-id on every attempt, so the receiver can de-duplicate.
    assert {h["webhook-id"] for h, _ in receiver.received} == {delivery.message_id}
    assert all(Webhook(secret).verify(b, h) for h, b in receiver.received)
    assert len(jobs_for(db, delivery.message_id)) == 3


def test_an_unreachable_endpoint_fails_after_the_last_attempt_and_notifies(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    endpoint, _ = webhooks.create_endpoint(
        db, brand.principal, brand.id, WebhookIn(url="http://127.0.0.1:9/nothing"), cipher=cipher
    )
    schedule(db, brand, providers, cipher)
    db.flush()
    [delivery] = webhooks.list_deliveries(db, brand.principal, brand.id, endpoint.id)
    for _ in range(webhooks.MAX_ATTEMPTS):
        webhooks.deliver(db, delivery.message_id, cipher=cipher)
    db.refresh(delivery)
    assert delivery.status == "failed" and delivery.attempts == webhooks.MAX_ATTEMPTS
    assert all("ConnectError" in e["error"] for e in delivery.log)
    note = db.scalar(
        select(Notification).where(
            Notification.workspace_id == brand.id, Notification.kind == "webhook_failed"
        )
    )
    assert note is not None
    assert note.title == f"A webhook to {endpoint.url} failed {webhooks.MAX_ATTEMPTS} times"


def test_only_subscribed_events_of_active_endpoints_and_no_event_on_rollback(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    receiver: Receiver,
) -> None:
    published_only, _ = webhooks.create_endpoint(
        db,
        brand.principal,
        brand.id,
        WebhookIn(url=receiver.url, events=["post.published", "post.failed"]),
        cipher=cipher,
    )
    schedule(db, brand, providers, cipher)
    db.flush()
    assert webhooks.list_deliveries(db, brand.principal, brand.id, published_only.id) == []
    with pytest.raises(ValueError, match="unknown events"):
        WebhookIn(url=receiver.url, events=["post.liked"])
    with pytest.raises(ValueError, match="http"):
        WebhookIn(url="ftp://example.com/x")

    every, _ = webhooks.create_endpoint(
        db, brand.principal, brand.id, WebhookIn(url=receiver.url), cipher=cipher
    )
    db.commit()  # a savepoint in the test's transaction
    nested = db.begin_nested()
    schedule(db, brand, providers, cipher)
    db.flush()
    assert len(webhooks.list_deliveries(db, brand.principal, brand.id, every.id)) == 1
    nested.rollback()
    assert webhooks.list_deliveries(db, brand.principal, brand.id, every.id) == []


def test_bulk_status_changes_emit_through_the_explicit_call(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    receiver: Receiver,
) -> None:
    endpoint, _ = webhooks.create_endpoint(
        db,
        brand.principal,
        brand.id,
        WebhookIn(url=receiver.url, events=["post.failed"]),
        cipher=cipher,
    )
    post = schedule(db, brand, providers, cipher)
    db.flush()
    db.connection().execute(
        Post.__table__.update().where(Post.__table__.c.id == post.id).values(status="failed")
    )
    webhooks.emit_status_changes(db, [(post.id, "failed"), (post.id + 10_000, "failed")])
    db.flush()
    [delivery] = webhooks.list_deliveries(db, brand.principal, brand.id, endpoint.id)
    assert delivery.event_type == "post.failed"
    assert json.loads(json.dumps(delivery.payload))["data"]["status"] == "failed"
    assert db.scalar(select(WebhookDelivery.id).where(WebhookDelivery.id == delivery.id))


def test_an_endpoint_at_an_internal_address_is_refused_by_the_outbound_policy(
    db: Session,
    brand: Brand,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
    receiver: Receiver,
) -> None:
    endpoint, _ = webhooks.create_endpoint(
        db, brand.principal, brand.id, WebhookIn(url=receiver.url), cipher=cipher
    )
    schedule(db, brand, providers, cipher)
    db.flush()
    [delivery] = webhooks.list_deliveries(db, brand.principal, brand.id, endpoint.id)
    # Production: loopback is internal, so nothing leaves; the refusal is logged and retried.
    with guarded_client(OutboundPolicy.from_allow_list(())) as http:
        webhooks.deliver(db, delivery.message_id, cipher=cipher, http=http)
    db.refresh(delivery)
    assert receiver.received == [] and delivery.status == "pending"
    assert "internal address" in delivery.log[-1]["error"]
    # An administrator allows that network: the next attempt is delivered.
    with guarded_client(OutboundPolicy.from_allow_list(["127.0.0.0/8"])) as http:
        webhooks.deliver(db, delivery.message_id, cipher=cipher, http=http)
    db.refresh(delivery)
    assert delivery.status == "delivered" and len(receiver.received) == 1
