"""The publishing rules: what a slot must satisfy before it exists, checked under the lab lock.

Every write takes the lab row first (``locked_lab``), so the writes in one lab run one after the
other and these checks read committed data that cannot change until the writer commits. Closures
are also refused by the database (the exclusion constraints on ``slot_spans``); the check here
reports which slots are in the way, which the database cannot say. People capacity at every
instant and opening hours are checks here only: safe because the lab lock serializes every writer
of slots, the demo loader included (README, "What every write re-checks").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from labbook.core.kinds import BLOCKING_KINDS, PEOPLE_KINDS
from labbook.core.principal import Principal
from labbook.errors import (
    Conflict,
    LabbookError,
    LabCapacityExceeded,
    LabClosed,
    NotFound,
    OutsideOpeningHours,
    ValidationFailed,
)
from labbook.slots import recurrence, repository
from labbook.slots.recurrence import Window
from labbook.timezones import check_dates, zone

MAX_SLOT_LENGTH = timedelta(days=366)


class EquipmentOutOfService(Conflict):
    slug = "equipment-out-of-service"
    title = "Equipment out of service"


class CapacityBelowSeatsTaken(Conflict):
    slug = "capacity-below-seats-taken"
    title = "Capacity below the seats already taken"


class SeriesConflict(Conflict):
    """Some occurrences of a series collide; ``occurrences`` lists each with what it collides with."""

    slug = "series-conflict"
    title = "Occurrences of the series collide"


# What makes an occurrence of a series collide, rather than the whole request fail.
COLLISIONS: tuple[type[LabbookError], ...] = (LabClosed, LabCapacityExceeded, OutsideOpeningHours)


@dataclass(frozen=True, slots=True)
class Placement:
    """Everything the lab-wide checks need to know about a slot that is about to exist."""

    kind: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    is_outside_hours: bool


@dataclass(frozen=True, slots=True)
class LabContext:
    """A locked lab row with what the checks read once per transaction."""

    row: asyncpg.Record
    tz: ZoneInfo
    hours: tuple[Window, ...]

    @property
    def id(self) -> int:
        return int(self.row["id"])

    def iso(self, instant: datetime) -> str:
        return instant.astimezone(self.tz).isoformat()


async def locked_lab(conn: asyncpg.Connection, actor: Principal | None, lab_id: int) -> LabContext:
    """Lock the lab row for the rest of the transaction; only its managers may write in it."""
    row = await repository.lock_lab(conn, lab_id)
    if row is None:
        raise NotFound("no such lab")
    if actor is not None:
        actor.require_lab(lab_id)
    if row["is_archived"]:
        raise Conflict("the lab is archived", lab=row["slug"])
    hours = tuple(
        Window(h["weekday"], h["opens_at"], h["closes_at"])
        for h in await repository.list_opening_hours(conn, lab_id)
    )
    return LabContext(row, zone(row["timezone"]), hours)


def slot_ref(lab: LabContext, row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "slot_id": str(row["id"]),
        "kind": row["kind"],
        "starts_at": lab.iso(row["starts_at"]),
        "ends_at": lab.iso(row["ends_at"]),
    }


def check_opening_hours(lab: LabContext, p: Placement) -> None:
    if p.kind in BLOCKING_KINDS or p.is_outside_hours:
        return
    if recurrence.fits_opening_hours(p.starts_at, p.ends_at, lab.tz, lab.hours):
        return
    local = recurrence.to_local(p.starts_at, lab.tz)
    raise OutsideOpeningHours(
        f"{lab.iso(p.starts_at)} – {lab.iso(p.ends_at)} is not inside one of the lab's opening "
        "windows; a manager may publish it anyway with outside_hours: true",
        starts_at=lab.iso(p.starts_at),
        ends_at=lab.iso(p.ends_at),
        timezone=lab.row["timezone"],
        opening_hours=[
            {"weekday": w.weekday, "opens_at": w.opens_at.isoformat(), "closes_at": w.closes_at.isoformat()}
            for w in lab.hours
            if w.weekday == local.isoweekday()
        ],
    )


def check_closures(lab: LabContext, p: Placement, overlapping: Sequence[Mapping[str, Any]]) -> None:
    """Name the slots a closure would meet; the database refuses the write in any case."""
    if p.kind == "closure":
        if overlapping:
            raise LabClosed(
                f"the closure overlaps {len(overlapping)} active slot(s) of the lab; cancel them first",
                conflicts=[slot_ref(lab, row) for row in overlapping],
            )
        return
    closures = [row for row in overlapping if row["kind"] == "closure"]
    if closures:
        raise LabClosed(
            "the lab is closed during part of that time",
            conflicts=[slot_ref(lab, row) for row in closures],
        )


def check_people(lab: LabContext, p: Placement, overlapping: Sequence[Mapping[str, Any]]) -> None:
    """People in the lab at every instant of ``p`` stay within the lab's capacity."""
    if p.kind not in PEOPLE_KINDS:
        return
    people = [row for row in overlapping if row["kind"] in PEOPLE_KINDS]
    peak, at = recurrence.peak_load(
        p.starts_at, p.ends_at, [(row["starts_at"], row["ends_at"], row["capacity"]) for row in people]
    )
    if peak + p.capacity <= lab.row["capacity"]:
        return
    in_force = [row for row in people if row["starts_at"] <= at < row["ends_at"]] if peak else []
    raise LabCapacityExceeded(
        f"the lab holds {lab.row['capacity']} people; at {lab.iso(at)} other slots already take "
        f"{peak} and this one asks for {p.capacity}",
        lab_capacity=lab.row["capacity"],
        requested=p.capacity,
        already_taken=peak,
        at=lab.iso(at),
        conflicts=[{**slot_ref(lab, row), "capacity": row["capacity"]} for row in in_force],
    )


def check_placement(lab: LabContext, p: Placement, overlapping: Sequence[Mapping[str, Any]]) -> None:
    """Opening hours, closures and people capacity, against the active slots overlapping ``p``."""
    check_opening_hours(lab, p)
    check_closures(lab, p, overlapping)
    check_people(lab, p, overlapping)


async def check_lab_rules(
    conn: asyncpg.Connection, lab: LabContext, p: Placement, exclude: list[UUID]
) -> None:
    """Every lab-wide rule for one placement, against the lab's committed slots but ``exclude``."""
    overlapping = await repository.list_overlapping_slots(conn, lab.id, p.starts_at, p.ends_at, exclude)
    check_placement(lab, p, overlapping)


def check_not_past(starts_at: datetime, now: datetime) -> None:
    if starts_at < now:
        raise ValidationFailed.field("starts_at", "must not be in the past")


def check_shape(
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    booking_deadline: datetime | None,
) -> None:
    check_dates(starts_at=starts_at, ends_at=ends_at, booking_deadline=booking_deadline)
    if ends_at <= starts_at:
        raise ValidationFailed.field("ends_at", "must be after starts_at")
    if ends_at - starts_at > MAX_SLOT_LENGTH:
        raise ValidationFailed.field("ends_at", "a slot may last at most a year")
    if kind in BLOCKING_KINDS and capacity:
        raise ValidationFailed.field("capacity", f"a {kind} holds no people; leave capacity at 0")
    if kind in PEOPLE_KINDS and capacity < 1:
        raise ValidationFailed.field("capacity", f"a {kind} needs a capacity of at least 1")
    if booking_deadline is not None and booking_deadline > ends_at:
        raise ValidationFailed.field("booking_deadline", "must not be after the slot ends")


async def check_instructor(conn: asyncpg.Connection, lab_id: int, instructor_id: UUID | None) -> None:
    """Only active staff of the lab's host who may teach (instructors, lab managers) run its slots.

    Anyone else would see, in their personal feed, the bookings of organizations they have no part in.
    """
    if instructor_id is None:
        return
    standing = await repository.get_instructor_standing(conn, instructor_id, lab_id)
    if standing is None or not standing["is_active"]:
        raise ValidationFailed.field("instructor_id", "no such active person")
    if not standing["is_host_staff"]:
        raise ValidationFailed.field("instructor_id", "is not staff of the organization that runs the lab")
    if not standing["may_teach"]:
        raise ValidationFailed.field("instructor_id", "needs the instructor or lab_manager role")


async def resolve_audience(conn: asyncpg.Connection, visibility: str, organization: str | None) -> int | None:
    """The organization a private slot is for (by slug); a public slot names none."""
    organization_id: int | None = None
    if visibility == "private":
        if organization is None:
            raise ValidationFailed.field("organization", "a private slot names the organization it is for")
        organization_id = await repository.get_organization_id(conn, organization)
        if organization_id is None:
            raise ValidationFailed.field("organization", f"no organization {organization!r}")
    elif organization is not None:
        raise ValidationFailed.field("organization", "only private slots name an organization")
    return organization_id
