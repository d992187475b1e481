"""SQL for the append-only audit log."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

INSERT_EVENT = """
insert into audit_events (actor_id, action, object_type, object_id, before, after, request_id)
values ($1, $2, $3, $4, $5, $6, $7)
"""


async def insert_event(
    conn: asyncpg.Connection,
    *,
    actor_id: UUID | None,
    action: str,
    object_type: str,
    object_id: str,
    before: Any,
    after: Any,
    request_id: str | None,
) -> None:
    await conn.execute(INSERT_EVENT, actor_id, action, object_type, object_id, before, after, request_id)
