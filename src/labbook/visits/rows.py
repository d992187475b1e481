"""Rows the visit requests' queries return."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from labbook.core.rows import Row
from labbook.schemas import Language
from labbook.visits.schemas import ProposalStatus, VisitKind, VisitStatus


class ProposalRow(Row):
    """The lab's latest counter-proposal for a visit request."""

    id: UUID
    visit_request_id: UUID
    proposed_by: UUID
    starts_at: datetime
    ends_at: datetime
    title: dict[Language, str] | None
    equipment: list[dict[str, Any]]
    instructor_id: UUID | None
    is_outside_hours: bool
    message: str | None
    status: ProposalStatus
    answer_message: str | None
    answered_by: UUID | None
    created_at: datetime
    answered_at: datetime | None


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
    proposal: ProposalRow | None
