"""The worker loop: claim due jobs, run their handlers, record the outcome, send heartbeats.

One worker runs one job at a time; run more processes (``dialogo worker``) for more throughput.
A background thread renews the lease of the running job and records the heartbeat, so a long
job keeps its lease while a killed worker's job is picked up by another after the lease ends.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from dialogo.accounts.audit import Actor, set_actor
from dialogo.core.clock import Clock, SystemClock
from dialogo.core.config import Settings
from dialogo.core.db import transaction
from dialogo.jobs import service as jobs
from dialogo.jobs.registry import JobContext, TaskRegistry

log = logging.getLogger("dialogo.worker")


class Worker:
    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        registry: TaskRegistry,
        *,
        clock: Clock | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.factory = session_factory
        self.registry = registry
        self.clock = clock or SystemClock()
        self.worker_id = worker_id or jobs.new_worker_id()
        self.lease = dt.timedelta(seconds=settings.worker_lease_seconds)
        self.stop_event = threading.Event()
        self._current: jobs.Claim | None = None
        self._lock = threading.Lock()
        self._done = 0
        self._failed = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def run(self, *, max_jobs: int | None = None, idle_exit: bool = False) -> int:
        """Run until stopped (or ``max_jobs`` handled, or the queue is empty with ``idle_exit``)."""
        self._beat()
        beat_thread = threading.Thread(
            target=self._beat_loop, name="dialogo-heartbeat", daemon=True
        )
        beat_thread.start()
        handled = 0
        log.info("worker %s started", self.worker_id)
        try:
            while not self.stop_event.is_set():
                self._housekeeping()
                ran = self.run_once()
                handled += ran
                if max_jobs is not None and handled >= max_jobs:
                    break
                if not ran:
                    if idle_exit:
                        break
                    self.stop_event.wait(self.settings.worker_poll_seconds)
        finally:
            self.stop_event.set()
            beat_thread.join(timeout=5)
            self._beat(stopped=True)
            log.info("worker %s stopped after %d jobs", self.worker_id, handled)
        return handled

    def stop(self) -> None:
        self.stop_event.set()

    # -- one job ---------------------------------------------------------------------------------

    def run_once(self) -> int:
        with transaction(self.factory) as session:
            claims = jobs.claim(
                session,
                self.worker_id,
                lease=self.lease,
                tasks=self.registry.names(),
                now=self.clock.now(),
            )
        for claim in claims:
            self._run(claim)
        return len(claims)

    def _run(self, claim: jobs.Claim) -> None:
        spec = self.registry.get(claim.task)
        with self._lock:
            self._current = claim
        try:
            if spec is None:  # pragma: no cover - claim filters on registered names
                raise jobs.PermanentFailure(f"no handler registered for task {claim.task!r}")
            session = self.factory()
            set_actor(session, Actor(label=f"worker:{claim.task}"))
            try:
                ctx = JobContext(
                    session=session,
                    settings=self.settings,
                    clock=self.clock,
                    job_id=claim.job_id,
                    attempt=claim.attempt,
                    workspace_id=claim.workspace_id,
                )
                result = spec.handler(ctx, dict(claim.payload))
                if not jobs.complete(session, claim, result, now=self.clock.now()):
                    # The lease was lost: another worker owns the job now. Undo our work.
                    session.rollback()
                    log.warning("job %s lost its lease; its work was rolled back", claim.job_id)
                    return
                session.commit()
                self._done += 1
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
        except Exception as exc:
            self._record_failure(claim, exc)
        finally:
            with self._lock:
                self._current = None

    def _record_failure(self, claim: jobs.Claim, exc: Exception) -> None:
        log.warning(
            "job %s (%s) attempt %d failed: %s", claim.job_id, claim.task, claim.attempt, exc
        )
        with transaction(self.factory) as session:
            status = jobs.fail(
                session,
                claim,
                exc,
                backoff_base=self.settings.worker_backoff_base_seconds,
                backoff_cap=self.settings.worker_backoff_max_seconds,
                now=self.clock.now(),
            )
        if status is not None:
            self._failed += 1

    # -- background -----------------------------------------------------------------------------

    def _housekeeping(self) -> None:
        with transaction(self.factory) as session:
            jobs.reap_exhausted(session, now=self.clock.now())
            jobs.ensure_periodic(session, self.registry, now=self.clock.now())

    def _beat_loop(self) -> None:
        interval = min(self.settings.worker_heartbeat_seconds, self.lease.total_seconds() / 3)
        while not self.stop_event.wait(interval):
            try:
                self._beat()
            except Exception:  # keep beating; the next beat may succeed
                log.exception("heartbeat failed")

    def _beat(self, *, stopped: bool = False) -> None:
        with self._lock:
            current = self._current
            done, failed = self._done, self._failed
            self._done = self._failed = 0
        with transaction(self.factory) as session:
            if current is not None:
                jobs.renew_lease(session, current, lease=self.lease, now=self.clock.now())
            jobs.heartbeat(
                session,
                self.worker_id,
                current_job_id=current.job_id if current else None,
                done=done,
                failed=failed,
                stopped=stopped,
                now=self.clock.now(),
            )


def run_in_thread(worker: Worker) -> threading.Thread:
    """Start a worker in a daemon thread (``dialogo serve`` runs one in-process)."""

    def target() -> None:
        while not worker.stop_event.is_set():
            try:
                worker.run()
            except Exception:
                log.exception("in-process worker crashed; restarting in 5 s")
                time.sleep(5)

    thread = threading.Thread(target=target, name="dialogo-worker", daemon=True)
    thread.start()
    return thread


__all__ = ["Worker", "run_in_thread"]
