"""Request and reply bodies for organizations, labs, equipment and opening hours."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from labbook.schemas import Base, Language, LocalizedName, LocalizedText, Out, ShortText, Slug

OrganizationKind = Literal[
    "host_university", "university", "college", "school", "company", "alumni_group", "other"
]
EquipmentKind = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9]+(_[a-z0-9]+)*$",
        max_length=80,
        description="snake_case kind of equipment",
        examples=["argon_tig_welder"],
    ),
]
Languages = Annotated[list[Language], Meta(min_length=1, max_length=3, examples=[["kk", "ru", "en"]])]
Capacity = Annotated[int, Meta(gt=0, le=10_000)]
Units = Annotated[int, Meta(gt=0, le=1000)]
SeatsPerUnit = Annotated[int, Meta(gt=0, le=1000)]
# How long an induction granted by attending an induction session lasts (ck_equipment_induction_valid_months).
InductionValidMonths = Annotated[int, Meta(ge=1, le=120)]
VisitorAge = Annotated[int, Meta(ge=0, le=100)]
NoticeHours = Annotated[int, Meta(ge=0, le=24 * 365)]
AdvanceDays = Annotated[int, Meta(gt=0, le=3650)]
ReminderHours = Annotated[
    int, Meta(ge=0, le=168, description="hours before a visit its group is reminded by e-mail; 0: never")
]
TimeZoneName = Annotated[str, Meta(min_length=1, max_length=64, examples=["Asia/Almaty"])]
Url = Annotated[str, Meta(pattern=r"^https?://\S+$", max_length=500)]
# Opening-hours entries are range-checked in the service so that a 422 can name the entry at fault;
# the body is a bare list, and decoding errors inside a list do not say which element they are about.
Weekday = Annotated[int, Meta(description="ISO weekday: 1 = Monday, 7 = Sunday", examples=[1])]
ClockTime = Annotated[str, Meta(description="local time HH:MM (00:00-23:59)", examples=["09:00"])]


# --- organizations -----------------------------------------------------------------------------


class Organization(Out):
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


class OrganizationCreate(Base):
    slug: Slug
    name: LocalizedName
    kind: OrganizationKind
    city: ShortText | None = None
    country: ShortText | None = None
    website: Url | None = None
    description: LocalizedText = msgspec.field(default_factory=dict)


class OrganizationUpdate(Base):
    """Absent fields stay as they are; ``null`` clears an optional field."""

    name: LocalizedName | UnsetType = UNSET
    kind: OrganizationKind | UnsetType = UNSET
    city: ShortText | UnsetType | None = UNSET
    country: ShortText | UnsetType | None = UNSET
    website: Url | UnsetType | None = UNSET
    description: LocalizedText | UnsetType | None = UNSET


# --- labs --------------------------------------------------------------------------------------


class Lab(Out):
    slug: str
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
    feed_url: str
    subscribe_url: str


class LabCreate(Base):
    slug: Slug
    host: Slug
    name: LocalizedName
    capacity: Capacity
    description: LocalizedText = msgspec.field(default_factory=dict)
    building: ShortText | None = None
    room: ShortText | None = None
    address: ShortText | None = None
    timezone: TimeZoneName = "Asia/Almaty"
    languages: Languages = msgspec.field(default_factory=lambda: ["ru"])
    min_visitor_age: VisitorAge | None = None
    safety_notes: LocalizedText = msgspec.field(default_factory=dict)
    accessibility: Annotated[str, Meta(max_length=2000)] | None = None
    min_notice_hours: NoticeHours = 24
    max_advance_days: AdvanceDays = 365
    reminder_hours: ReminderHours = 24


class LabUpdate(Base):
    """Absent fields stay as they are; ``null`` clears an optional field and is a 422 on a required one."""

    name: LocalizedName | UnsetType = UNSET
    capacity: Capacity | UnsetType = UNSET
    description: LocalizedText | UnsetType | None = UNSET
    building: ShortText | UnsetType | None = UNSET
    room: ShortText | UnsetType | None = UNSET
    address: ShortText | UnsetType | None = UNSET
    timezone: TimeZoneName | UnsetType = UNSET
    languages: Languages | UnsetType = UNSET
    min_visitor_age: VisitorAge | UnsetType | None = UNSET
    safety_notes: LocalizedText | UnsetType | None = UNSET
    accessibility: Annotated[str, Meta(max_length=2000)] | UnsetType | None = UNSET
    min_notice_hours: NoticeHours | UnsetType = UNSET
    max_advance_days: AdvanceDays | UnsetType = UNSET
    reminder_hours: ReminderHours | UnsetType = UNSET


# --- equipment ---------------------------------------------------------------------------------


class Equipment(Out):
    slug: str
    lab: str
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
    feed_url: str
    subscribe_url: str


class EquipmentCreate(Base):
    slug: Slug
    kind: EquipmentKind
    name: LocalizedName
    units: Units
    description: LocalizedText = msgspec.field(default_factory=dict)
    seats_per_unit: SeatsPerUnit = 1
    requires_induction: bool = False
    induction_valid_months: InductionValidMonths = 12
    is_out_of_service: bool = False


class EquipmentUpdate(Base):
    """Absent fields stay as they are; ``null`` clears ``description`` and is a 422 elsewhere."""

    kind: EquipmentKind | UnsetType = UNSET
    name: LocalizedName | UnsetType = UNSET
    description: LocalizedText | UnsetType | None = UNSET
    units: Units | UnsetType = UNSET
    seats_per_unit: SeatsPerUnit | UnsetType = UNSET
    requires_induction: bool | UnsetType = UNSET
    induction_valid_months: InductionValidMonths | UnsetType = UNSET
    is_out_of_service: bool | UnsetType = UNSET


# --- opening hours -----------------------------------------------------------------------------


class OpeningHours(Base):
    """One weekly window in the lab's local time (also the reply shape)."""

    weekday: Weekday
    opens_at: ClockTime
    closes_at: ClockTime


WeeklySchedule = Annotated[list[OpeningHours], Meta(max_length=7 * 24)]
