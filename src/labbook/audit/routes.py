"""HTTP routes for the audit log (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIFormat
from litestar.params import QueryParameter

from labbook.audit import service
from labbook.audit.rows import EventRow
from labbook.audit.schemas import Actor, AuditEntry, AuditPage
from labbook.core.access import ADMIN
from labbook.errors import ValidationFailed
from labbook.schemas import AwareDatetime


def _instant(name: str, value: str | None) -> datetime | None:
    """A time with its offset, strictly RFC 3339; a time without one is a 422, never a guess."""
    if value is None:
        return None
    try:
        return msgspec.convert(value, AwareDatetime, strict=True)
    except msgspec.ValidationError:
        raise ValidationFailed.field(name, "a time with its offset, e.g. 2027-02-15T00:00:00+05:00") from None


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
    occurred_from: Annotated[
        str | None,
        QueryParameter(
            name="from",
            description="changes made at or after this time (with offset)",
            schema_extra={"format": OpenAPIFormat.DATE_TIME},
        ),
    ] = None,
    occurred_to: Annotated[
        str | None,
        QueryParameter(
            name="to",
            description="changes made before this time (with offset)",
            schema_extra={"format": OpenAPIFormat.DATE_TIME},
        ),
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
        occurred_from=_instant("from", occurred_from),
        occurred_to=_instant("to", occurred_to),
    )
    return AuditPage(items=[_entry(r) for r in rows], next_before_id=next_before_id)


route_handlers: list[Any] = [list_audit_events]
