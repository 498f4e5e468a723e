"""Queue behaviour that needs real, separate transactions (a fresh committed-to database)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from sqlalchemy import event, select, text

from dialogo.jobs import service as jobs
from dialogo.jobs.models import Job
from tests.worker.support import LiveDb

LEASE = dt.timedelta(seconds=60)


class Watcher:
    """Signals when a given thread is about to send a statement starting with ``prefix``."""

    def __init__(self, db: LiveDb, prefix: str) -> None:
        self.prefix = prefix.lower()
        self.thread: threading.Thread | None = None
        self.reached = threading.Event()
        self.engine = db.engine
        event.listen(self.engine, "before_cursor_execute", self._before)

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread() is self.thread and statement.lower().startswith(self.prefix):
            self.reached.set()

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)


def run_in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    return thread, out


def test_unique_enqueue_is_rolled_back_with_its_transaction(live_db: LiveDb) -> None:
    """On SQLite a savepoint that opens the transaction is committed by pysqlite on release;
    a keyed job must still vanish with the caller's rollback."""
    with live_db.factory() as session:
        jobs.enqueue(session, "test.record", unique_key="rolled-back")
        jobs.enqueue(session, "test.record")
        session.rollback()
    assert live_db.count_jobs() == 0
    with live_db.write() as session:
        jobs.enqueue(session, "test.record", unique_key="kept")
    assert live_db.count_jobs(unique_key="kept") == 1


def test_concurrent_enqueue_of_one_key_makes_one_job(live_db: LiveDb) -> None:
    """B looks the key up before A commits, then inserts while A holds it: B waits, finds the
    conflict, and returns A's job; its own transaction carries on."""
    watcher = Watcher(live_db, "INSERT INTO jobs")

    def enqueue_b() -> tuple[int, int]:
        with live_db.write() as session:
            job = jobs.enqueue(session, "test.record", {"by": "b"}, unique_key="shared")
            other = jobs.enqueue(session, "test.record", {"by": "b"}, unique_key="b-only")
            return job.id, other.id

    try:
        with live_db.factory() as a:
            job_a = jobs.enqueue(a, "test.record", {"by": "a"}, unique_key="shared")
            thread, out = run_in_thread(enqueue_b)
            watcher.thread = thread
            thread.start()
            assert watcher.reached.wait(10), "B never tried to insert"
            time.sleep(0.2)  # let B's insert block on A's uncommitted row or lock
            assert thread.is_alive(), f"B did not wait for A: {out}"
            a.commit()
            a_id = job_a.id
        thread.join(30)
        assert not thread.is_alive()
    finally:
        watcher.close()
    assert "error" not in out, out.get("error")
    b_shared, b_only = out["value"]
    assert b_shared == a_id
    assert live_db.count_jobs(unique_key="shared") == 1
    assert live_db.job(a_id).payload == {"by": "a"}
    assert live_db.count_jobs(unique_key="b-only") == 1
    assert b_only != a_id


@pytest.mark.postgres
def test_postgres_claimers_skip_locked_jobs_without_waiting(live_db: LiveDb) -> None:
    if live_db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with live_db.write() as session:
        first = jobs.enqueue(session, "test.record")
        second = jobs.enqueue(session, "test.record")
    with live_db.factory() as a, live_db.factory() as b:
        a.execute(text("SET LOCAL lock_timeout = '2s'"))
        [claim_a] = jobs.claim(a, "a", lease=LEASE)  # row locked until A commits
        b.execute(text("SET LOCAL lock_timeout = '2s'"))
        started = time.monotonic()
        [claim_b] = jobs.claim(b, "b", lease=LEASE)
        assert time.monotonic() - started < 1.0
        assert jobs.claim(b, "b", lease=LEASE) == []
        assert {claim_a.job_id, claim_b.job_id} == {first.id, second.id}
        a.commit()
        b.commit()
    assert live_db.job(first.id).attempts == 1
    assert live_db.job(second.id).attempts == 1


def test_sqlite_claim_waits_for_the_write_lock_instead_of_failing(sqlite_live_db: LiveDb) -> None:
    db = sqlite_live_db
    watcher = Watcher(db, "UPDATE jobs")

    def claim_b() -> list[jobs.Claim]:
        with db.write() as session:
            return jobs.claim(session, "b", lease=LEASE)

    try:
        with db.factory() as a:
            job = jobs.enqueue(a, "test.record")  # A now holds SQLite's write lock
            thread, out = run_in_thread(claim_b)
            watcher.thread = thread
            thread.start()
            assert watcher.reached.wait(10), "B never tried to claim"
            time.sleep(0.5)  # hold the lock while B waits on it
            assert thread.is_alive(), f"B did not wait for the lock: {out}"
            a.commit()
            job_id = job.id
        thread.join(30)
    finally:
        watcher.close()
    assert "error" not in out, out.get("error")
    assert [c.job_id for c in out["value"]] == [job_id]


def test_claim_returns_each_job_to_one_of_many_threads(live_db: LiveDb) -> None:
    """Eight threads claim 200 jobs in parallel transactions; each job goes to one of them."""
    with live_db.write() as session:
        ids = {jobs.enqueue(session, "test.record", {"i": i}).id for i in range(200)}
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(8)

    def claimer(worker: str) -> None:
        got: list[int] = []
        barrier.wait()
        while True:
            with live_db.write() as session:
                claims = jobs.claim(session, worker, lease=LEASE, limit=3)
            if not claims:
                break
            got.extend(c.job_id for c in claims)
        results[worker] = got

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    claimed = [job_id for got in results.values() for job_id in got]
    assert len(results) == 8
    assert sorted(claimed) == sorted(ids)  # none twice, none missing
    with live_db.factory() as session:
        rows = session.execute(select(Job.id, Job.attempts, Job.locked_by)).all()
    owner = {job_id: w for w, got in results.items() for job_id in got}
    assert all(attempts == 1 and owner[job_id] == by for job_id, attempts, by in rows)
