"""labbook behind a real uvicorn server on a loopback port, for tests whose requests must overlap.

Litestar's test client hands each request to the app one at a time (its transport blocks the test's
event loop until the reply is complete), so a race gathered through ``client`` is no race at all.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from litestar import Litestar

from labbook.app import create_app
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
