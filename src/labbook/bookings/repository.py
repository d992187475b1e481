"""SQL for bookings and the seat counter on slots (invariant 2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from labbook.audit import service as audit
from labbook.bookings.schemas import BookingFilter

_BOOKING_COLUMNS = """
b.id, b.slot_id, b.organization_id, b.booked_by, b.group_id, b.headcount, b.contact_name,
b.contact_email, b.contact_phone, b.language, b.age_group, b.notes, b.status, b.status_message,
b.sequence, b.created_at, b.updated_at
"""
# A booking together with what its reply shows of the slot, lab and organization.
_BOOKING_VIEW = f"""
select {_BOOKING_COLUMNS}, o.slug as organization_slug, s.lab_id, l.slug as lab_slug,
       l.timezone as lab_timezone, l.address, l.building, l.room,
       s.starts_at, s.ends_at, s.title
from bookings b
join slots s on s.id = b.slot_id
join labs l on l.id = s.lab_id
join organizations o on o.id = b.organization_id
"""

# Contact details left out of a booking are those of the person's profile (the director who books,
# or who asked for the visit).
_CONTACT_EMAIL = "coalesce({given}, (select p.email from people p where p.id = {person}))"
_CONTACT_PHONE = "coalesce({given}, (select p.phone from people p where p.id = {person}))"

# The only way seats are taken: one conditional UPDATE admitting the booking only when the database's
# ``booking_refusal`` (migrations/0070) finds no reason against it, so two bookings can never both
# get the last seat and the rules are written once. The same statement inserts the booking and its audit
# event, so the usual case costs one round trip and, on its own, commits all three or none; when
# nothing comes back, nothing was written and the caller reads the slot to say why.
BOOK_SEATS = f"""
with taken as (
    update slots s
    set seats_taken = s.seats_taken + $2, updated_at = now(), sequence = s.sequence + 1
    from labs l
    where s.id = $1
      and l.id = s.lab_id
      and booking_refusal(s, l, $3, $2, $9, $12) is null
    returning s.id, s.lab_id, l.slug as lab_slug, l.timezone as lab_timezone, l.address, l.building,
              l.room, s.starts_at, s.ends_at, s.title, s.requires_approval
), booked as (
    insert into bookings as b (slot_id, organization_id, booked_by, group_id, headcount, contact_name,
                               contact_email, contact_phone, language, age_group, notes, status)
    select taken.id, $3, $4, $5, $2, $6, {_CONTACT_EMAIL.format(person="$4", given="$7")},
           {_CONTACT_PHONE.format(person="$4", given="$8")}, $9, $10, $11,
           case when taken.requires_approval then 'pending' else 'confirmed' end
    from taken
    returning {_BOOKING_COLUMNS}
), reply as (
    select k.*, t.lab_id, t.lab_slug, t.lab_timezone, t.address, t.building, t.room, t.starts_at,
           t.ends_at, t.title,
           (select o.slug from organizations o where o.id = k.organization_id) as organization_slug
    from booked k
    join taken t on t.id = k.slot_id
), {audit.insert_events_from("reply", 13)}
select * from reply
"""
# Seats for a promoted waitlisted booking or a visit request's own slot: the caller has already
# checked the booking rules, only the counter is left.
TAKE_SEATS_UNCHECKED = """
update slots
set seats_taken = seats_taken + $2, updated_at = now(), sequence = sequence + 1
where id = $1 and status = 'active' and seats_taken + $2 <= capacity
returning id, capacity, seats_taken
"""
RELEASE_SEATS = """
update slots
set seats_taken = seats_taken - $2, updated_at = now(), sequence = sequence + 1
where id = $1
returning id, status, starts_at, capacity, seats_taken, requires_approval
"""
# A slot as a booking of $3 seats for organization $2 in language $4 at $5 would find it, with the
# reason (``booking_refusal``) it would be refused, or null.
_SLOT_FOR_BOOKING = """
select s.id, s.lab_id, s.series_id, s.kind, s.status, s.visibility, s.organization_id, s.capacity,
       s.seats_taken, s.starts_at, s.ends_at, s.title, s.booking_deadline, s.requires_approval,
       l.slug as lab_slug, l.timezone as lab_timezone, l.address, l.building, l.room, l.languages,
       l.min_notice_hours, l.max_advance_days,
       booking_refusal(s, l, $2, $3, $4, $5) as refusal
from slots s
join labs l on l.id = s.lab_id
"""
GET_SLOT_FOR_BOOKING = _SLOT_FOR_BOOKING + "where s.id = $1"
LOCK_SLOT_FOR_BOOKING = _SLOT_FOR_BOOKING + "where s.id = $1 for update of s"
LIST_SERIES_REMAINING = (
    _SLOT_FOR_BOOKING + "where s.series_id = $1 and s.status = 'active' and s.starts_at > $5 "
    "order by s.starts_at, s.id"
)
# The series as organization $2 (or, $3, an admin) would see it to book: ``slot_is_visible``.
GET_SERIES = """
select id, lab_id, status, visibility, organization_id from slot_series s
where id = $1 and slot_is_visible(s.visibility, s.organization_id, s.lab_id, $2::int, '{}', $3::boolean)
"""

INSERT_BOOKING = f"""
insert into bookings as b (slot_id, organization_id, booked_by, group_id, headcount, contact_name,
                           contact_email, contact_phone, language, age_group, notes, status)
values ($1, $2, $3, $4, $5, $6, {_CONTACT_EMAIL.format(person="$13", given="$7")},
        {_CONTACT_PHONE.format(person="$13", given="$8")}, $9, $10, $11, $12)
returning {_BOOKING_COLUMNS},
          (select o.slug from organizations o where o.id = b.organization_id) as organization_slug
"""
GET_BOOKING = _BOOKING_VIEW + "where b.id = $1"
# The CTE locks the row and reads its newest version, so of two concurrent transitions exactly one
# sees an allowed status; the other matches nothing and is told the status it lost to.
TRANSITION = f"""
with old as (
    select id, status, status_message, sequence, updated_at from bookings where id = $1 for update
)
update bookings b
set status = $2, status_message = $3, updated_at = now(), sequence = b.sequence + 1
from old
where b.id = old.id and old.status = any($4::text[])
returning {_BOOKING_COLUMNS}, old.status as previous_status, old.status_message as previous_message,
          old.sequence as previous_sequence, old.updated_at as previous_updated_at
"""
GET_STATUS = "select status from bookings where id = $1"
# Every path that changes a booking and its slot's seats locks the slot row first, as slot cancel and
# slot edits do (lab, then slot, then bookings), so the two never wait on each other in a cycle.
LOCK_SLOT = "select id from slots where id = $1 for update"
LIST_WAITLISTED = """
select id, headcount from bookings
where slot_id = $1 and status = 'waitlisted'
order by created_at, id
"""
PROMOTE = f"""
update bookings b
set status = $2, updated_at = now(), sequence = b.sequence + 1
where b.id = $1 and b.status = 'waitlisted'
returning {_BOOKING_COLUMNS}
"""
_VISIBLE = """
where ($1::boolean or b.organization_id = $2 or s.lab_id = any($3::int[]))
  and ($4::text is null or b.status = $4)
  and ($5::text is null or l.slug = $5)
  and ($6::uuid is null or b.slot_id = $6)
  and ($7::timestamptz is null or s.starts_at >= $7)
  and ($8::timestamptz is null or s.starts_at < $8)
"""
LIST_BOOKINGS = _BOOKING_VIEW + _VISIBLE + "order by s.starts_at, b.created_at, b.id limit $9 offset $10"
COUNT_BOOKINGS = (
    """
select count(*)
from bookings b
join slots s on s.id = b.slot_id
join labs l on l.id = s.lab_id
"""
    + _VISIBLE
)
GET_ORGANIZATION_BY_SLUG = "select id, slug, is_archived from organizations where slug = $1"


async def book_seats(
    conn: asyncpg.Connection,
    slot_id: UUID,
    *,
    organization_id: int,
    booked_by: UUID | None,
    group_id: UUID | None,
    headcount: int,
    contact_name: str,
    contact_email: str | None,
    contact_phone: str | None,
    language: str,
    age_group: str | None,
    notes: str | None,
    now: datetime,
    audit_event: tuple[Any, ...],
) -> asyncpg.Record | None:
    """Take the seats, insert the booking and audit it if every rule holds; ``None`` otherwise.

    Missing contact details come from ``booked_by``'s profile. ``audit_event`` comes from
    ``audit.service.statement_event``.
    """
    return await conn.fetchrow(
        BOOK_SEATS,
        slot_id,
        headcount,
        organization_id,
        booked_by,
        group_id,
        contact_name,
        contact_email,
        contact_phone,
        language,
        age_group,
        notes,
        now,
        *audit_event,
    )


async def take_seats_unchecked(
    conn: asyncpg.Connection, slot_id: UUID, headcount: int
) -> asyncpg.Record | None:
    return await conn.fetchrow(TAKE_SEATS_UNCHECKED, slot_id, headcount)


async def release_seats(conn: asyncpg.Connection, slot_id: UUID, headcount: int) -> asyncpg.Record:
    return await conn.fetchrow(RELEASE_SEATS, slot_id, headcount)


@dataclass(frozen=True, slots=True)
class Admission:
    """What a booking asks of a slot: seats for an organization, in a language, at an instant."""

    organization_id: int
    headcount: int
    language: str
    now: datetime


async def get_slot_for_booking(
    conn: asyncpg.Connection, slot_id: UUID, asking: Admission, *, lock: bool = False
) -> asyncpg.Record | None:
    """The slot with ``refusal``: why it would refuse ``asking`` (``None``: it would admit it)."""
    return await conn.fetchrow(
        LOCK_SLOT_FOR_BOOKING if lock else GET_SLOT_FOR_BOOKING,
        slot_id,
        asking.organization_id,
        asking.headcount,
        asking.language,
        asking.now,
    )


async def get_series(
    conn: asyncpg.Connection, series_id: UUID, *, organization_id: int, sees_all: bool
) -> asyncpg.Record | None:
    """The series, or ``None`` when there is none that ``organization_id`` may book in."""
    return await conn.fetchrow(GET_SERIES, series_id, organization_id, sees_all)


async def list_series_remaining(
    conn: asyncpg.Connection, series_id: UUID, asking: Admission
) -> list[asyncpg.Record]:
    """The series' active occurrences still ahead at ``asking.now``, each with its ``refusal``."""
    return await conn.fetch(
        LIST_SERIES_REMAINING,
        series_id,
        asking.organization_id,
        asking.headcount,
        asking.language,
        asking.now,
    )


async def insert_booking(
    conn: asyncpg.Connection,
    *,
    slot_id: UUID,
    organization_id: int,
    booked_by: UUID | None,
    group_id: UUID | None,
    headcount: int,
    contact_name: str,
    contact_email: str | None,
    contact_phone: str | None,
    language: str,
    age_group: str | None,
    notes: str | None,
    status: str,
    contact_person: UUID | None,
) -> asyncpg.Record:
    """Insert a booking; missing contact details come from ``contact_person``'s profile."""
    return await conn.fetchrow(
        INSERT_BOOKING,
        slot_id,
        organization_id,
        booked_by,
        group_id,
        headcount,
        contact_name,
        contact_email,
        contact_phone,
        language,
        age_group,
        notes,
        status,
        contact_person,
    )


async def get_booking(conn: asyncpg.Connection, booking_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_BOOKING, booking_id)


async def lock_slot(conn: asyncpg.Connection, slot_id: UUID) -> None:
    await conn.execute(LOCK_SLOT, slot_id)


async def transition(
    conn: asyncpg.Connection, booking_id: UUID, *, to: str, allowed_from: list[str], message: str | None
) -> asyncpg.Record | None:
    return await conn.fetchrow(TRANSITION, booking_id, to, message, allowed_from)


async def get_status(conn: asyncpg.Connection, booking_id: UUID) -> str | None:
    status: str | None = await conn.fetchval(GET_STATUS, booking_id)
    return status


async def list_waitlisted(conn: asyncpg.Connection, slot_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_WAITLISTED, slot_id)


async def promote(conn: asyncpg.Connection, booking_id: UUID, to: str) -> asyncpg.Record | None:
    return await conn.fetchrow(PROMOTE, booking_id, to)


async def list_bookings(
    conn: asyncpg.Connection,
    *,
    see_all: bool,
    organization_id: int | None,
    lab_ids: list[int],
    query: BookingFilter,
) -> tuple[list[asyncpg.Record], int]:
    args = (
        see_all,
        organization_id,
        lab_ids,
        query.status,
        query.lab,
        query.slot,
        query.starts_from,
        query.starts_to,
    )
    total: int = await conn.fetchval(COUNT_BOOKINGS, *args)
    rows = await conn.fetch(LIST_BOOKINGS, *args, query.limit, query.offset) if total else []
    return rows, total


async def get_organization_by_slug(conn: asyncpg.Connection, slug: str) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_ORGANIZATION_BY_SLUG, slug)
