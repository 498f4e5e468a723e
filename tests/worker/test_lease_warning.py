"""The "lost its lease" warning: a heartbeat whose renewal races the job's own completion
(the completion holds the row until it commits, then the renewal finds the job done) is not
a lost lease; a job taken over by another worker is."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dialogo.core.clock import FrozenClock
from dialogo.core.config import Settings
from dialogo.core.db import transaction
from dialogo.jobs import service as jobs
from dialogo.jobs.registry import TaskRegistry
from dialogo.worker.runner import Worker

NOW = dt.datetime(2031, 1, 1, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=30)


def _worker(settings: Settings, factory: sessionmaker[Session], worker_id: str) -> Worker:
    return Worker(settings, factory, TaskRegistry(), clock=FrozenClock(NOW), worker_id=worker_id)


def _claim(factory: sessionmaker[Session], worker_id: str, at: dt.datetime) -> jobs.Claim:
    with transaction(factory) as session:
        [claim] = jobs.claim(session, worker_id, lease=LEASE, now=at, tasks=["t.lease"])
    return claim


def test_a_renewal_that_races_the_completion_is_not_a_lost_lease(
    settings: Settings, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with transaction(session_factory) as session:
        jobs.enqueue(session, "t.lease", run_at=NOW)
    worker = _worker(settings, session_factory, "h:1:a")
    claim = _claim(session_factory, worker.worker_id, NOW)
    with transaction(session_factory) as session:
        assert jobs.complete(session, claim, {}, now=NOW)
    worker._current = claim  # the runner has not forgotten the job yet
    with caplog.at_level(logging.WARNING, logger="dialogo.worker"):
        worker._beat()
    assert "lost its lease" not in caplog.text


def test_a_job_taken_over_by_another_worker_is_reported(
    settings: Settings, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with transaction(session_factory) as session:
        jobs.enqueue(session, "t.lease", run_at=NOW)
    worker = _worker(settings, session_factory, "h:1:a")
    claim = _claim(session_factory, worker.worker_id, NOW)
    _claim(session_factory, "h:2:b", NOW + LEASE + dt.timedelta(seconds=1))  # lease expired
    worker._current = claim
    with caplog.at_level(logging.WARNING, logger="dialogo.worker"):
        worker._beat()
    assert f"job {claim.job_id} lost its lease" in caplog.text
