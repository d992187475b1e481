"""Booking seats, the booking state machine and the waitlist.

Seats are taken only by the conditional UPDATE in ``repository.book_seats`` (invariant 2), which
admits a booking only when the database's ``booking_refusal`` (migrations/0070) finds no reason
against it; when it matches nothing, the slot is read once more with that reason, and ``refusal``
puts it into words. Releasing seats happens in the same transaction as the status change and holds
the slot row until the waitlist has been served.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from labbook import db
from labbook.audit import service as audit
from labbook.bookings import repository
from labbook.bookings.repository import Admission
from labbook.bookings.schemas import BookingCreate, BookingFilter
from labbook.core.principal import Principal
from labbook.errors import (
    BookingWindowClosed,
    Conflict,
    IllegalTransition,
    LabbookError,
    NotFound,
    SlotFull,
    ValidationFailed,
)
from labbook.timezones import zone

HOLDS_SEATS = ("pending", "confirmed")
# action -> (new status, statuses it may leave)
TRANSITIONS: dict[str, tuple[str, list[str]]] = {
    "confirm": ("confirmed", ["pending"]),
    "decline": ("declined", ["pending"]),
    "cancel": ("cancelled", ["pending", "confirmed", "waitlisted"]),
}
# A booking whose seats were freed concurrently between the UPDATE and the read is simply retried.
_ATTEMPTS = 3


class SlotNotBookable(Conflict):
    """The slot exists but takes no bookings: cancelled, maintenance/closure, or private to another org."""

    slug = "slot-not-bookable"
    title = "Slot takes no bookings"


class SeriesNotBookable(Conflict):
    """Some remaining occurrence of a series cannot be booked; ``failures`` lists each and why."""

    slug = "series-not-bookable"
    title = "Series cannot be booked as a whole"


async def organization_for(conn: asyncpg.Connection, me: Principal, slug: str | None) -> int:
    """The organization a booking is for: the director's own, or the one an admin names."""
    if slug is None:
        if "director" in me.roles:
            return me.organization_id
        raise ValidationFailed.field("organization", "name the organization (slug) this booking is for")
    row = await repository.get_organization_by_slug(conn, slug)
    if row is None or row["is_archived"]:
        raise ValidationFailed.field("organization", f"no organization {slug!r}")
    me.require_organization(row["id"])
    organization_id: int = row["id"]
    return organization_id


def refusal(
    slot: Mapping[str, Any] | None, me: Principal, *, headcount: int, language: str
) -> LabbookError | None:
    """The words for ``slot["refusal"]``, the reason code ``booking_refusal`` gave in the database;
    ``None`` when it admits the booking."""
    if slot is None:
        return NotFound("no such slot")
    code = slot["refusal"]
    if code is None:
        return None
    slot_id = slot["id"]
    local = zone(slot["lab_timezone"])
    starts_at = slot["starts_at"].astimezone(local)
    match code:
        case "private" if not me.is_admin:
            return NotFound("no such slot")
        case "private":
            return SlotNotBookable("the slot is private to another organization", slot_id=slot_id)
        case "language":
            return ValidationFailed.field(
                "language", f"this lab offers visits in {', '.join(slot['languages'])}, not {language}"
            )
        case "cancelled":
            return SlotNotBookable("the slot is cancelled", slot_id=slot_id, slot_status=slot["status"])
        case "kind":
            return SlotNotBookable(
                f"a {slot['kind']} slot takes no bookings", slot_id=slot_id, kind=slot["kind"]
            )
        case "deadline":
            return BookingWindowClosed(
                "the booking deadline has passed",
                slot_id=slot_id,
                booking_deadline=slot["booking_deadline"].astimezone(local).isoformat(),
            )
        case "notice":
            return BookingWindowClosed(
                f"this lab needs {slot['min_notice_hours']} hours' notice",
                slot_id=slot_id,
                starts_at=starts_at.isoformat(),
                min_notice_hours=slot["min_notice_hours"],
            )
        case "advance":
            return BookingWindowClosed(
                f"this lab takes bookings at most {slot['max_advance_days']} days ahead",
                slot_id=slot_id,
                starts_at=starts_at.isoformat(),
                max_advance_days=slot["max_advance_days"],
                opens_at=(starts_at - timedelta(days=slot["max_advance_days"])).isoformat(),
            )
    seats_left = slot["capacity"] - slot["seats_taken"]
    return SlotFull(
        f"{seats_left} seats left, {headcount} requested",
        slot_id=slot_id,
        seats_left=seats_left,
        requested=headcount,
        capacity=slot["capacity"],
    )


# The reasons ``booking_refusal`` gives that hold for every group: the slot takes no booking now.
CLOSED_TO_EVERYONE = ("cancelled", "kind", "deadline", "notice", "advance")


async def closed_to_booking(
    pool: asyncpg.Pool, me: Principal, slot_id: UUID, *, language: str, now: datetime
) -> LabbookError | None:
    """Why a slot takes no booking from anyone right now (cancelled, not open to visitors, outside
    its booking window); ``None`` while it takes some.

    Asked of ``booking_refusal`` exactly as a booking is, so a page never offers a form that cannot
    succeed and never hides one that could. ``language`` must be one the lab offers.
    """
    asking = Admission(organization_id=me.organization_id, headcount=0, language=language, now=now)
    async with pool.acquire() as conn:
        slot = await repository.get_slot_for_booking(conn, slot_id, asking)
    if slot is None or slot["refusal"] not in CLOSED_TO_EVERYONE:
        return None
    return refusal(slot, me, headcount=0, language=language)


async def _insert(
    conn: asyncpg.Connection,
    me: Principal,
    slot: Mapping[str, Any],
    *,
    organization_id: int,
    data: BookingCreate,
    status: str,
    group_id: UUID | None,
    contact_person: UUID | None = None,
) -> dict[str, Any]:
    """Insert and audit a booking whose seats are already settled (taken by the caller, or waitlisted).

    Contact details missing from ``data`` come from ``contact_person``'s profile (by default the booker).
    """
    row = await repository.insert_booking(
        conn,
        slot_id=slot["id"],
        organization_id=organization_id,
        booked_by=me.person_id,
        group_id=group_id,
        headcount=data.headcount,
        contact_name=data.contact_name,
        contact_email=data.contact_email,
        contact_phone=data.contact_phone,
        language=data.language,
        age_group=data.age_group,
        notes=data.notes,
        status=status,
        contact_person=me.person_id if contact_person is None else contact_person,
    )
    await audit.record(conn, me, "booking.create", "booking", row["id"], after=row)
    booking = dict(row.items())
    booking.update(
        lab_id=slot["lab_id"],
        lab_slug=slot["lab_slug"],
        lab_timezone=slot["lab_timezone"],
        address=slot["address"],
        building=slot["building"],
        room=slot["room"],
        starts_at=slot["starts_at"],
        ends_at=slot["ends_at"],
        title=slot["title"],
    )
    return booking


async def _take_and_book(
    conn: asyncpg.Connection,
    me: Principal,
    slot_id: UUID,
    *,
    organization_id: int,
    data: BookingCreate,
    group_id: UUID | None,
    now: datetime,
) -> dict[str, Any] | None:
    """The hot path: one statement takes the seats, inserts the booking and audits it."""
    row = await repository.book_seats(
        conn,
        slot_id,
        organization_id=organization_id,
        booked_by=me.person_id,
        group_id=group_id,
        headcount=data.headcount,
        contact_name=data.contact_name,
        contact_email=data.contact_email,
        contact_phone=data.contact_phone,
        language=data.language,
        age_group=data.age_group,
        notes=data.notes,
        now=now,
        audit_event=audit.statement_event(me, "booking.create", "booking"),
    )
    if row is None:
        return None
    return dict(row.items())


async def _refused(
    conn: asyncpg.Connection, me: Principal, slot_id: UUID, asking: Admission, data: BookingCreate
) -> dict[str, Any]:
    """After the hot path took nothing, inside a transaction: waitlist the booking or say why not.

    Seats freed concurrently since the refused attempt are taken after all.
    """
    for _ in range(_ATTEMPTS):
        # With a waitlist the slot row stays locked from this read to commit, so a release running
        # now either finishes first (and we take its seats) or serves the waitlist after us.
        slot = await repository.get_slot_for_booking(conn, slot_id, asking, lock=data.waitlist)
        why = refusal(slot, me, headcount=data.headcount, language=data.language)
        if isinstance(why, SlotFull) and data.waitlist and slot is not None:
            if data.headcount > slot["capacity"]:
                raise why
            return await _insert(
                conn,
                me,
                slot,
                organization_id=asking.organization_id,
                data=data,
                status="waitlisted",
                group_id=None,
            )
        if why is not None:
            raise why
        booked = await _take_and_book(
            conn,
            me,
            slot_id,
            organization_id=asking.organization_id,
            data=data,
            group_id=None,
            now=asking.now,
        )
        if booked is not None:
            return booked
    raise SlotFull("the last seats went to concurrent bookings; try again", slot_id=slot_id)


async def book_new_slot(
    conn: asyncpg.Connection,
    me: Principal,
    slot: Mapping[str, Any],
    *,
    lab: Mapping[str, Any],
    organization_id: int,
    data: BookingCreate,
    contact_person: UUID,
) -> dict[str, Any]:
    """A confirmed booking filling a slot made just for it (an accepted visit request), in ``conn``.

    Contact details missing from ``data`` come from ``contact_person`` (who asked for the visit).
    """
    taken = await repository.take_seats_unchecked(conn, slot["id"], data.headcount)
    if taken is None:
        raise SlotFull(
            f"the slot holds {slot['capacity']} people, not {data.headcount}",
            slot_id=slot["id"],
            seats_left=slot["capacity"] - slot["seats_taken"],
            requested=data.headcount,
        )
    return await _insert(
        conn,
        me,
        {
            **slot,
            "lab_slug": lab["slug"],
            "lab_timezone": lab["timezone"],
            "address": lab["address"],
            "building": lab["building"],
            "room": lab["room"],
        },
        organization_id=organization_id,
        data=data,
        status="confirmed",
        group_id=None,
        contact_person=contact_person,
    )


async def book_seats(
    pool: asyncpg.Pool, me: Principal, slot_id: UUID, data: BookingCreate, *, now: datetime
) -> dict[str, Any]:
    """Book seats in one slot as of ``now``; ``waitlist`` queues the booking when the slot is full."""
    async with pool.acquire() as conn:
        return await book_seats_in(conn, me, slot_id, data, now=now)


async def book_seats_in(
    conn: asyncpg.Connection, me: Principal, slot_id: UUID, data: BookingCreate, *, now: datetime
) -> dict[str, Any]:
    """``book_seats`` on ``conn``, inside the caller's transaction if it has one."""
    organization_id = await organization_for(conn, me, data.organization)
    # Usually the seats are free: the one statement that takes them, books and audits commits on
    # its own. Only a refusal (to explain, or to waitlist) needs a transaction around several.
    booked = await _take_and_book(
        conn, me, slot_id, organization_id=organization_id, data=data, group_id=None, now=now
    )
    if booked is not None:
        return booked
    asking = Admission(organization_id, data.headcount, data.language, now)
    async with conn.transaction():
        return await _refused(conn, me, slot_id, asking, data)


def _failure(slot: Mapping[str, Any], why: LabbookError) -> dict[str, Any]:
    return {
        "slot_id": str(slot["id"]),
        "starts_at": slot["starts_at"].astimezone(zone(slot["lab_timezone"])).isoformat(),
        "type": why.type,
        "detail": why.detail,
        **{k: v for k, v in why.members.items() if k != "slot_id"},
    }


async def book_series(
    pool: asyncpg.Pool, me: Principal, series_id: UUID, data: BookingCreate, *, now: datetime
) -> tuple[UUID, list[dict[str, Any]]]:
    """Book every remaining active occurrence of a series as of ``now``, all or nothing."""
    async with db.transaction(pool) as conn:
        return await book_series_in(conn, me, series_id, data, now=now)


async def book_series_in(
    conn: asyncpg.Connection, me: Principal, series_id: UUID, data: BookingCreate, *, now: datetime
) -> tuple[UUID, list[dict[str, Any]]]:
    """``book_series`` inside the caller's transaction."""
    if data.waitlist:
        raise ValidationFailed.field("waitlist", "a series is booked whole or not at all; it has no waitlist")
    organization_id = await organization_for(conn, me, data.organization)
    series = await repository.get_series(
        conn, series_id, organization_id=organization_id, sees_all=me.is_admin
    )
    if series is None:
        raise NotFound("no such series")
    asking = Admission(organization_id, data.headcount, data.language, now)
    occurrences = await repository.list_series_remaining(conn, series_id, asking)
    if not occurrences:
        raise SlotNotBookable("the series has no remaining occurrences", series_id=series_id)
    group_id = uuid4()
    booked: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for slot in occurrences:
        why: LabbookError | None
        if failures:
            # Nothing will be kept any more: the listing explains the rest without taking seats.
            why = refusal(slot, me, headcount=data.headcount, language=data.language)
            if why is None:
                continue
        else:
            booked_one = await _take_and_book(
                conn,
                me,
                slot["id"],
                organization_id=organization_id,
                data=data,
                group_id=group_id,
                now=now,
            )
            if booked_one is not None:
                booked.append(booked_one)
                continue
            fresh = await repository.get_slot_for_booking(conn, slot["id"], asking)
            why = refusal(fresh, me, headcount=data.headcount, language=data.language) or SlotFull(
                "the last seats went to a concurrent booking", slot_id=slot["id"]
            )
        failures.append(_failure(slot, why))
    if failures:
        raise SeriesNotBookable(
            f"{len(failures)} of {len(occurrences)} remaining occurrences cannot be booked",
            series_id=str(series_id),
            failures=failures,
        )
    return group_id, booked


async def get_booking(pool: asyncpg.Pool, me: Principal, booking_id: UUID) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await repository.get_booking(conn, booking_id)
    if row is None or not me.is_party_to(row["organization_id"], row["lab_id"]):
        raise NotFound("no such booking")
    return row


async def list_bookings(
    pool: asyncpg.Pool, me: Principal, query: BookingFilter
) -> tuple[list[asyncpg.Record], int]:
    """Bookings the caller may see: an admin all, a director their org's, a manager their labs'."""
    async with pool.acquire() as conn:
        return await repository.list_bookings(
            conn,
            see_all=me.is_admin,
            organization_id=me.organization_id if "director" in me.roles else None,
            lab_ids=sorted(me.managed_lab_ids) if "lab_manager" in me.roles else [],
            query=query,
        )


async def serve_waitlist(conn: asyncpg.Connection, me: Principal, slot: Mapping[str, Any]) -> None:
    """Promote the oldest waitlisted bookings that fit into the slot's free seats.

    Runs inside the caller's transaction, which holds the slot row lock (seats just released, or the
    capacity just raised), so no other booking or release of the slot can interleave.
    """
    if slot["status"] != "active":
        return
    free = slot["capacity"] - slot["seats_taken"]
    promoted_status = "pending" if slot["requires_approval"] else "confirmed"
    for waiting in await repository.list_waitlisted(conn, slot["id"]):
        if free <= 0:
            return
        if waiting["headcount"] > free:
            continue
        row = await repository.promote(conn, waiting["id"], promoted_status)
        if row is None:
            continue
        taken = await repository.take_seats_unchecked(conn, slot["id"], row["headcount"])
        if taken is None:
            raise SlotFull("seats freed for the waitlist were taken", slot_id=slot["id"])
        free = taken["capacity"] - taken["seats_taken"]
        await audit.record(
            conn,
            me,
            "booking.promote",
            "booking",
            row["id"],
            before={"status": "waitlisted", "sequence": row["sequence"] - 1},
            after=row,
        )


async def release_booking_seats(
    conn: asyncpg.Connection, me: Principal, slot_id: UUID, headcount: int
) -> None:
    """Give a booking's seats back to its slot and serve the waitlist, inside the caller's transaction."""
    slot = await repository.release_seats(conn, slot_id, headcount)
    await serve_waitlist(conn, me, slot)


async def change_status(
    pool: asyncpg.Pool, me: Principal, booking_id: UUID, action: str, message: str | None
) -> dict[str, Any]:
    """Confirm, decline or cancel a booking; a transition the state machine forbids is a 409."""
    async with db.transaction(pool) as conn:
        return await change_status_in(conn, me, booking_id, action, message)


async def change_status_in(
    conn: asyncpg.Connection, me: Principal, booking_id: UUID, action: str, message: str | None
) -> dict[str, Any]:
    """``change_status`` inside the caller's transaction."""
    to, allowed_from = TRANSITIONS[action]
    current = await repository.get_booking(conn, booking_id)
    if current is None or not me.is_party_to(current["organization_id"], current["lab_id"]):
        raise NotFound("no such booking")
    # Whoever may see a booking may cancel it; confirming and declining is the lab's business.
    if action != "cancel":
        me.require_lab(current["lab_id"])
    # A booking never changes slots, so the unlocked read names the right one to lock first.
    await repository.lock_slot(conn, current["slot_id"])
    row = await repository.transition(conn, booking_id, to=to, allowed_from=allowed_from, message=message)
    if row is None:
        status = await repository.get_status(conn, booking_id)
        raise IllegalTransition(
            f"a {status} booking cannot be {to}", current_status=status, booking_id=str(booking_id)
        )
    await audit.record(
        conn,
        me,
        f"booking.{action}",
        "booking",
        booking_id,
        before={
            "status": row["previous_status"],
            "status_message": row["previous_message"],
            "sequence": row["previous_sequence"],
            "updated_at": row["previous_updated_at"],
        },
        after={k: v for k, v in row.items() if not k.startswith("previous_")},
    )
    if row["previous_status"] in HOLDS_SEATS and to not in HOLDS_SEATS:
        await release_booking_seats(conn, me, row["slot_id"], row["headcount"])
    booking = dict(current.items())
    booking.update((k, v) for k, v in row.items() if not k.startswith("previous_"))
    return booking
