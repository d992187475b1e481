"""SQL for people, roles and access tokens."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from labbook import db
from labbook.accounts.security import Principal
from labbook.errors import Conflict

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

_PERSON_COLUMNS = """
p.id, p.organization_id, o.slug as organization_slug, o.kind as organization_kind, p.email,
p.full_name, p.phone, p.roles, p.is_active, p.created_at, p.updated_at,
array(select l.slug from lab_managers m join labs l on l.id = m.lab_id
      where m.person_id = p.id order by l.slug) as managed_labs
"""
INSERT_PERSON = """
insert into people (organization_id, email, full_name, phone, roles)
values ($1, $2, $3, $4, $5)
returning id, organization_id, email, full_name, phone, roles, is_active, created_at, updated_at
"""
GET_PERSON_BY_EMAIL = """
select id, organization_id, email, full_name, phone, roles, is_active, created_at, updated_at
from people where lower(email) = lower($1)
"""
GET_PERSON = f"""
select {_PERSON_COLUMNS}
from people p join organizations o on o.id = p.organization_id
where p.id = $1
"""
LOCK_PERSON = GET_PERSON + " for update of p"
_PEOPLE_MATCHING = """
from people p join organizations o on o.id = p.organization_id
where ($1::text is null or o.slug = $1)
  and ($2::text is null or $2 = any(p.roles))
  and ($3::text is null or p.full_name ilike '%' || $3 || '%' or p.email ilike '%' || $3 || '%')
"""
LIST_PEOPLE = f"""
select {_PERSON_COLUMNS}, count(*) over () as total
{_PEOPLE_MATCHING}
order by p.full_name, p.email, p.id
limit $4 offset $5
"""
# The window count above comes with the rows, so a page past the end needs the total counted apart.
COUNT_PEOPLE = f"select count(*) {_PEOPLE_MATCHING}"
UPDATE_PERSON = """
update people
set full_name = $2, phone = $3, roles = $4, is_active = $5, updated_at = now()
where id = $1
"""
SET_LAB_MANAGERS = """
insert into lab_managers (lab_id, person_id)
select unnest($2::int[]), $1
on conflict do nothing
"""
DELETE_LAB_MANAGERS_EXCEPT = "delete from lab_managers where person_id = $1 and lab_id <> all($2::int[])"
GET_ORGANIZATION_SLUG = "select slug from organizations where id = $1"
GET_ORGANIZATION_BY_SLUG = "select id, slug, kind, is_archived from organizations where slug = $1"
GET_LABS_BY_SLUG = "select id, slug, organization_id from labs where slug = any($1::text[])"

_TOKEN_COLUMNS = "id, person_id, name, prefix, expires_at, last_used_at, revoked_at, created_at"
INSERT_ACCESS_TOKEN = f"""
insert into access_tokens (person_id, name, token_hash, prefix, expires_at)
values ($1, $2, $3, $4, $5)
returning {_TOKEN_COLUMNS}
"""
LIST_TOKENS = f"select {_TOKEN_COLUMNS} from access_tokens where person_id = $1 order by created_at desc, id"
GET_TOKEN = f"select {_TOKEN_COLUMNS} from access_tokens where id = $1"
REVOKE_TOKEN = f"""
update access_tokens set revoked_at = coalesce(revoked_at, now())
where id = $1
returning {_TOKEN_COLUMNS}
"""
REVOKE_PERSON_TOKENS = f"""
update access_tokens set revoked_at = now()
where person_id = $1 and revoked_at is null
returning {_TOKEN_COLUMNS}
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
    try:
        return await conn.fetchrow(INSERT_PERSON, organization_id, email, full_name, phone, roles)
    except asyncpg.UniqueViolationError as exc:
        if db.constraint_name(exc) == "uq_people_email":
            raise Conflict(f"a person with the email {email} already exists", field="email") from None
        raise


async def get_person_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_PERSON_BY_EMAIL, email)


async def get_person(conn: asyncpg.Connection, person_id: UUID) -> asyncpg.Record | None:
    """A person with their organization's slug and kind and the slugs of the labs they manage."""
    return await conn.fetchrow(GET_PERSON, person_id)


async def lock_person(conn: asyncpg.Connection, person_id: UUID) -> asyncpg.Record | None:
    """Like ``get_person``, holding the row until the transaction ends."""
    return await conn.fetchrow(LOCK_PERSON, person_id)


async def list_people(
    conn: asyncpg.Connection,
    *,
    organization_slug: str | None,
    role: str | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(LIST_PEOPLE, organization_slug, role, q, limit, offset)
    if rows:
        return rows, rows[0]["total"]
    if offset == 0:
        return rows, 0
    total: int = await conn.fetchval(COUNT_PEOPLE, organization_slug, role, q)
    return rows, total


async def update_person(
    conn: asyncpg.Connection,
    person_id: UUID,
    *,
    full_name: str,
    phone: str | None,
    roles: list[str],
    is_active: bool,
) -> None:
    await conn.execute(UPDATE_PERSON, person_id, full_name, phone, roles, is_active)


async def add_lab_managers(conn: asyncpg.Connection, person_id: UUID, lab_ids: list[int]) -> None:
    await conn.execute(SET_LAB_MANAGERS, person_id, lab_ids)


async def set_lab_managers(conn: asyncpg.Connection, person_id: UUID, lab_ids: list[int]) -> None:
    """Make ``lab_ids`` exactly the labs the person manages."""
    await conn.execute(DELETE_LAB_MANAGERS_EXCEPT, person_id, lab_ids)
    await conn.execute(SET_LAB_MANAGERS, person_id, lab_ids)


async def get_organization_slug(conn: asyncpg.Connection, organization_id: int) -> str | None:
    slug: str | None = await conn.fetchval(GET_ORGANIZATION_SLUG, organization_id)
    return slug


async def get_organization_by_slug(conn: asyncpg.Connection, slug: str) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_ORGANIZATION_BY_SLUG, slug)


async def get_labs_by_slug(conn: asyncpg.Connection, slugs: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(GET_LABS_BY_SLUG, slugs)


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


async def list_tokens(conn: asyncpg.Connection, person_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_TOKENS, person_id)


async def get_token(conn: asyncpg.Connection, token_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_TOKEN, token_id)


async def revoke_token(conn: asyncpg.Connection, token_id: UUID) -> asyncpg.Record | None:
    """Mark a token revoked (keeping the first revocation time); ``None`` if there is no such token."""
    return await conn.fetchrow(REVOKE_TOKEN, token_id)


async def revoke_person_tokens(conn: asyncpg.Connection, person_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(REVOKE_PERSON_TOKENS, person_id)
