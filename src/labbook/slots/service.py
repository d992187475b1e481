"""Publishing, editing and cancelling slots and series; a lab's availability.

Every write locks the lab row first (``repository.lock_lab``), so writes in one lab serialize and the
lab-wide rules (people capacity at every instant, closures, opening hours) are checked against
committed data. Equipment units are also guarded by ``ex_slot_units_overlap`` in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from labbook import db
from labbook.audit import service as audit
from labbook.bookings import service as bookings_service
from labbook.catalog import repository as catalog_repository
from labbook.core.kinds import BLOCKING_KINDS, PEOPLE_KINDS
from labbook.core.principal import Principal
from labbook.errors import (
    Conflict,
    IllegalTransition,
    LabbookError,
    LabCapacityExceeded,
    LabClosed,
    NotFound,
    OutsideOpeningHours,
    UnitTaken,
    ValidationFailed,
)
from labbook.slots import recurrence, repository
from labbook.slots.recurrence import Occurrence, Rule, Window
from labbook.slots.schemas import (
    Availability,
    DayAvailability,
    EquipmentAvailability,
    FreeUnits,
    FreeWindow,
    SeriesCancel,
    SeriesCreate,
    SeriesUpdate,
    SkippedOccurrence,
    SlotCreate,
    SlotUpdate,
    UnitRequest,
)
from labbook.timezones import DEFAULT_TIMEZONE, check_dates, zone

MAX_SLOT_LENGTH = timedelta(days=366)
MAX_AVAILABILITY_DAYS = 62
UNIT_PICK_ATTEMPTS = 3


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


# ---------------------------------------------------------------------------------------------------
# checks


async def _locked_lab(conn: asyncpg.Connection, actor: Principal | None, lab_id: int) -> LabContext:
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


def _slot_ref(lab: LabContext, row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "slot_id": str(row["id"]),
        "kind": row["kind"],
        "starts_at": lab.iso(row["starts_at"]),
        "ends_at": lab.iso(row["ends_at"]),
    }


def _check_opening_hours(lab: LabContext, p: Placement) -> None:
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


def _check_overlaps(lab: LabContext, p: Placement, overlapping: Sequence[Mapping[str, Any]]) -> None:
    """Closures and people capacity at every instant, against the active slots overlapping ``p``."""
    if p.kind == "closure":
        if overlapping:
            raise LabClosed(
                f"the closure overlaps {len(overlapping)} active slot(s) of the lab; cancel them first",
                conflicts=[_slot_ref(lab, row) for row in overlapping],
            )
        return
    closures = [row for row in overlapping if row["kind"] == "closure"]
    if closures:
        raise LabClosed(
            "the lab is closed during part of that time",
            conflicts=[_slot_ref(lab, row) for row in closures],
        )
    if p.kind not in PEOPLE_KINDS:
        return
    people = [row for row in overlapping if row["kind"] in PEOPLE_KINDS]
    peak, at = recurrence.peak_load(
        p.starts_at, p.ends_at, [(row["starts_at"], row["ends_at"], row["capacity"]) for row in people]
    )
    if peak + p.capacity > lab.row["capacity"]:
        in_force = [row for row in people if row["starts_at"] <= at < row["ends_at"]] if peak else []
        raise LabCapacityExceeded(
            f"the lab holds {lab.row['capacity']} people; at {lab.iso(at)} other slots already take "
            f"{peak} and this one asks for {p.capacity}",
            lab_capacity=lab.row["capacity"],
            requested=p.capacity,
            already_taken=peak,
            at=lab.iso(at),
            conflicts=[{**_slot_ref(lab, row), "capacity": row["capacity"]} for row in in_force],
        )


async def _check_lab_rules(
    conn: asyncpg.Connection, lab: LabContext, p: Placement, exclude: list[UUID]
) -> None:
    """Opening hours, closures and people capacity at every instant, for one placement."""
    _check_opening_hours(lab, p)
    overlapping = await repository.list_overlapping_slots(conn, lab.id, p.starts_at, p.ends_at, exclude)
    _check_overlaps(lab, p, overlapping)


async def _resolve_units(
    conn: asyncpg.Connection, lab: LabContext, kind: str, requests: list[UnitRequest]
) -> list[tuple[asyncpg.Record, int]]:
    if not requests:
        return []
    if kind == "closure":
        raise ValidationFailed.field("equipment", "a closure blocks the whole lab and holds no units")
    slugs = [r.equipment for r in requests]
    if len(set(slugs)) != len(slugs):
        raise ValidationFailed.field("equipment", "name each equipment once")
    rows = {row["slug"]: row for row in await repository.list_lab_equipment(conn, lab.id, slugs)}
    resolved: list[tuple[asyncpg.Record, int]] = []
    for request in requests:
        equipment = rows.get(request.equipment)
        if equipment is None or equipment["is_archived"]:
            raise ValidationFailed.field("equipment", f"the lab has no equipment {request.equipment!r}")
        if equipment["is_out_of_service"]:
            raise EquipmentOutOfService(f"{request.equipment} is out of service", equipment=request.equipment)
        usable = await repository.count_usable_units(conn, equipment["id"])
        if request.units > usable:
            raise ValidationFailed.field(
                "equipment", f"{request.equipment} has {usable} units in service, not {request.units}"
            )
        resolved.append((equipment, request.units))
    return resolved


async def _hold_units(
    conn: asyncpg.Connection,
    lab: LabContext,
    slot_id: UUID,
    units: list[tuple[asyncpg.Record, int]],
    starts_at: datetime,
    ends_at: datetime,
    prefer: list[int],
) -> None:
    """Pick free units and hold them; a concurrent holder makes us pick again, then give up."""
    for equipment, wanted in units:
        for _ in range(UNIT_PICK_ATTEMPTS):
            free = await repository.pick_free_units(conn, equipment["id"], starts_at, ends_at, wanted, prefer)
            if len(free) < wanted:
                break
            if await repository.try_insert_slot_units(
                conn, slot_id, [r["id"] for r in free], starts_at, ends_at
            ):
                break
        else:
            free = []
        if len(free) < wanted:
            holders = await repository.list_unit_holders(conn, equipment["id"], starts_at, ends_at)
            raise _unit_taken(lab, equipment["slug"], wanted, len(free), starts_at, ends_at, holders)


def _unit_taken(
    lab: LabContext,
    equipment: str,
    wanted: int,
    free: int,
    starts_at: datetime,
    ends_at: datetime,
    holders: Sequence[Mapping[str, Any]],
) -> UnitTaken:
    return UnitTaken(
        f"{equipment}: {wanted} unit(s) wanted, {free} free between {lab.iso(starts_at)} and "
        f"{lab.iso(ends_at)}",
        equipment=equipment,
        requested=wanted,
        free=free,
        conflicts=[
            {
                "slot_id": str(h["slot_id"]),
                "unit": h["unit"],
                "equipment": h["equipment"],
                "kind": h["kind"],
                "starts_at": lab.iso(h["starts_at"]),
                "ends_at": lab.iso(h["ends_at"]),
            }
            for h in holders
        ],
    )


def _check_not_past(starts_at: datetime) -> None:
    if starts_at < datetime.now(UTC):
        raise ValidationFailed.field("starts_at", "must not be in the past")


def _check_shape(
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


async def _check_instructor(conn: asyncpg.Connection, lab_id: int, instructor_id: UUID | None) -> None:
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


async def _resolve_audience(
    conn: asyncpg.Connection, visibility: str, organization: str | None
) -> int | None:
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


# ---------------------------------------------------------------------------------------------------
# slots


async def _place_slot(
    conn: asyncpg.Connection,
    actor: Principal | None,
    lab: LabContext,
    fields: dict[str, Any],
    units: list[tuple[asyncpg.Record, int]],
) -> asyncpg.Record:
    placement = Placement(
        fields["kind"], fields["starts_at"], fields["ends_at"], fields["capacity"], fields["is_outside_hours"]
    )
    await _check_lab_rules(conn, lab, placement, [])
    row = await repository.insert_slot(conn, **fields)
    await _hold_units(conn, lab, row["id"], units, row["starts_at"], row["ends_at"], [])
    await audit.record(
        conn, actor, "slot.publish", "slot", row["id"], after=await _audit_view(conn, row["id"])
    )
    return row


async def _audit_view(conn: asyncpg.Connection, slot_id: UUID) -> dict[str, Any] | None:
    row = await repository.get_slot_view(conn, slot_id)
    return None if row is None else db.record_to_dict(row)


async def create_slot_in(
    conn: asyncpg.Connection, actor: Principal, lab: asyncpg.Record, data: SlotCreate
) -> asyncpg.Record:
    """Check every rule and insert one slot inside the caller's open transaction.

    Takes the lab lock itself; ``data.lab`` is ignored in favour of ``lab``. Returns the ``slots`` row.
    Raises ``LabClosed``, ``LabCapacityExceeded``, ``OutsideOpeningHours``, ``UnitTaken``,
    ``EquipmentOutOfService``, ``ValidationFailed`` or ``Forbidden``.
    """
    context = await _locked_lab(conn, actor, lab["id"])
    _check_shape(data.kind, data.starts_at, data.ends_at, data.capacity, data.booking_deadline)
    _check_not_past(data.starts_at)
    organization_id = await _resolve_audience(conn, data.visibility, data.organization)
    await _check_instructor(conn, context.id, data.instructor_id)
    units = await _resolve_units(conn, context, data.kind, data.equipment)
    fields = {
        "lab_id": context.id,
        "kind": data.kind,
        "title": data.title,
        "description": data.description,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
        "capacity": data.capacity,
        "visibility": data.visibility,
        "organization_id": organization_id,
        "booking_deadline": data.booking_deadline,
        "requires_approval": data.requires_approval,
        "is_outside_hours": data.outside_hours,
        "instructor_id": data.instructor_id,
        "created_by": actor.person_id,
    }
    return await _place_slot(conn, actor, context, fields, units)


async def _lab_by_slug(conn: asyncpg.Connection, slug: str) -> asyncpg.Record:
    lab = await catalog_repository.get_lab_by_slug(conn, slug)
    if lab is None:
        raise NotFound(f"no lab {slug!r}")
    return lab


async def publish_slot(pool: asyncpg.Pool, actor: Principal, data: SlotCreate) -> asyncpg.Record:
    """Publish one slot in its own transaction; returns the slot as shown to clients."""
    async with db.transaction(pool) as conn:
        lab = await _lab_by_slug(conn, data.lab)
        row = await create_slot_in(conn, actor, lab, data)
        view = await repository.get_slot_view(conn, row["id"])
    assert view is not None
    return view


def can_see(principal: Principal | None, lab_id: int, visibility: str, organization_id: int | None) -> bool:
    if visibility == "public":
        return True
    if principal is None:
        return False
    return principal.manages(lab_id) or principal.organization_id == organization_id


async def get_slot_for(pool: asyncpg.Pool, principal: Principal | None, slot_id: UUID) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await repository.get_slot_view(conn, slot_id)
    if row is None or not can_see(principal, row["lab_id"], row["visibility"], row["organization_id"]):
        raise NotFound("no such slot")
    return row


async def list_slots(
    pool: asyncpg.Pool,
    principal: Principal | None,
    *,
    lab: str | None,
    starts_at: date | datetime | None,
    ends_at: date | datetime | None,
    kind: str | None,
    has_seats: bool,
    include_cancelled: bool,
    limit: int,
    offset: int,
    min_seats: int | None = None,
) -> tuple[list[asyncpg.Record], int]:
    """Slots the caller may see, by start; ``min_seats`` keeps those with at least that many seats left
    (a group that will not fit in a session has no use for it). A bound given as a date is midnight
    in the lab's zone, or without ``lab`` in labbook's home zone, ``DEFAULT_TIMEZONE``."""
    if min_seats is not None and min_seats < 1:
        raise ValidationFailed.field("min_seats", "a group needs at least 1 seat")
    async with pool.acquire() as conn:
        lab_row = await _lab_by_slug(conn, lab) if lab is not None else None
        tz = zone(lab_row["timezone"] if lab_row is not None else DEFAULT_TIMEZONE)
        # A date bound is checked as the date it is, before it becomes midnight in some zone.
        check_dates(**{"from": starts_at, "to": ends_at})
        first = _as_instant("from", starts_at, tz)
        last = _as_instant("to", ends_at, tz)
        if first is not None and last is not None and last <= first:
            raise ValidationFailed.field("to", "must be after from")
        return await repository.list_slot_views(
            conn,
            lab_id=lab_row["id"] if lab_row is not None else None,
            starts_at=first or datetime.now(UTC),
            ends_at=last,
            kind=kind,
            has_seats=has_seats,
            include_cancelled=include_cancelled,
            managed_lab_ids=sorted(principal.managed_lab_ids) if principal else [],
            organization_id=principal.organization_id if principal else None,
            sees_all=bool(principal and principal.is_admin),
            limit=limit,
            offset=offset,
            min_seats=min_seats,
        )


def _as_instant(name: str, value: date | datetime | None, tz: ZoneInfo) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed.field(name, "give a time zone offset, e.g. 2026-09-01T00:00:00+05:00")
        return value
    check_dates(**{name: value})
    return recurrence.to_instant(datetime.combine(value, time()), tz)


def _local_day(value: date | datetime, tz: ZoneInfo, *, up: bool) -> date:
    """The local date of an availability bound; a time inside a day rounds ``up`` to the next day."""
    if not isinstance(value, datetime):
        return value
    local = value.astimezone(tz)
    return local.date() + timedelta(days=1) if up and local.time() != time() else local.date()


async def _editable_slot(
    conn: asyncpg.Connection, actor: Principal, slot_id: UUID
) -> tuple[LabContext, asyncpg.Record]:
    found = await repository.get_slot(conn, slot_id)
    if found is None or not can_see(actor, found["lab_id"], found["visibility"], found["organization_id"]):
        raise NotFound("no such slot")
    lab = await _locked_lab(conn, actor, found["lab_id"])
    slot = await repository.lock_slot(conn, slot_id)
    assert slot is not None
    if slot["status"] != "active":
        raise IllegalTransition("the slot is cancelled", current_status=slot["status"])
    return lab, slot


async def _current_units(conn: asyncpg.Connection, slot_id: UUID) -> tuple[list[UnitRequest], list[int]]:
    rows = await repository.list_slot_unit_counts(conn, slot_id)
    return (
        [UnitRequest(equipment=r["equipment"], units=r["units"]) for r in rows],
        [unit for r in rows for unit in r["unit_ids"]],
    )


async def _move_slot(
    conn: asyncpg.Connection,
    actor: Principal,
    lab: LabContext,
    slot: asyncpg.Record,
    fields: dict[str, Any],
    unit_requests: list[UnitRequest] | None,
) -> asyncpg.Record:
    """Re-check every rule for a slot's new fields, re-hold its units and write it.

    Seats a higher capacity frees go to the waitlist at once, while the slot row is still locked.
    """
    if fields["capacity"] < slot["seats_taken"]:
        raise CapacityBelowSeatsTaken(
            f"{slot['seats_taken']} seats are already taken; capacity cannot go below that",
            seats_taken=slot["seats_taken"],
            capacity=fields["capacity"],
        )
    current, held = await _current_units(conn, slot["id"])
    units = await _resolve_units(conn, lab, slot["kind"], current if unit_requests is None else unit_requests)
    placement = Placement(
        slot["kind"], fields["starts_at"], fields["ends_at"], fields["capacity"], fields["is_outside_hours"]
    )
    await _check_lab_rules(conn, lab, placement, [slot["id"]])
    before = await _audit_view(conn, slot["id"])
    await repository.delete_slot_units(conn, slot["id"])
    row = await repository.update_slot(conn, slot["id"], fields)
    await _hold_units(conn, lab, slot["id"], units, row["starts_at"], row["ends_at"], held)
    if row["capacity"] > slot["capacity"]:
        await bookings_service.serve_waitlist(conn, actor, row)
    await audit.record(
        conn,
        actor,
        "slot.update",
        "slot",
        slot["id"],
        before=before,
        after=await _audit_view(conn, slot["id"]),
    )
    return row


_UPDATABLE = (
    "starts_at",
    "ends_at",
    "capacity",
    "title",
    "description",
    "booking_deadline",
    "requires_approval",
    "instructor_id",
    "visibility",
    "organization_id",
    "is_outside_hours",
    "occurrence_start",
)


# Fields of a PATCH body that map one-to-one onto slot columns.
_PATCHABLE = (
    "starts_at",
    "ends_at",
    "capacity",
    "title",
    "description",
    "booking_deadline",
    "requires_approval",
    "instructor_id",
    "visibility",
)


async def update_slot(
    pool: asyncpg.Pool, actor: Principal, slot_id: UUID, data: SlotUpdate
) -> asyncpg.Record:
    """Edit one slot (or one occurrence of a series, which keeps its ``occurrence_start``)."""
    async with db.transaction(pool) as conn:
        lab, slot = await _editable_slot(conn, actor, slot_id)
        fields = {key: slot[key] for key in _UPDATABLE}
        for key in _PATCHABLE:
            value = getattr(data, key)
            if value is not msgspec.UNSET:
                fields[key] = value
        if data.outside_hours is not msgspec.UNSET:
            fields["is_outside_hours"] = data.outside_hours
        _check_shape(
            slot["kind"],
            fields["starts_at"],
            fields["ends_at"],
            fields["capacity"],
            fields["booking_deadline"],
        )
        if fields["starts_at"] != slot["starts_at"]:
            _check_not_past(fields["starts_at"])
        if slot["series_id"] is not None:
            await repository.touch_series(conn, [slot["series_id"]])
        if data.instructor_id is not msgspec.UNSET:
            await _check_instructor(conn, lab.id, data.instructor_id)
        if data.visibility is not msgspec.UNSET or data.organization is not msgspec.UNSET:
            if data.organization is not msgspec.UNSET:
                organization = data.organization
            elif fields["visibility"] == "public":
                organization = None
            else:
                organization = await _organization_slug(conn, slot)
            fields["organization_id"] = await _resolve_audience(conn, fields["visibility"], organization)
            if fields["visibility"] == "private":
                await _check_audience_bookings(conn, slot["id"], organization, fields["organization_id"])
        await _move_slot(
            conn, actor, lab, slot, fields, None if data.equipment is msgspec.UNSET else data.equipment
        )
        view = await repository.get_slot_view(conn, slot_id)
    assert view is not None
    return view


async def _check_audience_bookings(
    conn: asyncpg.Connection, slot_id: UUID, organization: str | None, organization_id: int | None
) -> None:
    """Refuse to make a slot private while other organizations hold active bookings in it.

    The caller holds the slot row, which every booking that takes or waits for its seats also locks.
    """
    held = await repository.list_foreign_active_bookings(conn, slot_id, organization_id)
    if not held:
        return
    total = sum(row["bookings"] for row in held)
    names = ", ".join(f"{row['organization']} ({row['bookings']})" for row in held)
    raise Conflict(
        f"{total} active booking(s) of other organizations ({names}) are in the slot; cancel them "
        f"before making it private to {organization}",
        bookings=[{"organization": row["organization"], "bookings": row["bookings"]} for row in held],
    )


async def _organization_slug(conn: asyncpg.Connection, slot: asyncpg.Record) -> str | None:
    if slot["organization_id"] is None:
        return None
    view = await repository.get_slot_view(conn, slot["id"])
    return None if view is None else view["organization"]


async def _cancel_slot_rows(
    conn: asyncpg.Connection, actor: Principal, slot_id: UUID, reason: str | None
) -> asyncpg.Record:
    before = await _audit_view(conn, slot_id)
    row = await repository.cancel_slot(conn, slot_id)
    await repository.deactivate_slot_units(conn, slot_id)
    bookings = await repository.cancel_bookings(conn, slot_id, reason)
    after = await _audit_view(conn, slot_id)
    await audit.record(
        conn,
        actor,
        "slot.cancel",
        "slot",
        slot_id,
        before=before,
        after={**(after or {}), "reason": reason, "cancelled_bookings": [str(b) for b in bookings]},
    )
    return row


async def cancel_slot(
    pool: asyncpg.Pool, actor: Principal, slot_id: UUID, reason: str | None
) -> asyncpg.Record:
    """Cancel a slot (or one occurrence of a series), release its units and cancel its bookings."""
    async with db.transaction(pool) as conn:
        _, slot = await _editable_slot(conn, actor, slot_id)
        if slot["series_id"] is not None:
            await repository.touch_series(conn, [slot["series_id"]])
        await _cancel_slot_rows(conn, actor, slot_id, reason)
        view = await repository.get_slot_view(conn, slot_id)
    assert view is not None
    return view


# ---------------------------------------------------------------------------------------------------
# series


@dataclass(frozen=True, slots=True)
class SeriesView:
    row: asyncpg.Record
    lab_slug: str
    organization_slug: str | None
    occurrences: list[asyncpg.Record]


@dataclass(frozen=True, slots=True)
class SeriesCreateResult:
    series: SeriesView
    created: list[asyncpg.Record]
    skipped: list[SkippedOccurrence]


@dataclass(frozen=True, slots=True)
class SeriesChangeResult:
    series: SeriesView
    previous_series_id: UUID | None
    changed: list[asyncpg.Record]


def _rule_of(series: asyncpg.Record) -> Rule:
    return Rule(
        local_start=series["local_start"],
        duration=series["duration"],
        tz=zone(series["timezone"]),
        freq=series["freq"],
        interval=series["interval"],
        weekdays=tuple(series["weekdays"]),
        count=series["count"],
        until=series["until"],
    )


def _collision(lab: LabContext, occurrence: Occurrence, error: LabbookError) -> SkippedOccurrence:
    conflicts = error.members.get("conflicts")
    return SkippedOccurrence(
        occurrence_start=occurrence.starts_at.astimezone(lab.tz),
        starts_at=occurrence.starts_at.astimezone(lab.tz),
        ends_at=occurrence.ends_at.astimezone(lab.tz),
        problem=error.type,
        detail=error.detail,
        conflicts=conflicts if isinstance(conflicts, list) else [],
    )


def _raise_collisions(collisions: list[SkippedOccurrence], total: int) -> None:
    raise SeriesConflict(
        f"{len(collisions)} of {total} occurrences collide; nothing was written",
        occurrences=[msgspec.to_builtins(c) for c in collisions],
    )


async def _series_view(
    conn: asyncpg.Connection, principal: Principal | None, series: asyncpg.Record
) -> SeriesView:
    """The series with the occurrences ``principal`` may see (as ``GET /slots/{id}`` would show them)."""
    lab = await repository.get_lab(conn, series["lab_id"])
    assert lab is not None
    occurrences = [
        row
        for row in await repository.list_series_slot_views(conn, series["id"])
        if can_see(principal, row["lab_id"], row["visibility"], row["organization_id"])
    ]
    organization = None
    if series["organization_id"] is not None:
        organization = await repository.get_organization_slug(conn, series["organization_id"])
    return SeriesView(series, lab["slug"], organization, occurrences)


@dataclass(frozen=True, slots=True)
class _Placed:
    """An occurrence that fits, with the slot id it will get and the units it will hold."""

    occurrence: Occurrence
    slot_id: UUID
    # (equipment id, unit id, unit number) of each unit held
    holdings: list[tuple[int, int, int]]


@dataclass(frozen=True, slots=True)
class _Shortfall:
    """An occurrence found too few free units of one equipment; who holds them is read afterwards."""

    occurrence: Occurrence
    equipment: asyncpg.Record
    wanted: int
    free: int
    # units of this equipment held by earlier occurrences of the same series
    series_holders: list[dict[str, Any]]


@dataclass(slots=True)
class _SeriesPlan:
    placed: list[_Placed] = field(default_factory=list)
    collisions: list[tuple[Occurrence, SkippedOccurrence]] = field(default_factory=list)


async def _plan_series(
    conn: asyncpg.Connection,
    lab: LabContext,
    p: Placement,
    occurrences: list[Occurrence],
    units: list[tuple[asyncpg.Record, int]],
) -> _SeriesPlan:
    """Check and pick units for every occurrence as ``_place_slot`` would one after the other, with
    one query for the slots (and their units) overlapping each occurrence and one for the units.

    Occurrences placed earlier in the series count as if they were already written: their people,
    closures and units weigh on the later ones they overlap, and a collision leaves no trace.
    """
    starts = [o.starts_at for o in occurrences]
    ends = [o.ends_at for o in occurrences]
    overlapping: dict[int, list[Mapping[str, Any]]] = {}
    held: dict[int, set[int]] = {}
    for row in await repository.list_overlapping_slots_per_range(conn, lab.id, starts, ends):
        overlapping.setdefault(row["n"], []).append(row)
        held.setdefault(row["n"], set()).update(row["unit_ids"])
    usable: dict[int, list[tuple[int, int]]] = {}
    if units:
        for row in await repository.list_usable_units(conn, [equipment["id"] for equipment, _ in units]):
            usable.setdefault(row["equipment_id"], []).append((row["id"], row["number"]))
    plan = _SeriesPlan()
    shortfalls: list[_Shortfall] = []
    for n, occurrence in enumerate(occurrences, start=1):
        earlier = [placed for placed in plan.placed if placed.occurrence.ends_at > occurrence.starts_at]
        placement = replace(p, starts_at=occurrence.starts_at, ends_at=occurrence.ends_at)
        rows = [
            *overlapping.get(n, []),
            *(
                {
                    "id": placed.slot_id,
                    "kind": p.kind,
                    "capacity": p.capacity,
                    "starts_at": placed.occurrence.starts_at,
                    "ends_at": placed.occurrence.ends_at,
                }
                for placed in earlier
            ),
        ]
        rows.sort(key=lambda row: (row["starts_at"], row["id"]))
        try:
            _check_opening_hours(lab, placement)
            _check_overlaps(lab, placement, rows)
        except (LabClosed, LabCapacityExceeded, OutsideOpeningHours) as error:
            plan.collisions.append((occurrence, _collision(lab, occurrence, error)))
            continue
        holdings: list[tuple[int, int, int]] = []
        taken = held.get(n, set()).union(unit for placed in earlier for _, unit, _ in placed.holdings)
        for equipment, wanted in units:
            candidates: list[tuple[int, int]] = []
            for unit, number in usable.get(equipment["id"], []):
                if unit not in taken:
                    candidates.append((unit, number))
                    if len(candidates) == wanted:
                        break
            if len(candidates) < wanted:
                series_holders = [
                    {
                        "slot_id": placed.slot_id,
                        "unit": number,
                        "equipment": equipment["slug"],
                        "kind": p.kind,
                        "starts_at": placed.occurrence.starts_at,
                        "ends_at": placed.occurrence.ends_at,
                    }
                    for placed in earlier
                    for equipment_id, _, number in placed.holdings
                    if equipment_id == equipment["id"]
                ]
                shortfalls.append(_Shortfall(occurrence, equipment, wanted, len(candidates), series_holders))
                break
            holdings += [(equipment["id"], unit, number) for unit, number in candidates]
        else:
            plan.placed.append(_Placed(occurrence, uuid4(), holdings))
    if shortfalls:
        holders: dict[int, list[Mapping[str, Any]]] = {}
        for row in await repository.list_unit_holders_per_range(
            conn,
            lab.id,
            [s.equipment["id"] for s in shortfalls],
            [s.occurrence.starts_at for s in shortfalls],
            [s.occurrence.ends_at for s in shortfalls],
        ):
            holders.setdefault(row["n"], []).append(row)
        for n, s in enumerate(shortfalls, start=1):
            found = sorted(
                [*holders.get(n, []), *s.series_holders], key=lambda h: (h["unit"], h["starts_at"])
            )
            refusal = _unit_taken(
                lab,
                s.equipment["slug"],
                s.wanted,
                s.free,
                s.occurrence.starts_at,
                s.occurrence.ends_at,
                found,
            )
            plan.collisions.append((s.occurrence, _collision(lab, s.occurrence, refusal)))
        plan.collisions.sort(key=lambda c: c[0].index)
    return plan


async def create_series(pool: asyncpg.Pool, actor: Principal, data: SeriesCreate) -> SeriesCreateResult:
    """Materialize every occurrence of a rule as a slot: all of them, or (``skip_conflicts``) those
    that fit, the others staying as cancelled occurrences so the series still matches its rule.

    The occurrences are checked, written and audited with a fixed number of statements, whatever
    their count, while the lab row is locked.
    """
    async with db.transaction(pool) as conn:
        found = await _lab_by_slug(conn, data.lab)
        lab = await _locked_lab(conn, actor, found["id"])
        check_dates(**{"recurrence.until": data.recurrence.until})
        _check_shape(data.kind, data.starts_at, data.ends_at, data.capacity, None)
        _check_not_past(data.starts_at)
        duration = data.ends_at - data.starts_at
        rule = Rule(
            local_start=recurrence.to_local(data.starts_at, lab.tz),
            duration=duration,
            tz=lab.tz,
            freq=data.recurrence.freq,
            interval=data.recurrence.interval,
            weekdays=tuple(sorted(set(data.recurrence.weekdays))),
            count=data.recurrence.count,
            until=data.recurrence.until,
        )
        occurrences = recurrence.expand(rule)
        organization_id = await _resolve_audience(conn, data.visibility, data.organization)
        await _check_instructor(conn, lab.id, data.instructor_id)
        units = await _resolve_units(conn, lab, data.kind, data.equipment)
        series = await repository.insert_series(
            conn,
            lab_id=lab.id,
            kind=data.kind,
            title=data.title,
            description=data.description,
            timezone=lab.row["timezone"],
            local_start=rule.local_start,
            duration=duration,
            freq=rule.freq,
            interval=rule.interval,
            weekdays=list(rule.weekdays),
            count=rule.count,
            until=rule.until,
            capacity=data.capacity,
            visibility=data.visibility,
            organization_id=organization_id,
            instructor_id=data.instructor_id,
            requires_approval=data.requires_approval,
            created_by=actor.person_id,
        )
        deadline = (
            None if data.booking_deadline_hours is None else timedelta(hours=data.booking_deadline_hours)
        )
        common = {
            "lab_id": lab.id,
            "series_id": series["id"],
            "kind": data.kind,
            "title": data.title,
            "description": data.description,
            "capacity": data.capacity,
            "visibility": data.visibility,
            "organization_id": organization_id,
            "requires_approval": data.requires_approval,
            "is_outside_hours": data.outside_hours,
            "instructor_id": data.instructor_id,
            "created_by": actor.person_id,
        }
        placement = Placement(data.kind, data.starts_at, data.ends_at, data.capacity, data.outside_hours)
        # Writers that skip the lab lock can still take a unit between our read and our write; the
        # exclusion constraint refuses it and we plan again with what they hold.
        for _ in range(UNIT_PICK_ATTEMPTS):
            plan = await _plan_series(conn, lab, placement, occurrences, units)
            if plan.collisions and (not data.skip_conflicts or not plan.placed):
                _raise_collisions([c for _, c in plan.collisions], len(occurrences))
            created = [placed.slot_id for placed in plan.placed]
            skipped = [uuid4() for _ in plan.collisions]
            rows = [
                (
                    placed.slot_id,
                    placed.occurrence.starts_at,
                    placed.occurrence.ends_at,
                    None if deadline is None else placed.occurrence.starts_at - deadline,
                    "active",
                )
                for placed in plan.placed
            ] + [
                (slot_id, occurrence.starts_at, occurrence.ends_at, None, "cancelled")
                for slot_id, (occurrence, _) in zip(skipped, plan.collisions, strict=True)
            ]
            holdings = [
                (placed.slot_id, unit, placed.occurrence.starts_at, placed.occurrence.ends_at)
                for placed in plan.placed
                for _, unit, _ in placed.holdings
            ]
            if await repository.try_insert_series_slots(conn, common, rows, holdings):
                break
        else:
            raise UnitTaken(
                "other writers kept taking the units while the series was being placed; try again"
            )
        views = await repository.list_slot_views_by_id(conn, created + skipped)
        by_id = {view["id"]: view for view in views}
        await audit.record_many(
            conn, actor, "slot.publish", "slot", [(i, db.record_to_dict(by_id[i])) for i in created]
        )
        await audit.record_many(
            conn, actor, "slot.skip", "slot", [(i, db.record_to_dict(by_id[i])) for i in skipped]
        )
        await audit.record(
            conn,
            actor,
            "series.create",
            "series",
            series["id"],
            after={
                **db.record_to_dict(series),
                "skipped": [c.occurrence_start for _, c in plan.collisions],
            },
        )
    # A new series' slots start where their occurrences do: ``views`` is in occurrence order.
    view = SeriesView(
        series,
        lab.row["slug"],
        data.organization if organization_id is not None else None,
        [row for row in views if can_see(actor, row["lab_id"], row["visibility"], row["organization_id"])],
    )
    placed_ids = set(created)
    created_rows = [row for row in views if row["id"] in placed_ids]
    return SeriesCreateResult(view, created_rows, [c for _, c in plan.collisions])


async def get_series_for(pool: asyncpg.Pool, principal: Principal | None, series_id: UUID) -> SeriesView:
    async with pool.acquire() as conn:
        series = await repository.get_series(conn, series_id)
        if series is None or not can_see(
            principal, series["lab_id"], series["visibility"], series["organization_id"]
        ):
            raise NotFound("no such series")
        return await _series_view(conn, principal, series)


@dataclass(frozen=True, slots=True)
class _Split:
    series: asyncpg.Record
    previous_series_id: UUID | None
    slots: list[asyncpg.Record]
    occurrences: list[Occurrence]


async def _lock_series_scope(
    conn: asyncpg.Connection,
    actor: Principal,
    series_id: UUID,
    scope: str,
    from_occurrence: datetime | None,
) -> tuple[LabContext, _Split]:
    """Lock lab, series and its slots; for ``following``, split the series at ``from_occurrence``.

    The old series keeps the occurrences before the split (``until`` just before it); a new series
    with the same rule takes the rest, and their slots move to it, so each series' slots still match
    its rule exactly.
    """
    found = await repository.get_series(conn, series_id)
    if found is None or not can_see(actor, found["lab_id"], found["visibility"], found["organization_id"]):
        raise NotFound("no such series")
    lab = await _locked_lab(conn, actor, found["lab_id"])
    series = await repository.lock_series(conn, series_id)
    assert series is not None
    if series["status"] != "active":
        raise IllegalTransition("the series is cancelled", current_status=series["status"])
    slots = await repository.lock_series_slots(conn, series_id)
    rule = _rule_of(series)
    occurrences = recurrence.expand(rule)
    if scope == "all":
        return lab, _Split(series, None, slots, occurrences)
    if from_occurrence is None:
        raise ValidationFailed.field("from_occurrence", "name the first occurrence to change")
    index = next((o.index for o in occurrences if o.starts_at == from_occurrence), None)
    if index is None:
        raise ValidationFailed.field(
            "from_occurrence", "is not the original start of an occurrence of the series"
        )
    if index == 0:
        return lab, _Split(series, None, slots, occurrences)
    split = occurrences[index]
    await repository.update_series(
        conn,
        series["id"],
        local_start=series["local_start"],
        duration=series["duration"],
        count=None,
        until=split.starts_at - timedelta(seconds=1),
        capacity=series["capacity"],
        title=series["title"],
        description=series["description"],
        status=series["status"],
    )
    fields = {key: series[key] for key in _SERIES_COPY}
    rest = await repository.insert_series(
        conn,
        **fields,
        local_start=split.local_start,
        count=None if series["count"] is None else series["count"] - index,
        until=series["until"],
        created_by=actor.person_id,
    )
    await repository.repoint_slots(conn, series["id"], rest["id"], split.starts_at)
    await audit.record(
        conn,
        actor,
        "series.split",
        "series",
        series["id"],
        before=series,
        after={"following_series_id": str(rest["id"]), "from_occurrence": split.starts_at},
    )
    moved = [slot for slot in slots if slot["occurrence_start"] >= split.starts_at]
    return lab, _Split(rest, series["id"], moved, occurrences[index:])


_SERIES_COPY = (
    "lab_id",
    "kind",
    "title",
    "description",
    "timezone",
    "duration",
    "freq",
    "interval",
    "weekdays",
    "capacity",
    "visibility",
    "organization_id",
    "instructor_id",
    "requires_approval",
)


async def update_series(
    pool: asyncpg.Pool, actor: Principal, series_id: UUID, data: SeriesUpdate
) -> SeriesChangeResult:
    """Change the time of day, duration, capacity or title of all or the following occurrences.

    Every changed occurrence is re-checked; if any collides, nothing is written and the reply lists
    each collision. A new time of day moves the occurrences' ``occurrence_start`` with the rule.
    """
    async with db.transaction(pool) as conn:
        lab, part = await _lock_series_scope(conn, actor, series_id, data.scope, data.from_occurrence)
        series = part.series
        local_start = series["local_start"]
        if data.start_time is not msgspec.UNSET:
            local_start = datetime.combine(local_start.date(), time.fromisoformat(data.start_time))
        duration = series["duration"]
        if data.duration_minutes is not msgspec.UNSET:
            duration = timedelta(minutes=data.duration_minutes)
        moves = local_start != series["local_start"] or duration != series["duration"]
        # The k-th occurrence keeps its date; a rule bounded by `until` is re-bounded by the new last one.
        rule = replace(_rule_of(series), local_start=local_start, duration=duration)
        rule = replace(rule, count=len(part.occurrences), until=None)
        occurrences = recurrence.expand(rule)
        capacity = series["capacity"] if data.capacity is msgspec.UNSET else data.capacity
        title = series["title"] if data.title is msgspec.UNSET else data.title
        description = series["description"] if data.description is msgspec.UNSET else data.description
        _check_shape(series["kind"], occurrences[0].starts_at, occurrences[0].ends_at, capacity, None)
        by_start = {slot["occurrence_start"]: slot for slot in part.slots}
        changed: list[UUID] = []
        collisions: list[SkippedOccurrence] = []
        now = datetime.now(UTC)
        for old, new in zip(part.occurrences, occurrences, strict=True):
            slot = by_start[old.starts_at]
            if moves and slot["status"] == "active" and new.starts_at < now <= slot["starts_at"]:
                raise ValidationFailed.field(
                    "start_time", f"would move the occurrence of {lab.iso(slot['starts_at'])} into the past"
                )
            fields = {key: slot[key] for key in _UPDATABLE}
            fields.update(
                occurrence_start=new.starts_at, capacity=capacity, title=title, description=description
            )
            if moves:
                fields.update(starts_at=new.starts_at, ends_at=new.ends_at)
                if slot["booking_deadline"] is not None:
                    fields["booking_deadline"] = slot["booking_deadline"] + (
                        new.starts_at - slot["starts_at"]
                    )
            if slot["status"] != "active":
                before = await _audit_view(conn, slot["id"])
                await repository.update_slot(conn, slot["id"], fields)
                after = await _audit_view(conn, slot["id"])
                await audit.record(conn, actor, "slot.update", "slot", slot["id"], before=before, after=after)
                continue
            try:
                async with conn.transaction():
                    await _move_slot(conn, actor, lab, slot, fields, None)
                changed.append(slot["id"])
            except (
                UnitTaken,
                LabClosed,
                LabCapacityExceeded,
                OutsideOpeningHours,
                CapacityBelowSeatsTaken,
            ) as error:
                collisions.append(_collision(lab, new, error))
        if collisions:
            _raise_collisions(collisions, len(occurrences))
        updated = await repository.update_series(
            conn,
            series["id"],
            local_start=local_start,
            duration=duration,
            count=series["count"],
            until=None if series["count"] is not None else occurrences[-1].starts_at,
            capacity=capacity,
            title=title,
            description=description,
            status=series["status"],
        )
        await audit.record(conn, actor, "series.update", "series", series["id"], before=series, after=updated)
        view = await _series_view(conn, actor, updated)
        changed_rows = await repository.list_slot_views_by_id(conn, changed)
    return SeriesChangeResult(view, part.previous_series_id, changed_rows)


async def cancel_series(
    pool: asyncpg.Pool, actor: Principal, series_id: UUID, data: SeriesCancel
) -> SeriesChangeResult:
    """Cancel the whole series (its future occurrences) or an occurrence and all that follow it."""
    async with db.transaction(pool) as conn:
        _, part = await _lock_series_scope(conn, actor, series_id, data.scope, data.from_occurrence)
        series = part.series
        now = datetime.now(UTC)
        whole = data.scope == "all"
        cancelled: list[UUID] = []
        for slot in part.slots:
            if slot["status"] != "active" or (whole and slot["starts_at"] <= now):
                continue
            await _cancel_slot_rows(conn, actor, slot["id"], data.reason)
            cancelled.append(slot["id"])
        updated = await repository.update_series(
            conn,
            series["id"],
            local_start=series["local_start"],
            duration=series["duration"],
            count=series["count"],
            until=series["until"],
            capacity=series["capacity"],
            title=series["title"],
            description=series["description"],
            status="cancelled",
        )
        await audit.record(
            conn,
            actor,
            "series.cancel",
            "series",
            series["id"],
            before=series,
            after={**db.record_to_dict(updated), "reason": data.reason},
        )
        view = await _series_view(conn, actor, updated)
        cancelled_rows = await repository.list_slot_views_by_id(conn, cancelled)
    return SeriesChangeResult(view, part.previous_series_id, cancelled_rows)


# ---------------------------------------------------------------------------------------------------
# availability


def _merge(pieces: list[tuple[datetime, datetime, Any]]) -> list[tuple[datetime, datetime, Any]]:
    merged: list[tuple[datetime, datetime, Any]] = []
    for start, end, value in pieces:
        if merged and merged[-1][1] == start and merged[-1][2] == value:
            merged[-1] = (merged[-1][0], end, value)
        else:
            merged.append((start, end, value))
    return merged


async def lab_availability(
    pool: asyncpg.Pool, slug: str, first: date | datetime, end: date | datetime
) -> Availability:
    """Per local date in ``[first, end)``: free windows inside opening hours (outside closures and
    with people room left) and, per equipment, which units are free when. A bound given as a time
    counts from its local date up to the local day that holds ``end``."""
    check_dates(**{"from": first, "to": end})
    async with pool.acquire() as conn:
        lab = await catalog_repository.get_lab_by_slug(conn, slug)
        if lab is None or lab["is_archived"]:
            raise NotFound(f"no lab {slug!r}")
        tz = zone(lab["timezone"])
        first_day, end_day = _local_day(first, tz, up=False), _local_day(end, tz, up=True)
        if end_day <= first_day:
            raise ValidationFailed.field("to", "must be after from")
        if (end_day - first_day).days > MAX_AVAILABILITY_DAYS:
            raise ValidationFailed.field("to", f"ask for at most {MAX_AVAILABILITY_DAYS} days at once")
        hours = [
            Window(h["weekday"], h["opens_at"], h["closes_at"])
            for h in await repository.list_opening_hours(conn, lab["id"])
        ]
        window_start = recurrence.to_instant(datetime.combine(first_day, time()), tz)
        window_end = recurrence.to_instant(datetime.combine(end_day, time()), tz)
        slots = await repository.list_overlapping_slots(conn, lab["id"], window_start, window_end, [])
        units = await repository.list_lab_units(conn, lab["id"])
        holdings = await repository.list_unit_holdings(
            conn, [u["unit_id"] for u in units], window_start, window_end
        )
    closures = [(s["starts_at"], s["ends_at"]) for s in slots if s["kind"] == "closure"]
    people = [(s["starts_at"], s["ends_at"], s["capacity"]) for s in slots if s["kind"] in PEOPLE_KINDS]
    number = {u["unit_id"]: u["number"] for u in units}
    equipment: dict[str, list[asyncpg.Record]] = {}
    for unit in units:
        equipment.setdefault(unit["slug"], []).append(unit)
    days: list[DayAvailability] = []
    day = first_day
    while day < end_day:
        open_pieces = recurrence.subtract(recurrence.day_windows(day, tz, hours), closures)
        free_windows: list[FreeWindow] = []
        for start, end in open_pieces:
            pieces = [
                (s, e, lab["capacity"] - sum(loads))
                for s, e, loads in recurrence.segments(start, end, people)
            ]
            free_windows += [
                FreeWindow(starts_at=s.astimezone(tz), ends_at=e.astimezone(tz), people_free=free)
                for s, e, free in _merge(pieces)
                if free > 0
            ]
        per_equipment: list[EquipmentAvailability] = []
        for equipment_slug, equipment_units in equipment.items():
            out_of_service = equipment_units[0]["is_out_of_service"]
            ids = {u["unit_id"] for u in equipment_units}
            held = [
                (h["starts_at"], h["ends_at"], number[h["unit_id"]]) for h in holdings if h["unit_id"] in ids
            ]
            all_numbers = [u["number"] for u in equipment_units]
            free_units: list[FreeUnits] = []
            for start, end in [] if out_of_service else open_pieces:
                pieces = [
                    (s, e, [n for n in all_numbers if n not in taken])
                    for s, e, taken in recurrence.segments(start, end, held)
                ]
                free_units += [
                    FreeUnits(starts_at=s.astimezone(tz), ends_at=e.astimezone(tz), free_units=numbers)
                    for s, e, numbers in _merge(pieces)
                    if numbers
                ]
            per_equipment.append(
                EquipmentAvailability(
                    equipment=equipment_slug,
                    units=len(equipment_units),
                    is_out_of_service=out_of_service,
                    windows=free_units,
                )
            )
        days.append(DayAvailability(date=day, free_windows=free_windows, equipment=per_equipment))
        day += timedelta(days=1)
    return Availability(lab=lab["slug"], timezone=lab["timezone"], capacity=lab["capacity"], days=days)
