"""The job queue's service functions, on the rolled-back test session, with explicit ``now=``."""

from __future__ import annotations

import datetime as dt
import random
import secrets

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogo.jobs import service as jobs
from dialogo.jobs.models import Job, JobStatus
from dialogo.jobs.registry import TaskRegistry, task

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=60)


@task("test.jobs.limited", max_attempts=2)
def _limited(_ctx: object, _payload: dict[str, object]) -> None:  # pragma: no cover
    return None


def name(prefix: str = "t") -> str:
    """A task name of this test's own, so claims never see another test's jobs."""
    return f"{prefix}.{secrets.token_hex(4)}"


def reload(db: Session, job: Job) -> Job:
    db.expire_all()
    fresh = db.get(Job, job.id)
    assert fresh is not None
    return fresh


def claim_one(db: Session, task_name: str, *, now: dt.datetime, worker: str = "w1") -> jobs.Claim:
    claims = jobs.claim(db, worker, lease=LEASE, tasks=[task_name], now=now)
    assert len(claims) == 1, claims
    return claims[0]


# --- enqueue -----------------------------------------------------------------------------------


def test_enqueue_defaults(db: Session) -> None:
    job = jobs.enqueue(db, "t.plain", {"a": 1}, run_at=T0)
    assert job.id is not None
    assert (job.status, job.attempts, job.max_attempts) == ("queued", 0, jobs.DEFAULT_MAX_ATTEMPTS)
    assert job.payload == {"a": 1}
    assert job.run_at == T0


def test_enqueue_takes_max_attempts_from_the_task_declaration(db: Session) -> None:
    assert jobs.enqueue(db, "test.jobs.limited").max_attempts == 2
    assert jobs.enqueue(db, "test.jobs.limited", max_attempts=7).max_attempts == 7
    keyed = jobs.enqueue(db, "test.jobs.limited", unique_key=secrets.token_hex(8))
    assert keyed.max_attempts == 2


def test_enqueue_with_unique_key_is_idempotent(db: Session) -> None:
    key = f"k-{secrets.token_hex(6)}"
    first = jobs.enqueue(db, "t.keyed", {"n": 1}, unique_key=key, run_at=T0)
    second = jobs.enqueue(db, "t.keyed", {"n": 2}, unique_key=key)
    assert second.id == first.id
    assert second.payload == {"n": 1}
    assert db.scalar(select(func.count()).select_from(Job).where(Job.unique_key == key)) == 1
    # Still the first job once it has run: a unique key is never reused.
    claim = claim_one(db, "t.keyed", now=T0)
    assert jobs.complete(db, claim, now=T0)
    assert jobs.enqueue(db, "t.keyed", unique_key=key).id == first.id
    assert jobs.enqueue(db, "t.keyed", unique_key=f"{key}-other").id != first.id


def test_enqueue_race_path_returns_the_other_transactions_job(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look-up misses (the other insert was not visible yet); the insert conflicts."""
    key = f"race-{secrets.token_hex(6)}"
    first = jobs.enqueue(db, "t.keyed", unique_key=key)
    db.expunge_all()
    real = jobs._by_unique_key
    calls: list[str] = []

    def miss_once(session: Session, unique_key: str) -> Job | None:
        calls.append(unique_key)
        return None if len(calls) == 1 else real(session, unique_key)

    monkeypatch.setattr(jobs, "_by_unique_key", miss_once)
    again = jobs.enqueue(db, "t.keyed", {"other": True}, unique_key=key)
    assert again.id == first.id
    assert again.payload == {}
    assert len(calls) == 2  # the pre-check, then the look-up after the conflicting insert
    # The session's transaction is still usable after the conflict.
    assert jobs.enqueue(db, "t.keyed", unique_key=f"{key}-2").id != first.id


# --- claim ---------------------------------------------------------------------------------------


def test_claim_respects_run_at(db: Session) -> None:
    t = name()
    later = jobs.enqueue(db, t, run_at=T0 + dt.timedelta(minutes=5))
    assert jobs.claim(db, "w1", lease=LEASE, tasks=[t], now=T0) == []
    assert jobs.claim(db, "w1", lease=LEASE, tasks=[t], now=T0 + dt.timedelta(minutes=4)) == []
    claim = claim_one(db, t, now=T0 + dt.timedelta(minutes=5))
    assert claim.job_id == later.id


def test_claim_order_priority_then_run_at_then_id(db: Session) -> None:
    t = name()
    low_early = jobs.enqueue(db, t, run_at=T0 - dt.timedelta(hours=1))
    high_late = jobs.enqueue(db, t, run_at=T0, priority=10)
    low_late_a = jobs.enqueue(db, t, run_at=T0)
    low_late_b = jobs.enqueue(db, t, run_at=T0)
    high_early = jobs.enqueue(db, t, run_at=T0 - dt.timedelta(minutes=1), priority=10)
    order = [claim_one(db, t, now=T0).job_id for _ in range(5)]
    assert order == [high_early.id, high_late.id, low_early.id, low_late_a.id, low_late_b.id]
    assert jobs.claim(db, "w1", lease=LEASE, tasks=[t], now=T0) == []


def test_claim_filters_by_task_and_limits(db: Session) -> None:
    wanted, other = name("wanted"), name("other")
    jobs.enqueue(db, other, run_at=T0, priority=100)
    ids = {jobs.enqueue(db, wanted, {"i": i}, run_at=T0).id for i in range(3)}
    claims = jobs.claim(db, "w1", lease=LEASE, tasks=[wanted], limit=2, now=T0)
    assert len(claims) == 2
    assert {c.task for c in claims} == {wanted}
    assert {c.job_id for c in claims} < ids
    assert jobs.claim(db, "w1", lease=LEASE, tasks=[], now=T0) == []


def test_claim_sets_the_lease_and_returns_the_claim(db: Session) -> None:
    t = name()
    job = jobs.enqueue(db, t, {"x": "y"}, run_at=T0, max_attempts=3)
    claim = claim_one(db, t, now=T0, worker="w-a")
    assert claim == jobs.Claim(
        job_id=job.id,
        task=t,
        payload={"x": "y"},
        attempt=1,
        max_attempts=3,
        workspace_id=None,
        worker_id="w-a",
    )
    row = reload(db, job)
    assert row.status == "running"
    assert row.locked_by == "w-a"
    assert row.lease_until == T0 + LEASE
    assert row.started_at == T0


def test_a_claimed_job_is_claimable_again_only_after_its_lease_expires(db: Session) -> None:
    t = name()
    job = jobs.enqueue(db, t, run_at=T0)
    first = claim_one(db, t, now=T0, worker="w1")
    for seconds in (0, 1, 59, 60):  # the lease ends at T0 + 60 s, exclusive
        now = T0 + dt.timedelta(seconds=seconds)
        assert jobs.claim(db, "w2", lease=LEASE, tasks=[t], now=now) == [], seconds
    second = claim_one(db, t, now=T0 + dt.timedelta(seconds=61), worker="w2")
    assert (second.job_id, second.attempt, second.worker_id) == (job.id, 2, "w2")
    # The first claim no longer owns the job: it can neither complete, fail nor renew it.
    later = T0 + dt.timedelta(seconds=62)
    assert jobs.complete(db, first, {"stale": True}, now=later) is False
    assert jobs.fail(db, first, RuntimeError("x"), backoff_base=1, backoff_cap=10) is None
    assert jobs.renew_lease(db, first, lease=LEASE, now=later) is False
    row = reload(db, job)
    assert (row.status, row.locked_by, row.attempts, row.result) == ("running", "w2", 2, None)
    assert jobs.complete(db, second, {"ok": 1}, now=later) is True
    row = reload(db, job)
    assert (row.status, row.result, row.lease_until, row.finished_at) == (
        "done",
        {"ok": 1},
        None,
        later,
    )


def test_renew_lease_keeps_the_job(db: Session) -> None:
    t = name()
    jobs.enqueue(db, t, run_at=T0)
    claim = claim_one(db, t, now=T0)
    assert jobs.renew_lease(db, claim, lease=LEASE, now=T0 + dt.timedelta(seconds=50))
    # Without the renewal the lease would have expired at T0 + 60 s.
    assert jobs.claim(db, "w2", lease=LEASE, tasks=[t], now=T0 + dt.timedelta(seconds=100)) == []
    assert len(jobs.claim(db, "w2", lease=LEASE, tasks=[t], now=T0 + dt.timedelta(seconds=111)))


def test_done_and_failed_jobs_are_never_claimed(db: Session) -> None:
    t = name()
    jobs.enqueue(db, t, run_at=T0)
    jobs.enqueue(db, t, run_at=T0, max_attempts=1)
    a = claim_one(db, t, now=T0)
    b = claim_one(db, t, now=T0)
    assert jobs.complete(db, a, now=T0)
    assert jobs.fail(db, b, RuntimeError("boom"), backoff_base=1, backoff_cap=1, now=T0) == "failed"
    assert jobs.claim(db, "w", lease=LEASE, tasks=[t], now=T0 + dt.timedelta(days=1)) == []


# --- failures and retries ------------------------------------------------------------------------


def test_backoff_delay_doubles_with_jitter_and_respects_the_cap() -> None:
    rng = random.Random(1)
    for attempt, nominal in [(1, 5), (2, 10), (3, 20), (4, 40)]:
        for _ in range(50):
            d = jobs.backoff_delay(attempt, base=5, cap=1000, rng=rng)
            assert nominal * 0.8 <= d <= nominal * 1.2
    delays = [jobs.backoff_delay(30, base=5, cap=100, rng=rng) for _ in range(200)]
    assert max(delays) <= 100
    assert min(delays) >= 80
    assert jobs.backoff_delay(10_000, base=5, cap=100) <= 100  # no overflow


def test_fail_requeues_with_exponential_backoff_then_fails_for_good(db: Session) -> None:
    t = name()
    job = jobs.enqueue(db, t, run_at=T0, max_attempts=3)
    now = T0
    for attempt, nominal in [(1, 10.0), (2, 20.0)]:
        claim = claim_one(db, t, now=now)
        assert claim.attempt == attempt
        status = jobs.fail(
            db, claim, RuntimeError(f"boom {attempt}"), backoff_base=10, backoff_cap=1000, now=now
        )
        assert status == "queued"
        row = reload(db, job)
        assert row.status == "queued"
        assert row.locked_by is None and row.lease_until is None
        assert f"boom {attempt}" in (row.last_error or "")
        delay = (row.run_at - now).total_seconds()
        assert nominal * 0.8 <= delay <= nominal * 1.2, (attempt, delay)
        # Not due before the backoff has passed; due after it.
        assert (
            jobs.claim(db, "w", lease=LEASE, tasks=[t], now=row.run_at - dt.timedelta(0, 1)) == []
        )
        now = row.run_at
    claim = claim_one(db, t, now=now)
    assert claim.attempt == 3
    status = jobs.fail(db, claim, ValueError("last"), backoff_base=10, backoff_cap=1000, now=now)
    assert status == "failed"
    row = reload(db, job)
    assert (row.status, row.attempts, row.finished_at) == ("failed", 3, now)
    assert "ValueError: last" in (row.last_error or "")
    assert jobs.claim(db, "w", lease=LEASE, tasks=[t], now=now + dt.timedelta(days=1)) == []


def test_permanent_failure_fails_at_once(db: Session) -> None:
    t = name()
    job = jobs.enqueue(db, t, run_at=T0, max_attempts=5)
    claim = claim_one(db, t, now=T0)
    error = jobs.PermanentFailure("bad payload")
    assert jobs.fail(db, claim, error, backoff_base=10, backoff_cap=100, now=T0) == "failed"
    row = reload(db, job)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "bad payload" in (row.last_error or "")


def test_retry_later_honours_its_delay(db: Session) -> None:
    t = name()
    job = jobs.enqueue(db, t, run_at=T0, max_attempts=5)
    claim = claim_one(db, t, now=T0)
    error = jobs.RetryLater("rate limited", delay=1234)
    assert jobs.fail(db, claim, error, backoff_base=1, backoff_cap=10, now=T0) == "queued"
    assert reload(db, job).run_at == T0 + dt.timedelta(seconds=1234)
    # Without a delay it backs off like any error.
    claim = claim_one(db, t, now=T0 + dt.timedelta(seconds=1234))
    now = T0 + dt.timedelta(seconds=1234)
    assert jobs.fail(db, claim, jobs.RetryLater("again"), backoff_base=10, backoff_cap=100, now=now)
    delay = (reload(db, job).run_at - now).total_seconds()
    assert 16 <= delay <= 24  # attempt 2: 2 × 10 s ± 20 %


def test_retry_later_on_the_last_attempt_fails(db: Session) -> None:
    t = name()
    job = jobs.enqueue(db, t, run_at=T0, max_attempts=1)
    claim = claim_one(db, t, now=T0)
    error = jobs.RetryLater("rate limited", delay=5)
    assert jobs.fail(db, claim, error, backoff_base=1, backoff_cap=10, now=T0) == "failed"
    assert reload(db, job).status == "failed"


def test_reap_exhausted_fails_jobs_whose_last_attempt_died(db: Session) -> None:
    t = name()
    last = jobs.enqueue(db, t, run_at=T0, max_attempts=1)
    more = jobs.enqueue(db, t, run_at=T0, max_attempts=2)
    claim_one(db, t, now=T0)
    claim_one(db, t, now=T0)
    # Within the lease nothing is reaped.
    assert jobs.reap_exhausted(db, now=T0 + dt.timedelta(seconds=30)) == 0
    after = T0 + LEASE + dt.timedelta(seconds=1)
    reaped = jobs.reap_exhausted(db, now=after)
    assert reaped >= 1  # other tests' rows are invisible, but be lenient about the count
    row = reload(db, last)
    assert (row.status, row.finished_at) == ("failed", after)
    assert "lease expired" in (row.last_error or "")
    # The job with an attempt left is not reaped; it is claimable again instead.
    assert reload(db, more).status == "running"
    retry = claim_one(db, t, now=after, worker="w2")
    assert (retry.job_id, retry.attempt) == (more.id, 2)


# --- periodic tasks ------------------------------------------------------------------------------


def test_ensure_periodic_keeps_one_job_per_period(db: Session) -> None:
    registry = TaskRegistry()
    hourly, daily = name("hourly"), name("daily")
    registry.task(hourly, every=dt.timedelta(hours=1), max_attempts=2)(lambda c, p: None)
    registry.task(daily, every=dt.timedelta(days=1))(lambda c, p: None)
    registry.task(name("plain"))(lambda c, p: None)

    def periodic_jobs(task_name: str) -> list[Job]:
        db.expire_all()
        return list(db.scalars(select(Job).where(Job.task == task_name).order_by(Job.id)))

    base = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    for minutes in (0, 1, 17, 59, 59.99):
        jobs.ensure_periodic(db, registry, now=base + dt.timedelta(minutes=minutes))
        jobs.ensure_periodic(db, registry, now=base + dt.timedelta(minutes=minutes))
    [job] = periodic_jobs(hourly)
    assert job.run_at == base
    assert job.max_attempts == 2
    assert job.unique_key is not None and job.unique_key.startswith(f"periodic:{hourly}:")
    [day_job] = periodic_jobs(daily)
    assert day_job.run_at == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)

    # Running the job does not let the same period enqueue a second one.
    claim = claim_one(db, hourly, now=base + dt.timedelta(minutes=1))
    assert jobs.complete(db, claim)
    jobs.ensure_periodic(db, registry, now=base + dt.timedelta(minutes=30))
    assert len(periodic_jobs(hourly)) == 1

    # The next period gets its own job, once.
    for minutes in (60, 61, 119):
        jobs.ensure_periodic(db, registry, now=base + dt.timedelta(minutes=minutes))
    hourly_jobs = periodic_jobs(hourly)
    assert [j.run_at for j in hourly_jobs] == [base, base + dt.timedelta(hours=1)]
    assert len(periodic_jobs(daily)) == 1


# --- heartbeats and health -----------------------------------------------------------------------


def test_heartbeats_and_queue_health(db: Session) -> None:
    stale_after = dt.timedelta(seconds=30)
    baseline = jobs.queue_health(db, stale_after=stale_after, now=T0)
    assert baseline.due == 0, "the shared test database should hold no due job"
    suffix = secrets.token_hex(3)
    alive, stale, stopped = (f"host-{suffix}:{pid}:abcd" for pid in (101, 102, 103))

    jobs.heartbeat(db, stale, now=T0 - dt.timedelta(minutes=5))
    jobs.heartbeat(db, stopped, now=T0 - dt.timedelta(seconds=50))
    jobs.heartbeat(db, stopped, stopped=True, now=T0 - dt.timedelta(seconds=5))
    jobs.heartbeat(db, alive, done=3, failed=1, now=T0 - dt.timedelta(seconds=40))
    t = name()
    job = jobs.enqueue(db, t, run_at=T0 - dt.timedelta(seconds=200))
    claim_one(db, t, now=T0 - dt.timedelta(seconds=10))
    jobs.heartbeat(db, alive, current_job_id=job.id, done=2, now=T0 - dt.timedelta(seconds=10))
    jobs.enqueue(db, t, run_at=T0 - dt.timedelta(seconds=100))  # due, 100 s late
    jobs.enqueue(db, t, run_at=T0 - dt.timedelta(seconds=20))  # due
    jobs.enqueue(db, t, run_at=T0 + dt.timedelta(seconds=100))  # not due yet

    health = jobs.queue_health(db, stale_after=stale_after, now=T0)
    assert health.counts["queued"] - baseline.counts["queued"] == 3
    assert health.counts["running"] - baseline.counts["running"] == 1
    assert set(health.counts) == {s.value for s in JobStatus}
    assert health.due == 2
    assert health.lag_seconds == pytest.approx(100)
    ours = {w.worker_id: w for w in health.workers if w.worker_id.startswith(f"host-{suffix}")}
    assert set(ours) == {alive, stale, stopped}
    assert ours[alive].alive is True
    assert (ours[alive].jobs_done, ours[alive].jobs_failed) == (5, 1)
    assert ours[alive].current_job_id == job.id
    assert (ours[alive].hostname, ours[alive].pid) == (f"host-{suffix}", 101)
    assert ours[alive].started_at == T0 - dt.timedelta(seconds=40)
    assert ours[alive].last_seen_at == T0 - dt.timedelta(seconds=10)
    assert ours[stale].alive is False  # no beat for 5 minutes
    assert ours[stopped].alive is False  # recent, but it said it stopped
    assert health.alive_workers - baseline.alive_workers == 1

    # A minute later the live worker has gone quiet: stale too.
    later = jobs.queue_health(db, stale_after=stale_after, now=T0 + dt.timedelta(minutes=1))
    assert not any(w.alive for w in later.workers if w.worker_id.startswith(f"host-{suffix}"))
    # Workers not seen for a day drop out of the list.
    much_later = jobs.queue_health(db, stale_after=stale_after, now=T0 + dt.timedelta(days=2))
    assert not [w for w in much_later.workers if w.worker_id.startswith(f"host-{suffix}")]


def test_queue_health_with_an_empty_queue_has_no_lag(db: Session) -> None:
    health = jobs.queue_health(db, stale_after=dt.timedelta(seconds=30), now=T0)
    assert health.due == 0
    assert health.lag_seconds == 0.0
