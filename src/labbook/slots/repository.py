"""SQL for slots, the units they hold, series and availability.

Overlap queries are written as ``int4range(x, x, '[]') = int4range($n, $n, '[]') and during && $m``:
the same expressions as ``ix_slots_lab_during`` and ``ex_slot_units_overlap``, so the GiST index
narrows on both the lab (or unit) and the time range. ``lab_id = $n`` instead leaves the index only
the range to work with, which is about ten times slower at a million rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from labbook import db
from labbook.errors import LabClosed

LAB_COLUMNS = "id, slug, organization_id, timezone, capacity, is_archived"

LOCK_LAB = f"select {LAB_COLUMNS} from labs where id = $1 for update"
GET_LAB = f"select {LAB_COLUMNS} from labs where id = $1"
GET_ORGANIZATION_ID = "select id from organizations where slug = $1 and not is_archived"
GET_ORGANIZATION_SLUG = "select slug from organizations where id = $1"
# Who may teach in a lab: active staff of the lab's host organization with a teaching role.
GET_INSTRUCTOR_STANDING = """
select p.is_active,
       p.organization_id = l.organization_id as is_host_staff,
       p.roles && array['instructor', 'lab_manager']::text[] as may_teach
from people p, labs l
where p.id = $1 and l.id = $2
"""

LIST_OPENING_HOURS = """
select weekday, opens_at, closes_at from opening_hours where lab_id = $1 order by weekday, opens_at
"""

SLOT_COLUMNS = """
id, lab_id, series_id, occurrence_start, kind, title, description, starts_at, ends_at, capacity,
seats_taken, visibility, organization_id, booking_deadline, requires_approval, is_outside_hours,
instructor_id, status, sequence, created_by, created_at, updated_at
"""


# Visible to viewer $n, $n+1, $n+2 (organization, managed labs, sees all): the one visibility rule,
# ``slot_is_visible`` (migrations/0070), for slots (alias ``s``) and series alike.
def _visible(n: int, alias: str = "s") -> str:
    return (
        f"slot_is_visible({alias}.visibility, {alias}.organization_id, {alias}.lab_id, "
        f"${n}::int, ${n + 1}::int[], ${n + 2}::boolean)"
    )


GET_SLOT_FOR = f"select {SLOT_COLUMNS} from slots s where id = $1 and {_visible(2)}"
LOCK_SLOT = f"select {SLOT_COLUMNS} from slots where id = $1 for update"

OVERLAPPING_SLOTS = """
select id, kind, capacity, starts_at, ends_at
from slots
where int4range(lab_id, lab_id, '[]') = int4range($1, $1, '[]')
  and during && tstzrange($2, $3, '[)')
  and status = 'active'
  and id <> all($4::uuid[])
order by starts_at, id
"""

LAB_EQUIPMENT = """
select id, slug, units, seats_per_unit, is_out_of_service, is_archived
from equipment
where lab_id = $1 and slug = any($2::text[])
"""

# Free units of one equipment: the units with no active holding overlapping the range; units the
# slot held before an edit come first, so an edit keeps its stations when it can.
PICK_FREE_UNITS = """
select u.id, u.number
from equipment_units u
where u.equipment_id = $1
  and not u.is_retired
  and not exists (
      select 1 from slot_units su
      where int4range(su.unit_id, su.unit_id, '[]') = int4range(u.id, u.id, '[]')
        and su.during && tstzrange($2, $3, '[)')
        and su.is_active
  )
order by u.id = any($5::int[]) desc, u.number
limit $4
"""

USABLE_UNITS = "select count(*) from equipment_units where equipment_id = $1 and not is_retired"

# Who holds the units of one equipment during a range (for the conflict report).
UNIT_HOLDERS = """
select su.slot_id, u.number as unit, e.slug as equipment, s.starts_at, s.ends_at, s.kind
from equipment_units u
join equipment e on e.id = u.equipment_id
join lateral (
    select h.slot_id from slot_units h
    where int4range(h.unit_id, h.unit_id, '[]') = int4range(u.id, u.id, '[]')
      and h.during && tstzrange($2, $3, '[)')
      and h.is_active
) su on true
join slots s on s.id = su.slot_id
where u.equipment_id = $1 and not u.is_retired
order by u.number, s.starts_at
"""

# Series placement: the active slots of lab $1 overlapping each occurrence (parallel arrays of
# starts $2 and ends $3; ``n`` is an occurrence's 1-based position), with the units each holds then.
# Each occurrence gets its own scan of ``ix_slots_lab_during`` on both columns (``offset 0`` keeps the
# planner from flattening the lateral subquery into one scan of the whole lab filtered afterwards).
# A slot holds its units for exactly its own time (they are written from the slot row), so these
# slots name every unit held during the occurrence, and their units are read by primary key, a few
# heap pages per slot, rather than one GiST probe per unit of the equipment. (The units' own times
# are compared with bounds, not ``&&``, so the planner does not scan the exclusion index for them.)
OVERLAPPING_SLOTS_PER_RANGE = """
select o.n, s.id, s.kind, s.capacity, s.starts_at, s.ends_at,
       array(
           select su.unit_id from slot_units su
           where su.slot_id = s.id and su.is_active
             and lower(su.during) < o.ends_at and upper(su.during) > o.starts_at
       ) as unit_ids
from unnest($2::timestamptz[], $3::timestamptz[]) with ordinality as o (starts_at, ends_at, n)
cross join lateral (
    select s.id, s.kind, s.capacity, s.starts_at, s.ends_at
    from slots s
    where int4range(s.lab_id, s.lab_id, '[]') = int4range($1, $1, '[]')
      and s.during && tstzrange(o.starts_at, o.ends_at, '[)')
      and s.status = 'active'
    offset 0
) s
order by o.n, s.starts_at, s.id
"""

USABLE_UNITS_OF = """
select equipment_id, id, number from equipment_units
where equipment_id = any($1::int[]) and not is_retired
order by equipment_id, number
"""

# Who holds units of equipment $2[n] during [$3[n], $4[n]) in lab $1 (the conflict report of a
# series), read through the overlapping slots as above.
UNIT_HOLDERS_PER_RANGE = """
select o.n, s.id as slot_id, u.number as unit, e.slug as equipment, s.starts_at, s.ends_at, s.kind
from unnest($2::int[], $3::timestamptz[], $4::timestamptz[])
    with ordinality as o (equipment_id, starts_at, ends_at, n)
cross join lateral (
    select s.id, s.kind, s.starts_at, s.ends_at
    from slots s
    where int4range(s.lab_id, s.lab_id, '[]') = int4range($1, $1, '[]')
      and s.during && tstzrange(o.starts_at, o.ends_at, '[)')
      and s.status = 'active'
    offset 0
) s
join slot_units su
  on su.slot_id = s.id and su.is_active
 and lower(su.during) < o.ends_at and upper(su.during) > o.starts_at
join equipment_units u on u.id = su.unit_id and u.equipment_id = o.equipment_id and not u.is_retired
join equipment e on e.id = u.equipment_id
order by o.n, u.number, s.starts_at
"""

# The occurrences of a new series: active ones and (skipped) cancelled ones, in one statement.
INSERT_SERIES_SLOTS = """
insert into slots (id, lab_id, series_id, occurrence_start, kind, title, description, starts_at, ends_at,
                   capacity, visibility, organization_id, booking_deadline, requires_approval,
                   is_outside_hours, instructor_id, status, created_by)
select o.id, $1, $2, o.starts_at, $3, $4, $5, o.starts_at, o.ends_at, $6, $7, $8, o.booking_deadline, $9,
       $10, $11, o.status, $12
from unnest($13::uuid[], $14::timestamptz[], $15::timestamptz[], $16::timestamptz[], $17::text[])
    as o (id, starts_at, ends_at, booking_deadline, status)
"""
INSERT_MANY_SLOT_UNITS = """
insert into slot_units (slot_id, unit_id, during)
select h.slot_id, h.unit_id, tstzrange(h.starts_at, h.ends_at, '[)')
from unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::timestamptz[])
    as h (slot_id, unit_id, starts_at, ends_at)
"""

INSERT_SLOT_UNITS = """
insert into slot_units (slot_id, unit_id, during)
select $1, unnest($2::int[]), tstzrange($3, $4, '[)')
"""
DELETE_SLOT_UNITS = "delete from slot_units where slot_id = $1"
DEACTIVATE_SLOT_UNITS = "update slot_units set is_active = false where slot_id = $1 and is_active"

SLOT_UNIT_COUNTS = """
select e.id as equipment_id, e.slug as equipment, count(*)::int as units,
       array_agg(u.id order by u.number) as unit_ids
from slot_units su
join equipment_units u on u.id = su.unit_id
join equipment e on e.id = u.equipment_id
where su.slot_id = $1 and su.is_active
group by e.id, e.slug
order by e.slug
"""

INSERT_SLOT = f"""
insert into slots (lab_id, series_id, occurrence_start, kind, title, description, starts_at, ends_at,
                   capacity, visibility, organization_id, booking_deadline, requires_approval,
                   is_outside_hours, instructor_id, status, created_by)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
returning {SLOT_COLUMNS}
"""

UPDATE_SLOT = f"""
update slots
set starts_at = $2, ends_at = $3, capacity = $4, title = $5, description = $6, booking_deadline = $7,
    requires_approval = $8, instructor_id = $9, visibility = $10, organization_id = $11,
    is_outside_hours = $12, occurrence_start = $13,
    sequence = sequence + 1, updated_at = now()
where id = $1
returning {SLOT_COLUMNS}
"""

# Its bookings are all cancelled in the same transaction, so no seats stay taken.
CANCEL_SLOT = f"""
update slots set status = 'cancelled', seats_taken = 0, sequence = sequence + 1, updated_at = now()
where id = $1
returning {SLOT_COLUMNS}
"""

CANCEL_BOOKINGS = """
update bookings
set status = 'cancelled', status_message = coalesce($2, status_message),
    sequence = sequence + 1, updated_at = now()
where slot_id = $1 and status in ('pending', 'confirmed', 'waitlisted')
returning id
"""

# Active bookings in a slot held by organizations other than $2, per organization.
FOREIGN_ACTIVE_BOOKINGS = """
select o.slug as organization, count(*)::int as bookings
from bookings b
join organizations o on o.id = b.organization_id
where b.slot_id = $1 and b.status in ('pending', 'confirmed', 'waitlisted')
  and b.organization_id is distinct from $2
group by o.slug
order by o.slug
"""

SLOT_VIEW = """
select s.id, l.slug as lab, l.timezone, s.lab_id, s.series_id, s.occurrence_start, s.kind, s.title,
       s.description, s.starts_at, s.ends_at, s.capacity, s.seats_taken,
       s.capacity - s.seats_taken as seats_left, s.visibility, s.organization_id, o.slug as organization,
       s.booking_deadline, s.requires_approval, s.is_outside_hours, s.instructor_id, s.status,
       s.sequence, s.created_at, s.updated_at,
       coalesce((
           select jsonb_agg(jsonb_build_object('equipment', e.slug, 'unit', u.number)
                            order by e.slug, u.number)
           from slot_units su
           join equipment_units u on u.id = su.unit_id
           join equipment e on e.id = u.equipment_id
           where su.slot_id = s.id and (su.is_active or s.status = 'cancelled')
       ), '[]'::jsonb) as units
from slots s
join labs l on l.id = s.lab_id
left join organizations o on o.id = s.organization_id
"""

GET_SLOT_VIEW = SLOT_VIEW + "where s.id = $1"
GET_SLOT_VIEW_FOR = SLOT_VIEW + f"where s.id = $1 and {_visible(2)}"
LIST_SLOT_VIEWS_BY_ID = SLOT_VIEW + "where s.id = any($1::uuid[]) order by s.starts_at, s.id"
LIST_SERIES_SLOT_VIEWS = SLOT_VIEW + f"where s.series_id = $1 and {_visible(2)} order by s.occurrence_start"

# Visible to the caller ($8 organization, $7 managed labs, $9 sees all). $5 keeps only the slots
# that would take a booking at $11 (now): ``booking_refusal`` decides, as it does for the booking
# itself, for the slot's own organization when it is private (visibility is decided just below).
# $10 is the seats a group needs (null: any): only active slots with that many seats left.
_LIST_FILTER = """
  and s.during && tstzrange($2, $3, '[)')
  and ($4::text is null or s.kind = $4)
  and (not $5 or booking_refusal(s, l, coalesce(s.organization_id, $8::int),
                                 greatest(coalesce($10::int, 1), 1), l.languages[1], $11) is null)
  and (s.status = 'active' or $6)
  and slot_is_visible(s.visibility, s.organization_id, s.lab_id, $8::int, $7::int[], $9::boolean)
  and ($10::int is null or (s.status = 'active' and s.capacity - s.seats_taken >= $10))
"""
# One lab: its own condition (not "$1 is null or ..."), so generic plans still use the GiST index.
_IN_LAB = "where int4range(s.lab_id, s.lab_id, '[]') = int4range($1::int, $1::int, '[]')" + _LIST_FILTER
_ANY_LAB = "where $1::int is null" + _LIST_FILTER
_PAGE = "order by s.starts_at, s.id limit $12 offset $13"
LIST_SLOT_VIEWS_IN_LAB = SLOT_VIEW + _IN_LAB + _PAGE
LIST_SLOT_VIEWS = SLOT_VIEW + _ANY_LAB + _PAGE
COUNT_SLOTS_IN_LAB = "select count(*) from slots s join labs l on l.id = s.lab_id " + _IN_LAB
COUNT_SLOTS = "select count(*) from slots s join labs l on l.id = s.lab_id " + _ANY_LAB

SERIES_COLUMNS = """
id, lab_id, kind, title, description, timezone, local_start, duration, freq, interval, weekdays,
count, until, capacity, visibility, organization_id, instructor_id, requires_approval, status,
sequence, created_by, created_at, updated_at
"""

INSERT_SERIES = f"""
insert into slot_series (lab_id, kind, title, description, timezone, local_start, duration, freq,
                         interval, weekdays, count, until, capacity, visibility, organization_id,
                         instructor_id, requires_approval, status, created_by)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
returning {SERIES_COLUMNS}
"""
GET_SERIES_FOR = f"select {SERIES_COLUMNS} from slot_series s where id = $1 and {_visible(2)}"
LOCK_SERIES = f"select {SERIES_COLUMNS} from slot_series where id = $1 for update"
UPDATE_SERIES = f"""
update slot_series
set local_start = $2, duration = $3, count = $4, until = $5, capacity = $6, title = $7,
    description = $8, status = $9, instructor_id = $10, sequence = sequence + 1, updated_at = now()
where id = $1
returning {SERIES_COLUMNS}
"""
LOCK_SERIES_SLOTS = f"""
select {SLOT_COLUMNS} from slots where series_id = $1 order by occurrence_start for update
"""
# The series' exceptions or overrides changed: calendar clients must take its new version.
TOUCH_SERIES = """
update slot_series set sequence = sequence + 1, updated_at = now() where id = any($1::uuid[])
"""
REPOINT_SLOTS = """
update slots set series_id = $2, sequence = sequence + 1, updated_at = now()
where series_id = $1 and occurrence_start >= $3
"""

LAB_UNITS = """
select e.id as equipment_id, e.slug, e.is_out_of_service, u.id as unit_id, u.number
from equipment e
join equipment_units u on u.equipment_id = e.id and not u.is_retired
where e.lab_id = $1 and not e.is_archived
order by e.slug, u.number
"""

UNIT_HOLDINGS = """
select h.unit_id, lower(h.during) as starts_at, upper(h.during) as ends_at
from unnest($1::int[]) as unit(id)
join lateral (
    select su.unit_id, su.during from slot_units su
    where int4range(su.unit_id, su.unit_id, '[]') = int4range(unit.id, unit.id, '[]')
      and su.during && tstzrange($2, $3, '[)')
      and su.is_active
) h on true
"""


# The exclusion constraints that keep active slots off a closure (``slot_spans``, migrations/0070).
CLOSURE_CONSTRAINTS = frozenset({"ex_slot_spans_closure_overlap", "ex_slot_spans_closed_lab"})


def _closed(exc: asyncpg.ExclusionViolationError) -> LabClosed | None:
    if db.constraint_name(exc) not in CLOSURE_CONSTRAINTS:
        return None
    return LabClosed("the lab is closed during part of that time")


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking, as ``slot_is_visible`` takes it: their organization, the labs they manage,
    and whether they see everything."""

    organization_id: int | None
    lab_ids: list[int]
    sees_all: bool

    def args(self) -> tuple[int | None, list[int], bool]:
        return self.organization_id, self.lab_ids, self.sees_all


async def lock_lab(conn: asyncpg.Connection, lab_id: int) -> asyncpg.Record | None:
    """Serializes every write that checks the lab's capacity, closures and hours."""
    return await conn.fetchrow(LOCK_LAB, lab_id)


async def get_lab(conn: asyncpg.Connection, lab_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_LAB, lab_id)


async def get_organization_id(conn: asyncpg.Connection, slug: str) -> int | None:
    value: int | None = await conn.fetchval(GET_ORGANIZATION_ID, slug)
    return value


async def get_organization_slug(conn: asyncpg.Connection, organization_id: int) -> str | None:
    value: str | None = await conn.fetchval(GET_ORGANIZATION_SLUG, organization_id)
    return value


async def get_instructor_standing(
    conn: asyncpg.Connection, person_id: UUID, lab_id: int
) -> asyncpg.Record | None:
    """``is_active``, ``is_host_staff`` and ``may_teach`` of a person for a lab; ``None``: no such person."""
    return await conn.fetchrow(GET_INSTRUCTOR_STANDING, person_id, lab_id)


async def list_opening_hours(conn: asyncpg.Connection, lab_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_OPENING_HOURS, lab_id)


async def list_overlapping_slots(
    conn: asyncpg.Connection, lab_id: int, starts_at: datetime, ends_at: datetime, exclude: list[UUID]
) -> list[asyncpg.Record]:
    return await conn.fetch(OVERLAPPING_SLOTS, lab_id, starts_at, ends_at, exclude)


async def list_lab_equipment(conn: asyncpg.Connection, lab_id: int, slugs: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(LAB_EQUIPMENT, lab_id, slugs)


async def pick_free_units(
    conn: asyncpg.Connection,
    equipment_id: int,
    starts_at: datetime,
    ends_at: datetime,
    units: int,
    prefer: list[int],
) -> list[asyncpg.Record]:
    return await conn.fetch(PICK_FREE_UNITS, equipment_id, starts_at, ends_at, units, prefer)


async def count_usable_units(conn: asyncpg.Connection, equipment_id: int) -> int:
    return int(await conn.fetchval(USABLE_UNITS, equipment_id))


async def list_unit_holders(
    conn: asyncpg.Connection, equipment_id: int, starts_at: datetime, ends_at: datetime
) -> list[asyncpg.Record]:
    return await conn.fetch(UNIT_HOLDERS, equipment_id, starts_at, ends_at)


async def try_insert_slot_units(
    conn: asyncpg.Connection, slot_id: UUID, unit_ids: list[int], starts_at: datetime, ends_at: datetime
) -> bool:
    """Hold the units; ``False`` when another transaction got one of them first."""
    try:
        async with conn.transaction():
            await conn.execute(INSERT_SLOT_UNITS, slot_id, unit_ids, starts_at, ends_at)
    except asyncpg.ExclusionViolationError as exc:
        if db.constraint_name(exc) != "ex_slot_units_overlap":
            raise
        return False
    return True


async def list_overlapping_slots_per_range(
    conn: asyncpg.Connection, lab_id: int, starts: list[datetime], ends: list[datetime]
) -> list[asyncpg.Record]:
    """Active slots of the lab overlapping each range, with the ``unit_ids`` they hold then; ``n`` is
    the range's 1-based position."""
    return await conn.fetch(OVERLAPPING_SLOTS_PER_RANGE, lab_id, starts, ends)


async def list_usable_units(conn: asyncpg.Connection, equipment_ids: list[int]) -> list[asyncpg.Record]:
    """``equipment_id``, ``id`` and ``number`` of the units in service, by equipment and number."""
    return await conn.fetch(USABLE_UNITS_OF, equipment_ids)


async def list_unit_holders_per_range(
    conn: asyncpg.Connection,
    lab_id: int,
    equipment_ids: list[int],
    starts: list[datetime],
    ends: list[datetime],
) -> list[asyncpg.Record]:
    """Who holds units of ``equipment_ids[i]`` during ``[starts[i], ends[i])``; ``n`` is ``i + 1``."""
    return await conn.fetch(UNIT_HOLDERS_PER_RANGE, lab_id, equipment_ids, starts, ends)


async def try_insert_series_slots(
    conn: asyncpg.Connection,
    common: dict[str, Any],
    occurrences: list[tuple[UUID, datetime, datetime, datetime | None, str]],
    holdings: list[tuple[UUID, int, datetime, datetime]],
) -> bool:
    """Insert the slots of a series (id, start, end, booking deadline, status each) and the units
    they hold (slot id, unit id, start, end each); ``False``, with nothing written, when another
    transaction got one of the units first."""
    ids, starts, ends, deadlines, statuses = (list(column) for column in zip(*occurrences, strict=True))
    try:
        async with conn.transaction():
            await conn.execute(
                INSERT_SERIES_SLOTS,
                common["lab_id"],
                common["series_id"],
                common["kind"],
                common["title"],
                common["description"],
                common["capacity"],
                common["visibility"],
                common["organization_id"],
                common["requires_approval"],
                common["is_outside_hours"],
                common["instructor_id"],
                common["created_by"],
                ids,
                starts,
                ends,
                deadlines,
                statuses,
            )
            if holdings:
                await conn.execute(
                    INSERT_MANY_SLOT_UNITS, *(list(column) for column in zip(*holdings, strict=True))
                )
    except asyncpg.ExclusionViolationError as exc:
        if (closed := _closed(exc)) is not None:
            raise closed from exc
        if db.constraint_name(exc) != "ex_slot_units_overlap":
            raise
        return False
    return True


async def delete_slot_units(conn: asyncpg.Connection, slot_id: UUID) -> None:
    await conn.execute(DELETE_SLOT_UNITS, slot_id)


async def deactivate_slot_units(conn: asyncpg.Connection, slot_id: UUID) -> None:
    await conn.execute(DEACTIVATE_SLOT_UNITS, slot_id)


async def list_slot_unit_counts(conn: asyncpg.Connection, slot_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(SLOT_UNIT_COUNTS, slot_id)


async def insert_slot(conn: asyncpg.Connection, **f: Any) -> asyncpg.Record:
    """Insert a slot; ``LabClosed`` when the database finds it on a closure (or a closure on a slot)."""
    try:
        return await _insert_slot(conn, f)
    except asyncpg.ExclusionViolationError as exc:
        if (closed := _closed(exc)) is not None:
            raise closed from exc
        raise


async def _insert_slot(conn: asyncpg.Connection, f: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        INSERT_SLOT,
        f["lab_id"],
        f.get("series_id"),
        f.get("occurrence_start"),
        f["kind"],
        f["title"],
        f["description"],
        f["starts_at"],
        f["ends_at"],
        f["capacity"],
        f["visibility"],
        f["organization_id"],
        f["booking_deadline"],
        f["requires_approval"],
        f["is_outside_hours"],
        f["instructor_id"],
        f.get("status", "active"),
        f["created_by"],
    )


async def get_slot(conn: asyncpg.Connection, slot_id: UUID, viewer: Viewer) -> asyncpg.Record | None:
    """The ``slots`` row, or ``None`` when there is none that ``viewer`` may see."""
    return await conn.fetchrow(GET_SLOT_FOR, slot_id, *viewer.args())


async def lock_slot(conn: asyncpg.Connection, slot_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(LOCK_SLOT, slot_id)


async def update_slot(conn: asyncpg.Connection, slot_id: UUID, f: dict[str, Any]) -> asyncpg.Record:
    """Write a slot's new fields; ``LabClosed`` when the database finds them on a closure."""
    try:
        return await _update_slot(conn, slot_id, f)
    except asyncpg.ExclusionViolationError as exc:
        if (closed := _closed(exc)) is not None:
            raise closed from exc
        raise


async def _update_slot(conn: asyncpg.Connection, slot_id: UUID, f: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        UPDATE_SLOT,
        slot_id,
        f["starts_at"],
        f["ends_at"],
        f["capacity"],
        f["title"],
        f["description"],
        f["booking_deadline"],
        f["requires_approval"],
        f["instructor_id"],
        f["visibility"],
        f["organization_id"],
        f["is_outside_hours"],
        f["occurrence_start"],
    )


async def cancel_slot(conn: asyncpg.Connection, slot_id: UUID) -> asyncpg.Record:
    return await conn.fetchrow(CANCEL_SLOT, slot_id)


async def cancel_bookings(conn: asyncpg.Connection, slot_id: UUID, reason: str | None) -> list[UUID]:
    return [row["id"] for row in await conn.fetch(CANCEL_BOOKINGS, slot_id, reason)]


async def list_foreign_active_bookings(
    conn: asyncpg.Connection, slot_id: UUID, organization_id: int | None
) -> list[asyncpg.Record]:
    return await conn.fetch(FOREIGN_ACTIVE_BOOKINGS, slot_id, organization_id)


async def get_slot_view(
    conn: asyncpg.Connection, slot_id: UUID, viewer: Viewer | None = None
) -> asyncpg.Record | None:
    """The slot as shown to clients; with a ``viewer``, only if they may see it."""
    if viewer is None:
        return await conn.fetchrow(GET_SLOT_VIEW, slot_id)
    return await conn.fetchrow(GET_SLOT_VIEW_FOR, slot_id, *viewer.args())


async def list_slot_views_by_id(conn: asyncpg.Connection, slot_ids: list[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_SLOT_VIEWS_BY_ID, slot_ids)


async def list_series_slot_views(
    conn: asyncpg.Connection, series_id: UUID, viewer: Viewer
) -> list[asyncpg.Record]:
    """The series' slots that ``viewer`` may see, by occurrence."""
    return await conn.fetch(LIST_SERIES_SLOT_VIEWS, series_id, *viewer.args())


async def list_slot_views(
    conn: asyncpg.Connection,
    *,
    lab_id: int | None,
    starts_at: datetime,
    ends_at: datetime | None,
    kind: str | None,
    has_seats: bool,
    include_cancelled: bool,
    viewer: Viewer,
    limit: int,
    offset: int,
    now: datetime,
    min_seats: int | None = None,
) -> tuple[list[asyncpg.Record], int]:
    args = (
        lab_id,
        starts_at,
        ends_at,
        kind,
        has_seats,
        include_cancelled,
        viewer.lab_ids,
        viewer.organization_id,
        viewer.sees_all,
        min_seats,
        now,
    )
    rows = await conn.fetch(
        LIST_SLOT_VIEWS if lab_id is None else LIST_SLOT_VIEWS_IN_LAB, *args, limit, offset
    )
    total = await conn.fetchval(COUNT_SLOTS if lab_id is None else COUNT_SLOTS_IN_LAB, *args)
    return rows, int(total)


async def insert_series(conn: asyncpg.Connection, **f: Any) -> asyncpg.Record:
    return await conn.fetchrow(
        INSERT_SERIES,
        f["lab_id"],
        f["kind"],
        f["title"],
        f["description"],
        f["timezone"],
        f["local_start"],
        f["duration"],
        f["freq"],
        f["interval"],
        f["weekdays"],
        f["count"],
        f["until"],
        f["capacity"],
        f["visibility"],
        f["organization_id"],
        f["instructor_id"],
        f["requires_approval"],
        f.get("status", "active"),
        f["created_by"],
    )


async def get_series(conn: asyncpg.Connection, series_id: UUID, viewer: Viewer) -> asyncpg.Record | None:
    """The series, or ``None`` when there is none that ``viewer`` may see."""
    return await conn.fetchrow(GET_SERIES_FOR, series_id, *viewer.args())


async def lock_series(conn: asyncpg.Connection, series_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(LOCK_SERIES, series_id)


async def update_series(
    conn: asyncpg.Connection,
    series_id: UUID,
    *,
    local_start: datetime,
    duration: timedelta,
    count: int | None,
    until: datetime | None,
    capacity: int,
    title: dict[Any, str],
    description: dict[Any, str],
    status: str,
    instructor_id: UUID | None,
) -> asyncpg.Record:
    return await conn.fetchrow(
        UPDATE_SERIES,
        series_id,
        local_start,
        duration,
        count,
        until,
        capacity,
        title,
        description,
        status,
        instructor_id,
    )


async def lock_series_slots(conn: asyncpg.Connection, series_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(LOCK_SERIES_SLOTS, series_id)


async def repoint_slots(
    conn: asyncpg.Connection, old_series_id: UUID, new_series_id: UUID, from_occurrence: datetime
) -> None:
    await conn.execute(REPOINT_SLOTS, old_series_id, new_series_id, from_occurrence)


async def touch_series(conn: asyncpg.Connection, series_ids: list[UUID]) -> None:
    await conn.execute(TOUCH_SERIES, series_ids)


async def list_lab_units(conn: asyncpg.Connection, lab_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(LAB_UNITS, lab_id)


async def list_unit_holdings(
    conn: asyncpg.Connection, unit_ids: list[int], starts_at: datetime, ends_at: datetime
) -> list[asyncpg.Record]:
    return await conn.fetch(UNIT_HOLDINGS, unit_ids, starts_at, ends_at)
