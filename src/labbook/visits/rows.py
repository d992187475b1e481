"""Rows the visit requests' queries return."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from labbook.core.rows import Row
from labbook.schemas import Language
from labbook.visits.schemas import VisitKind, VisitStatus


class VisitRequestRow(Row):
    """A visit request with the slugs of its lab and organization and the lab's time zone."""

    id: UUID
    lab_id: int
    organization_id: int
    requested_by: UUID
    kind: VisitKind
    # As asked: {"starts_at": ..., "ends_at": ...} in ISO 8601 with the offset the client gave.
    windows: list[dict[str, str]]
    headcount: int
    age_group: str | None
    language: Language
    purpose: str
    contact_name: str
    contact_email: str | None
    contact_phone: str | None
    status: VisitStatus
    response_message: str | None
    accepted_window: int | None
    slot_id: UUID | None
    booking_id: UUID | None
    created_at: datetime
    updated_at: datetime
    lab_slug: str
    lab_timezone: str
    organization_slug: str
