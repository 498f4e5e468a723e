"""Prometheus metrics: HTTP requests and latency, and the job queue read at scrape time."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dialogo.core.context import AppContext
from dialogo.jobs import service as jobs


class QueueCollector:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Any]:
        stale = dt.timedelta(seconds=max(3 * self.ctx.settings.worker_heartbeat_seconds, 30))
        with self.ctx.session_factory() as session:
            health = jobs.queue_health(session, stale_after=stale, now=self.ctx.clock.now())
        by_status = GaugeMetricFamily("dialogo_jobs", "Jobs by status", labels=["status"])
        for status, n in sorted(health.counts.items()):
            by_status.add_metric([status], n)
        yield by_status
        yield GaugeMetricFamily("dialogo_jobs_due", "Queued jobs that are due", value=health.due)
        yield GaugeMetricFamily(
            "dialogo_queue_lag_seconds", "Age of the oldest due job", value=health.lag_seconds
        )
        yield GaugeMetricFamily(
            "dialogo_workers_alive", "Workers with a recent heartbeat", value=health.alive_workers
        )


class Metrics:
    def __init__(self, ctx: AppContext) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dialogo_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dialogo_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.registry.register(QueueCollector(ctx))


class MetricsMiddleware:
    """Pure ASGI middleware (no buffering of bodies) labelling requests by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, template, str(status["code"])).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)
