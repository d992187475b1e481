"""SQL for loading the demo story. Plain inserts: the service runs them once, under a lock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID

import asyncpg

# Serializes concurrent loads: the second waits, then finds the demo already there.
LOCK = "select pg_advisory_xact_lock(hashtext('labbook-demo'))"

IS_LOADED = "select exists (select 1 from organizations where slug = $1)"
LOADED_AT = "select min(occurred_at) from audit_events where action = 'demo.load'"

INSERT_ORGANIZATION = """
insert into organizations (slug, name, kind, city, country, website, description)
values ($1, $2, $3, $4, $5, $6, $7)
returning id
"""
INSERT_LAB = """
insert into labs (slug, organization_id, name, description, building, room, address, timezone, capacity,
                  languages, min_visitor_age, safety_notes, accessibility)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
returning id
"""
INSERT_OPENING_HOURS = """
insert into opening_hours (lab_id, weekday, opens_at, closes_at) values ($1, $2, $3, $4)
"""
INSERT_EQUIPMENT = """
insert into equipment (lab_id, slug, kind, name, description, units, seats_per_unit, requires_induction)
values ($1, $2, $3, $4, $5, $6, $7, $8)
returning id
"""
INSERT_UNITS = """
insert into equipment_units (equipment_id, number)
select $1, generate_series(1, $2)
returning id, number
"""
INSERT_PERSON = """
insert into people (id, organization_id, email, full_name, phone, roles)
values ($1, $2, $3, $4, $5, $6)
"""
# Only people who have no password yet: a demo person who changed theirs keeps it.
SET_MISSING_PASSWORDS = """
update people set password_hash = $2
where id = any($1::uuid[]) and password_hash is null
"""
INSERT_LAB_MANAGER = "insert into lab_managers (lab_id, person_id) values ($1, $2)"
INSERT_ACCESS_TOKEN = """
insert into access_tokens (person_id, name, token_hash, prefix) values ($1, 'demo', $2, $3)
"""
INSERT_SERIES = """
insert into slot_series (id, lab_id, kind, title, description, timezone, local_start, duration, freq,
                         interval, weekdays, count, capacity, visibility, instructor_id,
                         requires_approval, created_by)
values ($1, $2, $3, $4, $5, $6, $7, $8, 'weekly', 1, $9, $10, $11, 'public', $12, $13, $14)
"""
INSERT_SLOT = """
insert into slots (id, lab_id, series_id, occurrence_start, kind, title, description, starts_at, ends_at,
                   capacity, seats_taken, visibility, organization_id, booking_deadline, requires_approval,
                   instructor_id, status, sequence, created_by)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
"""
INSERT_SLOT_UNITS = """
insert into slot_units (slot_id, unit_id, during, is_active)
select s.id, u.unit_id, s.during, s.status = 'active'
from slots s, unnest($2::int[]) as u (unit_id)
where s.id = $1
"""
INSERT_BOOKING = """
insert into bookings (id, slot_id, organization_id, booked_by, group_id, headcount, contact_name,
                      contact_email, contact_phone, language, age_group, notes, status, status_message,
                      sequence)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
"""
INSERT_VISIT_REQUEST = """
insert into visit_requests (id, lab_id, organization_id, requested_by, kind, windows, headcount, age_group,
                            language, purpose, contact_name, contact_email, contact_phone)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
"""


async def lock(conn: asyncpg.Connection) -> None:
    await conn.execute(LOCK)


async def is_loaded(conn: asyncpg.Connection, marker_slug: str) -> bool:
    return bool(await conn.fetchval(IS_LOADED, marker_slug))


async def loaded_at(conn: asyncpg.Connection) -> datetime | None:
    value: datetime | None = await conn.fetchval(LOADED_AT)
    return value


async def insert_organization(
    conn: asyncpg.Connection,
    *,
    slug: str,
    name: dict[str, str],
    kind: str,
    city: str | None,
    country: str | None,
    website: str | None,
    description: dict[str, str],
) -> int:
    org_id: int = await conn.fetchval(
        INSERT_ORGANIZATION, slug, name, kind, city, country, website, description
    )
    return org_id


async def insert_lab(conn: asyncpg.Connection, *, organization_id: int, **fields: Any) -> int:
    lab_id: int = await conn.fetchval(
        INSERT_LAB,
        fields["slug"],
        organization_id,
        fields["name"],
        fields["description"],
        fields["building"],
        fields["room"],
        fields["address"],
        fields["timezone"],
        fields["capacity"],
        list(fields["languages"]),
        fields["min_visitor_age"],
        fields["safety_notes"],
        fields["accessibility"],
    )
    return lab_id


async def insert_opening_hours(
    conn: asyncpg.Connection, lab_id: int, hours: Iterable[tuple[int, time, time]]
) -> None:
    await conn.executemany(INSERT_OPENING_HOURS, [(lab_id, *window) for window in hours])


async def insert_equipment(
    conn: asyncpg.Connection,
    *,
    lab_id: int,
    slug: str,
    kind: str,
    name: dict[str, str],
    description: dict[str, str],
    units: int,
    seats_per_unit: int,
    requires_induction: bool,
) -> dict[int, int]:
    """Insert the equipment and its units; returns unit number → unit id."""
    equipment_id = await conn.fetchval(
        INSERT_EQUIPMENT, lab_id, slug, kind, name, description, units, seats_per_unit, requires_induction
    )
    rows = await conn.fetch(INSERT_UNITS, equipment_id, units)
    return {row["number"]: row["id"] for row in rows}


async def insert_person(
    conn: asyncpg.Connection,
    *,
    person_id: UUID,
    organization_id: int,
    email: str,
    full_name: str,
    phone: str | None,
    roles: list[str],
) -> None:
    await conn.execute(INSERT_PERSON, person_id, organization_id, email, full_name, phone, roles)


async def set_missing_passwords(conn: asyncpg.Connection, person_ids: list[UUID], password_hash: str) -> None:
    await conn.execute(SET_MISSING_PASSWORDS, person_ids, password_hash)


async def insert_lab_manager(conn: asyncpg.Connection, lab_id: int, person_id: UUID) -> None:
    await conn.execute(INSERT_LAB_MANAGER, lab_id, person_id)


async def insert_access_token(
    conn: asyncpg.Connection, person_id: UUID, token_hash: bytes, prefix: str
) -> None:
    await conn.execute(INSERT_ACCESS_TOKEN, person_id, token_hash, prefix)


async def insert_series(
    conn: asyncpg.Connection,
    *,
    series_id: UUID,
    lab_id: int,
    kind: str,
    title: dict[str, str],
    description: dict[str, str],
    timezone: str,
    local_start: datetime,
    duration: timedelta,
    weekdays: list[int],
    count: int,
    capacity: int,
    instructor_id: UUID | None,
    requires_approval: bool,
    created_by: UUID,
) -> None:
    await conn.execute(
        INSERT_SERIES,
        series_id,
        lab_id,
        kind,
        title,
        description,
        timezone,
        local_start,
        duration,
        weekdays,
        count,
        capacity,
        instructor_id,
        requires_approval,
        created_by,
    )


async def insert_slot(conn: asyncpg.Connection, values: tuple[Any, ...], unit_ids: list[int]) -> None:
    """Insert a slot (``values`` in ``INSERT_SLOT`` order) and the units it holds."""
    await conn.execute(INSERT_SLOT, *values)
    if unit_ids:
        await conn.execute(INSERT_SLOT_UNITS, values[0], unit_ids)


async def insert_bookings(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert bookings given as tuples in ``INSERT_BOOKING`` order."""
    await conn.executemany(INSERT_BOOKING, rows)


async def insert_visit_request(conn: asyncpg.Connection, values: tuple[Any, ...]) -> None:
    await conn.execute(INSERT_VISIT_REQUEST, *values)
