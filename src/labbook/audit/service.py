"""Recording who changed what: call ``record`` inside the transaction that makes the change."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from labbook.accounts.security import Principal
from labbook.audit import repository
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
