"""Bookings as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import Meta

from labbook.schemas import (
    AwareDatetime,
    Base,
    Email,
    Language,
    LocalizedName,
    Out,
    Phone,
    ShortText,
    Slug,
)

BookingStatus = Literal["pending", "confirmed", "declined", "cancelled", "waitlisted"]
Headcount = Annotated[int, Meta(gt=0, le=10_000)]
AgeGroup = Annotated[str, Meta(min_length=1, max_length=100, examples=["14-16", "college year 2"])]
Notes = Annotated[str, Meta(max_length=4_000)]
Message = Annotated[str, Meta(max_length=4_000)]


class BookingCreate(Base):
    """Seats for one organization. ``organization`` is for admins booking on someone's behalf."""

    headcount: Headcount
    contact_name: ShortText
    language: Language
    contact_email: Email | None = None
    contact_phone: Phone | None = None
    age_group: AgeGroup | None = None
    notes: Notes | None = None
    waitlist: bool = False
    organization: Slug | None = None


class StatusChange(Base):
    """Body of confirm/decline: an optional message for the organization."""

    message: Message | None = None


class Cancellation(Base):
    reason: Message | None = None


class BookingFilter(Base):
    """What ``GET /bookings`` narrows to, on top of what the caller may see."""

    status: BookingStatus | None = None
    lab: Slug | None = None
    slot: UUID | None = None
    starts_from: AwareDatetime | None = None
    starts_to: AwareDatetime | None = None
    limit: Annotated[int, Meta(ge=1, le=200)] = 50
    # PostgreSQL takes a bigint offset, but nobody pages two billion bookings deep.
    offset: Annotated[int, Meta(ge=0, le=2**31 - 1)] = 0


class BookedSlot(Out):
    id: UUID
    lab: str
    timezone: str
    starts_at: datetime
    ends_at: datetime
    title: LocalizedName
    # Where the lab is, so that the group finds it.
    address: str | None
    building: str | None
    room: str | None


class Booking(Out):
    id: UUID
    slot: BookedSlot
    organization: str
    headcount: int
    contact_name: str
    contact_email: str | None
    contact_phone: str | None
    language: str
    age_group: str | None
    notes: str | None
    status: BookingStatus
    status_message: str | None
    sequence: int
    group_id: UUID | None
    created_at: datetime
    updated_at: datetime


class SeriesBooking(Out):
    """Bookings made together for every remaining occurrence of a series."""

    group_id: UUID
    bookings: list[Booking]
