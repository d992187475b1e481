"""Rows the catalog's queries return: organizations, labs, equipment, units, opening hours."""

from __future__ import annotations

from datetime import datetime, time
from uuid import UUID

from labbook.core.rows import Row


class OrganizationRow(Row):
    id: int
    slug: str
    name: dict[str, str]
    kind: str
    city: str | None
    country: str | None
    website: str | None
    description: dict[str, str]
    is_archived: bool
    created_at: datetime
    updated_at: datetime


class LabRow(Row):
    id: int
    slug: str
    organization_id: int
    host: str
    name: dict[str, str]
    description: dict[str, str]
    building: str | None
    room: str | None
    address: str | None
    timezone: str
    capacity: int
    languages: list[str]
    min_visitor_age: int | None
    safety_notes: dict[str, str]
    accessibility: str | None
    min_notice_hours: int
    max_advance_days: int
    reminder_hours: int
    is_archived: bool
    created_at: datetime
    updated_at: datetime


class LabName(Row):
    slug: str
    name: dict[str, str]


class UpcomingSlot(Row):
    """A slot of the lab that a change to the lab must keep valid."""

    id: UUID
    kind: str
    capacity: int
    starts_at: datetime
    ends_at: datetime
    is_outside_hours: bool


class UpcomingSeries(Row):
    id: UUID


class EquipmentRow(Row):
    id: int
    lab_id: int
    lab: str
    slug: str
    kind: str
    name: dict[str, str]
    description: dict[str, str]
    units: int
    seats_per_unit: int
    requires_induction: bool
    induction_valid_months: int
    is_out_of_service: bool
    is_archived: bool
    created_at: datetime
    updated_at: datetime


class UnitRow(Row):
    id: int
    number: int


class HeldUnit(Row):
    """A unit that an active slot holds now or later."""

    slot_id: UUID
    unit: int
    starts_at: datetime
    ends_at: datetime


class OpeningHoursRow(Row):
    weekday: int
    opens_at: time
    closes_at: time
