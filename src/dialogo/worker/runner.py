"""The worker loop: claim due jobs, run their handlers, record the outcome, send heartbeats.

One worker runs one job at a time; run more processes (``dialogo worker``) for more throughput.
A background thread renews the lease of the running job and records the heartbeat, so a long
job keeps its lease while a killed worker's job is picked up by another after the lease ends.

Stopping (``stop()``, SIGTERM/SIGINT in ``dialogo worker``) lets the current job finish, with
its lease still renewed, then records a last heartbeat and returns. ``stop()`` only sets a flag,
so it is safe to call from a signal handler.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import math
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from dialogo.accounts.audit import Actor, set_actor
from dialogo.core.clock import Clock, SystemClock
from dialogo.core.config import Settings
from dialogo.core.db import transaction
from dialogo.jobs import service as jobs
from dialogo.jobs.registry import JobContext, TaskRegistry, TaskSpec

log = logging.getLogger("dialogo.worker")

# How often a stopping worker notices the request while it is idle.
_STOP_CHECK_SECONDS = 0.1
# The shortest idle pause (a job due "now" that another worker is about to take).
_MIN_IDLE_PAUSE_SECONDS = 0.005
# The longest pause after the loop itself failed (the database is unreachable, say).
_MAX_ERROR_PAUSE_SECONDS = 60.0
_heap_frozen = False


def freeze_heap() -> bool:
    """Move every object alive now out of the garbage collector's sight, once per process
    (``gc.freeze``); ``True`` the first time.

    A worker starts with the whole application imported: modules, classes, mapped tables,
    compiled statements, ~175,000 tracked objects that live as long as the process. Python's
    full collections scanned them all again each time the objects promoted since the last
    one reached a quarter of them (a publishing lane's batches, HTTP clients, cached
    credentials): ~180 ms of CPU each, 15-20 µs per post published in a benchmark worker
    (``benchmarks/publishing.py``; its lane's collections fell from 362 to 38 ms per 20,000
    posts). Not collected first: a full collection is what this avoids, and in a forked
    worker (the benchmark's) it also copies every page the parent shared (~170 ms each).
    The price: garbage cycles alive now, and frozen objects that become garbage later, are
    freed only with the process (once, the state of a process just started)."""
    global _heap_frozen
    if _heap_frozen:
        return False
    _heap_frozen = True
    gc.freeze()
    return True


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
        self._stop_requested = False
        self._beat_stop = threading.Event()
        self._current: jobs.Claim | None = None
        self._lock = threading.Lock()
        self._done = 0
        self._failed = 0
        self._last_housekeeping = -math.inf
        # When the next queued job falls due, as the loop's claim found it (nothing claimed).
        self._upcoming: tuple[dt.datetime | None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop_requested

    def stop(self) -> None:
        """Ask the worker to stop after its current job (safe from a signal handler)."""
        self._stop_requested = True

    def run(self, *, max_jobs: int | None = None, idle_exit: bool = False) -> int:
        """Run until stopped (or ``max_jobs`` handled, or the queue is empty with ``idle_exit``).

        Errors of the loop itself (the database going away) are logged and retried with a
        growing pause; with ``idle_exit`` (a burst run) they are raised instead.
        """
        freeze_heap()
        self._safe_beat(raise_errors=idle_exit)
        self._beat_stop.clear()
        beat_thread = threading.Thread(
            target=self._beat_loop, name=f"dialogo-heartbeat-{self.worker_id}", daemon=True
        )
        beat_thread.start()
        handled = 0
        errors = 0
        log.info("worker %s started", self.worker_id)
        try:
            while not self._stop_requested:
                try:
                    ran = self._claim_and_run(housekeeping=True)
                except Exception:
                    if idle_exit:
                        raise
                    errors += 1
                    pause = min(
                        _MAX_ERROR_PAUSE_SECONDS,
                        max(self.settings.worker_poll_seconds, 0.5) * 2 ** min(errors - 1, 10),
                    )
                    log.exception("worker loop failed; retrying in %.1f s", pause)
                    self._sleep(pause)
                    continue
                errors = 0
                handled += ran
                if max_jobs is not None and handled >= max_jobs:
                    break
                if not ran:
                    if idle_exit:
                        break
                    self._sleep(self._idle_pause())
        finally:
            self._beat_stop.set()
            beat_thread.join(timeout=10)
            self._safe_beat(stopped=True)
            log.info("worker %s stopped after %d jobs", self.worker_id, handled)
        return handled

    def _idle_pause(self) -> float:
        """How long to sleep with nothing due: until the next queued job falls due, at most
        the poll interval (jobs queued meanwhile by others are seen at the next poll)."""
        poll = self.settings.worker_poll_seconds
        found, self._upcoming = self._upcoming, None
        if found is not None:  # read by the loop's claim, a moment ago
            upcoming = found[0]
        else:
            try:
                with transaction(self.factory) as session:
                    upcoming = jobs.next_run_at(session, tasks=self.registry.names())
            except Exception:  # the loop's next round reports a database that went away
                return poll
        if upcoming is None:
            return poll
        wait = (upcoming - self.clock.now()).total_seconds()
        return min(poll, max(_MIN_IDLE_PAUSE_SECONDS, wait))

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop_requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, _STOP_CHECK_SECONDS))

    # -- one job ---------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim at most one due job and run it; return how many ran (0 or 1)."""
        return self._claim_and_run(housekeeping=False)

    def _claim_and_run(self, *, housekeeping: bool) -> int:
        """The loop's round: with ``housekeeping`` (at most once per poll interval) and, when
        nothing is claimed, the next queued job's time for :meth:`_idle_pause`, in the
        claim's transaction. An idle round was three transactions (housekeeping, claim, the
        next job's time), each a session, a checkout and a commit."""
        tasks = self.registry.names()
        self._upcoming = None
        with transaction(self.factory) as session:
            if housekeeping:
                self._housekeeping(session)
            claims = jobs.claim(
                session, self.worker_id, lease=self.lease, tasks=tasks, now=self.clock.now()
            )
            if housekeeping and not claims:
                self._upcoming = (jobs.next_run_at(session, tasks=tasks),)
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
            self._execute(spec, claim)
        except Exception as exc:
            self._record_failure(claim, exc)
        finally:
            with self._lock:
                self._current = None

    def _execute(self, spec: TaskSpec, claim: jobs.Claim) -> None:
        """Run the handler in its own unit of work, committed together with the completion."""
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
                log.warning(
                    "job %s (%s) attempt %d lost its lease; its work was rolled back",
                    claim.job_id,
                    claim.task,
                    claim.attempt,
                )
                return
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        with self._lock:
            self._done += 1

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
            with self._lock:
                self._failed += 1

    # -- background -----------------------------------------------------------------------------

    def _housekeeping(self, session: Session) -> None:
        """Fail exhausted jobs and keep periodic tasks queued, at most once per poll interval
        (in the caller's transaction)."""
        now = time.monotonic()
        if now - self._last_housekeeping < self.settings.worker_poll_seconds:
            return
        self._last_housekeeping = now
        jobs.reap_exhausted(session, now=self.clock.now())
        jobs.ensure_periodic(session, self.registry, now=self.clock.now())

    def _beat_loop(self) -> None:
        # Runs until the main loop has finished (not merely been asked to stop), so the job a
        # stopping worker is finishing keeps its lease.
        interval = min(self.settings.worker_heartbeat_seconds, self.lease.total_seconds() / 3)
        while not self._beat_stop.wait(interval):
            self._safe_beat()

    def _safe_beat(self, *, stopped: bool = False, raise_errors: bool = False) -> None:
        try:
            self._beat(stopped=stopped)
        except Exception:
            if raise_errors:
                raise
            log.exception("heartbeat failed")  # the next beat may succeed

    def _beat(self, *, stopped: bool = False) -> None:
        with self._lock:
            current = self._current
            done, failed = self._done, self._failed
        with transaction(self.factory) as session:
            # A failed renewal is often no loss at all: the job was completed (its completion
            # holds the row until it commits, then the renewal finds it done) a moment before
            # the runner forgot it. Only another claim owning it now is a lost lease.
            if (
                current is not None
                and not jobs.renew_lease(session, current, lease=self.lease, now=self.clock.now())
                and jobs.owned_by_other(session, current)
            ):
                log.warning("job %s lost its lease to another worker", current.job_id)
            jobs.heartbeat(
                session,
                self.worker_id,
                current_job_id=current.job_id if current else None,
                done=done,
                failed=failed,
                stopped=stopped,
                now=self.clock.now(),
            )
        # Counted only once recorded: a failed beat leaves them for the next one.
        with self._lock:
            self._done -= done
            self._failed -= failed


def run_in_thread(worker: Worker) -> threading.Thread:
    """Start a worker in a daemon thread (``dialogo serve`` runs one in-process).

    ``Worker.run`` survives errors of its own loop, so there is nothing to restart; stop it
    with ``worker.stop()`` and wait for the returned thread.
    """

    def target() -> None:
        try:
            worker.run()
        except Exception:
            log.exception("the in-process worker stopped on an error")

    thread = threading.Thread(target=target, name="dialogo-worker", daemon=True)
    thread.start()
    return thread


__all__ = ["Worker", "run_in_thread"]
