"""SQL for organizations, labs, equipment, equipment units and opening hours.

Other domains reach these rows through ``labbook.catalog.service``. Every lab and equipment row
carries the parent's slug (``host`` for labs, ``lab`` for equipment), so replies can be shaped
without a second query.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time
from typing import Any, TypeAlias

import asyncpg

from labbook.catalog.rows import (
    EquipmentRow,
    HeldUnit,
    LabName,
    LabRow,
    OpeningHoursRow,
    OrganizationRow,
    UnitRow,
    UpcomingSeries,
    UpcomingSlot,
)
from labbook.core.rows import many, maybe, one
from labbook.core.sql import like_pattern
from labbook.errors import Conflict, ValidationFailed

# A pool runs one statement on any free connection; a connection joins the caller's transaction.
Executor: TypeAlias = asyncpg.Pool | asyncpg.Connection


# --- organizations -----------------------------------------------------------------------------

ORGANIZATION_COLUMNS = """
id, slug, name, kind, city, country, website, description, is_archived, created_at, updated_at
"""

GET_ORGANIZATION_BY_SLUG = f"select {ORGANIZATION_COLUMNS} from organizations where slug = $1"
GET_ORGANIZATION_FOR_UPDATE = f"select {ORGANIZATION_COLUMNS} from organizations where slug = $1 for update"
# A lab's host is read under a share lock, so its kind cannot change while the lab is being added.
GET_ORGANIZATION_FOR_SHARE = f"select {ORGANIZATION_COLUMNS} from organizations where slug = $1 for share"

# $1 kind, $2 escaped LIKE pattern, $3 include archived
ORGANIZATION_FILTER = """
from organizations
where ($1::text is null or kind = $1)
  and ($2::text is null
       or exists (select 1 from jsonb_each_text(name) n where n.value ilike '%' || $2 || '%' escape '\\'))
  and ($3 or not is_archived)
"""
LIST_ORGANIZATIONS = f"""
select {ORGANIZATION_COLUMNS} {ORGANIZATION_FILTER}
order by slug
limit $4 offset $5
"""
COUNT_ORGANIZATIONS = f"select count(*) {ORGANIZATION_FILTER}"

INSERT_ORGANIZATION = f"""
insert into organizations (slug, name, kind, city, country, website, description)
values ($1, $2, $3, $4, $5, $6, $7)
returning {ORGANIZATION_COLUMNS}
"""
UPDATE_ORGANIZATION = f"""
update organizations
set name = $2, kind = $3, city = $4, country = $5, website = $6, description = $7, updated_at = now()
where id = $1
returning {ORGANIZATION_COLUMNS}
"""
COUNT_LABS_OF_ORGANIZATION = "select count(*) from labs where organization_id = $1"
ARCHIVE_ORGANIZATION = f"""
update organizations set is_archived = true, updated_at = now()
where id = $1
returning {ORGANIZATION_COLUMNS}
"""
UNARCHIVE_ORGANIZATION = f"""
update organizations set is_archived = false, updated_at = now()
where id = $1
returning {ORGANIZATION_COLUMNS}
"""

# --- labs --------------------------------------------------------------------------------------

LAB_COLUMNS = """
l.id, l.slug, l.organization_id, o.slug as host, l.name, l.description, l.building, l.room, l.address,
l.timezone, l.capacity, l.languages, l.min_visitor_age, l.safety_notes, l.accessibility,
l.min_notice_hours, l.max_advance_days, l.reminder_hours, l.is_archived, l.created_at, l.updated_at
"""

GET_LAB_BY_SLUG = f"""
select {LAB_COLUMNS}
from labs l join organizations o on o.id = l.organization_id
where l.slug = $1
"""
LAB_NAMES = "select slug, name from labs where slug = any($1::text[])"
GET_LAB_BY_ID = f"""
select {LAB_COLUMNS}
from labs l join organizations o on o.id = l.organization_id
where l.id = $1
"""
LABS_RUN_BY = f"""
select {LAB_COLUMNS}
from labs l join organizations o on o.id = l.organization_id
where not l.is_archived and ($1 or l.id = any($2::bigint[]))
order by l.slug
"""
# The lab row lock serialises every change that must see a consistent lab: opening hours, unit
# counts, and (in the slots domain) capacity and closure checks.
GET_LAB_FOR_UPDATE = f"""
select {LAB_COLUMNS}
from labs l join organizations o on o.id = l.organization_id
where l.slug = $1
for update of l
"""

# $1 host slug, $2 language, $3 equipment kind, $4 escaped LIKE pattern, $5 include archived
LAB_FILTER = """
from labs l join organizations o on o.id = l.organization_id
where ($1::text is null or o.slug = $1)
  and ($2::text is null or $2 = any(l.languages))
  and ($3::text is null
       or exists (select 1 from equipment e where e.lab_id = l.id and e.kind = $3 and not e.is_archived))
  and ($4::text is null
       or exists (select 1 from jsonb_each_text(l.name) n where n.value ilike '%' || $4 || '%' escape '\\')
       or exists (select 1 from jsonb_each_text(l.description) d
                  where d.value ilike '%' || $4 || '%' escape '\\'))
  and ($5 or not l.is_archived)
"""
LIST_LABS = f"""
select {LAB_COLUMNS} {LAB_FILTER}
order by l.slug
limit $6 offset $7
"""
COUNT_LABS = f"select count(*) {LAB_FILTER}"

INSERT_LAB = f"""
with l as (
    insert into labs (slug, organization_id, name, description, building, room, address, timezone,
                      capacity, languages, min_visitor_age, safety_notes, accessibility,
                      min_notice_hours, max_advance_days, reminder_hours)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
    returning *
)
select {LAB_COLUMNS} from l join organizations o on o.id = l.organization_id
"""
UPDATE_LAB = f"""
with l as (
    update labs
    set name = $2, description = $3, building = $4, room = $5, address = $6, timezone = $7,
        capacity = $8, languages = $9, min_visitor_age = $10, safety_notes = $11, accessibility = $12,
        min_notice_hours = $13, max_advance_days = $14, reminder_hours = $15, updated_at = now()
    where id = $1
    returning *
)
select {LAB_COLUMNS} from l join organizations o on o.id = l.organization_id
"""
ARCHIVE_LAB = f"""
with l as (
    update labs set is_archived = true, updated_at = now()
    where id = $1
    returning *
)
select {LAB_COLUMNS} from l join organizations o on o.id = l.organization_id
"""

# What a change to the lab must keep valid: slots active now or later, and series that still have
# occurrences to come. Read under the lab row lock, which every slot write takes first.
LIST_UPCOMING_SLOTS = """
select id, kind, capacity, starts_at, ends_at, is_outside_hours
from slots
where int4range(lab_id, lab_id, '[]') = int4range($1, $1, '[]')
  and during && tstzrange(now(), null, '[)')
  and status = 'active'
order by starts_at, id
"""
LIST_UPCOMING_SERIES = """
select s.id
from slot_series s
where s.lab_id = $1
  and s.status = 'active'
  and exists (select 1 from slots o where o.series_id = s.id and o.ends_at > now())
order by s.local_start, s.id
"""

# --- equipment ---------------------------------------------------------------------------------

EQUIPMENT_COLUMNS = """
e.id, e.lab_id, l.slug as lab, e.slug, e.kind, e.name, e.description, e.units, e.seats_per_unit,
e.requires_induction, e.induction_valid_months, e.is_out_of_service, e.is_archived, e.created_at,
e.updated_at
"""

GET_EQUIPMENT_BY_SLUG = f"""
select {EQUIPMENT_COLUMNS}
from equipment e join labs l on l.id = e.lab_id
where e.lab_id = $1 and e.slug = $2
"""
GET_EQUIPMENT_FOR_UPDATE = f"""
select {EQUIPMENT_COLUMNS}
from equipment e join labs l on l.id = e.lab_id
where e.lab_id = $1 and e.slug = $2
for update of e
"""
LIST_EQUIPMENT = f"""
select {EQUIPMENT_COLUMNS}
from equipment e join labs l on l.id = e.lab_id
where e.lab_id = $1 and ($2 or not e.is_archived)
order by e.slug
"""
INSERT_EQUIPMENT = f"""
with e as (
    insert into equipment (lab_id, slug, kind, name, description, units, seats_per_unit,
                           requires_induction, induction_valid_months, is_out_of_service)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    returning *
)
select {EQUIPMENT_COLUMNS} from e join labs l on l.id = e.lab_id
"""
UPDATE_EQUIPMENT = f"""
with e as (
    update equipment
    set kind = $2, name = $3, description = $4, units = $5, seats_per_unit = $6,
        requires_induction = $7, induction_valid_months = $8, is_out_of_service = $9, updated_at = now()
    where id = $1
    returning *
)
select {EQUIPMENT_COLUMNS} from e join labs l on l.id = e.lab_id
"""
ARCHIVE_EQUIPMENT = f"""
with e as (
    update equipment set is_archived = true, updated_at = now()
    where id = $1
    returning *
)
select {EQUIPMENT_COLUMNS} from e join labs l on l.id = e.lab_id
"""

# Numbers 1..$2 exist and are in service afterwards; numbers that were retired come back.
ACTIVATE_UNITS = """
insert into equipment_units (equipment_id, number)
select $1, generate_series(1, $2)
on conflict on constraint uq_equipment_units_number do update set is_retired = false
where equipment_units.is_retired
"""
# FOR UPDATE conflicts with the key-share lock a new slot_units row takes on its unit, so a slot
# cannot start holding a unit between our check and the retirement.
LOCK_UNITS_ABOVE = """
select id, number from equipment_units
where equipment_id = $1 and number > $2 and not is_retired
order by number
for update
"""
HELD_UNITS = """
select su.slot_id, eu.number as unit, s.starts_at, s.ends_at
from slot_units su
join equipment_units eu on eu.id = su.unit_id
join slots s on s.id = su.slot_id
where su.unit_id = any($1::int[]) and su.is_active and upper(su.during) > now()
order by s.starts_at, eu.number
"""
RETIRE_UNITS = "update equipment_units set is_retired = true where id = any($1::int[])"

# --- opening hours -----------------------------------------------------------------------------

LIST_OPENING_HOURS = """
select weekday, opens_at, closes_at from opening_hours
where lab_id = $1
order by weekday, opens_at
"""
DELETE_OPENING_HOURS = "delete from opening_hours where lab_id = $1"
INSERT_OPENING_HOURS = """
insert into opening_hours (lab_id, weekday, opens_at, closes_at)
select $1, w, o, c from unnest($2::smallint[], $3::time[], $4::time[]) as h(w, o, c)
"""

_UNIQUE_SLUGS = {
    "uq_organizations_slug": "an organization",
    "uq_labs_slug": "a lab",
    "uq_equipment_lab_slug": "equipment in this lab",
}


@contextmanager
def _translated(slug: str | None = None) -> Iterator[None]:
    """Integrity errors, named by constraint, as the domain errors a client can act on."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        what = _UNIQUE_SLUGS.get(exc.constraint_name or "")
        if what is None:
            raise
        raise Conflict(
            f"{what} with slug {slug!r} already exists",
            errors=[{"field": "slug", "message": f"{slug!r} is taken"}],
            slug=slug,
        ) from None
    except asyncpg.CheckViolationError as exc:
        raise ValidationFailed(
            f"the values break the rule {exc.constraint_name}",
            errors=[{"field": "body", "message": f"breaks {exc.constraint_name}"}],
        ) from None
    except asyncpg.ExclusionViolationError as exc:
        if exc.constraint_name != "ex_opening_hours_overlap":
            raise
        raise ValidationFailed(
            "opening hours overlap within a weekday",
            errors=[{"field": "body", "message": "opening hours overlap within a weekday"}],
        ) from None


# --- organization functions --------------------------------------------------------------------


async def get_organization_by_slug(conn: Executor, slug: str) -> OrganizationRow | None:
    return maybe(OrganizationRow, await conn.fetchrow(GET_ORGANIZATION_BY_SLUG, slug))


async def get_organization_for_update(conn: asyncpg.Connection, slug: str) -> OrganizationRow | None:
    return maybe(OrganizationRow, await conn.fetchrow(GET_ORGANIZATION_FOR_UPDATE, slug))


async def get_organization_for_share(conn: asyncpg.Connection, slug: str) -> OrganizationRow | None:
    return maybe(OrganizationRow, await conn.fetchrow(GET_ORGANIZATION_FOR_SHARE, slug))


async def list_organizations(
    conn: Executor, *, kind: str | None, q: str | None, include_archived: bool, limit: int, offset: int
) -> tuple[list[OrganizationRow], int]:
    pattern = like_pattern(q) if q else None
    rows = await conn.fetch(LIST_ORGANIZATIONS, kind, pattern, include_archived, limit, offset)
    total: int = await conn.fetchval(COUNT_ORGANIZATIONS, kind, pattern, include_archived)
    return many(OrganizationRow, rows), total


async def insert_organization(conn: asyncpg.Connection, fields: dict[str, Any]) -> OrganizationRow:
    with _translated(fields["slug"]):
        row = await conn.fetchrow(
            INSERT_ORGANIZATION,
            fields["slug"],
            fields["name"],
            fields["kind"],
            fields["city"],
            fields["country"],
            fields["website"],
            fields["description"],
        )
    return one(OrganizationRow, row)


async def update_organization(
    conn: asyncpg.Connection, org_id: int, fields: dict[str, Any]
) -> OrganizationRow:
    with _translated():
        row = await conn.fetchrow(
            UPDATE_ORGANIZATION,
            org_id,
            fields["name"],
            fields["kind"],
            fields["city"],
            fields["country"],
            fields["website"],
            fields["description"],
        )
    return one(OrganizationRow, row)


async def count_labs_of_organization(conn: Executor, org_id: int) -> int:
    count: int = await conn.fetchval(COUNT_LABS_OF_ORGANIZATION, org_id)
    return count


async def archive_organization(conn: asyncpg.Connection, org_id: int) -> OrganizationRow:
    return one(OrganizationRow, await conn.fetchrow(ARCHIVE_ORGANIZATION, org_id))


async def unarchive_organization(conn: asyncpg.Connection, org_id: int) -> OrganizationRow:
    return one(OrganizationRow, await conn.fetchrow(UNARCHIVE_ORGANIZATION, org_id))


# --- lab functions -----------------------------------------------------------------------------


async def get_lab_by_slug(conn: Executor, slug: str) -> LabRow | None:
    """The lab with ``slug`` (archived or not), with ``host`` = its organization's slug."""
    return maybe(LabRow, await conn.fetchrow(GET_LAB_BY_SLUG, slug))


async def labs_run_by(conn: Executor, *, every: bool, lab_ids: list[int]) -> list[LabRow]:
    """Open labs, every one or those with the given ids, by slug."""
    return many(LabRow, await conn.fetch(LABS_RUN_BY, every, lab_ids))


async def get_lab_by_id(conn: Executor, lab_id: int) -> LabRow | None:
    return maybe(LabRow, await conn.fetchrow(GET_LAB_BY_ID, lab_id))


async def get_lab_for_update(conn: asyncpg.Connection, slug: str) -> LabRow | None:
    """Like ``get_lab_by_slug``, holding the lab row's lock until the transaction ends."""
    return maybe(LabRow, await conn.fetchrow(GET_LAB_FOR_UPDATE, slug))


async def lab_names(conn: Executor, slugs: list[str]) -> dict[str, dict[str, str]]:
    return {row.slug: row.name for row in many(LabName, await conn.fetch(LAB_NAMES, slugs))}


async def list_labs(
    conn: Executor,
    *,
    host: str | None,
    language: str | None,
    equipment_kind: str | None,
    q: str | None,
    include_archived: bool,
    limit: int,
    offset: int,
) -> tuple[list[LabRow], int]:
    pattern = like_pattern(q) if q else None
    args = (host, language, equipment_kind, pattern, include_archived)
    rows = await conn.fetch(LIST_LABS, *args, limit, offset)
    total: int = await conn.fetchval(COUNT_LABS, *args)
    return many(LabRow, rows), total


_LAB_FIELDS = (
    "name",
    "description",
    "building",
    "room",
    "address",
    "timezone",
    "capacity",
    "languages",
    "min_visitor_age",
    "safety_notes",
    "accessibility",
    "min_notice_hours",
    "max_advance_days",
    "reminder_hours",
)


async def insert_lab(conn: asyncpg.Connection, organization_id: int, fields: dict[str, Any]) -> LabRow:
    with _translated(fields["slug"]):
        row = await conn.fetchrow(
            INSERT_LAB, fields["slug"], organization_id, *(fields[name] for name in _LAB_FIELDS)
        )
    return one(LabRow, row)


async def update_lab(conn: asyncpg.Connection, lab_id: int, fields: dict[str, Any]) -> LabRow:
    with _translated():
        row = await conn.fetchrow(UPDATE_LAB, lab_id, *(fields[name] for name in _LAB_FIELDS))
    return one(LabRow, row)


async def archive_lab(conn: asyncpg.Connection, lab_id: int) -> LabRow:
    return one(LabRow, await conn.fetchrow(ARCHIVE_LAB, lab_id))


async def list_upcoming_slots(conn: asyncpg.Connection, lab_id: int) -> list[UpcomingSlot]:
    """The lab's active slots that have not ended yet (any kind), earliest first."""
    return many(UpcomingSlot, await conn.fetch(LIST_UPCOMING_SLOTS, lab_id))


async def list_upcoming_series(conn: asyncpg.Connection, lab_id: int) -> list[UpcomingSeries]:
    """The lab's active series with an occurrence (active or cancelled) that has not ended yet."""
    return many(UpcomingSeries, await conn.fetch(LIST_UPCOMING_SERIES, lab_id))


# --- equipment functions -----------------------------------------------------------------------


async def get_equipment_by_slug(conn: Executor, lab_id: int, slug: str) -> EquipmentRow | None:
    """The equipment ``slug`` of lab ``lab_id`` (archived or not), with ``lab`` = the lab's slug."""
    return maybe(EquipmentRow, await conn.fetchrow(GET_EQUIPMENT_BY_SLUG, lab_id, slug))


async def get_equipment_for_update(conn: asyncpg.Connection, lab_id: int, slug: str) -> EquipmentRow | None:
    return maybe(EquipmentRow, await conn.fetchrow(GET_EQUIPMENT_FOR_UPDATE, lab_id, slug))


async def list_equipment(conn: Executor, lab_id: int, *, include_archived: bool) -> list[EquipmentRow]:
    return many(EquipmentRow, await conn.fetch(LIST_EQUIPMENT, lab_id, include_archived))


_EQUIPMENT_FIELDS = (
    "kind",
    "name",
    "description",
    "units",
    "seats_per_unit",
    "requires_induction",
    "induction_valid_months",
    "is_out_of_service",
)


async def insert_equipment(conn: asyncpg.Connection, lab_id: int, fields: dict[str, Any]) -> EquipmentRow:
    with _translated(fields["slug"]):
        row = await conn.fetchrow(
            INSERT_EQUIPMENT, lab_id, fields["slug"], *(fields[name] for name in _EQUIPMENT_FIELDS)
        )
    return one(EquipmentRow, row)


async def update_equipment(
    conn: asyncpg.Connection, equipment_id: int, fields: dict[str, Any]
) -> EquipmentRow:
    with _translated():
        row = await conn.fetchrow(
            UPDATE_EQUIPMENT, equipment_id, *(fields[name] for name in _EQUIPMENT_FIELDS)
        )
    return one(EquipmentRow, row)


async def archive_equipment(conn: asyncpg.Connection, equipment_id: int) -> EquipmentRow:
    return one(EquipmentRow, await conn.fetchrow(ARCHIVE_EQUIPMENT, equipment_id))


async def activate_units(conn: asyncpg.Connection, equipment_id: int, units: int) -> None:
    await conn.execute(ACTIVATE_UNITS, equipment_id, units)


async def lock_units_above(conn: asyncpg.Connection, equipment_id: int, units: int) -> list[UnitRow]:
    return many(UnitRow, await conn.fetch(LOCK_UNITS_ABOVE, equipment_id, units))


async def list_held_units(conn: asyncpg.Connection, unit_ids: list[int]) -> list[HeldUnit]:
    """Active slots that hold any of ``unit_ids`` now or later."""
    return many(HeldUnit, await conn.fetch(HELD_UNITS, unit_ids))


async def retire_units(conn: asyncpg.Connection, unit_ids: list[int]) -> None:
    await conn.execute(RETIRE_UNITS, unit_ids)


# --- opening hours functions -------------------------------------------------------------------


async def list_opening_hours(conn: Executor, lab_id: int) -> list[OpeningHoursRow]:
    return many(OpeningHoursRow, await conn.fetch(LIST_OPENING_HOURS, lab_id))


async def replace_opening_hours(
    conn: asyncpg.Connection, lab_id: int, hours: list[tuple[int, time, time]]
) -> list[OpeningHoursRow]:
    """Swap the lab's weekly schedule; the caller holds the lab row lock (``get_lab_for_update``)."""
    await conn.execute(DELETE_OPENING_HOURS, lab_id)
    with _translated():
        await conn.execute(
            INSERT_OPENING_HOURS,
            lab_id,
            [h[0] for h in hours],
            [h[1] for h in hours],
            [h[2] for h in hours],
        )
    return await list_opening_hours(conn, lab_id)
