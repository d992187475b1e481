"""Connections: which PostgreSQL to use, the asyncpg pool, and how rows become Python values."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec

from labbook import embedded
from labbook.errors import ConfigurationError
from labbook.settings import Settings

log = logging.getLogger(__name__)

MIN_SERVER_VERSION = 150000

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


def resolve_database_url(settings: Settings) -> str:
    """The external server when configured, else the embedded one (started on first use)."""
    if settings.database_url:
        return settings.database_url
    return embedded.start(settings.data_dir).url()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            schema="pg_catalog",
            encoder=lambda value: _json_encode(value).decode(),
            decoder=_json_decode,
            format="text",
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's default reset round trip (advisory unlock, CLOSE ALL, UNLISTEN, RESET).

    labbook never changes session state on pooled connections: no SET, no LISTEN, no cursors held
    across transactions, and only transaction-scoped advisory locks. Skipping the reset saves a round
    trip on every request.
    """


async def connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await _init_connection(conn)
    return conn


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
    )
    assert pool is not None
    async with pool.acquire() as conn:
        version = conn.get_server_version()
        if version.major * 10000 < MIN_SERVER_VERSION:
            await pool.close()
            raise ConfigurationError(f"labbook needs PostgreSQL 15 or newer; the server is {version.major}")
    return pool


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection from the pool with a transaction open for the duration of the block."""
    async with pool.acquire() as conn, conn.transaction():
        yield conn


def constraint_name(exc: BaseException) -> str | None:
    """The constraint an integrity error names, so repositories can turn it into a domain error."""
    return getattr(exc, "constraint_name", None)


def record_to_dict(record: Any) -> dict[str, Any]:
    return dict(record.items())
