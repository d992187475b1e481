"""Throwaway databases on the test server, and the ``labbook`` command run as a real process."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from labbook import db, migrate

ROOT = Path(__file__).resolve().parent.parent
COMMAND_SECONDS = 120


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
