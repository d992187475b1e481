"""SQL for people, roles and access tokens."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from labbook import db
from labbook.accounts.rows import (
    BarePerson,
    LabRef,
    LinkHolder,
    LinkRow,
    ListedPerson,
    LoginRow,
    OrganizationRef,
    PersonRow,
    ProfileRow,
    SessionRow,
    TokenPrincipal,
    TokenRow,
    UsedLink,
)
from labbook.core.principal import Principal
from labbook.core.roles import Role
from labbook.core.rows import many, maybe, one
from labbook.errors import Conflict


def _principal(row: TokenPrincipal | SessionRow, token_id: UUID | None = None) -> Principal:
    return Principal(
        person_id=row.person_id,
        organization_id=row.organization_id,
        roles=frozenset(Role(role) for role in row.roles),
        managed_lab_ids=frozenset(row.lab_ids),
        token_id=token_id,
    )


GET_PRINCIPAL_BY_TOKEN = """
select t.id as token_id, p.id as person_id, p.organization_id, p.roles,
       array(select m.lab_id from lab_managers m where m.person_id = p.id) as lab_ids, t.expires_at,
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
# Private feed addresses are secrets of the person too: revoked for good, like access tokens.
REVOKE_PERSON_FEED_TOKENS = """
update feed_tokens set revoked_at = now()
where person_id = $1 and revoked_at is null
returning id
"""
# An invitation or reset link still unused when its person is switched off is spent with the rest:
# reactivation must not make a link from before work again.
SPEND_PERSON_LINKS = """
update one_time_links set used_at = now()
where person_id = $1 and used_at is null
"""


async def get_principal_by_token(
    conn: asyncpg.Connection, token_hash: bytes
) -> tuple[Principal, datetime | None] | None:
    """The person behind a valid token and when the token expires (``None``: never)."""
    row = maybe(TokenPrincipal, await conn.fetchrow(GET_PRINCIPAL_BY_TOKEN, token_hash))
    if row is None:
        return None
    if row.is_stale:
        await conn.execute(TOUCH_TOKEN, row.token_id)
    return _principal(row, row.token_id), row.expires_at


async def insert_person(
    conn: asyncpg.Connection,
    *,
    organization_id: int,
    email: str,
    full_name: str,
    phone: str | None,
    roles: list[str],
) -> BarePerson:
    try:
        return one(
            BarePerson, await conn.fetchrow(INSERT_PERSON, organization_id, email, full_name, phone, roles)
        )
    except asyncpg.UniqueViolationError as exc:
        if db.constraint_name(exc) == "uq_people_email":
            raise Conflict(f"a person with the email {email} already exists", field="email") from None
        raise


async def get_person_by_email(conn: asyncpg.Connection, email: str) -> BarePerson | None:
    return maybe(BarePerson, await conn.fetchrow(GET_PERSON_BY_EMAIL, email))


async def get_person(conn: asyncpg.Connection, person_id: UUID) -> PersonRow | None:
    """A person with their organization's slug and kind and the slugs of the labs they manage."""
    return maybe(PersonRow, await conn.fetchrow(GET_PERSON, person_id))


async def lock_person(conn: asyncpg.Connection, person_id: UUID) -> PersonRow | None:
    """Like ``get_person``, holding the row until the transaction ends."""
    return maybe(PersonRow, await conn.fetchrow(LOCK_PERSON, person_id))


async def list_people(
    conn: asyncpg.Connection,
    *,
    organization_slug: str | None,
    role: str | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[list[ListedPerson], int]:
    rows = many(ListedPerson, await conn.fetch(LIST_PEOPLE, organization_slug, role, q, limit, offset))
    if rows:
        return rows, rows[0].total
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


async def get_organization_by_slug(conn: asyncpg.Connection, slug: str) -> OrganizationRef | None:
    return maybe(OrganizationRef, await conn.fetchrow(GET_ORGANIZATION_BY_SLUG, slug))


async def get_labs_by_slug(conn: asyncpg.Connection, slugs: list[str]) -> list[LabRef]:
    return many(LabRef, await conn.fetch(GET_LABS_BY_SLUG, slugs))


async def insert_access_token(
    conn: asyncpg.Connection,
    *,
    person_id: UUID,
    name: str,
    token_hash: bytes,
    prefix: str,
    expires_at: datetime | None,
) -> TokenRow:
    return one(
        TokenRow, await conn.fetchrow(INSERT_ACCESS_TOKEN, person_id, name, token_hash, prefix, expires_at)
    )


async def list_tokens(conn: asyncpg.Connection, person_id: UUID) -> list[TokenRow]:
    return many(TokenRow, await conn.fetch(LIST_TOKENS, person_id))


async def get_token(conn: asyncpg.Connection, token_id: UUID) -> TokenRow | None:
    return maybe(TokenRow, await conn.fetchrow(GET_TOKEN, token_id))


async def revoke_token(conn: asyncpg.Connection, token_id: UUID) -> TokenRow | None:
    """Mark a token revoked (keeping the first revocation time); ``None`` if there is no such token."""
    return maybe(TokenRow, await conn.fetchrow(REVOKE_TOKEN, token_id))


async def revoke_person_tokens(conn: asyncpg.Connection, person_id: UUID) -> list[TokenRow]:
    return many(TokenRow, await conn.fetch(REVOKE_PERSON_TOKENS, person_id))


async def revoke_person_feed_tokens(conn: asyncpg.Connection, person_id: UUID) -> list[UUID]:
    """Revoke every live feed token of a person; returns the ids revoked."""
    revoked: list[UUID] = [row["id"] for row in await conn.fetch(REVOKE_PERSON_FEED_TOKENS, person_id)]
    return revoked


async def spend_person_links(conn: asyncpg.Connection, person_id: UUID) -> None:
    await conn.execute(SPEND_PERSON_LINKS, person_id)


# Browser sign-in: passwords, sessions, one-time links, login throttling.

GET_LOGIN = """
select id, email, full_name, language, password_hash, is_active
from people where lower(email) = lower($1)
"""
GET_LOGIN_BY_ID = "select id, email, full_name, language, is_active from people where id = $1"
SET_PASSWORD = "update people set password_hash = $2, updated_at = now() where id = $1"
SET_PROFILE = """
update people set full_name = $2, phone = $3, language = $4, updated_at = now()
where id = $1
"""
GET_PASSWORD_HASH = "select password_hash from people where id = $1"
GET_PROFILE = """
select p.id, p.email, p.full_name, p.phone, p.language, p.roles, p.organization_id,
       o.slug as organization_slug, o.name as organization_name
from people p join organizations o on o.id = p.organization_id
where p.id = $1
"""
INSERT_SESSION = """
insert into web_sessions (secret_hash, person_id, expires_at, user_agent)
values ($1, $2, now() + make_interval(mins => $3), $4)
returning id
"""
# A session lives until its absolute expiry, and dies sooner when unused for the idle limit ($2 minutes).
GET_PRINCIPAL_BY_SESSION = """
select s.id as session_id, p.id as person_id, p.organization_id, p.roles, p.full_name, p.language,
       array(select m.lab_id from lab_managers m where m.person_id = p.id) as lab_ids,
       s.last_seen_at < now() - interval '1 minute' as is_stale
from web_sessions s
join people p on p.id = s.person_id
where s.secret_hash = $1
  and s.expires_at > now()
  and s.last_seen_at > now() - make_interval(mins => $2)
  and p.is_active
"""
# last_seen_at is written at most once a minute per session, like access tokens' last_used_at.
TOUCH_SESSION = "update web_sessions set last_seen_at = now() where id = $1"
DELETE_SESSION = "delete from web_sessions where secret_hash = $1 returning person_id"
DELETE_PERSON_SESSIONS = "delete from web_sessions where person_id = $1"
DELETE_EXPIRED_SESSIONS = (
    "delete from web_sessions where person_id = $1 and (expires_at <= now() "
    "or last_seen_at <= now() - make_interval(mins => $2))"
)
INSERT_LINK = """
insert into one_time_links (token_hash, person_id, purpose, created_by, expires_at)
values ($1, $2, $3, $4, $5)
returning id, person_id, purpose, expires_at
"""
# A link is spent by the first use; a second use, or one after expiry, finds nothing. Expiry is
# judged by the app's clock ($2), which also set it.
GET_LINK = """
select l.id, l.person_id, l.purpose, l.expires_at, p.email, p.full_name
from one_time_links l join people p on p.id = l.person_id
where l.token_hash = $1 and l.used_at is null and l.expires_at > $2 and p.is_active
"""
USE_LINK = """
update one_time_links set used_at = now()
where token_hash = $1 and used_at is null and expires_at > $2
returning person_id, purpose
"""
# A newer reset link makes the person's older ones worthless.
SPEND_PURPOSE_LINKS = """
update one_time_links set used_at = now()
where person_id = $1 and purpose = $2 and used_at is null
"""
# The person's link mail: a job for the worker, written inside the transaction that made the link, so
# a rolled-back invitation sends nothing. The payload carries the link itself, which only this
# transaction knows (the table keeps its hash); the worker writes it into the message and the job is
# gone once handled.
ENQUEUE_LINK_MAIL = """
insert into pgqueuer (priority, entrypoint, status, payload) values (0, 'link_issued', 'queued', $1)
"""
# Requests per bucket in a window of $2 seconds that starts at the first request ($3 is the app's
# clock): the count goes up inside the window, and starts again at 1 after it.
COUNT_REQUEST = """
insert into rate_limits (bucket, window_start, hits)
values ($1, $3, 1)
on conflict (bucket) do update
    set hits = case when rate_limits.window_start > $3 - make_interval(secs => $2)
                    then rate_limits.hits + 1 else 1 end,
        window_start = case when rate_limits.window_start > $3 - make_interval(secs => $2)
                            then rate_limits.window_start else $3 end
returning hits
"""
# Failed sign-ins per bucket in fixed windows of $2 seconds (the same shape as the feed-miss counter).
COUNT_FAILURE = """
insert into rate_limits (bucket, window_start, hits)
values ($1, to_timestamp(floor(extract(epoch from now()) / $2) * $2), 1)
on conflict (bucket) do update
    set hits = case when rate_limits.window_start = excluded.window_start
                    then rate_limits.hits + 1 else 1 end,
        window_start = excluded.window_start
returning hits
"""
GET_FAILURES = """
select coalesce(max(hits) filter (where bucket = $1), 0) as account_hits,
       coalesce(max(hits) filter (where bucket = $2), 0) as client_hits
from rate_limits
where bucket = any(array[$1, $2]::text[])
  and window_start = to_timestamp(floor(extract(epoch from now()) / $3) * $3)
"""
FORGET_FAILURES = "delete from rate_limits where bucket = $1"


async def get_login(conn: asyncpg.Connection, email: str) -> LoginRow | None:
    return maybe(LoginRow, await conn.fetchrow(GET_LOGIN, email))


async def get_login_by_id(conn: asyncpg.Connection, person_id: UUID) -> LoginRow | None:
    return maybe(LoginRow, await conn.fetchrow(GET_LOGIN_BY_ID, person_id))


async def set_password(conn: asyncpg.Connection, person_id: UUID, password_hash: str) -> None:
    await conn.execute(SET_PASSWORD, person_id, password_hash)


async def get_password_hash(conn: asyncpg.Connection, person_id: UUID) -> str | None:
    value: str | None = await conn.fetchval(GET_PASSWORD_HASH, person_id)
    return value


async def get_profile(conn: asyncpg.Connection, person_id: UUID) -> ProfileRow | None:
    return maybe(ProfileRow, await conn.fetchrow(GET_PROFILE, person_id))


async def set_profile(
    conn: asyncpg.Connection, person_id: UUID, *, full_name: str, phone: str | None, language: str
) -> None:
    await conn.execute(SET_PROFILE, person_id, full_name, phone, language)


async def insert_session(
    conn: asyncpg.Connection, secret_hash: bytes, person_id: UUID, *, minutes: int, user_agent: str | None
) -> UUID:
    session_id: UUID = await conn.fetchval(INSERT_SESSION, secret_hash, person_id, minutes, user_agent)
    return session_id


async def get_principal_by_session(
    conn: asyncpg.Connection, secret_hash: bytes, *, idle_minutes: int
) -> tuple[Principal, SessionRow] | None:
    """The person behind a live session, and the row (name, language) pages show."""
    row = maybe(SessionRow, await conn.fetchrow(GET_PRINCIPAL_BY_SESSION, secret_hash, idle_minutes))
    if row is None:
        return None
    if row.is_stale:
        await conn.execute(TOUCH_SESSION, row.session_id)
    return _principal(row), row


async def delete_session(conn: asyncpg.Connection, secret_hash: bytes) -> UUID | None:
    person_id: UUID | None = await conn.fetchval(DELETE_SESSION, secret_hash)
    return person_id


async def delete_person_sessions(conn: asyncpg.Connection, person_id: UUID) -> None:
    await conn.execute(DELETE_PERSON_SESSIONS, person_id)


async def delete_expired_sessions(conn: asyncpg.Connection, person_id: UUID, *, idle_minutes: int) -> None:
    await conn.execute(DELETE_EXPIRED_SESSIONS, person_id, idle_minutes)


async def insert_link(
    conn: asyncpg.Connection,
    token_hash: bytes,
    person_id: UUID,
    *,
    purpose: str,
    created_by: UUID | None,
    expires_at: datetime,
) -> LinkRow:
    return one(
        LinkRow, await conn.fetchrow(INSERT_LINK, token_hash, person_id, purpose, created_by, expires_at)
    )


async def get_link(conn: asyncpg.Connection, token_hash: bytes, *, now: datetime) -> LinkHolder | None:
    return maybe(LinkHolder, await conn.fetchrow(GET_LINK, token_hash, now))


async def use_link(conn: asyncpg.Connection, token_hash: bytes, *, now: datetime) -> UsedLink | None:
    return maybe(UsedLink, await conn.fetchrow(USE_LINK, token_hash, now))


async def spend_links(conn: asyncpg.Connection, person_id: UUID, *, purpose: str) -> None:
    await conn.execute(SPEND_PURPOSE_LINKS, person_id, purpose)


async def enqueue_link_mail(conn: asyncpg.Connection, payload: bytes) -> None:
    await conn.execute(ENQUEUE_LINK_MAIL, payload)


async def count_request(conn: asyncpg.Connection, bucket: str, *, window_seconds: int, now: datetime) -> int:
    hits: int = await conn.fetchval(COUNT_REQUEST, bucket, window_seconds, now)
    return hits


async def count_failure(conn: asyncpg.Connection, bucket: str, *, window_seconds: int) -> int:
    hits: int = await conn.fetchval(COUNT_FAILURE, bucket, window_seconds)
    return hits


async def get_failures(
    conn: asyncpg.Connection, account_bucket: str, client_bucket: str, *, window_seconds: int
) -> tuple[int, int]:
    row = await conn.fetchrow(GET_FAILURES, account_bucket, client_bucket, window_seconds)
    hits: tuple[int, int] = (row["account_hits"], row["client_hits"])
    return hits


async def forget_failures(conn: asyncpg.Connection, bucket: str) -> None:
    await conn.execute(FORGET_FAILURES, bucket)
