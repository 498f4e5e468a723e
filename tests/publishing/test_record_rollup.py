"""Recording a batch rolls its posts up: on PostgreSQL inside the outcomes' statement
(``dispatcher._RECORD_PG``, the post's status worked out in SQL), on SQLite in Python. Both
must give the posts the status :func:`post_status` gives, and write one audit entry per post
whose status changed (none for the others) and its webhook event."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dialogo.accounts.models import AuditEntry
from dialogo.channels.crypto import CredentialCipher
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork
from dialogo.publishing import dispatcher
from dialogo.publishing import service as publishing
from dialogo.publishing.models import (
    Post,
    PostStatus,
    PostVariant,
    VariantStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from dialogo.publishing.service import post_status
from tests.publishing.conftest import Brand, compose, connect

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=60)


def _due(
    db: Session, brand: Brand, post: Post, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    """Schedule ``post`` for five minutes before :data:`NOW` (claimable at ``NOW``)."""
    publishing.schedule_post(
        db,
        brand.principal,
        brand.id,
        post.id,
        NOW - dt.timedelta(minutes=5),
        registry=providers,
        cipher=cipher,
        now=NOW - dt.timedelta(minutes=10),
    )
    db.flush()


@pytest.mark.postgres
def test_the_sql_post_status_is_post_status_for_every_combination(
    db: Session, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("the SQL form runs on PostgreSQL only")
    statuses = [s.value for s in VariantStatus]
    cases = [
        (current, combo)
        for n in (1, 2, 3)
        for combo in itertools.combinations_with_replacement(statuses, n)
        for current in ("scheduled", "approved", "publishing", "published")
    ]
    values = ", ".join(
        f"({i}, '{current}', '{st}')" for i, (current, combo) in enumerate(cases) for st in combo
    )
    expr = dispatcher._POST_STATUS_SQL.format(st="v.st", current="min(v.cur)")
    got = dict(
        db.execute(
            text(f"SELECT v.i, {expr} FROM (VALUES {values}) AS v(i, cur, st) GROUP BY v.i")
        ).all()
    )
    wrong = {
        cases[i]: (sql, post_status(cases[i][0], cases[i][1]))
        for i, sql in got.items()
        if sql != post_status(cases[i][0], cases[i][1])
    }
    assert len(got) == len(cases) and wrong == {}


def test_recording_rolls_the_posts_up_with_one_audit_entry_per_change(
    db: Session,
    brand: Brand,
    network: FakeNetwork,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
) -> None:
    second = connect(
        db, brand.owner, brand.id, network, providers, cipher, network.add_account("bar_luna")
    )
    db.add(
        WebhookEndpoint(
            workspace_id=brand.id, url="https://hooks.example/x", secret="s" * 32, active=True
        )
    )
    posts = [compose(db, brand, f"post {i}", channels=[brand.channel, second]) for i in range(4)]
    for post in posts:
        _due(db, brand, post, providers, cipher)
    # Posts 0-2 are claimed on both channels, post 3 on its first only (its second variant
    # stays scheduled): outcomes chosen so that the posts end in different statuses.
    held = db.scalar(
        select(PostVariant).where(
            PostVariant.post_id == posts[3].id, PostVariant.channel_id == second.id
        )
    )
    assert held is not None
    held.due_at = NOW + dt.timedelta(hours=1)
    db.flush()
    audited_before = db.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    queued = set(db.scalars(select(WebhookDelivery.id)))  # the posts' "scheduled" events
    batch = dispatcher.claim_batch(db, "w", now=NOW, lease=LEASE)
    assert len(batch.variants) == 7
    outcome = {
        posts[0].id: ["published", "published"],  # → published
        posts[1].id: ["published", "failed"],  # → failed
        posts[2].id: ["published", "release"],  # released: back to scheduled → publishing
        posts[3].id: ["published"],  # the other still scheduled → publishing
    }
    for c in batch.variants:
        c.status = outcome[c.post_id].pop(0)
        if c.status == "published":
            c.remote_id, c.published_at = f"r{c.id}", NOW
        elif c.status == "failed":
            c.last_error, c.last_error_code = "refused", "invalid_payload"
    dispatcher.record(db, batch, now=NOW, cipher=cipher)
    db.flush()
    db.expire_all()
    expected = {}
    for post in posts:
        states = db.scalars(select(PostVariant.status).where(PostVariant.post_id == post.id))
        expected[post.id] = post_status("scheduled", list(states))
    assert expected == {
        posts[0].id: PostStatus.published,
        posts[1].id: PostStatus.failed,
        posts[2].id: PostStatus.publishing,
        posts[3].id: PostStatus.publishing,
    }
    assert {p.id: db.get(Post, p.id).status for p in posts} == expected  # type: ignore[union-attr]
    entries = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.id > (audited_before or 0), AuditEntry.entity_type == "posts")
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.entity_id, e.action, e.before, e.after) for e in entries] == [
        (str(p.id), "update", {"status": "scheduled"}, {"status": expected[p.id]}) for p in posts
    ]
    assert {e.workspace_id for e in entries} == {brand.id}
    assert {e.at.replace(tzinfo=dt.UTC) if e.at.tzinfo is None else e.at for e in entries} == {NOW}
    # Webhook events for the posts that reached an event's status (published, failed).
    events = db.execute(
        select(WebhookDelivery.payload, WebhookDelivery.event_type).where(
            WebhookDelivery.id.not_in(queued)
        )
    ).all()
    assert sorted((body["data"]["post_id"], kind) for body, kind in events) == sorted(
        [(posts[0].id, "post.published"), (posts[1].id, "post.failed")]
    )
    assert {body["data"]["status"] for body, _ in events} == {"published", "failed"}


def test_recording_again_with_no_change_writes_no_audit_entry(
    db: Session, brand: Brand, providers: ProviderRegistry, cipher: CredentialCipher
) -> None:
    post = compose(db, brand, "once")
    _due(db, brand, post, providers, cipher)
    batch = dispatcher.claim_batch(db, "w", now=NOW, lease=LEASE)
    [claimed] = batch.variants
    claimed.status = "release"  # not sent: back to scheduled; the post stays scheduled
    last = db.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    dispatcher.record(db, batch, now=NOW, cipher=cipher)
    db.flush()
    db.expire_all()
    assert db.get(Post, post.id).status == PostStatus.scheduled  # type: ignore[union-attr]
    assert (
        db.scalars(
            select(AuditEntry).where(AuditEntry.id > (last or 0), AuditEntry.entity_type == "posts")
        ).all()
        == []
    )
