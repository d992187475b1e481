"""SQL for reports: one statement per figure group, each a plain aggregate over the same visits.

A visit is a confirmed booking of a session that starts in the range, in the labs asked about, that
was not marked as a no-show; its visitors are the headcount marked as arrived, or the booked headcount
while attendance is not marked yet.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from labbook.core.rows import many, one
from labbook.reports.rows import EquipmentUseRow, GroupRow, TopOrganizationRow, TotalsRow, UtilizationRow

# $1, $2: the range of session starts; $3: the labs asked about.
_VISITS = """
from bookings b
join slots s on s.id = b.slot_id
join organizations o on o.id = b.organization_id
left join attendance a on a.booking_id = b.id
where s.lab_id = any($3::int[]) and s.starts_at >= $1 and s.starts_at < $2
  and b.status = 'confirmed' and a.outcome is distinct from 'no_show'
"""
_VISITORS = "coalesce(a.headcount, b.headcount)"


def _by(key: str) -> str:
    return f"""
select coalesce({key}, '') as key, count(*)::int as visits, sum({_VISITORS})::int as visitors
{_VISITS}
group by 1
order by 3 desc, 1
"""


BY_ORGANIZATION_KIND = _by("o.kind")
BY_REGION = _by("o.city")
BY_AGE_GROUP = _by("b.age_group")
BY_LANGUAGE = _by("b.language")
TOP_ORGANIZATIONS = f"""
select o.slug, o.name, o.kind, count(*)::int as visits, sum({_VISITORS})::int as visitors
{_VISITS}
group by o.id
order by 5 desc, 4 desc, o.slug
limit $4
"""
# The visits are read once, into one row per organization (a few hundred at most), and the figures
# come from those rows: a visits CTE named four times was written out whole, to disk beyond work_mem,
# and read four times (9 s for every one of 100 labs, against 0.5 s for 10). Rosters join the visits
# as a subquery of their own (not materialized), so the planner starts from the few roster rows.
TOTALS = f"""
with visits as not materialized (
    select b.id, b.organization_id, s.kind, {_VISITORS} as visitors
    {_VISITS}
), by_organization as (
    select count(*) as visits, sum(visitors) as visitors from visits group by organization_id
)
select
    (select coalesce(sum(visits), 0) from by_organization)::int as visits,
    (select coalesce(sum(visitors), 0) from by_organization)::int as visitors,
    (select count(*) from by_organization)::int as organizations,
    (select count(*) from by_organization where visits > 1)::int as repeat_organizations,
    ((select count(*) from roster_entries r join visits v on v.id = r.booking_id
      where v.kind = 'training' and r.attended is not false)
     + (select coalesce(sum(p.trained), 0) from purged_rosters p join visits v on v.id = p.booking_id
        where v.kind = 'training'))::int as trainees_trained,
    (select count(*) from bookings b join slots s on s.id = b.slot_id join attendance a on a.booking_id = b.id
     where s.lab_id = any($3::int[]) and s.starts_at >= $1 and s.starts_at < $2
       and a.outcome = 'no_show')::int as no_shows,
    (select count(*) from inductions i join equipment e on e.id = i.equipment_id
     where e.lab_id = any($3::int[]) and i.granted_at >= $1 and i.granted_at < $2
       and i.revoked_at is null)::int as inductions_granted
"""
# A prepared statement switches to one generic plan after five runs when that plan looks no dearer than
# the plans made for the values. A report's values decide its plan: one lab's sessions are a few
# thousand index probes, every lab's a hash join over whole tables, and a generic plan made from one
# lab's estimates ran a report over ten labs five times slower. Planning takes a millisecond; a report
# plans for its own labs and dates, for the rest of its transaction.
PLAN_FOR_THE_VALUES = "set local plan_cache_mode = force_custom_plan"


async def plan_for_the_values(conn: asyncpg.Connection) -> None:
    await conn.execute(PLAN_FOR_THE_VALUES)


# The labs a report may cover: the caller's (every lab for $1), narrowed to one lab or one host.
LABS = """
select l.id from labs l join organizations h on h.id = l.organization_id
where ($1::boolean or l.id = any($2::int[]))
  and ($3::text is null or l.slug = $3) and ($4::text is null or h.slug = $4)
order by l.id
"""


async def list_labs(
    conn: asyncpg.Connection, *, see_all: bool, lab_ids: list[int], lab: str | None, host: str | None
) -> list[int]:
    return [row["id"] for row in await conn.fetch(LABS, see_all, lab_ids, lab, host)]


async def list_groups(
    conn: asyncpg.Connection, query: str, starts_from: datetime, starts_to: datetime, labs: list[int]
) -> list[GroupRow]:
    return many(GroupRow, await conn.fetch(query, starts_from, starts_to, labs))


async def list_top_organizations(
    conn: asyncpg.Connection, starts_from: datetime, starts_to: datetime, labs: list[int], limit: int
) -> list[TopOrganizationRow]:
    return many(TopOrganizationRow, await conn.fetch(TOP_ORGANIZATIONS, starts_from, starts_to, labs, limit))


async def get_totals(
    conn: asyncpg.Connection, starts_from: datetime, starts_to: datetime, labs: list[int]
) -> TotalsRow:
    return one(TotalsRow, await conn.fetchrow(TOTALS, starts_from, starts_to, labs))


# Utilization per lab and period ($4: 'week' or 'month', in the labs' zone $5): hours open (the weekly
# opening hours over the period's days, less the lab's closures and the maintenance that holds the
# whole lab rather than some stations), hours published (sessions people attend) and hours booked
# (those sessions with a confirmed booking).
UTILIZATION = """
with days as (
    select d
    from generate_series(
        $1::timestamptz at time zone $5,
        ($2::timestamptz at time zone $5) - interval '1 day',
        interval '1 day'
    ) d
), periods as (
    select distinct date_trunc($4, d)::date as period from days
), windows as (
    select h.lab_id, date_trunc($4, d)::date as period,
           tstzrange((d::date + h.opens_at) at time zone $5, (d::date + h.closes_at) at time zone $5) as span
    from days
    join opening_hours h on h.weekday = extract(isodow from d) and h.lab_id = any($3::int[])
), open as (
    -- Lab-wide maintenance windows may overlap each other: their union (range_agg) is taken off
    -- each window once.
    select w.lab_id, w.period, sum(extract(epoch from upper(left_open) - lower(left_open))) / 3600 as hours
    from windows w
    cross join lateral unnest(tstzmultirange(w.span) - coalesce((
        select range_agg(s.during)
        from slots s
        where int4range(s.lab_id, s.lab_id, '[]') = int4range(w.lab_id, w.lab_id, '[]')
          and s.during && w.span and s.status = 'active'
          and (s.kind = 'closure' or (s.kind = 'maintenance'
               and not exists (select 1 from slot_units su where su.slot_id = s.id and su.is_active)))
    ), '{}'::tstzmultirange)) as left_open
    group by 1, 2
), used as (
    select s.lab_id, date_trunc($4, s.starts_at at time zone $5)::date as period,
           sum(extract(epoch from s.ends_at - s.starts_at)) / 3600 as published,
           sum(extract(epoch from s.ends_at - s.starts_at)) filter (
               where exists (select 1 from bookings b where b.slot_id = s.id and b.status = 'confirmed')
           ) / 3600 as booked
    from slots s
    where s.lab_id = any($3::int[]) and s.starts_at >= $1 and s.starts_at < $2
      and s.status = 'active' and s.kind in ('tour', 'training', 'event')
    group by 1, 2
)
select l.slug as lab, p.period, round(coalesce(o.hours, 0)::numeric, 2)::float8 as hours_open,
       round(coalesce(u.published, 0)::numeric, 2)::float8 as hours_published,
       round(coalesce(u.booked, 0)::numeric, 2)::float8 as hours_booked
from labs l cross join periods p
left join open o on o.lab_id = l.id and o.period = p.period
left join used u on u.lab_id = l.id and u.period = p.period
where l.id = any($3::int[])
order by l.slug, p.period
"""
# Hours each piece of equipment was held by active slots per period, and per station.
EQUIPMENT_USE = """
select l.slug as lab, e.slug as equipment, date_trunc($4, s.starts_at at time zone $5)::date as period,
       e.units,
       round((sum(extract(epoch from s.ends_at - s.starts_at)) / 3600)::numeric, 2)::float8 as unit_hours,
       round((sum(extract(epoch from s.ends_at - s.starts_at)) / 3600 / e.units)::numeric, 2)::float8
           as hours_per_station
from slot_units su
join slots s on s.id = su.slot_id
join equipment_units u on u.id = su.unit_id
join equipment e on e.id = u.equipment_id
join labs l on l.id = e.lab_id
where su.is_active and s.lab_id = any($3::int[]) and s.starts_at >= $1 and s.starts_at < $2
group by l.slug, e.slug, e.units, 3
order by l.slug, e.slug, 3
"""


async def list_utilization(
    conn: asyncpg.Connection, starts_from: datetime, starts_to: datetime, labs: list[int], by: str, tz: str
) -> list[UtilizationRow]:
    return many(UtilizationRow, await conn.fetch(UTILIZATION, starts_from, starts_to, labs, by, tz))


async def list_equipment_use(
    conn: asyncpg.Connection, starts_from: datetime, starts_to: datetime, labs: list[int], by: str, tz: str
) -> list[EquipmentUseRow]:
    return many(EquipmentUseRow, await conn.fetch(EQUIPMENT_USE, starts_from, starts_to, labs, by, tz))
