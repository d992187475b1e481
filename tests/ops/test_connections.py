"""What one worker of ``labbook serve`` allows a connection: a bound on how many it serves at once,
and a deadline for a connection that never sends its request."""

from __future__ import annotations

import asyncio

from tests.databases import free_port, labbook_server

# How long a request that is not going to be served is waited for, and one that is.
UNSERVED_SECONDS = 2
SERVED_SECONDS = 20


async def _ask_health(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw connection that sends one keep-alive request and stays open."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    return reader, writer


async def test_a_worker_serves_at_most_its_bound_of_connections(database_url: str) -> None:
    """``LABBOOK_HTTP_MAX_CONCURRENCY`` bounds the open connections of a worker, idle keep-alive
    ones included: one more waits, unanswered, until another closes."""
    port = free_port()
    async with labbook_server(
        database_url, port, LABBOOK_HTTP_MAX_CONCURRENCY="3", LABBOOK_HTTP_HEADER_TIMEOUT="60"
    ):  # the server's own client keeps one connection open after /ready
        first, second = await _ask_health(port), await _ask_health(port)
        for reader, _ in (first, second):
            status = await asyncio.wait_for(reader.readline(), SERVED_SECONDS)
            assert status.startswith(b"HTTP/1.1 200"), status
        waiting_reader, waiting_writer = await _ask_health(port)
        try:
            await asyncio.wait_for(waiting_reader.readline(), UNSERVED_SECONDS)
            raise AssertionError("a connection beyond the bound was served")
        except TimeoutError:
            pass
        first[1].close()
        status = await asyncio.wait_for(waiting_reader.readline(), SERVED_SECONDS)
        assert status.startswith(b"HTTP/1.1 200"), status
        for writer in (second[1], waiting_writer):
            writer.close()


async def test_a_connection_that_sends_nothing_is_closed(database_url: str) -> None:
    """A client that connects and never sends a request is let go after the header-read timeout."""
    port = free_port()
    async with labbook_server(database_url, port, LABBOOK_HTTP_HEADER_TIMEOUT="1"):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            assert await asyncio.wait_for(reader.read(), SERVED_SECONDS) == b""
        finally:
            writer.close()
