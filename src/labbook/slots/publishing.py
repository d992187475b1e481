"""One slot: publishing, reading, editing and cancelling it.

Every write locks the lab row first (``rules.locked_lab``) and checks the publishing rules there;
the units it holds are picked in ``units``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from labbook import db
from labbook.audit import service as audit
from labbook.bookings import service as bookings_service
from labbook.catalog import service as catalog
from labbook.clock import system_clock
from labbook.core.principal import Principal
from labbook.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from labbook.slots import recurrence, repository
from labbook.slots.repository import Viewer
from labbook.slots.rules import (
    CapacityBelowSeatsTaken,
    LabContext,
    Placement,
    check_instructor,
    check_lab_rules,
    check_not_past,
    check_shape,
    locked_lab,
    resolve_audience,
)
from labbook.slots.schemas import SlotCreate, SlotUpdate, UnitRequest
from labbook.slots.units import hold_units, resolve_units
from labbook.timezones import DEFAULT_TIMEZONE, check_dates, zone

# Columns an edit writes back, each either kept or changed.
UPDATABLE = (
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


def viewer(principal: Principal | None) -> Viewer:
    """``principal`` as the visibility rule (``slot_is_visible``) sees them."""
    if principal is None:
        return Viewer(None, [], False)
    labs = sorted(principal.managed_lab_ids) if "lab_manager" in principal.roles else []
    return Viewer(principal.organization_id, labs, principal.is_admin)


async def audit_view(conn: asyncpg.Connection, slot_id: UUID) -> dict[str, Any] | None:
    row = await repository.get_slot_view(conn, slot_id)
    return None if row is None else db.record_to_dict(row)


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
    await check_lab_rules(conn, lab, placement, [])
    row = await repository.insert_slot(conn, **fields)
    await hold_units(conn, lab, row["id"], units, row["starts_at"], row["ends_at"], [])
    await audit.record(
        conn, actor, "slot.publish", "slot", row["id"], after=await audit_view(conn, row["id"])
    )
    return row


async def create_slot_in(
    conn: asyncpg.Connection,
    actor: Principal,
    lab: asyncpg.Record,
    data: SlotCreate,
    *,
    now: datetime | None = None,
    agreed_by_lab: bool = False,
) -> asyncpg.Record:
    """Check every rule and insert one slot inside the caller's open transaction.

    Takes the lab lock itself; ``data.lab`` is ignored in favour of ``lab``. Returns the ``slots`` row.
    ``agreed_by_lab``: the lab's manager already decided on this slot (a counter-proposal the visiting
    organization now accepts), so the actor need not run the lab.
    Raises ``LabClosed``, ``LabCapacityExceeded``, ``OutsideOpeningHours``, ``UnitTaken``,
    ``EquipmentOutOfService``, ``ValidationFailed`` or ``Forbidden``.
    """
    context = await locked_lab(conn, None if agreed_by_lab else actor, lab["id"])
    check_shape(data.kind, data.starts_at, data.ends_at, data.capacity, data.booking_deadline)
    check_not_past(data.starts_at, system_clock() if now is None else now)
    organization_id = await resolve_audience(conn, data.visibility, data.organization)
    await check_instructor(conn, context.id, data.instructor_id)
    units = await resolve_units(conn, context, data.kind, data.equipment)
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


async def lab_by_slug(conn: asyncpg.Connection, slug: str) -> asyncpg.Record:
    lab = await catalog.find_lab(conn, slug)
    if lab is None:
        raise NotFound(f"no lab {slug!r}")
    return lab


async def publish_slot(
    pool: asyncpg.Pool, actor: Principal, data: SlotCreate, *, now: datetime
) -> asyncpg.Record:
    """Publish one slot in its own transaction; returns the slot as shown to clients."""
    async with db.transaction(pool) as conn:
        lab = await lab_by_slug(conn, data.lab)
        row = await create_slot_in(conn, actor, lab, data, now=now)
        view = await repository.get_slot_view(conn, row["id"])
    assert view is not None
    return view


async def get_slot_for(pool: asyncpg.Pool, principal: Principal | None, slot_id: UUID) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await repository.get_slot_view(conn, slot_id, viewer(principal))
    if row is None:
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
    now: datetime,
    min_seats: int | None = None,
) -> tuple[list[asyncpg.Record], int]:
    """Slots the caller may see, by start (from ``now`` unless ``starts_at`` says otherwise);
    ``min_seats`` keeps those with at least that many seats left (a group that will not fit in a
    session has no use for it). A bound given as a date is midnight in the lab's zone, or without
    ``lab`` in labbook's home zone, ``DEFAULT_TIMEZONE``."""
    if min_seats is not None and min_seats < 1:
        raise ValidationFailed.field("min_seats", "a group needs at least 1 seat")
    async with pool.acquire() as conn:
        lab_row = await lab_by_slug(conn, lab) if lab is not None else None
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
            starts_at=first or now,
            ends_at=last,
            kind=kind,
            has_seats=has_seats,
            include_cancelled=include_cancelled,
            viewer=viewer(principal),
            limit=limit,
            offset=offset,
            now=now,
            min_seats=min_seats,
        )


def _as_instant(name: str, value: date | datetime | None, tz: ZoneInfo) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed.field(name, "give a time zone offset, e.g. 2026-09-01T00:00:00+05:00")
        return value
    check_dates(**{name: value})
    return recurrence.to_instant(datetime.combine(value, time()), tz)


async def editable_slot(
    conn: asyncpg.Connection, actor: Principal, slot_id: UUID
) -> tuple[LabContext, asyncpg.Record]:
    """Lock the slot's lab, then the slot; it must be active and the actor must manage the lab."""
    found = await repository.get_slot(conn, slot_id, viewer(actor))
    if found is None:
        raise NotFound("no such slot")
    lab = await locked_lab(conn, actor, found["lab_id"])
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


async def move_slot(
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
    units = await resolve_units(conn, lab, slot["kind"], current if unit_requests is None else unit_requests)
    placement = Placement(
        slot["kind"], fields["starts_at"], fields["ends_at"], fields["capacity"], fields["is_outside_hours"]
    )
    await check_lab_rules(conn, lab, placement, [slot["id"]])
    before = await audit_view(conn, slot["id"])
    await repository.delete_slot_units(conn, slot["id"])
    row = await repository.update_slot(conn, slot["id"], fields)
    await hold_units(conn, lab, slot["id"], units, row["starts_at"], row["ends_at"], held)
    if row["capacity"] > slot["capacity"]:
        await bookings_service.serve_waitlist(conn, actor, row)
    after = await audit_view(conn, slot["id"])
    await audit.record(conn, actor, "slot.update", "slot", slot["id"], before=before, after=after)
    return row


def _patched(slot: asyncpg.Record, data: SlotUpdate) -> dict[str, Any]:
    """The slot's columns with the PATCH body's fields laid over them."""
    fields = {key: slot[key] for key in UPDATABLE}
    for key in _PATCHABLE:
        value = getattr(data, key)
        if value is not msgspec.UNSET:
            fields[key] = value
    if data.outside_hours is not msgspec.UNSET:
        fields["is_outside_hours"] = data.outside_hours
    return fields


async def _new_audience(
    conn: asyncpg.Connection, slot: asyncpg.Record, data: SlotUpdate, visibility: str
) -> int | None:
    """The organization id of the slot's audience after the edit; a private one must hold no
    active bookings of other organizations."""
    if data.organization is not msgspec.UNSET:
        organization = data.organization
    elif visibility == "public":
        organization = None
    else:
        organization = await _organization_slug(conn, slot)
    organization_id = await resolve_audience(conn, visibility, organization)
    if visibility == "private":
        await _check_audience_bookings(conn, slot["id"], organization, organization_id)
    return organization_id


async def update_slot(
    pool: asyncpg.Pool, actor: Principal, slot_id: UUID, data: SlotUpdate, *, now: datetime
) -> asyncpg.Record:
    """Edit one slot (or one occurrence of a series, which keeps its ``occurrence_start``)."""
    async with db.transaction(pool) as conn:
        await update_slot_in(conn, actor, slot_id, data, now=now)
        view = await repository.get_slot_view(conn, slot_id)
    assert view is not None
    return view


async def update_slot_in(
    conn: asyncpg.Connection, actor: Principal, slot_id: UUID, data: SlotUpdate, *, now: datetime
) -> asyncpg.Record:
    """``update_slot`` inside the caller's transaction; returns the ``slots`` row."""
    lab, slot = await editable_slot(conn, actor, slot_id)
    fields = _patched(slot, data)
    check_shape(
        slot["kind"], fields["starts_at"], fields["ends_at"], fields["capacity"], fields["booking_deadline"]
    )
    if fields["starts_at"] != slot["starts_at"]:
        check_not_past(fields["starts_at"], now)
    if slot["series_id"] is not None:
        await repository.touch_series(conn, [slot["series_id"]])
    if data.instructor_id is not msgspec.UNSET:
        await check_instructor(conn, lab.id, data.instructor_id)
    if data.visibility is not msgspec.UNSET or data.organization is not msgspec.UNSET:
        fields["organization_id"] = await _new_audience(conn, slot, data, fields["visibility"])
    units = None if data.equipment is msgspec.UNSET else data.equipment
    return await move_slot(conn, actor, lab, slot, fields, units)


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


async def cancel_slot_rows(
    conn: asyncpg.Connection, actor: Principal, slot_id: UUID, reason: str | None
) -> asyncpg.Record:
    """Cancel the slot, release its units and cancel its bookings, in the caller's transaction."""
    before = await audit_view(conn, slot_id)
    row = await repository.cancel_slot(conn, slot_id)
    await repository.deactivate_slot_units(conn, slot_id)
    bookings = await repository.cancel_bookings(conn, slot_id, reason)
    after = await audit_view(conn, slot_id)
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
        await cancel_slot_in(conn, actor, slot_id, reason)
        view = await repository.get_slot_view(conn, slot_id)
    assert view is not None
    return view


async def cancel_slot_in(
    conn: asyncpg.Connection, actor: Principal, slot_id: UUID, reason: str | None
) -> asyncpg.Record:
    """``cancel_slot`` inside the caller's transaction; returns the ``slots`` row."""
    _, slot = await editable_slot(conn, actor, slot_id)
    if slot["series_id"] is not None:
        await repository.touch_series(conn, [slot["series_id"]])
    return await cancel_slot_rows(conn, actor, slot_id, reason)
