"""Visit requests: a director asks for a visit or a training course when no published slot suits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from labbook.bookings.schemas import AgeGroup, Headcount, Message
from labbook.schemas import AwareDatetime, Base, Email, Language, LocalizedName, Out, Phone, ShortText, Slug
from labbook.slots.schemas import UnitRequest

VisitKind = Literal["tour", "training", "event"]
# ``proposed``: the lab offered another time and waits for the organization's answer.
VisitStatus = Literal["pending", "proposed", "accepted", "declined", "cancelled"]
ProposalStatus = Literal["open", "accepted", "declined", "withdrawn"]
Purpose = Annotated[str, Meta(min_length=1, max_length=4_000)]
# Windows are numbered from 1, in the order they were asked for, as people see them listed.
WindowNumber = Annotated[
    int,
    Meta(
        ge=1,
        le=3,
        description="which window of the request: 1 is the first one asked for (as numbered in `windows`)",
        examples=[1],
    ),
]
Stations = Annotated[
    list[UnitRequest],
    Meta(
        description=(
            "equipment units the visit holds, as in slot publishing; for a training visit the group must "
            "fit on them (units × trainees per unit)"
        )
    ),
]


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
    """Which window the lab takes; labbook makes a private slot holding ``equipment`` and a confirmed
    booking for it, as publishing a slot and booking it whole would."""

    window_number: WindowNumber
    title: LocalizedName | None = None
    equipment: Stations = msgspec.field(default_factory=list)
    instructor_id: UUID | None = None
    # The manager's explicit decision to receive the group outside the lab's opening hours.
    outside_hours: bool = False
    message: Message | None = None


class VisitProposalCreate(Base):
    """Another time the lab offers instead of the windows asked for; the organization answers it."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    title: LocalizedName | None = None
    equipment: Stations = msgspec.field(default_factory=list)
    instructor_id: UUID | None = None
    outside_hours: bool = False
    message: Message | None = None


class VisitDecision(Base):
    message: Message | None = None


class VisitCancellation(Base):
    reason: Message | None = None


class WindowOut(Out):
    number: WindowNumber
    starts_at: datetime
    ends_at: datetime


class Proposal(Out):
    """The lab's latest counter-proposal; ``status`` is ``open`` while it waits for an answer."""

    id: UUID
    starts_at: datetime
    ends_at: datetime
    title: dict[Language, str] | None
    equipment: list[UnitRequest]
    instructor_id: UUID | None
    outside_hours: bool
    message: str | None
    status: ProposalStatus
    answer_message: str | None
    created_at: datetime
    answered_at: datetime | None


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
    accepted_window_number: Annotated[
        int | None, Meta(description="the number of the accepted window; null when none was (yet)")
    ]
    proposal: Proposal | None
    slot_id: UUID | None
    booking_id: UUID | None
    created_at: datetime
    updated_at: datetime
