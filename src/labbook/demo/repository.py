"""SQL for loading the demo story: the organizations, labs and people it starts from.

Slots, series and bookings are not here: the demo makes them through the services, as the API does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
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
"""
INSERT_PERSON = """
insert into people (id, organization_id, email, full_name, phone, roles, language)
values ($1, $2, $3, $4, $5, $6, $7)
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
) -> None:
    """Insert the equipment and its numbered units."""
    equipment_id = await conn.fetchval(
        INSERT_EQUIPMENT, lab_id, slug, kind, name, description, units, seats_per_unit, requires_induction
    )
    await conn.execute(INSERT_UNITS, equipment_id, units)


async def insert_person(
    conn: asyncpg.Connection,
    *,
    person_id: UUID,
    organization_id: int,
    email: str,
    full_name: str,
    phone: str | None,
    roles: list[str],
    language: str,
) -> None:
    await conn.execute(INSERT_PERSON, person_id, organization_id, email, full_name, phone, roles, language)


async def set_missing_passwords(conn: asyncpg.Connection, person_ids: list[UUID], password_hash: str) -> None:
    await conn.execute(SET_MISSING_PASSWORDS, person_ids, password_hash)


async def insert_lab_manager(conn: asyncpg.Connection, lab_id: int, person_id: UUID) -> None:
    await conn.execute(INSERT_LAB_MANAGER, lab_id, person_id)


async def insert_access_token(
    conn: asyncpg.Connection, person_id: UUID, token_hash: bytes, prefix: str
) -> None:
    await conn.execute(INSERT_ACCESS_TOKEN, person_id, token_hash, prefix)


async def insert_visit_request(conn: asyncpg.Connection, values: tuple[Any, ...]) -> None:
    await conn.execute(INSERT_VISIT_REQUEST, *values)
