"""Rosters, attendance and inductions: what clients send and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from labbook.schemas import AwareDatetime, Base, Out, ShortText, Slug

Outcome = Literal["arrived", "no_show"]
StudyGroup = Annotated[str, Meta(max_length=100)]
Reason = Annotated[str, Meta(min_length=1, max_length=2_000, pattern=r"\S")]
# A training group is a class or two; a roster longer than this is a mistake.
MAX_TRAINEES = 200


class TraineeIn(Base):
    full_name: ShortText
    study_group: StudyGroup | None = None


class RosterUpdate(Base):
    """The whole roster: the trainees the booking brings, replacing any list saved before."""

    trainees: Annotated[list[TraineeIn], Meta(max_length=MAX_TRAINEES)]


class AttendanceMark(Base):
    """Whether the group came. ``headcount`` (who came) is required when it arrived; ``absent`` lists
    the roster's trainees who did not come (everyone else on the roster attended)."""

    outcome: Outcome
    headcount: Annotated[int, Meta(ge=1, le=10_000)] | None = None
    absent: Annotated[list[UUID], Meta(max_length=MAX_TRAINEES)] = msgspec.field(default_factory=list)


class InductionGrant(Base):
    """An induction granted by hand, for the reason given; valid for the equipment's usual months
    unless ``expires_at`` says otherwise."""

    trainee_id: UUID
    lab: Slug
    equipment: Slug
    reason: Reason
    expires_at: AwareDatetime | None = None


class InductionSession(Base):
    """Whether a training session is a safety induction: those marked as attending it are inducted."""

    is_induction: bool


class TraineeMerge(Base):
    """Which trainee this one is a duplicate of."""

    into: UUID


class InductionRevocation(Base):
    reason: Reason


class Trainee(Out):
    id: UUID
    full_name: str
    study_group: str | None
    attended: bool | None


class Roster(Out):
    booking_id: UUID
    trainees: list[Trainee]


class Attendance(Out):
    booking_id: UUID
    outcome: Outcome
    headcount: int | None
    marked_at: datetime
    updated_at: datetime
    trainees: list[Trainee]
    inductions_granted: int
    inductions_revoked: int


class Induction(Out):
    id: UUID
    trainee_id: UUID
    full_name: str
    equipment: str
    granted_at: datetime
    expires_at: datetime
    booking_id: UUID | None
    reason: str | None
    revoked_at: datetime | None
    revoke_reason: str | None


class NoShowRate(Out):
    organization: str
    marked: int
    no_shows: int
    rate: float


class SlotInduction(Out):
    slot_id: UUID
    is_induction: bool


class MergedTrainee(Out):
    id: UUID
    full_name: str
