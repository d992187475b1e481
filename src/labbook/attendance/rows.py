"""Typed rows of the attendance queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from labbook.core.rows import Row


class SessionRow(Row):
    """A session whose attendance is marked, as its page heads it."""

    slot_id: UUID
    lab_id: int
    lab_slug: str
    lab_timezone: str
    kind: str
    title: dict[str, Any]
    starts_at: datetime
    ends_at: datetime
    instructor_id: UUID | None
    is_induction: bool


class SessionBookingRow(SessionRow):
    """A booking with what attendance and rosters need of its session."""

    id: UUID
    organization_id: int
    organization_slug: str
    organization_name: dict[str, str]
    headcount: int
    status: str
    contact_name: str
    contact_phone: str | None
    age_group: str | None
    outcome: str | None
    arrived: int | None
    marked_at: datetime | None
    trainees: int


class TraineeRow(Row):
    id: UUID
    organization_id: int
    full_name: str
    name_key: str


class RosterEntryRow(Row):
    booking_id: UUID
    trainee_id: UUID
    full_name: str
    study_group: str | None
    attended: bool | None


class MissingInductionRow(Row):
    trainee_id: UUID
    full_name: str
    equipment_id: int
    equipment_slug: str
    equipment_name: dict[str, str]
    expired_at: datetime | None


class AttendanceRow(Row):
    booking_id: UUID
    outcome: str
    headcount: int | None
    marked_by: UUID | None
    marked_at: datetime
    updated_at: datetime


class InductionRow(Row):
    id: UUID
    trainee_id: UUID
    full_name: str
    organization_id: int
    equipment_id: int
    equipment_slug: str
    equipment_name: dict[str, str]
    lab_id: int
    granted_at: datetime
    expires_at: datetime
    booking_id: UUID | None
    reason: str | None
    revoked_at: datetime | None
    revoke_reason: str | None


class EquipmentRow(Row):
    id: int
    lab_id: int
    slug: str
    requires_induction: bool
    induction_valid_months: int


class InductionSessionRow(Row):
    id: UUID
    starts_at: datetime
    ends_at: datetime
    title: dict[str, Any]
    lab_timezone: str


class NoShowRateRow(Row):
    organization_slug: str
    organization_name: dict[str, str]
    marked: int
    no_shows: int


class SlotRow(Row):
    id: UUID
    lab_id: int
    kind: str
    is_induction: bool


class KnownTraineeRow(Row):
    """A trainee listed on a roster in the caller's labs, with their organization."""

    id: UUID
    full_name: str
    name_key: str
    organization_slug: str
    organization_name: dict[str, str]


class InductingEquipmentRow(Row):
    """Equipment that asks for an induction, as a manager's grant form offers it."""

    lab: str
    equipment: str
    name: dict[str, str]
    induction_valid_months: int
