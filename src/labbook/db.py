"""Connections: which PostgreSQL to use, the asyncpg pool, and how rows become Python values."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec

from labbook import embedded
from labbook.errors import ConfigurationError, DatabaseUnavailable
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


# What a request meets while PostgreSQL is down, restarting, frozen or overloaded: a 503 with
# Retry-After, never a 500. A client-side timeout covers a server that accepts bytes and never answers.
UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionError,  # refused, reset
    TimeoutError,  # the client stopped waiting
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.QueryCanceledError,
    asyncpg.TooManyConnectionsError,
    # a connection left half-way through a statement when its server died
    asyncpg.InternalClientError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database is out of reach rather than that a request is wrong."""
    if isinstance(exc, asyncpg.InterfaceError):
        # the connection broke under a statement; a programming error never says "closed"
        return "closed" in str(exc)
    return isinstance(exc, UNAVAILABLE)


class Pool(asyncpg.Pool):
    """asyncpg's pool with a default acquire timeout; failing to get a connection is ``DatabaseUnavailable``.

    asyncpg reconnects a pooled connection that broke on its next acquire, so the pool recovers by
    itself once PostgreSQL is back.
    """

    __slots__ = ("acquire_timeout", "waiting")

    async def _acquire(self, timeout: float | None) -> Any:  # noqa: ASYNC109 - asyncpg's own signature
        self.waiting += 1
        try:
            if timeout is None and self._has_idle_connection():
                # Handed over at once, nothing to wait for: no timer, and no task to run it under.
                return await super()._acquire(None)
            return await super()._acquire(self.acquire_timeout if timeout is None else timeout)
        except Exception as exc:
            # a missing socket file or an unreachable host only ever means no database here
            if isinstance(exc, OSError) or is_unavailable(exc):
                raise DatabaseUnavailable(f"the database did not answer: {type(exc).__name__}") from exc
            raise
        finally:
            self.waiting -= 1

    def _has_idle_connection(self) -> bool:
        """Whether a live connection waits in the pool (asyncpg's queue hands those out first)."""
        queue = self._queue
        return queue is not None and any(holder.is_connected() for holder in queue._queue)


async def connect(url: str, *, connect_timeout: float = 60) -> asyncpg.Connection:
    conn = await asyncpg.connect(url, timeout=connect_timeout)
    await _init_connection(conn)
    return conn


async def create_pool(
    url: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    connect_timeout: float = 60,
    acquire_timeout: float | None = None,
    statement_timeout: float | None = None,
    application_name: str | None = None,
) -> Pool:
    """A pool whose connections give up after the given seconds (``None``: wait as long as it takes),
    named ``application_name`` to the server if given.

    The statement timeout is set twice: on the server (``statement_timeout``, which cancels the
    statement and frees its locks) and in asyncpg (``command_timeout``, a little later), which stops
    waiting on a server that is frozen and cannot cancel anything.
    """
    server_settings = {} if application_name is None else {"application_name": application_name}
    command_timeout = None
    if statement_timeout is not None:
        server_settings["statement_timeout"] = str(int(statement_timeout * 1000))
        command_timeout = statement_timeout + 1
    pool = Pool(
        url,
        min_size=min_size,
        max_size=max_size,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        init=_init_connection,
        reset=_keep_session,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        timeout=connect_timeout,
        command_timeout=command_timeout,
        server_settings=server_settings,
    )
    pool.acquire_timeout = acquire_timeout
    pool.waiting = 0
    await pool
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
