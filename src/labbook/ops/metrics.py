"""``/metrics`` in Prometheus text format, for whoever holds ``LABBOOK_METRICS_TOKEN``.

Request latency histograms by route template come from Litestar's Prometheus middleware; labbook adds
its connection pool (in use, idle, waiting) and database errors. With several workers each one
writes its figures to a shared directory (``PROMETHEUS_MULTIPROC_DIR``, set by ``labbook serve``)
and a scrape of any worker reports them all.

The endpoint sits in front of the app, outside routing, guards and the database: it answers while
PostgreSQL is down, and never appears in the API's OpenAPI document.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
from pathlib import Path
from typing import Any

import asyncpg
from litestar.plugins.prometheus import PrometheusConfig
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
    multiprocess,
)

PATH = "/metrics"
POOL_SAMPLE_SECONDS = 1.0
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

POOL_CONNECTIONS = Gauge(
    "labbook_db_pool_connections",
    "Connections of the workers' pools by state (in_use, idle, waiting: requests waiting for one).",
    ["state"],
    multiprocess_mode="livesum",
)
DATABASE_ERRORS = Counter(
    "labbook_database_errors_total",
    "Requests answered 503 because the database was unreachable, restarting or too slow.",
    ["error"],
)


def request_metrics() -> PrometheusConfig:
    """Latency histograms and counts by method, route template and status."""
    return PrometheusConfig(
        app_name="labbook",
        prefix="labbook",
        group_path=True,
        exclude=[f"^{PATH}$"],
        buckets=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
    )


def count_database_error(exc: BaseException) -> None:
    DATABASE_ERRORS.labels(error=type(exc).__name__).inc()


def sample_pool(pool: asyncpg.Pool) -> None:
    size, idle = pool.get_size(), pool.get_idle_size()
    waiting = getattr(pool, "waiting", 0)
    POOL_CONNECTIONS.labels(state="in_use").set(size - idle)
    POOL_CONNECTIONS.labels(state="idle").set(idle)
    POOL_CONNECTIONS.labels(state="waiting").set(waiting)


async def sample_pool_forever(pool: asyncpg.Pool) -> None:
    while True:
        sample_pool(pool)
        await asyncio.sleep(POOL_SAMPLE_SECONDS)


_LIVE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def _forget_dead_workers(directory: Path) -> None:
    """A worker that died cannot say so; drop its live gauges (pool figures) before reporting."""
    for entry in directory.iterdir():
        if (match := _LIVE_FILE.match(entry.name)) is not None:
            pid = int(match.group(1))
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                multiprocess.mark_process_dead(pid, str(directory))


def exposition() -> bytes:
    directory = os.environ.get(MULTIPROC_DIR)
    if not directory:
        return generate_latest(REGISTRY)
    _forget_dead_workers(Path(directory))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


def metrics_endpoint(app: ASGIApp, token: str) -> ASGIApp:
    """Answer ``GET /metrics`` with ``Authorization: Bearer <token>``; pass everything else to ``app``."""
    expected = f"Bearer {token}".encode()

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            await app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if not hmac.compare_digest(given, expected):
            await _reply(send, 401, b"metrics need the metrics token\n", b"text/plain; charset=utf-8")
            return
        body = await asyncio.to_thread(exposition)
        await _reply(send, 200, body, CONTENT_TYPE_LATEST.encode())

    return endpoint


async def _reply(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="metrics"'))
    start: Any = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    end: Any = {"type": "http.response.body", "body": body}
    await send(end)
