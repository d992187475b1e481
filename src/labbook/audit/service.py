"""Recording who changed what: call ``record`` inside the transaction that makes the change.

A statement that writes rows and audits them itself (one round trip, so it needs no transaction of
its own) composes ``insert_events_from`` and takes its parameters from ``statement_event``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from labbook.audit import repository
from labbook.audit.repository import insert_events_from as insert_events_from
from labbook.audit.rows import EventRow
from labbook.core.principal import Principal
from labbook.errors import ValidationFailed
from labbook.observability import request_id_var


def _snapshot(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, asyncpg.Record):
        value = dict(value.items())
    return msgspec.to_builtins(value, builtin_types=(), str_keys=True)


async def record(
    conn: asyncpg.Connection,
    actor: Principal | None,
    action: str,
    object_type: str,
    object_id: object,
    *,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one audit event. ``before``/``after`` may be rows, Structs or plain dicts."""
    await repository.insert_event(
        conn,
        actor_id=actor.person_id if actor else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=_snapshot(before),
        after=_snapshot(after),
        request_id=request_id_var.get(),
    )


async def record_many(
    conn: asyncpg.Connection,
    actor: Principal | None,
    action: str,
    object_type: str,
    afters: list[tuple[object, Any]],
) -> None:
    """Append one event per ``(object_id, after)`` in one statement, as ``record`` would one by one."""
    if not afters:
        return
    await repository.insert_events(
        conn,
        actor_id=actor.person_id if actor else None,
        action=action,
        object_type=object_type,
        object_ids=[str(object_id) for object_id, _ in afters],
        afters=[_snapshot(after) for _, after in afters],
        request_id=request_id_var.get(),
    )


def statement_event(actor: Principal | None, action: str, object_type: str) -> tuple[Any, ...]:
    """What ``record`` would write besides the object, as parameters of a statement that audits the
    rows it writes itself (through ``insert_events_from``) in the same round trip."""
    return (actor.person_id if actor else None, action, object_type, request_id_var.get())


async def list_events(
    pool: asyncpg.Pool,
    *,
    object_ref: str | None,
    object_type: str | None,
    object_id: str | None,
    actor: str | None,
    before_id: int | None,
    limit: int,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
) -> tuple[list[EventRow], int | None]:
    """One page of the log, newest first, and the cursor of the next page.

    ``object_ref`` is ``type:id`` (``lab:welding-institute``); labs and organizations may be named by
    slug or by id. ``actor`` is a person's id or email. ``occurred_from`` and ``occurred_to`` bound the
    time of the change, half-open: ``[from, to)``.
    """
    if object_ref is not None:
        object_type, sep, object_id = object_ref.partition(":")
        if not sep or not object_type or not object_id:
            raise ValidationFailed.field("object", "write it as type:id, e.g. lab:welding-institute")
    async with pool.acquire() as conn:
        object_ids: list[str] | None = None
        if object_id is not None:
            object_ids = [object_id]
            if object_type is not None:
                by_slug = await repository.find_object_id_by_slug(conn, object_type, object_id)
                if by_slug is not None:
                    object_ids.append(by_slug)
        actor_id: UUID | None = None
        if actor is not None:
            try:
                actor_id = UUID(actor)
            except ValueError:
                actor_id = await repository.find_person_id_by_email(conn, actor)
                if actor_id is None:
                    return [], None
        rows = await repository.list_events(
            conn,
            object_type=object_type,
            object_ids=object_ids,
            actor_id=actor_id,
            before_id=before_id,
            limit=limit + 1,
            occurred_from=occurred_from,
            occurred_to=occurred_to,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)
