"""SQL for remembered answers to POST requests that carried an Idempotency-Key."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

LOCK = "select pg_advisory_xact_lock($1)"
FIND = """
select request_hash, status_code, response_body
from idempotency_keys
where scope = $1 and key = $2 and created_at > now() - $3::interval
"""
# An expired row for the same key is replaced: the key is free again after the retention period.
# The headers travel sealed inside response_body (a Set-Cookie or a Location may say too much), so
# response_headers stays null.
STORE = """
insert into idempotency_keys (scope, key, method, path, request_hash, status_code, response_headers,
                              response_body)
values ($1, $2, $3, $4, $5, $6, null, $7)
on conflict (scope, key) do update
set method = excluded.method, path = excluded.path, request_hash = excluded.request_hash,
    status_code = excluded.status_code, response_headers = null,
    response_body = excluded.response_body, created_at = now()
"""
DELETE_EXPIRED = "delete from idempotency_keys where created_at < now() - $1::interval"


async def lock(conn: asyncpg.Connection, lock_id: int) -> None:
    """Wait until no other transaction works on the same key; held until this transaction ends."""
    await conn.execute(LOCK, lock_id)


async def find(
    conn: asyncpg.Connection, scope: bytes, key: str, retention: timedelta
) -> asyncpg.Record | None:
    return await conn.fetchrow(FIND, scope, key, retention)


async def store(
    conn: asyncpg.Connection,
    *,
    scope: bytes,
    key: str,
    method: str,
    path: str,
    request_hash: bytes,
    status_code: int,
    body: bytes,
) -> None:
    await conn.execute(STORE, scope, key, method, path, request_hash, status_code, body)


async def delete_expired(conn: asyncpg.Connection, retention: timedelta) -> None:
    await conn.execute(DELETE_EXPIRED, retention)
