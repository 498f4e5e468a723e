"""The ASGI application: API, web pages, health and metrics, and (optionally) a worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from dialogo import __version__
from dialogo.api import problems
from dialogo.api.metrics import Metrics, MetricsMiddleware
from dialogo.api.routers import accounts as accounts_api
from dialogo.api.routers import analytics as analytics_api
from dialogo.api.routers import audience as audience_api
from dialogo.api.routers import channels as channels_api
from dialogo.api.routers import inbox as inbox_api
from dialogo.api.routers import influence as influence_api
from dialogo.api.routers import listening as listening_api
from dialogo.api.routers import publishing as publishing_api
from dialogo.api.routers import publishing_health as publishing_health_api
from dialogo.api.routers import report_schedules as report_schedules_api
from dialogo.api.routers import sandbox as sandbox_api
from dialogo.api.routers import system as system_api
from dialogo.core.context import AppContext
from dialogo.db import migrate
from dialogo.inbox.streams import StreamRunner, start_streams
from dialogo.jobs.registry import registry
from dialogo.web import report_render
from dialogo.web import routes as web_routes
from dialogo.worker.runner import Worker, run_in_thread

log = logging.getLogger("dialogo.server")
STATIC = Path(__file__).parent / "web" / "static"


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(ctx: AppContext, *, run_worker: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker: Worker | None = None
        thread = None
        streams: StreamRunner | None = None
        if run_worker:
            registry.load()
            report_render.install()  # the scheduled reports' renderer: the web's own
            worker = Worker(ctx.settings, ctx.session_factory, registry, clock=ctx.clock)
            thread = run_in_thread(worker)
            if ctx.settings.streams:  # the inbox's streams wake the in-process worker's polls
                streams = start_streams(ctx.settings, ctx.session_factory, clock=ctx.clock)
        try:
            yield
        finally:
            if streams is not None:
                streams.stop()
                await asyncio.to_thread(streams.join, 15.0)
            if worker is not None and thread is not None:
                # Let the job in hand finish (it keeps its lease meanwhile) rather than leave
                # it to wait for the lease to expire; give up after one lease.
                worker.stop()
                await asyncio.to_thread(thread.join, ctx.settings.worker_lease_seconds)

    app = FastAPI(
        title="Dialogo",
        version=__version__,
        description=(
            "Self-hosted social media marketing workbench. Authenticate with a bearer API token "
            "(`Authorization: Bearer dlg_…`) or the web session cookie plus `X-CSRF-Token`."
        ),
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url="/api/docs",
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.ctx = ctx
    metrics = Metrics(ctx)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    problems.install(app)
    web_routes.install(app)  # HTML error pages outside /api/ and /health

    @app.get("/health", tags=["system"], operation_id="health", include_in_schema=True)
    def health() -> Response:
        """Liveness and readiness: the database answers and its schema is current."""
        body: dict[str, Any] = {"status": "ok", "version": __version__}
        try:
            with ctx.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            body["database"] = "ok" if migrate.is_up_to_date(ctx.engine) else "migrations pending"
        except Exception as exc:  # the probe reports, it does not raise
            log.warning("health check failed: %s", exc)
            body.update(status="unavailable", database="unreachable")
            return JSONResponse(body, status_code=503)
        if body["database"] != "ok":
            body["status"] = "degraded"
            return JSONResponse(body, status_code=503)
        return JSONResponse(body)

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(accounts_api.router)
    app.include_router(analytics_api.router)
    app.include_router(analytics_api.hooks)
    app.include_router(audience_api.router)
    app.include_router(channels_api.router)
    app.include_router(inbox_api.router)
    app.include_router(influence_api.router)
    app.include_router(listening_api.router)
    app.include_router(publishing_api.router)
    app.include_router(publishing_health_api.router)
    app.include_router(report_schedules_api.router)
    app.include_router(sandbox_api.router)
    app.include_router(system_api.router)
    app.include_router(web_routes.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
