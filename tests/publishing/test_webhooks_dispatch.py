"""Webhook events for the status changes the dispatcher records with bulk SQL (which the
flush hook cannot see): published, failed and unconfirmed, delivered to the real local
receiver and verified with the Standard Webhooks reference library."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from standardwebhooks import Webhook

from dialogo.core import i18n
from dialogo.providers.errors import InvalidPayload
from dialogo.publishing import dispatcher, reasons, webhooks
from dialogo.publishing.models import Post, PostStatus, WebhookDelivery
from dialogo.publishing.webhooks import WebhookIn
from tests.publishing import test_dispatcher, test_webhooks
from tests.publishing.test_dispatcher import Rig
from tests.publishing.test_webhooks import Receiver

rig = test_dispatcher.rig  # the fixtures
receiver = test_webhooks.receiver


def endpoint(rig: Rig, url: str, events: list[str] | None = None) -> str:
    _, secret = webhooks.create_endpoint(
        rig.db,
        rig.brand.principal,
        rig.brand.id,
        WebhookIn(url=url, events=events or []),
        cipher=rig.cipher,
    )
    rig.db.commit()
    return secret


def events_of(rig: Rig, post: Post) -> list[str]:
    rig.db.expire_all()
    return [
        d.event_type
        for d in rig.db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        if d.payload["data"]["post_id"] == post.id
    ]


def delivery(rig: Rig, post: Post, event_type: str) -> WebhookDelivery:
    [found] = [
        d
        for d in rig.db.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event_type == event_type)
        )
        if d.payload["data"]["post_id"] == post.id
    ]
    return found


def test_published_by_the_dispatcher_fires_once_and_is_delivered_signed(
    rig: Rig,
    receiver: Receiver,
) -> None:
    secret = endpoint(rig, receiver.url)
    post = rig.schedule()
    rig.clock.advance(minutes=2)
    rig.run()
    assert rig.post(post).status == PostStatus.published
    assert events_of(rig, post) == ["post.scheduled", "post.published"]
    published = delivery(rig, post, "post.published")
    done = webhooks.deliver(rig.db, published.message_id, cipher=rig.cipher)
    assert done is not None and done.status == "delivered"
    [(headers, body)] = receiver.received
    verified = Webhook(secret).verify(body, headers)
    assert verified["type"] == "post.published"
    assert verified["data"]["status"] == "published"
    [variant] = verified["data"]["variants"]
    assert variant["status"] == "published"  # read after the bulk update, not a stale copy
    assert variant["remote_id"] == rig.network.posts[0].remote_id
    rig.clock.advance(minutes=5)
    rig.run()  # nothing changes: nothing more fires
    assert events_of(rig, post) == ["post.scheduled", "post.published"]


def test_failed_and_unconfirmed_fire_and_reconciliation_fires_published(
    rig: Rig,
    receiver: Receiver,
) -> None:
    secret = endpoint(rig, receiver.url, ["post.failed", "post.unconfirmed", "post.published"])
    refused = rig.schedule("refused")
    rig.network.fail_next(InvalidPayload("link not allowed"))
    rig.clock.advance(minutes=2)
    rig.run()
    assert events_of(rig, refused) == ["post.failed"]
    failed = delivery(rig, refused, "post.failed")
    assert "link not allowed" in failed.payload["data"]["variants"][0]["error"]

    lost = rig.schedule("lost")
    rig.network.lose_next_answers(1)
    rig.clock.advance(minutes=2)
    rig.run()
    assert rig.post(lost).status == PostStatus.unconfirmed
    assert events_of(rig, lost) == ["post.unconfirmed"]
    rig.clock.advance(seconds=dispatcher.RECONCILE_DELAY.total_seconds() + 1)
    rig.run()
    assert rig.post(lost).status == PostStatus.published
    assert events_of(rig, lost) == ["post.unconfirmed", "post.published"]
    for event_type in ("post.unconfirmed", "post.published"):
        webhooks.deliver(rig.db, delivery(rig, lost, event_type).message_id, cipher=rig.cipher)
    webhooks.deliver(rig.db, failed.message_id, cipher=rig.cipher)
    assert len(receiver.received) == 3
    # Each variant's error as the receiver verified it: the English text, its code and the
    # values of its sentence (null when none), enough to word it in the receiver's language.
    signed = [Webhook(secret).verify(body, headers) for headers, body in receiver.received]
    errors = {
        e["type"]: {k: v for k, v in e["data"]["variants"][0].items() if k.startswith("error")}
        for e in signed
    }
    assert errors["post.failed"] == {
        "error": "link not allowed",
        "error_code": "invalid_payload",
        "error_params": {"detail": "link not allowed"},
    }
    worded = reasons.variant_reason(
        i18n.translator("it"),
        errors["post.failed"]["error_code"],
        errors["post.failed"]["error_params"],
        errors["post.failed"]["error"],
    )
    assert worded == "la rete ha rifiutato il contenuto — dettagli: link not allowed"
    unconfirmed = errors["post.unconfirmed"]
    assert unconfirmed["error_code"] == "outcome_unknown"
    assert unconfirmed["error_params"] == {"detail": unconfirmed["error"].split(": ", 1)[1]}
    assert errors["post.published"] == {"error": None, "error_code": None, "error_params": None}


def test_a_recorded_batch_that_rolls_back_emits_nothing(
    rig: Rig,
    receiver: Receiver,
) -> None:
    endpoint(rig, receiver.url, ["post.published"])
    post = rig.schedule()
    rig.clock.advance(minutes=2)
    session = rig.factory()
    try:
        batch = dispatcher.claim_batch(
            session, "lane:x", now=rig.clock.now(), lease=dt.timedelta(seconds=60)
        )
        infos = dispatcher.channel_infos(session, batch)
        session.commit()
        dispatcher.send(
            batch,
            infos,
            registry=rig.providers,
            credentials=dispatcher.CredentialCache(rig.cipher),
            now=rig.clock.now(),
            deadline=float("inf"),
            backoff_base=1,
            backoff_cap=10,
        )
        dispatcher.record(session, batch, now=rig.clock.now(), cipher=rig.cipher)
        session.flush()
        assert session.scalar(select(WebhookDelivery.event_type)) == "post.published"
        session.rollback()
    finally:
        session.close()
    assert events_of(rig, post) == []


def test_without_endpoints_the_dispatcher_records_no_deliveries(rig: Rig) -> None:
    post = rig.schedule()
    rig.clock.advance(minutes=2)
    rig.run()
    assert rig.post(post).status == PostStatus.published
    assert rig.db.scalar(select(WebhookDelivery.id)) is None
