"""Catalog test helpers: a live HTTP server for races, and slots that hold equipment units.

``client`` hands each request to the app synchronously (Litestar's test transport blocks the test's
event loop until the reply is complete), so requests gathered through it run one after another.
Races go through ``live``: a real uvicorn server on a loopback port, with its own event loop and
pool, reached over real HTTP.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
import uvicorn

from labbook.app import create_app
from labbook.settings import Settings

HoldUnit = Callable[..., Awaitable[UUID]]


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@pytest.fixture(scope="session")
def live_url(settings: Settings) -> Iterator[str]:
    """Base URL of the app served by uvicorn in a background thread."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    host, port = listener.getsockname()
    ready = threading.Event()
    server = _Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="on"), ready)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    assert ready.wait(timeout=60), "the live server did not start"
    yield f"http://{host}:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    listener.close()


@pytest.fixture
async def live(live_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the live server; requests gathered through it really run at once."""
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=live_url, limits=limits, timeout=60) as http:
        yield http


@pytest.fixture
def hold_unit(pool: asyncpg.Pool) -> HoldUnit:
    """``await hold_unit(equipment, number, starts_at=..., ends_at=...)``: a slot holding that unit."""

    async def hold(
        equipment: asyncpg.Record,
        number: int,
        *,
        starts_at: datetime,
        ends_at: datetime,
        is_active: bool = True,
    ) -> UUID:
        async with pool.acquire() as conn, conn.transaction():
            slot_id: UUID = await conn.fetchval(
                """insert into slots (lab_id, kind, title, starts_at, ends_at, capacity)
                   values ($1, 'training', $2, $3, $4, 4) returning id""",
                equipment["lab_id"],
                {"en": "Argon welding practice"},
                starts_at,
                ends_at,
            )
            await conn.execute(
                """insert into slot_units (slot_id, unit_id, during, is_active)
                   select $1, id, tstzrange($3, $4, '[)'), $5
                   from equipment_units where equipment_id = $2 and number = $6""",
                slot_id,
                equipment["id"],
                starts_at,
                ends_at,
                is_active,
                number,
            )
        return slot_id

    return hold


def assert_problem(response: httpx.Response, status: int, problem: str) -> dict[str, Any]:
    """The reply is RFC 9457 problem+json with this status and ``type``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{problem}", body
    return body
