"""Health and metrics endpoints."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dialogo.api.deps import Db
from dialogo.core.clock import SystemClock
from dialogo.core.context import AppContext
from dialogo.core.db import make_engine, make_session_factory
from dialogo.jobs import service as jobs
from dialogo.server import create_app
from tests.conftest import make_settings


def test_health_reports_ok_on_a_current_schema(ctx: AppContext) -> None:
    with TestClient(create_app(ctx)) as client:
        r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["database"] == "ok"


def test_health_is_503_while_migrations_are_pending(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    engine = make_engine(settings)
    ctx = AppContext(settings, engine, make_session_factory(engine), SystemClock())
    with TestClient(create_app(ctx)) as client:
        r = client.get("/health")
    engine.dispose()
    assert r.status_code == 503
    assert r.json()["database"] == "migrations pending"


def test_metrics_count_requests_and_expose_the_queue(ctx: AppContext, db) -> None:  # type: ignore[no-untyped-def]
    jobs.enqueue(db, "accounts.purge_expired")
    db.commit()
    with TestClient(create_app(ctx)) as client:
        client.get("/health")
        client.get("/api/v1/me")  # 401, still counted
        text = client.get("/metrics").text
    assert 'dialogo_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert 'route="/api/v1/me",status="401"' in text
    queued = [
        line for line in text.splitlines() if line.startswith('dialogo_jobs{status="queued"}')
    ]
    assert queued and float(queued[0].split()[-1]) >= 1
    assert "dialogo_workers_alive" in text


def test_a_failed_commit_is_an_error_never_a_success(ctx: AppContext) -> None:
    """The unit of work commits before the response leaves: a client never sees 2xx for a
    write that was not saved."""

    class FailingCommit(Session):
        def commit(self) -> None:
            raise RuntimeError("disk full")

    failing = AppContext(
        ctx.settings,
        ctx.engine,
        ctx.session_factory.__class__(bind=ctx.engine, class_=FailingCommit),
        ctx.clock,
    )
    app = create_app(failing)

    @app.post("/api/v1/_test_write")
    def write(session: Db) -> dict[str, bool]:
        return {"ok": True}

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/v1/_test_write")
    assert r.status_code == 500
    assert "disk full" not in r.text
