"""SQL for rosters, attendance and inductions."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from labbook import db
from labbook.attendance.rows import (
    AttendanceRow,
    EquipmentRow,
    InductingEquipmentRow,
    InductionRow,
    InductionSessionRow,
    KnownTraineeRow,
    MissingInductionRow,
    NoShowRateRow,
    RosterEntryRow,
    SessionBookingRow,
    SessionRow,
    SlotRow,
    TraineeRow,
)
from labbook.core.rows import many, maybe, one
from labbook.errors import Conflict

# A booking with what attendance and rosters need of its slot, lab and organization.
_SESSION_BOOKING = """
select b.id, b.slot_id, b.organization_id, o.slug as organization_slug, o.name as organization_name,
       b.headcount, b.status, b.contact_name, b.contact_phone, b.age_group, s.lab_id, l.slug as lab_slug,
       l.timezone as lab_timezone, s.kind, s.title, s.starts_at, s.ends_at, s.instructor_id,
       s.is_induction, a.outcome, a.headcount as arrived, a.marked_at,
       (select count(*) from roster_entries r where r.booking_id = b.id)::int as trainees
from bookings b
join slots s on s.id = b.slot_id
join labs l on l.id = s.lab_id
join organizations o on o.id = b.organization_id
left join attendance a on a.booking_id = b.id
"""
GET_BOOKING = _SESSION_BOOKING + "where b.id = $1"
LOCK_BOOKING = GET_BOOKING + " for update of b"
# Confirmed bookings of the sessions starting in [$1, $2), in the labs a caller runs or sessions
# they teach ($3: every lab, an admin).
LIST_SESSION_BOOKINGS = (
    _SESSION_BOOKING
    + """
where s.starts_at >= $1 and s.starts_at < $2 and s.status = 'active' and b.status = 'confirmed'
  and ($3::boolean or s.lab_id = any($4::int[]) or s.instructor_id = $5)
order by s.starts_at, s.id, o.slug, b.id
limit $6
"""
)
GET_SESSION = """
select s.id as slot_id, s.lab_id, l.slug as lab_slug, l.timezone as lab_timezone, s.kind, s.title,
       s.starts_at, s.ends_at, s.instructor_id, s.is_induction
from slots s join labs l on l.id = s.lab_id
where s.id = $1
"""
# The confirmed bookings of one session, as the attendance page lists them.
LIST_SLOT_BOOKINGS = (
    _SESSION_BOOKING + "where b.slot_id = $1 and b.status = 'confirmed' order by o.slug, b.id"
)

_ROSTER_COLUMNS = """
r.booking_id, r.trainee_id, t.full_name, r.study_group, r.attended
"""
GET_ROSTER = f"""
select {_ROSTER_COLUMNS}
from roster_entries r join trainees t on t.id = r.trainee_id
where r.booking_id = $1
order by t.name_key, t.id
"""
LIST_ROSTERS = f"""
select {_ROSTER_COLUMNS}
from roster_entries r join trainees t on t.id = r.trainee_id
where r.booking_id = any($1::uuid[])
order by r.booking_id, t.name_key, t.id
"""
# The organization's trainees of these names, made the first time each is written down; then each
# name's trainee, in the order given (a second statement, so that it sees trainees a concurrent
# roster made meanwhile).
INSERT_TRAINEES = """
insert into trainees (organization_id, full_name)
select $1, n from unnest($2::text[]) as n
on conflict on constraint uq_trainees_name do nothing
"""
MATCH_TRAINEES = """
select t.id, t.organization_id, t.full_name, t.name_key
from unnest($2::text[]) with ordinality as w (full_name, position)
join trainees t on t.organization_id = $1 and t.name_key = trainee_name_key(w.full_name)
order by w.position
"""
MISSING_INDUCTIONS = """
select t.id as trainee_id, t.full_name, e.id as equipment_id, e.slug as equipment_slug,
       e.name as equipment_name, m.expired_at
from unnest($1::uuid[]) as wanted (id)
join trainees t on t.id = wanted.id
cross join lateral missing_inductions(t.id, $2) m
join equipment e on e.id = m.equipment_id
order by t.name_key, e.slug
"""
DELETE_ROSTER_ENTRIES = """
delete from roster_entries where booking_id = $1 and not (trainee_id = any($2::uuid[]))
returning trainee_id
"""
INSERT_ROSTER_ENTRIES = """
insert into roster_entries (booking_id, trainee_id, study_group)
select $1, e.trainee_id, e.study_group
from unnest($2::uuid[], $3::text[]) as e (trainee_id, study_group)
on conflict (booking_id, trainee_id) do update set study_group = excluded.study_group
"""
MARK_ROSTER = """
update roster_entries set attended = $2 and not (trainee_id = any($3::uuid[]))
where booking_id = $1
"""

_ATTENDANCE_COLUMNS = "a.booking_id, a.outcome, a.headcount, a.marked_by, a.marked_at, a.updated_at"
GET_ATTENDANCE = f"select {_ATTENDANCE_COLUMNS} from attendance a where a.booking_id = $1"
SAVE_ATTENDANCE = f"""
insert into attendance as a (booking_id, outcome, headcount, marked_by)
values ($1, $2, $3, $4)
on conflict (booking_id) do update
set outcome = excluded.outcome, headcount = excluded.headcount, marked_by = excluded.marked_by,
    updated_at = now()
returning {_ATTENDANCE_COLUMNS}
"""


def _induction_columns(a: str) -> str:
    """An induction's reply columns, read from the inductions row aliased ``a``."""
    return f"""
{a}.id, {a}.trainee_id, t.full_name, t.organization_id, {a}.equipment_id, e.slug as equipment_slug,
e.name as equipment_name, e.lab_id, {a}.granted_at, {a}.expires_at, {a}.booking_id, {a}.reason,
{a}.revoked_at, {a}.revoke_reason
"""


_INDUCTION_VIEW = f"""
select {_induction_columns("i")}
from inductions i join trainees t on t.id = i.trainee_id join equipment e on e.id = i.equipment_id
"""
# Attending an induction session grants each attending trainee an induction on every piece of the
# session's equipment that needs one, valid for as long as that equipment says from the session's end.
GRANT_FROM_ATTENDANCE = f"""
with granted as (
    insert into inductions (trainee_id, equipment_id, granted_at, expires_at, booking_id, granted_by)
    select distinct r.trainee_id, e.id, s.ends_at,
           s.ends_at + make_interval(months => e.induction_valid_months), b.id, $2::uuid
    from bookings b
    join slots s on s.id = b.slot_id
    join roster_entries r on r.booking_id = b.id and r.attended
    join slot_units su on su.slot_id = s.id and su.is_active
    join equipment_units u on u.id = su.unit_id
    join equipment e on e.id = u.equipment_id and e.requires_induction
    where b.id = $1 and s.is_induction
    on conflict (booking_id, trainee_id, equipment_id)
        where booking_id is not null and revoked_at is null do nothing
    returning *
)
select {_induction_columns("g")}
from granted g join trainees t on t.id = g.trainee_id join equipment e on e.id = g.equipment_id
"""
# Inductions this booking's attendance granted to trainees no longer marked as attending.
REVOKE_FROM_ATTENDANCE = f"""
with revoked as (
    update inductions i set revoked_at = now(), revoked_by = $2, revoke_reason = $3
    from roster_entries r
    where i.booking_id = $1 and i.revoked_at is null
      and r.booking_id = i.booking_id and r.trainee_id = i.trainee_id and r.attended is not true
    returning i.*
)
select {_induction_columns("v")}
from revoked v join trainees t on t.id = v.trainee_id join equipment e on e.id = v.equipment_id
"""
GET_INDUCTION = _INDUCTION_VIEW + "where i.id = $1"
LIST_INDUCTIONS = (
    _INDUCTION_VIEW
    + """
where ($1::uuid is null or i.trainee_id = $1)
  and ($2::int is null or t.organization_id = $2)
  and ($3::boolean or e.lab_id = any($4::int[]))
order by t.name_key, e.slug, i.granted_at desc
limit $5
"""
)
INSERT_INDUCTION = f"""
with made as (
    insert into inductions (trainee_id, equipment_id, granted_at, expires_at, granted_by, reason)
    select $1, e.id, $3::timestamptz,
           coalesce($4::timestamptz, $3::timestamptz + make_interval(months => e.induction_valid_months)),
           $5, $6
    from equipment e where e.id = $2
    returning *
)
select {_induction_columns("m")}
from made m join trainees t on t.id = m.trainee_id join equipment e on e.id = m.equipment_id
"""
# Locking the trainee's row makes a revocation and a roster entry for the same trainee take turns
# (the roster's trigger locks it too).
LOCK_TRAINEE = "update trainees set updated_at = now() where id = $1 returning id"
REVOKE_INDUCTION = f"""
with revoked as (
    update inductions set revoked_at = now(), revoked_by = $2, revoke_reason = $3
    where id = $1 and revoked_at is null
    returning *
)
select {_induction_columns("v")}
from revoked v join trainees t on t.id = v.trainee_id join equipment e on e.id = v.equipment_id
"""
LOCK_SLOT = "select id, lab_id, kind, is_induction from slots where id = $1 for update"
SET_INDUCTION = "update slots set is_induction = $2 where id = $1 returning id, lab_id, kind, is_induction"
GET_TRAINEE = "select id, organization_id, full_name, name_key from trainees where id = $1"
GET_EQUIPMENT = """
select e.id, e.lab_id, e.slug, e.requires_induction, e.induction_valid_months
from equipment e join labs l on l.id = e.lab_id
where l.slug = $1 and e.slug = $2
"""
# The next induction sessions on this equipment that still take bookings, soonest first.
NEXT_INDUCTION_SESSIONS = """
select distinct s.id, s.starts_at, s.ends_at, s.title, l.timezone as lab_timezone
from slots s
join labs l on l.id = s.lab_id
join slot_units su on su.slot_id = s.id and su.is_active
join equipment_units u on u.id = su.unit_id
where u.equipment_id = any($1::int[]) and s.is_induction and s.status = 'active'
  and s.visibility = 'public' and s.starts_at > $2 and s.seats_taken < s.capacity
order by s.starts_at, s.id
limit $3
"""
# Each organization's attendance in the caller's labs: bookings marked, and how many were no-shows.
NO_SHOW_RATES = """
select o.slug as organization_slug, o.name as organization_name, count(*)::int as marked,
       count(*) filter (where a.outcome = 'no_show')::int as no_shows
from attendance a
join bookings b on b.id = a.booking_id
join slots s on s.id = b.slot_id
join organizations o on o.id = b.organization_id
where ($1::boolean or s.lab_id = any($2::int[]))
group by o.id
order by count(*) filter (where a.outcome = 'no_show')::float / count(*) desc, o.slug
limit $3
"""

# Trainees on rosters of sessions in these labs ($1: every lab, an admin): whom a manager knows.
KNOWN_TRAINEES = """
select distinct t.id, t.full_name, t.name_key, o.slug as organization_slug, o.name as organization_name
from roster_entries r
join bookings b on b.id = r.booking_id
join slots s on s.id = b.slot_id
join trainees t on t.id = r.trainee_id
join organizations o on o.id = t.organization_id
where ($1::boolean or s.lab_id = any($2::int[]))
order by o.slug, t.name_key, t.id
limit $3
"""
INDUCTING_EQUIPMENT = """
select l.slug as lab, e.slug as equipment, e.name, e.induction_valid_months
from equipment e join labs l on l.id = e.lab_id
where e.requires_induction and not e.is_archived and ($1::boolean or e.lab_id = any($2::int[]))
order by l.slug, e.slug
limit $3
"""


class InductionRequired(Conflict):
    """A trainee on a roster lacks an induction the session's equipment needs; ``trainees`` names each."""

    slug = "induction-required"
    title = "Induction required"


async def get_booking(
    conn: asyncpg.Connection, booking_id: UUID, *, lock: bool = False
) -> SessionBookingRow | None:
    return maybe(SessionBookingRow, await conn.fetchrow(LOCK_BOOKING if lock else GET_BOOKING, booking_id))


async def list_session_bookings(
    conn: asyncpg.Connection,
    *,
    starts_from: datetime,
    starts_to: datetime,
    see_all: bool,
    lab_ids: list[int],
    instructor_id: UUID,
    limit: int,
) -> list[SessionBookingRow]:
    rows = await conn.fetch(
        LIST_SESSION_BOOKINGS, starts_from, starts_to, see_all, lab_ids, instructor_id, limit
    )
    return many(SessionBookingRow, rows)


async def get_session(conn: asyncpg.Connection, slot_id: UUID) -> SessionRow | None:
    return maybe(SessionRow, await conn.fetchrow(GET_SESSION, slot_id))


async def list_slot_bookings(conn: asyncpg.Connection, slot_id: UUID) -> list[SessionBookingRow]:
    return many(SessionBookingRow, await conn.fetch(LIST_SLOT_BOOKINGS, slot_id))


async def get_roster(conn: asyncpg.Connection, booking_id: UUID) -> list[RosterEntryRow]:
    return many(RosterEntryRow, await conn.fetch(GET_ROSTER, booking_id))


async def list_rosters(conn: asyncpg.Connection, booking_ids: list[UUID]) -> list[RosterEntryRow]:
    return many(RosterEntryRow, await conn.fetch(LIST_ROSTERS, booking_ids))


async def ensure_trainees(
    conn: asyncpg.Connection, organization_id: int, names: list[str]
) -> list[TraineeRow]:
    """The trainee of each name, in order; made when the organization has none of that name yet."""
    await conn.execute(INSERT_TRAINEES, organization_id, names)
    return many(TraineeRow, await conn.fetch(MATCH_TRAINEES, organization_id, names))


async def list_missing_inductions(
    conn: asyncpg.Connection, trainee_ids: list[UUID], slot_id: UUID
) -> list[MissingInductionRow]:
    return many(MissingInductionRow, await conn.fetch(MISSING_INDUCTIONS, trainee_ids, slot_id))


async def replace_roster(
    conn: asyncpg.Connection, booking_id: UUID, trainee_ids: list[UUID], study_groups: list[str | None]
) -> None:
    """The roster becomes exactly these trainees; the database refuses one lacking an induction."""
    await conn.execute(DELETE_ROSTER_ENTRIES, booking_id, trainee_ids)
    try:
        await conn.execute(INSERT_ROSTER_ENTRIES, booking_id, trainee_ids, study_groups)
    except asyncpg.CheckViolationError as exc:
        if db.constraint_name(exc) == "ck_roster_entries_inducted":
            raise InductionRequired("a trainee lacks an induction this session needs") from exc
        raise


async def mark_roster(
    conn: asyncpg.Connection, booking_id: UUID, *, arrived: bool, absent: list[UUID]
) -> None:
    await conn.execute(MARK_ROSTER, booking_id, arrived, absent)


async def get_attendance(conn: asyncpg.Connection, booking_id: UUID) -> AttendanceRow | None:
    return maybe(AttendanceRow, await conn.fetchrow(GET_ATTENDANCE, booking_id))


async def save_attendance(
    conn: asyncpg.Connection, booking_id: UUID, *, outcome: str, headcount: int | None, marked_by: UUID
) -> AttendanceRow:
    return one(AttendanceRow, await conn.fetchrow(SAVE_ATTENDANCE, booking_id, outcome, headcount, marked_by))


async def grant_from_attendance(
    conn: asyncpg.Connection, booking_id: UUID, granted_by: UUID
) -> list[InductionRow]:
    return many(InductionRow, await conn.fetch(GRANT_FROM_ATTENDANCE, booking_id, granted_by))


async def revoke_from_attendance(
    conn: asyncpg.Connection, booking_id: UUID, revoked_by: UUID, reason: str
) -> list[InductionRow]:
    return many(InductionRow, await conn.fetch(REVOKE_FROM_ATTENDANCE, booking_id, revoked_by, reason))


async def get_induction(conn: asyncpg.Connection, induction_id: UUID) -> InductionRow | None:
    return maybe(InductionRow, await conn.fetchrow(GET_INDUCTION, induction_id))


async def list_inductions(
    conn: asyncpg.Connection,
    *,
    trainee_id: UUID | None,
    organization_id: int | None,
    see_all: bool,
    lab_ids: list[int],
    limit: int,
) -> list[InductionRow]:
    rows = await conn.fetch(LIST_INDUCTIONS, trainee_id, organization_id, see_all, lab_ids, limit)
    return many(InductionRow, rows)


async def insert_induction(
    conn: asyncpg.Connection,
    *,
    trainee_id: UUID,
    equipment_id: int,
    granted_at: datetime,
    expires_at: datetime | None,
    granted_by: UUID,
    reason: str,
) -> InductionRow:
    row = await conn.fetchrow(
        INSERT_INDUCTION, trainee_id, equipment_id, granted_at, expires_at, granted_by, reason
    )
    return one(InductionRow, row)


async def lock_trainee(conn: asyncpg.Connection, trainee_id: UUID) -> bool:
    return await conn.fetchval(LOCK_TRAINEE, trainee_id) is not None


async def revoke_induction(
    conn: asyncpg.Connection, induction_id: UUID, revoked_by: UUID, reason: str
) -> InductionRow | None:
    return maybe(InductionRow, await conn.fetchrow(REVOKE_INDUCTION, induction_id, revoked_by, reason))


async def lock_slot(conn: asyncpg.Connection, slot_id: UUID) -> SlotRow | None:
    return maybe(SlotRow, await conn.fetchrow(LOCK_SLOT, slot_id))


async def set_induction(conn: asyncpg.Connection, slot_id: UUID, is_induction: bool) -> SlotRow:
    return one(SlotRow, await conn.fetchrow(SET_INDUCTION, slot_id, is_induction))


async def get_trainee(conn: asyncpg.Connection, trainee_id: UUID) -> TraineeRow | None:
    return maybe(TraineeRow, await conn.fetchrow(GET_TRAINEE, trainee_id))


async def get_equipment(conn: asyncpg.Connection, lab: str, equipment: str) -> EquipmentRow | None:
    return maybe(EquipmentRow, await conn.fetchrow(GET_EQUIPMENT, lab, equipment))


async def next_induction_sessions(
    conn: asyncpg.Connection, equipment_ids: list[int], after: datetime, limit: int
) -> list[InductionSessionRow]:
    return many(InductionSessionRow, await conn.fetch(NEXT_INDUCTION_SESSIONS, equipment_ids, after, limit))


async def list_known_trainees(
    conn: asyncpg.Connection, *, see_all: bool, lab_ids: list[int], limit: int
) -> list[KnownTraineeRow]:
    return many(KnownTraineeRow, await conn.fetch(KNOWN_TRAINEES, see_all, lab_ids, limit))


async def list_inducting_equipment(
    conn: asyncpg.Connection, *, see_all: bool, lab_ids: list[int], limit: int
) -> list[InductingEquipmentRow]:
    return many(InductingEquipmentRow, await conn.fetch(INDUCTING_EQUIPMENT, see_all, lab_ids, limit))


async def list_no_show_rates(
    conn: asyncpg.Connection, *, see_all: bool, lab_ids: list[int], limit: int
) -> list[NoShowRateRow]:
    return many(NoShowRateRow, await conn.fetch(NO_SHOW_RATES, see_all, lab_ids, limit))


# Rosters of sessions that ended before $1: their counts are kept, their entries deleted, and trainees
# left on no roster lose their names (their inductions stay, as history without a person).
KEEP_ROSTER_COUNTS = """
insert into purged_rosters (booking_id, trainees, trained)
select r.booking_id, count(*), count(*) filter (where r.attended is not false)
from roster_entries r join bookings b on b.id = r.booking_id join slots s on s.id = b.slot_id
where s.ends_at < $1
group by r.booking_id
on conflict (booking_id) do update
set trainees = purged_rosters.trainees + excluded.trainees,
    trained = purged_rosters.trained + excluded.trained
"""
DELETE_OLD_ROSTERS = """
delete from roster_entries r using bookings b, slots s
where b.id = r.booking_id and s.id = b.slot_id and s.ends_at < $1
returning r.trainee_id
"""
FORGET_TRAINEES = """
update trainees t set full_name = 'purged ' || t.id::text, updated_at = now()
where t.id = any($1::uuid[]) and t.full_name <> 'purged ' || t.id::text
  and not exists (select 1 from roster_entries r where r.trainee_id = t.id)
"""


async def purge_rosters(conn: asyncpg.Connection, ended_before: datetime) -> tuple[int, int]:
    """Delete the rosters of sessions that ended before ``ended_before``, keeping their counts;
    the number of roster entries removed and of trainees whose names are forgotten."""
    await conn.execute(KEEP_ROSTER_COUNTS, ended_before)
    removed = [row["trainee_id"] for row in await conn.fetch(DELETE_OLD_ROSTERS, ended_before)]
    forgotten = await conn.execute(FORGET_TRAINEES, sorted(set(removed)))
    return len(removed), int(forgotten.split()[-1])


# Merging trainee $1 into $2 (same organization): rosters and inductions move over, a booking listing
# both keeps one entry, and the duplicate goes.
MERGE_ROSTERS = """
with moved as (
    delete from roster_entries r where r.trainee_id = $1
    returning r.booking_id, r.study_group, r.attended, r.created_at
)
insert into roster_entries (booking_id, trainee_id, study_group, attended, created_at)
select booking_id, $2, study_group, attended, created_at from moved
on conflict (booking_id, trainee_id) do nothing
"""
MERGE_INDUCTIONS = "update inductions set trainee_id = $2 where trainee_id = $1"
DELETE_TRAINEE = "delete from trainees where id = $1"
# Both trainees of a merge, locked in one order so that two merges of the same pair take turns; a
# trainee that a merge committed meanwhile deleted is not returned.
LOCK_TRAINEES = """
select id, organization_id, full_name, name_key from trainees
where id = any($1::uuid[]) order by id for update
"""
# Whether the organization has ever booked a session in one of these labs: the organizations whose
# trainees a lab's managers know.
VISITS_LABS = """
select exists (
    select 1 from bookings b join slots s on s.id = b.slot_id
    where b.organization_id = $1 and s.lab_id = any($2::int[])
)
"""


async def lock_trainees(conn: asyncpg.Connection, trainee_ids: list[UUID]) -> list[TraineeRow]:
    return many(TraineeRow, await conn.fetch(LOCK_TRAINEES, trainee_ids))


async def visits_labs(conn: asyncpg.Connection, organization_id: int, lab_ids: list[int]) -> bool:
    return bool(await conn.fetchval(VISITS_LABS, organization_id, lab_ids))


async def merge_trainees(conn: asyncpg.Connection, duplicate: UUID, kept: UUID) -> None:
    """Move ``duplicate``'s rosters and inductions to ``kept`` and delete it; both rows locked first."""
    await conn.execute(MERGE_ROSTERS, duplicate, kept)
    await conn.execute(MERGE_INDUCTIONS, duplicate, kept)
    await conn.execute(DELETE_TRAINEE, duplicate)
