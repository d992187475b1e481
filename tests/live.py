"""labbook behind a real uvicorn server on a loopback port, for tests whose requests must overlap.

Litestar's test client hands each request to the app one at a time (its transport blocks the test's
event loop until the reply is complete), so a race gathered through ``client`` is no race at all.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import uvicorn
from litestar import Litestar

from labbook.app import create_app
from labbook.changes import CHANNEL, ChangeListener
from labbook.settings import Settings

CLIENT_KEEPALIVE_SECONDS = 5


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Serve the app built from ``settings``; yield an HTTP client pointed at it."""
    async with serve_app(create_app(settings)) as client:
        yield client


@asynccontextmanager
async def serve_app(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """Serve ``app`` on this event loop, so that a test can also await what happens inside it."""
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
    # that say they are TCP, and accepted connections inherit the listener's protocol. With Nagle on,
    # a reply's body waits for the ACK of its headers, which the client delays: 40 ms per request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            date_header=False,
            # The client drops an idle connection after 5 s (httpx's default), as uvicorn does by
            # default: on a busy machine a request could go out on a connection the server is just
            # closing (a ReadError). The server keeps idle connections longer than the client does.
            timeout_keep_alive=CLIENT_KEEPALIVE_SECONDS * 6,
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(60):
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.02)
        limits = httpx.Limits(
            max_connections=100, max_keepalive_connections=100, keepalive_expiry=CLIENT_KEEPALIVE_SECONDS
        )
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
        ) as client:
            yield client
    finally:
        server.should_exit = True
        try:
            # requests stuck on the database would keep a graceful shutdown waiting forever
            await asyncio.wait_for(serving, 60)
        finally:
            sock.close()


CHANGES_WAIT_SECONDS = 30


@asynccontextmanager
async def cached_worker(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Litestar]]:
    """A worker with its read caches on, served on this loop, once it listens for changes."""
    app = create_app(settings.with_changes(read_cache=True))
    async with serve_app(app) as http:
        listener: ChangeListener = app.state.changes
        async with asyncio.timeout(CHANGES_WAIT_SECONDS):
            await listener.until(lambda: listener.is_live)
        yield http, app


async def caught_up(pool: asyncpg.Pool, listener: ChangeListener) -> None:
    """Wait until the worker has heard every change committed so far: PostgreSQL delivers notices in
    commit order, so a marker sent now arrives after all of them."""
    marker = f"marker-{secrets.token_hex(4)}"
    await pool.execute("select pg_notify($1, $2)", CHANNEL, marker)
    async with asyncio.timeout(CHANGES_WAIT_SECONDS):
        await listener.until(lambda: listener.last_notice == marker)
