"""HTTP routes for the audit log (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from labbook.audit import service
from labbook.audit.rows import EventRow
from labbook.audit.schemas import Actor, AuditEntry, AuditPage
from labbook.core.access import ADMIN


def _entry(row: EventRow) -> AuditEntry:
    actor = Actor(id=row.actor_id, name=row.actor_name or "") if row.actor_id else None
    return AuditEntry(
        id=row.id,
        occurred_at=row.occurred_at,
        actor=actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        before=row.before,
        after=row.after,
        request_id=row.request_id,
    )


@get("/api/v1/audit", opt={"access": ADMIN}, tags=["audit"], summary="Who changed what, newest first")
async def list_audit_events(
    pool: NamedDependency[asyncpg.Pool],
    object_ref: Annotated[
        str | None,
        QueryParameter(
            name="object",
            description="type:id, e.g. lab:welding-institute",
            max_length=300,
            pattern=r"^[^:]+:.+$",
        ),
    ] = None,
    object_type: Annotated[str | None, QueryParameter(max_length=80)] = None,
    object_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
    actor: Annotated[str | None, QueryParameter(description="person id or email", max_length=254)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    # audit_events.id is a bigint: a larger id is a wrong parameter, not a value for the database.
    before_id: Annotated[
        int | None, QueryParameter(ge=1, le=2**63 - 1, description="continue below this entry id")
    ] = None,
) -> AuditPage:
    rows, next_before_id = await service.list_events(
        pool,
        object_ref=object_ref,
        object_type=object_type,
        object_id=object_id,
        actor=actor,
        before_id=before_id,
        limit=limit,
    )
    return AuditPage(items=[_entry(r) for r in rows], next_before_id=next_before_id)


route_handlers: list[Any] = [list_audit_events]
