"""The dispatcher through the real worker code path (claim, run, complete or retry) with a
fake network: published once, retried with the network's wait, waiting for a reconnected
channel, reconciled after a lost answer, never doubled."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import cast

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialogo.channels.crypto import CredentialCipher
from dialogo.channels.models import Channel, ChannelStatus
from dialogo.core.clock import FrozenClock, ensure_aware
from dialogo.core.config import Settings
from dialogo.core.db import transaction
from dialogo.core.errors import Conflict
from dialogo.jobs import service as jobs
from dialogo.jobs.models import Job, JobStatus
from dialogo.jobs.registry import TaskRegistry
from dialogo.notifications.models import Notification
from dialogo.providers.base import Provider, PublishResult, RecentPosts
from dialogo.providers.errors import InvalidPayload, OutcomeUnknown, RateLimited, TransientError
from dialogo.providers.registry import ProviderRegistry
from dialogo.providers.testing import FakeNetwork
from dialogo.publishing import dispatcher, tasks
from dialogo.publishing import service as publishing
from dialogo.publishing.models import Post, PostStatus, PostVariant, VariantStatus
from dialogo.publishing.schemas import PostCreate, VariantIn
from dialogo.worker.runner import Worker
from tests.publishing.conftest import Brand, compose, connect

START = dt.datetime(2031, 3, 1, 8, 0, tzinfo=dt.UTC)


@dataclasses.dataclass
class Rig:
    db: Session
    factory: sessionmaker[Session]
    clock: FrozenClock
    worker: Worker
    brand: Brand
    network: FakeNetwork
    providers: ProviderRegistry
    cipher: CredentialCipher

    def schedule(
        self, text: str = "Buongiorno!", minutes: float = 1, channels: list[Channel] | None = None
    ) -> Post:
        post = compose(self.db, self.brand, text, channels=channels)
        publishing.schedule_post(
            self.db,
            self.brand.principal,
            self.brand.id,
            post.id,
            self.clock.now() + dt.timedelta(minutes=minutes),
            registry=self.providers,
            cipher=self.cipher,
            now=self.clock.now(),
        )
        self.db.commit()
        return post

    def run(self) -> int:
        """One dispatcher tick and every job due now, through the worker."""
        with transaction(self.factory) as session:
            jobs.enqueue(session, dispatcher.DISPATCH_TASK, run_at=self.clock.now())
        ran = 0
        while self.worker.run_once():
            ran += 1
        self.db.expire_all()
        return ran

    def variant(self, post: Post) -> PostVariant:
        self.db.expire_all()
        found = self.db.scalar(select(PostVariant).where(PostVariant.post_id == post.id))
        assert found is not None
        return found

    def post(self, post: Post) -> Post:
        self.db.expire_all()
        found = self.db.get(Post, post.id)
        assert found is not None
        return found

    def job(self, variant: PostVariant) -> Job:
        job = self.db.get(Job, variant.job_id)
        assert job is not None
        self.db.refresh(job)
        return job

    def publish_calls(self) -> int:
        return sum(1 for op, _ in self.network.calls if op == "publish")

    def worker_in_thread(self, settings: Settings, worker_id: str) -> threading.Thread:
        """Another worker running a dispatcher tick and every job due, in a thread."""
        worker = Worker(
            settings, self.factory, self.worker.registry, clock=self.clock, worker_id=worker_id
        )
        with transaction(self.factory) as session:
            jobs.enqueue(session, dispatcher.DISPATCH_TASK, run_at=self.clock.now())

        def run() -> None:
            while worker.run_once():
                pass

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


@pytest.fixture
def rig(
    db: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    brand: Brand,
    network: FakeNetwork,
    providers: ProviderRegistry,
    cipher: CredentialCipher,
) -> Rig:
    registry = TaskRegistry()
    tasks.register(registry, providers=lambda _settings: providers)
    clock = FrozenClock(START)
    worker = Worker(settings, session_factory, registry, clock=clock, worker_id="host:1:w1")
    db.commit()
    return Rig(db, session_factory, clock, worker, brand, network, providers, cipher)


def test_a_due_post_is_published_once(rig: Rig) -> None:
    post = rig.schedule()
    rig.run()
    assert rig.network.posts == [] and rig.variant(post).status == VariantStatus.scheduled
    rig.clock.advance(minutes=2)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.published
    [on_network] = rig.network.posts
    assert variant.remote_id == on_network.remote_id
    assert on_network.idempotency_key == variant.idempotency_key
    assert on_network.text == "Buongiorno!"
    assert rig.post(post).status == PostStatus.published
    rig.clock.advance(minutes=5)
    rig.run()
    assert len(rig.network.posts) == 1 and rig.publish_calls() == 1


def test_rate_limit_waits_as_long_as_the_network_says(rig: Rig) -> None:
    post = rig.schedule()
    rig.network.fail_next(RateLimited("slow down", retry_after=120))
    rig.clock.advance(minutes=2)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.queued and variant.lease_until is None
    assert variant.next_attempt_at is not None
    assert ensure_aware(variant.next_attempt_at) == rig.clock.now() + dt.timedelta(seconds=120)
    assert "slow down" in (variant.last_error or "")
    rig.clock.advance(seconds=60)
    rig.run()
    assert rig.network.posts == []
    rig.clock.advance(seconds=61)
    rig.run()
    assert rig.variant(post).status == VariantStatus.published
    assert len(rig.network.posts) == 1
    assert rig.post(post).status == PostStatus.published


def test_server_errors_are_retried_with_backoff(rig: Rig) -> None:
    post = rig.schedule()
    rig.network.fail_next(TransientError("503"), TransientError("502"))
    rig.clock.advance(minutes=2)
    for _ in range(3):
        rig.run()
        rig.clock.advance(seconds=30)
    variant = rig.variant(post)
    assert variant.status == VariantStatus.published
    assert len(rig.network.posts) == 1
    assert variant.attempts == 3
    # A server error may follow a post that was made: each retry asked the network first.
    ops = [op for op, _ in rig.network.calls if op in ("publish", "recent_posts")]
    # The 502 answered the check itself: the next attempt checks again before publishing.
    assert ops == ["publish", "recent_posts", "recent_posts", "publish"]


def test_transient_errors_give_up_after_the_last_attempt_and_notify(rig: Rig) -> None:
    post = rig.schedule()
    rig.network.fail_next(*[TransientError("503") for _ in range(50)])
    rig.clock.advance(minutes=2)
    for _ in range(dispatcher.PUBLISH_MAX_ATTEMPTS + 1):
        rig.run()
        rig.clock.advance(hours=2)
    variant = rig.variant(post)
    assert variant.status == VariantStatus.failed
    assert "gave up" in (variant.last_error or "")
    assert variant.lease_until is None and variant.next_attempt_at is None
    assert rig.post(post).status == PostStatus.failed
    assert rig.db.scalar(select(Notification).where(Notification.kind == "post_failed"))


def test_revoked_token_flags_the_channel_and_posts_wait_until_it_is_reconnected(
    rig: Rig,
) -> None:
    first = rig.schedule("one")
    second = rig.schedule("two")
    rig.network.revoke(rig.brand.account.remote_id)
    rig.clock.advance(minutes=2)
    rig.run()
    channel = rig.db.get(Channel, rig.brand.channel.id)
    assert channel is not None and channel.status == ChannelStatus.reauth_required
    for post in (first, second):
        assert rig.variant(post).status == VariantStatus.waiting_channel
        assert rig.post(post).status == PostStatus.publishing
    assert rig.network.posts == []
    assert rig.db.scalar(select(Notification).where(Notification.kind == "channel_attention"))
    rig.clock.advance(minutes=5)
    rig.run()  # still flagged: nothing moves, nothing is lost
    assert {rig.variant(p).status for p in (first, second)} == {VariantStatus.waiting_channel}

    rig.brand.account.access_token = "fresh-token"  # the person authorises the app again
    rig.brand.account.refresh_token = "fresh-refresh"
    connect(
        rig.db,
        rig.brand.owner,
        rig.brand.id,
        rig.network,
        rig.providers,
        rig.cipher,
        rig.brand.account,
    )
    rig.db.commit()
    rig.run()
    assert {rig.variant(p).status for p in (first, second)} == {VariantStatus.published}
    assert sorted(p.text for p in rig.network.posts) == ["one", "two"]
    assert {rig.post(p).status for p in (first, second)} == {PostStatus.published}


def test_lost_answer_when_the_network_did_publish_is_reconciled_not_reposted(rig: Rig) -> None:
    post = rig.schedule()
    rig.network.lose_next_answers(1)
    rig.clock.advance(minutes=2)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.unconfirmed and variant.needs_check
    assert rig.post(post).status == PostStatus.unconfirmed
    assert len(rig.network.posts) == 1
    rig.run()  # the check waits a little (networks list new posts with a delay)
    assert rig.variant(post).status == VariantStatus.unconfirmed
    rig.clock.advance(seconds=dispatcher.RECONCILE_DELAY.total_seconds() + 1)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.published
    [on_network] = rig.network.posts
    assert variant.remote_id == on_network.remote_id
    assert rig.publish_calls() == 1
    assert ("recent_posts", rig.brand.account.handle) in rig.network.calls
    assert rig.post(post).status == PostStatus.published


def test_lost_answer_when_the_network_did_not_publish_is_published_exactly_once(
    rig: Rig,
) -> None:
    post = rig.schedule()
    rig.network.fail_next(OutcomeUnknown("read timeout"))
    rig.clock.advance(minutes=2)
    rig.run()
    assert rig.variant(post).status == VariantStatus.unconfirmed
    assert rig.network.posts == []
    rig.clock.advance(seconds=dispatcher.RECONCILE_DELAY.total_seconds() + 1)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.published
    assert len(rig.network.posts) == 1
    ops = [op for op, _ in rig.network.calls if op in ("publish", "recent_posts")]
    assert ops == ["publish", "recent_posts", "publish"]  # checked before publishing again


def test_invalid_content_fails_at_once_with_the_reason_and_a_notification(rig: Rig) -> None:
    post = rig.schedule()
    rig.network.fail_next(InvalidPayload("link not allowed", issues=["no links"]))
    rig.clock.advance(minutes=2)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.failed
    assert "link not allowed" in (variant.last_error or "")
    assert variant.attempts == 0 and variant.next_attempt_at is None  # not retried
    rig.clock.advance(hours=1)
    rig.run()
    assert rig.publish_calls() == 1
    assert rig.post(post).status == PostStatus.failed
    note = rig.db.scalar(select(Notification).where(Notification.kind == "post_failed"))
    assert note is not None and "link not allowed" in note.body


def test_claims_are_exclusive_however_many_ticks_and_workers(rig: Rig, settings: Settings) -> None:
    posts = [rig.schedule(f"post {i}") for i in range(3)]
    rig.clock.advance(minutes=2)
    lease = dt.timedelta(seconds=60)
    with transaction(rig.factory) as session:
        first = dispatcher.claim_batch(session, "a", now=rig.clock.now(), lease=lease, limit=2)
        again = dispatcher.claim_batch(session, "b", now=rig.clock.now(), lease=lease)
    assert len(first.variants) == 2 and len(again.variants) == 1
    assert {c.id for c in first.variants}.isdisjoint({c.id for c in again.variants})
    with transaction(rig.factory) as session:  # all leased: nothing left to claim
        assert dispatcher.claim_batch(session, "c", now=rig.clock.now(), lease=lease).variants == []
        for batch in (first, again):  # given back unsent
            dispatcher.record(session, batch, now=rig.clock.now(), cipher=rig.cipher)
    for _ in range(3):  # ticks racing each other start no more lanes than asked
        with transaction(rig.factory) as session:
            jobs.enqueue(session, dispatcher.DISPATCH_TASK, run_at=rig.clock.now())
            jobs.enqueue(session, dispatcher.DISPATCH_TASK, run_at=rig.clock.now())
    other = Worker(settings, rig.factory, rig.worker.registry, clock=rig.clock, worker_id="h:2:w2")
    while rig.worker.run_once() + other.run_once():
        pass
    lanes = rig.db.scalar(
        select(func.count()).select_from(Job).where(Job.task == dispatcher.PUBLISH_TASK)
    )
    assert lanes == dispatcher.LANES
    assert sorted(p.text for p in rig.network.posts) == ["post 0", "post 1", "post 2"]
    assert {rig.variant(p).status for p in posts} == {VariantStatus.published}


def test_a_worker_killed_after_its_request_left_is_not_followed_by_a_repost(rig: Rig) -> None:
    post = rig.schedule()
    rig.clock.advance(minutes=2)
    # Worker A claims the variant and its request reaches the network, then A is killed.
    with transaction(rig.factory) as session:
        batch = dispatcher.claim_batch(
            session, "host:9:dead", now=rig.clock.now(), lease=dt.timedelta(seconds=60)
        )
    [claimed] = batch.variants
    variant = rig.variant(post)
    assert variant.status == VariantStatus.unconfirmed and variant.lease_until is not None
    with pytest.raises(Conflict, match="nothing left to cancel"):
        publishing.cancel_post(rig.db, rig.brand.principal, rig.brand.id, post.id)
    rig.db.rollback()
    provider_cls = rig.providers.get("fakenet")
    creds = rig.cipher.decrypt(rig.brand.channel.credentials)
    provider_cls(creds).publish(claimed.draft())
    assert len(rig.network.posts) == 1
    rig.run()  # the lease still holds: nobody touches the variant
    assert rig.variant(post).status == VariantStatus.unconfirmed
    assert rig.publish_calls() == 1 and not any(op == "recent_posts" for op, _ in rig.network.calls)
    # After the lease, another worker takes the variant over: it asks the network first.
    rig.clock.advance(seconds=61)
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.published
    assert variant.remote_id == rig.network.posts[0].remote_id
    assert len(rig.network.posts) == 1 and variant.dispatch_round == 1
    ops = [op for op, _ in rig.network.calls if op in ("publish", "recent_posts")]
    assert ops == ["publish", "recent_posts"]
    # The dead claim's late answer records nothing.
    claimed.status = VariantStatus.failed.value
    with transaction(rig.factory) as session:
        dispatcher.record(session, batch, now=rig.clock.now(), cipher=rig.cipher)
    assert rig.variant(post).status == VariantStatus.published


def test_a_killed_worker_whose_request_never_left_publishes_once_after_the_check(
    rig: Rig,
) -> None:
    post = rig.schedule()
    rig.clock.advance(minutes=2)
    with transaction(rig.factory) as session:
        dispatcher.claim_batch(
            session, "host:9:dead", now=rig.clock.now(), lease=dt.timedelta(seconds=60)
        )
    rig.clock.advance(seconds=61)
    rig.run()
    assert rig.variant(post).status == VariantStatus.published
    ops = [op for op, _ in rig.network.calls if op in ("publish", "recent_posts")]
    assert ops == ["recent_posts", "publish"]
    assert len(rig.network.posts) == 1


def test_cancelled_while_queued_is_not_published(rig: Rig) -> None:
    post = rig.schedule()
    rig.clock.advance(minutes=2)
    with transaction(rig.factory) as session:
        dispatcher.dispatch_due(session, now=rig.clock.now())
    rig.db.expire_all()
    publishing.cancel_post(rig.db, rig.brand.principal, rig.brand.id, post.id)
    rig.db.commit()
    rig.run()
    assert rig.network.posts == []
    assert rig.variant(post).status == VariantStatus.cancelled
    assert rig.post(post).status == PostStatus.cancelled


def test_per_network_cap_bounds_the_variants_being_sent(rig: Rig) -> None:
    posts = [rig.schedule(f"p{i}") for i in range(3)]
    rig.clock.advance(minutes=2)
    lease = dt.timedelta(seconds=60)
    caps = {"fakenet": 2}
    with transaction(rig.factory) as session:
        first = dispatcher.claim_batch(session, "a", now=rig.clock.now(), lease=lease, caps=caps)
        full = dispatcher.claim_batch(session, "b", now=rig.clock.now(), lease=lease, caps=caps)
    assert (len(first.variants), len(full.variants)) == (2, 0)
    with transaction(rig.factory) as session:
        dispatcher.record(session, first, now=rig.clock.now(), cipher=rig.cipher)  # released
        again = dispatcher.claim_batch(session, "c", now=rig.clock.now(), lease=lease, caps=caps)
        assert len(again.variants) == 2
        dispatcher.record(session, again, now=rig.clock.now(), cipher=rig.cipher)
    rig.run()
    assert {rig.variant(p).status for p in posts} == {VariantStatus.published}


def test_a_backlog_is_dispatched_in_batches_by_one_lane(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatcher, "PUBLISH_BATCH", 2)
    posts = [rig.schedule(f"p{i}") for i in range(5)]
    rig.clock.advance(minutes=2)
    with transaction(rig.factory) as session:
        jobs.enqueue(session, dispatcher.DISPATCH_TASK, run_at=rig.clock.now())
    assert rig.worker.run_once() == 1  # the tick queues the lanes
    assert rig.worker.run_once() == 1  # the first lane publishes everything, 2 + 2 + 1
    assert {rig.variant(p).status for p in posts} == {VariantStatus.published}
    lane = rig.db.scalar(
        select(Job).where(Job.task == dispatcher.PUBLISH_TASK, Job.status == JobStatus.done)
    )
    assert lane is not None and lane.result == {
        "outcomes": {"published": 5},
        "successor": False,
    }
    variants = [rig.variant(p) for p in posts]
    assert len({v.published_at for v in variants}) == 1  # frozen clock: one lane, one moment
    assert all(v.lease_until is None and v.claimed_by is None for v in variants)


def test_a_rate_limit_holds_the_rest_of_the_channels_batch(rig: Rig) -> None:
    posts = [rig.schedule(f"p{i}") for i in range(3)]
    rig.network.fail_next(RateLimited("slow down", retry_after=30))
    rig.clock.advance(minutes=2)
    rig.run()
    variants = [rig.variant(p) for p in posts]
    assert {v.status for v in variants} == {VariantStatus.queued}
    assert rig.publish_calls() == 1  # the others were not sent into the window
    assert sorted(v.attempts for v in variants) == [0, 0, 1]
    rig.clock.advance(seconds=31)
    rig.run()
    assert {rig.variant(p).status for p in posts} == {VariantStatus.published}
    assert len(rig.network.posts) == 3


def test_a_removed_channel_fails_the_variant_with_a_reason(rig: Rig) -> None:
    post = rig.schedule()
    rig.clock.advance(minutes=2)
    rig.db.execute(
        PostVariant.__table__.update().where(PostVariant.post_id == post.id).values(channel_id=None)
    )
    rig.db.commit()
    rig.run()
    variant = rig.variant(post)
    assert variant.status == VariantStatus.failed
    assert "channel was removed" in (variant.last_error or "")
    assert rig.post(post).status == PostStatus.failed
    assert rig.network.posts == []


def test_first_comment_follows_the_post_as_a_reply(rig: Rig) -> None:
    post = publishing.create_post(
        rig.db,
        rig.brand.principal,
        rig.brand.id,
        PostCreate(
            variants=[
                VariantIn(channel_id=rig.brand.channel.id, text="Launch!", first_comment="link")
            ]
        ),
    )
    publishing.schedule_post(
        rig.db,
        rig.brand.principal,
        rig.brand.id,
        post.id,
        rig.clock.now() + dt.timedelta(minutes=1),
        registry=rig.providers,
        cipher=rig.cipher,
        now=rig.clock.now(),
    )
    rig.db.commit()
    rig.clock.advance(minutes=2)
    rig.run()
    first, comment = rig.network.posts
    assert (first.text, comment.text, comment.reply_to) == ("Launch!", "link", first.remote_id)
    assert rig.variant(post).remote_id == first.remote_id


def test_a_request_never_outlives_its_lease_so_a_slow_network_is_not_posted_twice(
    rig: Rig, settings: Settings
) -> None:
    """Worker A's request is held by the network longer than A's lease. Without a deadline
    on the request, B takes the variant over when the lease ends, finds nothing on the
    network yet, publishes, and A's request then lands too: twice. With the request bounded
    by the lease (two thirds of it), A gives up first, records the answer as lost while its
    lease holds, and the check finds the post the network had accepted: once."""
    post = rig.schedule()
    rig.clock.advance(minutes=2)
    release, entered = threading.Event(), threading.Event()
    rig.network.hold_next(release, entered)
    short = settings.model_copy(update={"worker_lease_seconds": 1})
    lane_a = rig.worker_in_thread(short, "h:3:a")
    try:
        assert entered.wait(timeout=30), "worker A never sent the post"
        lane_a.join(timeout=5)  # with the bound, A gave up within its lease and recorded it
        rig.clock.advance(seconds=2)  # A's lease (1 s) is over: B may take the variant
        rig.run()
    finally:
        release.set()  # the network answers A at last (if A still waits)
        lane_a.join(timeout=30)
    rig.clock.advance(minutes=1)  # the reconciliation of A's lost answer
    rig.run()
    variant = rig.variant(post)
    on_network = rig.network.posts_with_key(variant.idempotency_key)
    assert len(on_network) == 1, f"published {len(on_network)} times"
    assert variant.status == VariantStatus.published
    assert variant.remote_id == on_network[0].remote_id


def test_a_worker_frozen_after_its_last_check_past_its_lease_is_not_followed_by_a_repost(
    rig: Rig, settings: Settings
) -> None:
    """Worker A passes its request's last deadline check, then its process is frozen
    (descheduled, stopped) before the request reaches the network, past the end of its lease.
    Without the takeover fence B took the variant over as the lease ended, found nothing on
    the network, published, and A's request landed when A thawed: twice (the chaos test's
    rare double on a loaded machine, made deterministic). With it nobody takes the variant
    over, or asks the network, until the fence is over too (dispatcher.TAKEOVER_FENCE):
    A's request lands and A records it: once."""
    post = rig.schedule()
    rig.clock.advance(minutes=2)
    thawed, frozen = threading.Event(), threading.Event()
    rig.network.freeze_next(thawed, frozen)
    lane_a = rig.worker_in_thread(settings, "h:4:a")
    try:
        assert frozen.wait(timeout=30), "worker A never reached the network"
        # A's lease is over, and nearly the fence after it, A still frozen: other workers
        # run their ticks and lanes.
        lease = settings.worker_lease_seconds
        rig.clock.advance(seconds=lease * (1 + dispatcher.TAKEOVER_FENCE) - 1)
        rig.run()
    finally:
        thawed.set()  # A thaws: its request reaches the network, late
        lane_a.join(timeout=30)
    variant = rig.variant(post)
    on_network = rig.network.posts_with_key(variant.idempotency_key)
    assert len(on_network) == 1, f"published {len(on_network)} times (B sent while A was frozen)"
    assert variant.status == VariantStatus.published  # by A, whose claim still held
    assert variant.remote_id == on_network[0].remote_id
    ops = [op for op, _ in rig.network.calls if op in ("publish", "recent_posts")]
    assert ops == ["publish"]  # nobody asked the network while A's request was out


class _BusyAccount:
    """An account's recent posts, newest first, as a provider lists them; ``asked`` records
    each listing's limit."""

    def __init__(self, posts: int, *, ours_at: int | None, since: dt.datetime) -> None:
        self.asked: list[int] = []
        self.posts = [
            PublishResult(
                remote_id=f"r{n}",
                state={
                    "text": "another post",
                    "idempotency_key": "ours" if n == ours_at else f"other-{n}",
                    "created_at": (since + dt.timedelta(seconds=1 + posts - n)).isoformat(),
                },
            )
            for n in range(posts)
        ]

    def recent_posts(self, *, limit: int = 20) -> RecentPosts:
        self.asked.append(limit)
        return RecentPosts(posts=tuple(self.posts[:limit]), exhausted=limit >= len(self.posts))


def _claimed_since(since: dt.datetime) -> dispatcher.Claimed:
    return dispatcher.Claimed(
        id=1,
        post_id=1,
        workspace_id=1,
        channel_id=1,
        network="fakenet",
        text="ours",
        thread=[],
        first_comment=None,
        idempotency_key="ours",
        dispatch_round=1,
        attempts=1,
        needs_check=True,
        first_attempt_at=since,
        previous_status=VariantStatus.unconfirmed.value,
    )


def test_a_check_on_a_busy_account_reads_back_to_the_attempt_before_it_says_absent() -> None:
    """An account that posted more than a page since the lost answer (the chaos test: a check
    6 s late on an account posting 10 times a second): the first page, all newer than the
    attempt, proves nothing; the check asks for more until it reaches back to the attempt."""
    since = START
    found = _BusyAccount(300, ours_at=120, since=since)
    result = dispatcher._find_on_network(cast(Provider, found), _claimed_since(since))
    assert result is not None and result.remote_id == "r120"
    assert found.asked == [dispatcher.RECENT_POSTS_LIMIT, dispatcher.RECENT_POSTS_LIMIT * 4]
    absent = _BusyAccount(300, ours_at=None, since=since)
    assert dispatcher._find_on_network(cast(Provider, absent), _claimed_since(since)) is None
    assert absent.asked[-1] > 300 - 1  # the whole account was read: absent indeed
    # A page reaching back before the attempt is enough (the usual case: one listing).
    older = _BusyAccount(300, ours_at=None, since=since - dt.timedelta(hours=1))
    assert dispatcher._find_on_network(cast(Provider, older), _claimed_since(since)) is None
    assert older.asked == [dispatcher.RECENT_POSTS_LIMIT]
    # Busier than the most a check reads: nobody can tell, a person looks (never a repost).
    flood = _BusyAccount(dispatcher.RECENT_POSTS_MAX + 10, ours_at=None, since=since)
    claimed = _claimed_since(since)
    dispatcher._send_one(cast(Provider, flood), claimed, since, 1.0, 60.0)
    assert claimed.status == VariantStatus.unconfirmed.value and claimed.next_attempt_at is None
    assert claimed.notify == "post_unconfirmed" and "by hand" in (claimed.last_error or "")
