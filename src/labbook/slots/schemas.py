"""Request and reply bodies for slots, series and availability."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

from labbook.schemas import AwareDatetime, Base, LocalizedName, LocalizedText, Out, PositiveInt, Slug

SlotKind = Literal["tour", "training", "event", "maintenance", "closure"]
Visibility = Literal["public", "private"]
Scope = Literal["all", "following"]
Capacity = Annotated[int, Meta(ge=0, le=100_000)]
# Wall-clock time of day in the lab's time zone, e.g. "10:00" or "10:00:00".
LocalTime = Annotated[str, Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$", examples=["10:00"])]
# A series is a rule in the lab's wall-clock time: its occurrences start at this local time of day
# whatever the UTC offset is on their date, so it carries no offset of its own.
LocalDateTime = Annotated[
    str,
    Meta(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$",
        description=(
            "wall-clock date and time in the series' `timezone`, without an offset "
            "(ISO 8601 local date-time, e.g. 2026-09-01T10:00:00): the first occurrence starts then, "
            "and every occurrence at this local time of day"
        ),
        examples=["2026-09-01T10:00:00"],
    ),
]


class UnitRequest(Base):
    """How many units of one kind of equipment a slot holds; labbook picks which ones."""

    equipment: Slug
    units: PositiveInt


class SlotCreate(Base):
    lab: Slug
    kind: SlotKind
    title: LocalizedName
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    description: LocalizedText = msgspec.field(default_factory=dict)
    # People; maintenance and closures hold no people and keep 0.
    capacity: Capacity = 0
    equipment: list[UnitRequest] = msgspec.field(default_factory=list)
    visibility: Visibility = "public"
    organization: Slug | None = None
    booking_deadline: AwareDatetime | None = None
    requires_approval: bool = False
    # An explicit manager decision to publish outside the lab's opening hours.
    outside_hours: bool = False
    instructor_id: UUID | None = None


class SlotUpdate(Base):
    """Absent fields stay as they are; ``null`` clears an optional field."""

    starts_at: AwareDatetime | UnsetType = UNSET
    ends_at: AwareDatetime | UnsetType = UNSET
    capacity: Capacity | UnsetType = UNSET
    equipment: list[UnitRequest] | UnsetType = UNSET
    title: LocalizedName | UnsetType = UNSET
    description: LocalizedText | UnsetType = UNSET
    booking_deadline: AwareDatetime | UnsetType | None = UNSET
    requires_approval: bool | UnsetType = UNSET
    instructor_id: UUID | UnsetType | None = UNSET
    visibility: Visibility | UnsetType = UNSET
    organization: Slug | UnsetType | None = UNSET
    outside_hours: bool | UnsetType = UNSET


class CancelRequest(Base):
    reason: Annotated[str, Meta(max_length=2000)] | None = None


class HeldUnit(Out):
    equipment: str
    unit: int


class Slot(Out):
    id: UUID
    lab: str
    timezone: str
    series_id: UUID | None
    occurrence_start: datetime | None
    kind: str
    title: dict[str, str]
    description: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    capacity: int
    seats_taken: int
    seats_left: int
    visibility: str
    organization: str | None
    booking_deadline: datetime | None
    requires_approval: bool
    is_outside_hours: bool
    instructor_id: UUID | None
    status: str
    sequence: int
    units: list[HeldUnit]
    created_at: datetime
    updated_at: datetime


class Recurrence(Base):
    freq: Literal["daily", "weekly"]
    interval: Annotated[int, Meta(ge=1, le=52)] = 1
    # Weekly rules: ISO weekdays, 1 = Monday; empty means the weekday of the first occurrence.
    weekdays: list[Annotated[int, Meta(ge=1, le=7)]] = msgspec.field(default_factory=list)
    count: Annotated[int, Meta(ge=1, le=366)] | None = None
    until: AwareDatetime | None = None


class SeriesCreate(Base):
    """The first occurrence (``starts_at``/``ends_at``) fixes the wall-clock time and the duration."""

    lab: Slug
    kind: SlotKind
    title: LocalizedName
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    recurrence: Recurrence
    description: LocalizedText = msgspec.field(default_factory=dict)
    capacity: Capacity = 0
    equipment: list[UnitRequest] = msgspec.field(default_factory=list)
    visibility: Visibility = "public"
    organization: Slug | None = None
    # Bookings close this many hours before each occurrence starts.
    booking_deadline_hours: Annotated[int, Meta(ge=0, le=8760)] | None = None
    requires_approval: bool = False
    outside_hours: bool = False
    instructor_id: UUID | None = None
    # Create the occurrences that fit and report the others instead of refusing the whole series.
    skip_conflicts: bool = False


class SeriesUpdate(Base):
    scope: Scope = "all"
    # The original start of the first occurrence to change (its ``occurrence_start``).
    from_occurrence: AwareDatetime | None = None
    start_time: LocalTime | UnsetType = UNSET
    duration_minutes: Annotated[int, Meta(ge=1, le=7 * 24 * 60)] | UnsetType = UNSET
    capacity: Capacity | UnsetType = UNSET
    title: LocalizedName | UnsetType = UNSET
    description: LocalizedText | UnsetType = UNSET
    # Who runs the occurrences in scope (``null``: nobody); unset keeps each occurrence's own.
    instructor_id: UUID | UnsetType | None = UNSET


class SeriesCancel(Base):
    scope: Scope = "all"
    from_occurrence: AwareDatetime | None = None
    reason: Annotated[str, Meta(max_length=2000)] | None = None


class SkippedOccurrence(Out):
    occurrence_start: datetime
    starts_at: datetime
    ends_at: datetime
    problem: str
    detail: str
    conflicts: list[dict[str, object]]


class PlannedOccurrence(Out):
    """One occurrence of a series not yet written: where it falls, and what it would collide with."""

    starts_at: datetime
    ends_at: datetime
    fits: bool
    # the problem type (``/problems/lab-closed`` ...) and its detail when it collides
    problem: str | None
    detail: str | None
    conflicts: list[dict[str, object]]


class SeriesPreview(Out):
    """What publishing the series would do; nothing is written."""

    lab: str
    timezone: str
    occurrences: list[PlannedOccurrence]
    collisions: int


class Series(Out):
    id: UUID
    lab: str
    timezone: str
    kind: str
    title: dict[str, str]
    description: dict[str, str]
    local_start: LocalDateTime
    duration_minutes: int
    freq: str
    interval: int
    weekdays: list[int]
    count: int | None
    until: datetime | None
    capacity: int
    visibility: str
    organization: str | None
    instructor_id: UUID | None
    requires_approval: bool
    status: str
    sequence: int
    created_at: datetime
    updated_at: datetime
    occurrences: list[Slot]


class SeriesCreated(Out):
    series: Series
    created: list[Slot]
    skipped: list[SkippedOccurrence]


class SeriesChanged(Out):
    """``series`` is the series now holding the changed occurrences (a new one after a split)."""

    series: Series
    previous_series_id: UUID | None
    changed: list[Slot]


class FreeWindow(Out):
    starts_at: datetime
    ends_at: datetime
    people_free: int


class FreeUnits(Out):
    starts_at: datetime
    ends_at: datetime
    free_units: list[int]


class EquipmentAvailability(Out):
    equipment: str
    units: int
    is_out_of_service: bool
    windows: list[FreeUnits]


class DayAvailability(Out):
    date: date
    free_windows: list[FreeWindow]
    equipment: list[EquipmentAvailability]


class Availability(Out):
    lab: str
    timezone: str
    capacity: int
    days: list[DayAvailability]
