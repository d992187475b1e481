"""SQL for the append-only audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from labbook.audit.rows import EventRow
from labbook.core.rows import many

INSERT_EVENT = """
insert into audit_events (actor_id, action, object_type, object_id, before, after, request_id)
values ($1, $2, $3, $4, $5, $6, $7)
"""

# Many events of one actor, action and object type: object ids and ``after`` snapshots pair up in order.
INSERT_EVENTS = """
insert into audit_events (actor_id, action, object_type, object_id, before, after, request_id)
select $1, $2, $3, e.object_id, null, e.after, $6
from rows from (unnest($4::text[]), jsonb_array_elements($5::jsonb)) as e (object_id, after)
"""


def insert_events_from(source: str, first_param: int) -> str:
    """The CTE ``audited``: the event ``insert_event`` writes, for every row of the CTE ``source``.

    For a statement that writes rows and audits them in the same round trip. Each row of ``source``
    needs an ``id`` (the object id) and is itself the ``after`` snapshot; ``$first_param`` to
    ``$first_param + 3`` are the actor id, the action, the object type and the request id.
    """
    actor, action, object_type, request_id = (f"${first_param + i}" for i in range(4))
    return f"""audited as (
    insert into audit_events (actor_id, action, object_type, object_id, before, after, request_id)
    select {actor}::uuid, {action}::text, {object_type}::text, r.id::text, null, to_jsonb(r),
           {request_id}::text
    from {source} r
)"""


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


async def insert_events(
    conn: asyncpg.Connection,
    *,
    actor_id: UUID | None,
    action: str,
    object_type: str,
    object_ids: list[str],
    afters: list[Any],
    request_id: str | None,
) -> None:
    await conn.execute(INSERT_EVENTS, actor_id, action, object_type, object_ids, afters, request_id)


LIST_EVENTS = """
select e.id, e.occurred_at, e.actor_id, p.full_name as actor_name, e.action, e.object_type, e.object_id,
       e.before, e.after, e.request_id
from audit_events e
left join people p on p.id = e.actor_id
where ($1::text is null or e.object_type = $1)
  and ($2::text[] is null or e.object_id = any($2::text[]))
  and ($3::uuid is null or e.actor_id = $3)
  and ($4::bigint is null or e.id < $4)
  and ($6::timestamptz is null or e.occurred_at >= $6)
  and ($7::timestamptz is null or e.occurred_at < $7)
order by e.id desc
limit $5
"""
# Audit entries name labs and organizations by id; callers may name them by slug instead.
FIND_OBJECT_ID_BY_SLUG = {
    "lab": "select id::text from labs where slug = $1",
    "organization": "select id::text from organizations where slug = $1",
}
FIND_PERSON_ID_BY_EMAIL = "select id from people where lower(email) = lower($1)"


async def list_events(
    conn: asyncpg.Connection,
    *,
    object_type: str | None,
    object_ids: list[str] | None,
    actor_id: UUID | None,
    before_id: int | None,
    limit: int,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
) -> list[EventRow]:
    """Newest first; ``before_id`` continues from the last id of the previous page."""
    rows = await conn.fetch(
        LIST_EVENTS, object_type, object_ids, actor_id, before_id, limit, occurred_from, occurred_to
    )
    return many(EventRow, rows)


async def find_object_id_by_slug(conn: asyncpg.Connection, object_type: str, slug: str) -> str | None:
    query = FIND_OBJECT_ID_BY_SLUG.get(object_type)
    if query is None:
        return None
    found: str | None = await conn.fetchval(query, slug)
    return found


async def find_person_id_by_email(conn: asyncpg.Connection, email: str) -> UUID | None:
    found: UUID | None = await conn.fetchval(FIND_PERSON_ID_BY_EMAIL, email)
    return found
