"""Throwaway databases on the test server, and the ``labbook`` command run as a real process."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from labbook import db, migrate

ROOT = Path(__file__).resolve().parent.parent
COMMAND_SECONDS = 120
SERVER_START_SECONDS = 60
SERVER_STOP_SECONDS = 15


@asynccontextmanager
async def throwaway_database(server_url: str, prefix: str, *, migrated: bool) -> AsyncIterator[str]:
    """A new database on the server behind ``server_url`` (migrated if asked), dropped afterwards."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    try:
        if migrated:
            conn = await db.connect(url)
            try:
                await migrate.apply(conn)
            finally:
                await conn.close()
        yield url
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()


async def run_labbook(url: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """``python -m labbook ARGS`` against ``url``; returns (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "labbook",
        *args,
        cwd=ROOT,
        env={**env, "LABBOOK_DATABASE_URL": url},
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        feed = stdin.encode() if stdin is not None else None
        out, err = await asyncio.wait_for(proc.communicate(feed), COMMAND_SECONDS)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def labbook_server(database_url: str, port: int, **variables: str) -> AsyncIterator[httpx.AsyncClient]:
    """``labbook serve --port PORT`` as a user starts it, with only the given ``LABBOOK_*`` variables.

    Yields a client once ``/ready`` answers; the server's log is printed if anything fails.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
    env |= {"LABBOOK_DATABASE_URL": database_url, "LABBOOK_LOG_LEVEL": "WARNING", **variables}
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    with tempfile.TemporaryFile() as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "labbook", "serve", "--port", str(port),
            cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, limits=limits)
        try:
            # Another process: nothing to await but its answer, so ask until it is ready.
            async with asyncio.timeout(SERVER_START_SECONDS):
                while True:
                    assert process.returncode is None, "the server exited at start"
                    try:
                        if (await client.get("/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            yield client
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        finally:
            await client.aclose()
            process.terminate()
            try:
                async with asyncio.timeout(SERVER_STOP_SECONDS):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
