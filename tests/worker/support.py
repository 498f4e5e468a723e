"""Helpers for tests that need committed data: a live database, worker processes, polling."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from dialogo.core.config import Environment, Settings, load_settings
from dialogo.core.db import make_engine, make_session_factory, transaction
from dialogo.db import migrate
from dialogo.jobs.models import Job
from tests import worker_tasks
from tests.patience import Deadline

REPO_ROOT = Path(__file__).resolve().parents[2]
# pytest-timeout's limit for tests that start worker processes: their own waits stretch with
# the load (up to tests.patience.CAP times), so the suite's 300 s would cut them short on a
# loaded machine; this only catches a hang.
WORKER_TEST_TIMEOUT = 1800
SECRET = "worker-test-secret-" + "y" * 40
T = TypeVar("T")


@dataclasses.dataclass
class LiveDb:
    """A committed-to database (not the rolled-back test transaction) with the test tables."""

    url: str
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]

    def job(self, job_id: int) -> Job:
        with self.factory() as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job

    def rows(self, table: Any, job_id: int | None = None) -> list[Any]:
        query = select(table).order_by(table.c.id)
        if job_id is not None:
            query = query.where(table.c.job_id == job_id)
        with self.engine.connect() as connection:
            return list(connection.execute(query).all())

    def count_jobs(self, **filters: Any) -> int:
        query = select(func.count()).select_from(Job).filter_by(**filters)
        with self.factory() as session:
            return int(session.scalar(query) or 0)

    def write(self) -> Any:
        return transaction(self.factory)

    def done_by(self, worker: WorkerProcess) -> int:
        """How many jobs the worker process completed (built-in periodic ones included)."""
        query = (
            select(func.count())
            .select_from(Job)
            .where(Job.status == "done", Job.locked_by.like(f"%:{worker.pid}:%"))
        )
        with self.factory() as session:
            return int(session.scalar(query) or 0)


def open_live_db(url: str, data_dir: Path, **overrides: Any) -> LiveDb:
    settings = load_settings(
        env=Environment.test,
        data_dir=data_dir,
        database_url=url,
        secret_key=SECRET,
        **overrides,
    )
    engine = make_engine(settings)
    migrate.upgrade(engine)  # a no-op on ``fresh_database``, which is migrated already
    worker_tasks.metadata.create_all(engine)
    return LiveDb(url, settings, engine, make_session_factory(engine))


@pytest.fixture
def live_db(fresh_database: str, tmp_path: Path) -> Iterator[LiveDb]:
    """The suite's backend (SQLite or PostgreSQL), on a fresh committed-to database."""
    db = open_live_db(fresh_database, tmp_path, worker_poll_seconds=0.05)
    try:
        yield db
    finally:
        db.engine.dispose()


def streaming_live_db(fresh_database: str, tmp_path: Path) -> Iterator[LiveDb]:
    """For a fixture (``yield from``): as :func:`live_db`, with the inbox's streams
    re-reading their channels every 0.2 s and loopback allowed by the outbound policy (the
    test servers listen there)."""
    from tests.conftest import TEST_OUTBOUND_ALLOW

    db = open_live_db(
        fresh_database,
        tmp_path,
        worker_poll_seconds=0.05,
        streams_refresh_seconds=0.2,
        outbound_allow=TEST_OUTBOUND_ALLOW,
    )
    try:
        yield db
    finally:
        db.engine.dispose()


@pytest.fixture
def sqlite_live_db(tmp_path: Path) -> Iterator[LiveDb]:
    """A fresh SQLite file, whatever backend the suite runs on."""
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    db = open_live_db(url, tmp_path, worker_poll_seconds=0.05)
    try:
        yield db
    finally:
        db.engine.dispose()


def wait_for(
    predicate: Callable[[], T],
    *,
    timeout: float,
    message: str,
    interval: float = 0.05,
    watch: WorkerProcess | None = None,
) -> T:
    """Poll until ``predicate()`` is truthy and return it; fail with ``message`` at the deadline,
    or as soon as the ``watch``ed worker process has exited (showing its output). ``timeout``
    is in an idle machine's seconds: it stretches with the load (:mod:`tests.patience`)."""
    deadline = Deadline(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if watch is not None and watch.process.poll() is not None:
            pytest.fail(
                f"{message}: worker exited with {watch.process.returncode}:\n{watch.output()}"
            )
        if deadline.expired():
            output = f"\n{watch.output()}" if watch is not None else ""
            pytest.fail(f"timed out after {deadline.describe()}: {message}{output}")
        time.sleep(interval)


@dataclasses.dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait(self, timeout: float) -> int:
        """The exit status, polled for ``timeout`` seconds of an idle machine's time (they
        stretch with the load, see :mod:`tests.patience`)."""
        deadline = Deadline(timeout)
        while (status := self.process.poll()) is None:
            if deadline.expired():
                pytest.fail(
                    f"worker {self.pid} still running after {deadline.describe()}:\n{self.output()}"
                )
            time.sleep(0.05)
        return status

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def worker_env(url: str, **settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGO_")}
    env.update(
        DIALOGO_ENV="test",
        DIALOGO_SECRET_KEY=SECRET,
        DIALOGO_DATABASE_URL=url,
        DIALOGO_LOG_LEVEL="INFO",
        PYTHONPATH=os.pathsep.join(
            p for p in (str(REPO_ROOT), str(REPO_ROOT / "src"), env.get("PYTHONPATH")) if p
        ),
        PYTHONUNBUFFERED="1",
    )
    for key, value in settings.items():
        env[f"DIALOGO_{key.upper()}"] = str(value)
    return env


class WorkerSpawner:
    """Starts ``dialogo worker`` processes and kills any still running at the end of a test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[WorkerProcess] = []

    def start(
        self, url: str, *args: str, env: dict[str, str] | None = None, **settings: Any
    ) -> WorkerProcess:
        defaults: dict[str, Any] = {
            "worker_lease_seconds": 3,
            "worker_heartbeat_seconds": 0.5,
            "worker_poll_seconds": 0.05,
        }
        full_env = worker_env(url, **{**defaults, **settings})
        full_env.update(env or {})
        log_path = self.tmp_path / f"worker-{len(self.started)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from dialogo.cli.main import main; main()",
                    "worker",
                    "--tasks-module",
                    "tests.worker_tasks",
                    *args,
                ],
                cwd=self.tmp_path,  # no stray .env file
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(process, log_path)
        self.started.append(worker)
        return worker

    def cleanup(self) -> None:
        for worker in self.started:
            worker.kill()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[WorkerSpawner]:
    spawner = WorkerSpawner(tmp_path)
    try:
        yield spawner
    finally:
        spawner.cleanup()
