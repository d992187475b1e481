"""Visit requests: a director asks for a visit or a training course when no published slot suits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import Meta

from labbook.bookings.schemas import AgeGroup, Headcount, Message
from labbook.schemas import AwareDatetime, Base, Email, Language, LocalizedName, Out, Phone, ShortText, Slug

VisitKind = Literal["tour", "training", "event"]
VisitStatus = Literal["pending", "accepted", "declined", "cancelled"]
Purpose = Annotated[str, Meta(min_length=1, max_length=4_000)]


class Window(Base):
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class VisitRequestCreate(Base):
    """Up to three preferred windows, best first; ``organization`` is for admins asking for others."""

    lab: Slug
    windows: Annotated[list[Window], Meta(min_length=1, max_length=3)]
    headcount: Headcount
    language: Language
    purpose: Purpose
    contact_name: ShortText
    kind: VisitKind = "tour"
    contact_email: Email | None = None
    contact_phone: Phone | None = None
    age_group: AgeGroup | None = None
    organization: Slug | None = None


class VisitAcceptance(Base):
    """Which window the lab takes; labbook makes a private slot and a confirmed booking for it."""

    window: Annotated[int, Meta(ge=0, le=2)]
    title: LocalizedName | None = None
    instructor_id: UUID | None = None
    # The manager's explicit decision to receive the group outside the lab's opening hours.
    outside_hours: bool = False
    message: Message | None = None


class VisitDecision(Base):
    message: Message | None = None


class VisitCancellation(Base):
    reason: Message | None = None


class WindowOut(Out):
    starts_at: datetime
    ends_at: datetime


class VisitRequest(Out):
    id: UUID
    lab: str
    organization: str
    kind: VisitKind
    windows: list[WindowOut]
    headcount: int
    age_group: str | None
    language: str
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
