"""The job worker gives way to the HTTP server: e-mail can wait a moment, a booking's answer cannot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import psutil

from labbook.notifications import worker
from labbook.notifications.worker import BUSY_SESSIONS, NICENESS, Courtesy
from labbook.settings import Settings
from tests.dates import soon
from tests.factories import Factory
from tests.notifications.helpers import DEADLINE_SECONDS, FAST, eventually, free_port, labbook, ready


async def test_the_job_worker_beside_the_server_runs_at_a_lower_cpu_priority(database_url: str) -> None:
    port = free_port()
    async with labbook(database_url, "smtp://127.0.0.1:1", "serve", "--port", str(port)) as server:
        await ready(f"http://127.0.0.1:{port}")
        serve = psutil.Process(server.pid)

        async def job_worker() -> psutil.Process | None:
            workers = [p for p in serve.children() if "worker" in p.cmdline()]
            return workers[0] if workers and workers[0].nice() != serve.nice() else None

        worker = await eventually(job_worker, "the job worker started")
        assert worker.nice() == min(serve.nice() + NICENESS, 19)
        http_workers = [p for p in serve.children(recursive=True) if p.pid != worker.pid]
        assert http_workers, "labbook serve runs its HTTP workers"
        assert all(p.nice() == serve.nice() for p in http_workers)


async def _busy_sessions(url: str, count: int) -> tuple[list[asyncpg.Connection], list[asyncio.Task[object]]]:
    """``count`` sessions of the database running a long statement each, as a burst of requests would."""
    connections = [await asyncpg.connect(url) for _ in range(count)]
    sleeping = [asyncio.create_task(conn.fetchval("select pg_sleep(300)")) for conn in connections]
    return connections, sleeping


async def _calm(pool: asyncpg.Pool, connections: list[asyncpg.Connection], sleeping: list[Any]) -> None:
    for conn in connections:
        await pool.execute("select pg_cancel_backend($1)", conn.get_server_pid())
    for task in sleeping:
        with contextlib.suppress(asyncpg.QueryCanceledError):
            await task
    for conn in connections:
        await conn.close()


async def _booked(client: Any, make: Factory) -> UUID:
    lab = await make.lab()
    director = await make.person("director")
    slot = await make.slot(lab, soon(), capacity=10)
    created = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json={"headcount": 3, "contact_name": "Айгерім Сапарова", "language": "kk"},
        headers=director.headers,
    )
    assert created.status_code == 201, created.text
    return UUID(created.json()["id"])


async def _messages(pool: asyncpg.Pool, booking_id: UUID) -> int:
    found: int = await pool.fetchval("select count(*) from mail_messages where booking_id = $1", booking_id)
    return found


@contextlib.asynccontextmanager
async def _worker(settings: Settings, courtesy: Courtesy) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(settings, retry=FAST, stop=stop, courtesy=courtesy))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE_SECONDS)


async def test_a_job_waits_while_the_database_is_busy_and_runs_once_it_calms_down(
    client: Any, pool: asyncpg.Pool, settings: Settings, database_url: str, make: Factory
) -> None:
    booking_id = await _booked(client, make)
    courtesy = Courtesy(patience=timedelta(minutes=10))
    connections, sleeping = await _busy_sessions(database_url, BUSY_SESSIONS)
    async with _worker(settings, courtesy):
        try:
            await asyncio.wait_for(courtesy.waited.wait(), DEADLINE_SECONDS)
            assert await _messages(pool, booking_id) == 0, "nothing written while the database is busy"
        finally:
            await _calm(pool, connections, sleeping)
        assert await eventually(lambda: _messages(pool, booking_id), "the message once calm") == 1


async def test_a_job_due_for_its_patience_runs_however_busy_the_database_is(
    client: Any, pool: asyncpg.Pool, settings: Settings, database_url: str, make: Factory
) -> None:
    booking_id = await _booked(client, make)
    courtesy = Courtesy(patience=timedelta(seconds=1))
    connections, sleeping = await _busy_sessions(database_url, BUSY_SESSIONS)
    try:
        async with _worker(settings, courtesy):
            assert await eventually(lambda: _messages(pool, booking_id), "the message, patience spent") == 1
        assert courtesy.waited.is_set()
        assert not any(task.done() for task in sleeping), "the database was busy all along"
    finally:
        await _calm(pool, connections, sleeping)
