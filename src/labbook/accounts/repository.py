"""SQL for people, roles and access tokens."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from labbook.accounts.security import Principal

GET_PRINCIPAL_BY_TOKEN = """
select t.id as token_id, p.id as person_id, p.organization_id, p.roles,
       array(select m.lab_id from lab_managers m where m.person_id = p.id) as lab_ids,
       t.last_used_at is null or t.last_used_at < now() - interval '1 minute' as is_stale
from access_tokens t
join people p on p.id = t.person_id
where t.token_hash = $1
  and t.revoked_at is null
  and (t.expires_at is null or t.expires_at > now())
  and p.is_active
"""
# last_used_at is written at most once a minute per token, so reads do not turn into write storms.
TOUCH_TOKEN = "update access_tokens set last_used_at = now() where id = $1"

INSERT_PERSON = """
insert into people (organization_id, email, full_name, phone, roles)
values ($1, $2, $3, $4, $5)
returning id, organization_id, email, full_name, phone, roles, is_active, created_at, updated_at
"""
GET_PERSON_BY_EMAIL = """
select id, organization_id, email, full_name, phone, roles, is_active, created_at, updated_at
from people where lower(email) = lower($1)
"""
SET_LAB_MANAGERS = """
insert into lab_managers (lab_id, person_id)
select unnest($2::int[]), $1
on conflict do nothing
"""
INSERT_ACCESS_TOKEN = """
insert into access_tokens (person_id, name, token_hash, prefix, expires_at)
values ($1, $2, $3, $4, $5)
returning id, person_id, name, prefix, expires_at, last_used_at, revoked_at, created_at
"""


async def get_principal_by_token(conn: asyncpg.Connection, token_hash: bytes) -> Principal | None:
    row = await conn.fetchrow(GET_PRINCIPAL_BY_TOKEN, token_hash)
    if row is None:
        return None
    if row["is_stale"]:
        await conn.execute(TOUCH_TOKEN, row["token_id"])
    return Principal(
        person_id=row["person_id"],
        organization_id=row["organization_id"],
        roles=frozenset(row["roles"]),
        managed_lab_ids=frozenset(row["lab_ids"]),
        token_id=row["token_id"],
    )


async def insert_person(
    conn: asyncpg.Connection,
    *,
    organization_id: int,
    email: str,
    full_name: str,
    phone: str | None,
    roles: list[str],
) -> asyncpg.Record:
    return await conn.fetchrow(INSERT_PERSON, organization_id, email, full_name, phone, roles)


async def get_person_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_PERSON_BY_EMAIL, email)


async def add_lab_managers(conn: asyncpg.Connection, person_id: UUID, lab_ids: list[int]) -> None:
    await conn.execute(SET_LAB_MANAGERS, person_id, lab_ids)


async def insert_access_token(
    conn: asyncpg.Connection,
    *,
    person_id: UUID,
    name: str,
    token_hash: bytes,
    prefix: str,
    expires_at: datetime | None,
) -> asyncpg.Record:
    return await conn.fetchrow(INSERT_ACCESS_TOKEN, person_id, name, token_hash, prefix, expires_at)
