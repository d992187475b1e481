"""Fixtures for booking tests: slots inserted directly, a small cast per test, and a live server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import uvicorn

from labbook.app import create_app
from labbook.settings import Settings
from tests.bookings.helpers import Cast, SlotFactory, new_cast
from tests.factories import Factory


@pytest.fixture
def slots(pool: asyncpg.Pool) -> SlotFactory:
    return SlotFactory(pool)


@pytest.fixture
async def cast(make: Factory) -> Cast:
    return await new_cast(make)


@pytest.fixture(scope="session")
async def live_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind a real uvicorn server on a loopback port.

    Litestar's test client hands each request to the app one at a time, so races need a real server
    to have requests actually overlap.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            # Ten connections keep transactions overlapping while leaving room on a shared test server.
            create_app(settings.with_changes(pool_max_size=10)),
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.02)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            timeout=30,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
        ) as client:
            yield client
    finally:
        server.should_exit = True
        await serving
        sock.close()
