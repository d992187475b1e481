"""SQL for calendar feeds: which rows a feed holds, their cheap version, tokens and miss counters.

A feed is one of five views. Each view selects its rows inside a time window (``$2``..``$3``; cancelled
rows only while ``updated_at >= $2``, the grace period). Slot views also take every occurrence of any
series they touch, because the series is published as one ``RRULE`` whose ``EXDATE``s and overrides
span its whole life. The version query aggregates exactly the rows the render query reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

SLOT_VIEWS = ("lab", "equipment", "lab_manager", "person")

# Each scope is a predicate on `slots s`; `$1` is the lab id / lab ids / person id, `$4` the equipment.
# Lab scopes use the btree ix_slots_feed (lab_id, ends_at) rather than the GiST index: the window's
# lower bound on ends_at is what narrows a lab's history, and the btree also covers the version's columns.
# `{s}` stands for the alias of `slots`.
_SCOPE_TEMPLATES = {
    "lab": "{s}.lab_id = $1::int",
    "equipment": (
        "{s}.lab_id = $1::int and exists (select 1 from slot_units su join equipment_units eu"
        " on eu.id = su.unit_id where su.slot_id = {s}.id and eu.equipment_id = $4)"
    ),
    "lab_manager": "{s}.lab_id = any($1::int[])",
    "person": "{s}.instructor_id = $1::uuid",
}
_SCOPES = {view: scope.format(s="s") for view, scope in _SCOPE_TEMPLATES.items()}
_PARAMS = {"lab": 3, "equipment": 4, "lab_manager": 3, "person": 3}

# [starts_at, ends_at) overlaps [$2, $3); cancelled rows stay for the grace period.
_WINDOW_TEMPLATE = (
    "{s}.ends_at > $2 and {s}.starts_at < $3 and ({s}.status = 'active' or {s}.updated_at >= $2)"
)
_WINDOW = _WINDOW_TEMPLATE.format(s="s")
_VERSION_COLUMNS = "s.id, s.series_id, s.lab_id, s.sequence, s.status, s.seats_taken, s.updated_at"

_MEMBERS = """
base as (
    select {columns} from slots s where {scope} and {window}
),
members as (
    select * from base where series_id is null
    union all
    select {columns} from slots s
    where s.series_id = any(array(select distinct series_id from base where series_id is not null))
)
"""

_UNITS = {
    "equipment": (
        "array(select eu.number from slot_units su join equipment_units eu on eu.id = su.unit_id"
        " where su.slot_id = s.id and eu.equipment_id = $4 order by eu.number)"
    ),
}

_SLOT_COLUMNS = """s.id, s.lab_id, s.series_id, s.occurrence_start, s.kind, s.title, s.description,
       s.starts_at, s.ends_at, s.capacity, s.seats_taken, s.visibility, s.organization_id,
       s.instructor_id, s.status, s.sequence, s.updated_at"""

# A change to a row raises its sequence, so (id, sequence, seats) hashes, their count and the latest
# updated_at change whenever any row of the feed changes, arrives or leaves; no text is built per row.
_ROW_HASH = "uuid_hash_extended(id, (sequence::bigint << 32) + {extra})"


def _slots_sql(view: str) -> str:
    members = _MEMBERS.format(columns="s.id, s.series_id", scope=_SCOPES[view], window=_WINDOW)
    units = _UNITS.get(view, "'{}'::int[]")
    return f"""
with {members}
select {_SLOT_COLUMNS}, ({_SCOPES[view]}) as in_scope, {units} as units
from slots s join members m on m.id = s.id
order by s.starts_at, s.id
"""


def _slot_versions_sql(view: str) -> str:
    members = _MEMBERS.format(columns="s.id, s.series_id", scope=_SCOPES[view], window=_WINDOW)
    units = _UNITS.get(view, "'{}'::int[]")
    return f"""
with {members}
select s.id, s.lab_id, s.series_id, s.occurrence_start, s.starts_at, s.ends_at, s.seats_taken, s.status,
       s.sequence, s.updated_at, ({_SCOPES[view]}) as in_scope, {units} as units
from slots s join members m on m.id = s.id
order by s.starts_at, s.id
"""


def _version_sql_for(view: str, scope: str, feed: str, *, head: str = "", lab: str = "") -> str:
    """One aggregate over the feed's rows, read straight from the index (no materialized CTE).

    ``scope`` is a predicate template on ``slots {s}``; the rows are those the render queries read:
    the window's rows outside any series, plus every occurrence of each series with a row in the window.
    """
    public = view in ("lab", "equipment")
    ids = "array_agg(m.id)" if view in ("lab_manager", "person") else "null::uuid[]"
    lab_ids = "null::int[]" if public else "array_agg(distinct m.lab_id)"
    touched = (
        f"select distinct t.series_id from slots t where {scope.format(s='t')}"
        f" and {_WINDOW_TEMPLATE.format(s='t')} and t.series_id is not null"
    )
    labs = "''"
    if not public:
        # a public feed's own lab row is part of the ETag already (see service.Feed.salt)
        labs = (
            "(select concat_ws(':', count(*), max(updated_at), sum(revision)) from labs"
            " where id = any(v.lab_ids))"
        )
    bookings = "''"
    if view in ("lab_manager", "person"):
        bookings = """(select concat_ws(':', count(*), max(b.updated_at), max(o.updated_at),
                          bit_xor(uuid_hash_extended(b.id, (b.sequence::bigint << 32) + b.headcount)))
     from bookings b join organizations o on o.id = b.organization_id
     where b.slot_id = any(v.ids))"""
    return f"""
{head}
select {lab} v.total, v.slots_digest,
    (select concat_ws(':', count(*), max(updated_at), bit_xor({_ROW_HASH.format(extra="0")}))
     from slot_series where id = any(v.series_ids)) as series_digest,
    {labs} as labs_digest,
    {bookings} as bookings_digest,
    fv.etag as stored_etag, fv.changed_at as stored_changed_at
from {"lab cross join lateral" if lab else ""} (
    select
        count(*) as total,
        concat_ws(':', count(*), max(m.updated_at), sum(m.sequence),
                  bit_xor(uuid_hash_extended(m.id, (m.sequence::bigint << 32) + m.seats_taken)))
            as slots_digest,
        array_agg(distinct m.series_id) filter (where m.series_id is not null) as series_ids,
        {lab_ids} as lab_ids,
        {ids} as ids
    from (
        select {_VERSION_COLUMNS} from slots s
        where {scope.format(s="s")} and {_WINDOW} and s.series_id is null
        union all
        select {_VERSION_COLUMNS} from slots s where s.series_id = any(array({touched}))
    ) m
) v
left join feed_versions fv on fv.feed = {feed}
"""


def _version_sql(view: str) -> str:
    return _version_sql_for(view, _SCOPE_TEMPLATES[view], f"${_PARAMS[view] + 1}")


# Public feeds are named by slugs: resolving them and versioning them is one round trip, so that a
# 304 costs a single query. `$1` is the lab's slug, `$4` the equipment's.
_LAB_BY_SLUG = (
    "lab as (select id, name, timezone, languages, revision, updated_at from labs"
    " where slug = $1 and not is_archived)"
)
_PUBLIC_HEADS = {
    "lab": f"with {_LAB_BY_SLUG}",
    "equipment": (
        f"with {_LAB_BY_SLUG}, equipment as (select id, name, revision, updated_at from equipment"
        " where lab_id = (select id from lab) and slug = $4 and not is_archived)"
    ),
}
_PUBLIC_SCOPES = {
    "lab": "{s}.lab_id = lab.id",
    "equipment": (
        "{s}.lab_id = lab.id and exists (select 1 from slot_units su join equipment_units eu"
        " on eu.id = su.unit_id where su.slot_id = {s}.id and eu.equipment_id = (select id from equipment))"
    ),
}
# The feed's key (service.public_feed_key: its slugs and language) comes last.
PUBLIC_FEED_KEYS = {"lab": "$4::text", "equipment": "$5::text"}
_PUBLIC_EQUIPMENT = {
    "lab": (
        "null::int as equipment_id, null::jsonb as equipment_name, null::timestamptz as equipment_updated_at,"
        " 0 as equipment_revision,"
    ),
    "equipment": (
        "(select id from equipment) as equipment_id, (select name from equipment) as equipment_name,"
        " (select updated_at from equipment) as equipment_updated_at,"
        " (select revision from equipment) as equipment_revision,"
    ),
}


def _public_version_sql(view: str) -> str:
    lab = (
        "lab.id as lab_id, lab.name as lab_name, lab.timezone, lab.languages,"
        " lab.revision as lab_revision, lab.updated_at as lab_updated_at,"
        f" {_PUBLIC_EQUIPMENT[view]}"
    )
    return _version_sql_for(
        view, _PUBLIC_SCOPES[view], PUBLIC_FEED_KEYS[view], head=_PUBLIC_HEADS[view], lab=lab
    )


# A public feed's index version: its lab's (and equipment's) row versions and the latest change to
# the lab's slots and series, read backwards from ix_slots_updated and ix_slot_series_updated. Two
# index probes whatever the feed's size; no row of the feed is read. `$1` is the lab's slug, `$2` the
# equipment's; the feed's key comes last.
_PROBE_EQUIPMENT = {
    "lab": (
        "null::int as equipment_id, null::jsonb as equipment_name, null::timestamptz as equipment_updated_at,"
        " 0 as equipment_revision, null::text as equipment_row",
        "",
    ),
    "equipment": (
        "e.id as equipment_id, e.name as equipment_name, e.updated_at as equipment_updated_at,"
        " e.revision as equipment_revision, e.xmin::text as equipment_row",
        "left join equipment e on e.lab_id = l.id and e.slug = $2 and not e.is_archived",
    ),
}
_PROBE_KEYS = {"lab": "$2::text", "equipment": "$3::text"}


def _probe_sql(view: str) -> str:
    columns, join = _PROBE_EQUIPMENT[view]
    return f"""
select l.id as lab_id, l.name as lab_name, l.timezone, l.languages, l.revision as lab_revision,
       l.updated_at as lab_updated_at, l.xmin::text as lab_row, {columns},
       (select max(s.updated_at) from slots s where s.lab_id = l.id) as slots_changed_at,
       (select max(r.updated_at) from slot_series r where r.lab_id = l.id) as series_changed_at,
       fv.etag as stored_etag, fv.changed_at as stored_changed_at
from labs l
{join}
left join feed_versions fv on fv.feed = {_PROBE_KEYS[view]}
where l.slug = $1 and not l.is_archived
"""


PUBLIC_PROBE_SQL = {view: _probe_sql(view) for view in ("lab", "equipment")}

# When the oldest transaction still running in this database started. Every writer stamps
# `updated_at = now()`, its transaction's start, which is this very `xact_start`; a transaction shows
# here from before it can write until after its commit is visible. So no write still to come can carry
# an `updated_at` below this (less a margin, see service.SETTLE_MARGIN). Sessions we may not see
# (another role without pg_read_all_stats), track_activities = off (`disabled`) and prepared
# transactions make it unknowable: `blind`.
WRITE_HORIZON = """
select min(a.xact_start) as oldest,
       coalesce(bool_or(a.state is null or a.state = 'disabled'), false)
       or exists (select 1 from pg_prepared_xacts p where p.database = current_database()) as blind
from pg_stat_get_activity(null) a
where a.datid = (select oid from pg_database where datname = current_database())
"""

SLOTS_SQL = {view: _slots_sql(view) for view in SLOT_VIEWS}
VERSION_SQL = {view: _version_sql(view) for view in SLOT_VIEWS}
PUBLIC_VERSION_SQL = {view: _public_version_sql(view) for view in ("lab", "equipment")}
SLOT_VERSIONS_SQL = {view: _slot_versions_sql(view) for view in SLOT_VIEWS}
SLOTS_BY_ID = f"select {_SLOT_COLUMNS} from slots s where s.id = any($1::uuid[])"
SERIES_SLOTS = f"select {_SLOT_COLUMNS} from slots s where s.series_id = $1 order by s.occurrence_start"

_ORG_MEMBERS = """
members as (
    select b.id from bookings b join slots s on s.id = b.slot_id
    where b.organization_id = $1 and s.during && tstzrange($2, $3)
      and ((b.status in ('pending', 'confirmed', 'waitlisted') and s.status = 'active')
           or greatest(b.updated_at, s.updated_at) >= $2)
)
"""
ORGANIZATION_BOOKINGS = f"""
with {_ORG_MEMBERS}
select b.id, b.status, b.headcount, b.language, b.contact_name, b.sequence, b.updated_at,
       s.id as slot_id, s.lab_id, s.kind, s.title, s.description, s.starts_at, s.ends_at,
       s.status as slot_status, s.sequence as slot_sequence, s.updated_at as slot_updated_at
from bookings b join members m on m.id = b.id join slots s on s.id = b.slot_id
order by s.starts_at, b.id
"""
# One booking as the organization feed shows it (the columns of ORGANIZATION_BOOKINGS), for invitations.
ORGANIZATION_BOOKING = """
select b.id, b.status, b.headcount, b.language, b.contact_name, b.sequence, b.updated_at,
       s.id as slot_id, s.lab_id, s.kind, s.title, s.description, s.starts_at, s.ends_at,
       s.status as slot_status, s.sequence as slot_sequence, s.updated_at as slot_updated_at
from bookings b join slots s on s.id = b.slot_id
where b.id = $1
"""
ORGANIZATION_VERSION = f"""
with {_ORG_MEMBERS},
mb as (
    select b.id, s.lab_id, b.sequence as booking_sequence, s.sequence as slot_sequence,
           greatest(b.updated_at, s.updated_at) as updated_at
    from bookings b join members m on m.id = b.id join slots s on s.id = b.slot_id
)
select
    count(*) as total,
    concat_ws(':', count(*), max(updated_at), sum(booking_sequence), sum(slot_sequence),
              bit_xor(uuid_hash_extended(id, (booking_sequence::bigint << 32) + slot_sequence)))
        as slots_digest,
    '' as series_digest,
    (select concat_ws(':', count(*), max(updated_at), sum(revision)) from labs
     where id in (select lab_id from mb)) as labs_digest,
    '' as bookings_digest,
    (select etag from feed_versions where feed = $4) as stored_etag,
    (select changed_at from feed_versions where feed = $4) as stored_changed_at
from mb
"""

# Only a changed ETag is written; Last-Modified must move forward by at least a second, since
# If-Modified-Since compares whole seconds.
RECORD_VERSION = """
insert into feed_versions (feed, etag, changed_at)
values ($1, $2, date_trunc('second', now()))
on conflict (feed) do update
    set etag = excluded.etag,
        changed_at = greatest(excluded.changed_at, feed_versions.changed_at + interval '1 second')
    where feed_versions.etag is distinct from excluded.etag
returning changed_at
"""
GET_VERSION = "select etag, changed_at from feed_versions where feed = $1"
# Keeps changed_at: the body is the same one, now named by another version.
RELABEL_VERSION = "update feed_versions set etag = $3 where feed = $1 and etag = $2"

SERIES = """
select id, lab_id, kind, title, description, timezone, local_start, duration, freq, interval, weekdays,
       count, until, capacity, visibility, organization_id, instructor_id, status, sequence, updated_at
from slot_series where id = any($1::uuid[])
"""
LABS = """
select l.id, l.slug, l.name, l.building, l.room, l.address, l.timezone, l.languages, l.revision,
       l.updated_at
from labs l where l.id = any($1::int[])
"""
LAB_BY_SLUG = """
select id, slug, name, building, room, address, timezone, languages, updated_at
from labs where slug = $1 and not is_archived
"""
ACTIVE_BOOKINGS = """
select b.slot_id, b.id, b.status, b.headcount, b.contact_name, b.contact_email, b.contact_phone,
       b.language, b.notes, b.sequence, b.updated_at, o.name as organization_name,
       o.updated_at as organization_updated_at
from bookings b join organizations o on o.id = b.organization_id
where b.slot_id = any($1::uuid[]) and b.status in ('pending', 'confirmed', 'waitlisted')
order by b.slot_id, b.created_at, b.id
"""

# A token names a live person; roles are re-checked on every fetch so a demoted person's feed stops.
FEED_TOKEN_BY_HASH = """
select t.id, t.kind, t.person_id, p.organization_id, p.roles, p.full_name,
       o.name as organization_name,
       case when 'admin' = any(p.roles) then array(select id from labs where not is_archived order by id)
            else array(select m.lab_id from lab_managers m where m.person_id = p.id order by m.lab_id)
       end as lab_ids,
       t.last_used_at is null or t.last_used_at < now() - interval '1 minute' as is_stale
from feed_tokens t
join people p on p.id = t.person_id
join organizations o on o.id = p.organization_id
where t.token_hash = $1 and t.revoked_at is null and p.is_active
"""
TOUCH_FEED_TOKEN = "update feed_tokens set last_used_at = now() where id = $1"

_TOKEN_COLUMNS = "id, person_id, kind, name, prefix, last_used_at, revoked_at, created_at"
INSERT_FEED_TOKEN = f"""
insert into feed_tokens (person_id, kind, name, token_hash, prefix)
values ($1, $2, $3, $4, $5)
returning {_TOKEN_COLUMNS}
"""
LIST_FEED_TOKENS = f"""
select {_TOKEN_COLUMNS} from feed_tokens where person_id = $1 order by created_at desc, id
"""
GET_FEED_TOKEN = f"select {_TOKEN_COLUMNS} from feed_tokens where id = $1 and person_id = $2 for update"
REVOKE_FEED_TOKEN = f"""
update feed_tokens set revoked_at = coalesce(revoked_at, now()) where id = $1
returning {_TOKEN_COLUMNS}
"""

# Fixed ten-minute windows; one row per bucket, reset when a new window starts.
COUNT_MISS = """
insert into rate_limits (bucket, window_start, hits)
values ($1, to_timestamp(floor(extract(epoch from now()) / $2) * $2), 1)
on conflict (bucket) do update
    set hits = case when rate_limits.window_start = excluded.window_start
                    then rate_limits.hits + 1 else 1 end,
        window_start = excluded.window_start
returning hits, window_start
"""
FORGET_OLD_MISSES = (
    "delete from rate_limits where bucket like 'feed-miss:%' and window_start < now() - interval '1 day'"
)


def _slot_args(
    view: str, scope: Any, since: datetime, until: datetime, equipment_id: int | None
) -> list[Any]:
    args: list[Any] = [scope, since, until]
    if view == "equipment":
        args.append(equipment_id)
    return args


async def feed_version(
    conn: asyncpg.Connection,
    view: str,
    scope: Any,
    feed: str,
    *,
    since: datetime,
    until: datetime,
    equipment_id: int | None = None,
) -> asyncpg.Record:
    if view == "organization":
        return await conn.fetchrow(ORGANIZATION_VERSION, scope, since, until, feed)
    args = _slot_args(view, scope, since, until, equipment_id)
    return await conn.fetchrow(VERSION_SQL[view], *args, feed)


async def public_feed_version(
    conn: asyncpg.Connection,
    view: str,
    lab_slug: str,
    equipment_slug: str | None,
    key: str,
    *,
    since: datetime,
    until: datetime,
) -> asyncpg.Record | None:
    """The lab (and equipment) a public feed names, with the feed's version; ``None`` if no such lab.

    ``key`` names the feed in ``feed_versions``.
    """
    args: list[Any] = [lab_slug, since, until]
    if view == "equipment":
        args.append(equipment_slug)
    return await conn.fetchrow(PUBLIC_VERSION_SQL[view], *args, key)


async def public_feed_probe(
    conn: asyncpg.Connection, view: str, lab_slug: str, equipment_slug: str | None, key: str
) -> asyncpg.Record | None:
    """The lab (and equipment) a public feed names with its index version; ``None`` if no such lab.

    ``key`` names the feed in ``feed_versions``.
    """
    args = [lab_slug] if view == "lab" else [lab_slug, equipment_slug]
    return await conn.fetchrow(PUBLIC_PROBE_SQL[view], *args, key)


async def write_horizon(conn: asyncpg.Connection) -> datetime | None:
    """No transaction not yet visible to a later snapshot can write ``updated_at`` before this time.

    Must run in a statement of its own, before the snapshot it vouches for is taken.
    """
    row = await conn.fetchrow(WRITE_HORIZON)
    return None if row["blind"] else row["oldest"]


async def record_version(conn: asyncpg.Connection, feed: str, etag: str) -> datetime:
    changed_at: datetime | None = await conn.fetchval(RECORD_VERSION, feed, etag)
    if changed_at is None:
        # another worker recorded the same ETag first
        row = await conn.fetchrow(GET_VERSION, feed)
        changed_at = row["changed_at"]
    assert changed_at is not None
    return changed_at


async def relabel_version(conn: asyncpg.Connection, feed: str, etag: str, new_etag: str) -> None:
    await conn.execute(RELABEL_VERSION, feed, etag, new_etag)


async def list_feed_slots(
    conn: asyncpg.Connection,
    view: str,
    scope: Any,
    *,
    since: datetime,
    until: datetime,
    equipment_id: int | None = None,
) -> list[asyncpg.Record]:
    return await conn.fetch(SLOTS_SQL[view], *_slot_args(view, scope, since, until, equipment_id))


async def list_feed_slot_versions(
    conn: asyncpg.Connection,
    view: str,
    scope: Any,
    *,
    since: datetime,
    until: datetime,
    equipment_id: int | None = None,
) -> list[asyncpg.Record]:
    """The feed's slots without their text: enough to find each event's data version."""
    return await conn.fetch(SLOT_VERSIONS_SQL[view], *_slot_args(view, scope, since, until, equipment_id))


async def list_slots(conn: asyncpg.Connection, slot_ids: list[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(SLOTS_BY_ID, slot_ids)


async def list_series_slots(conn: asyncpg.Connection, series_id: UUID) -> list[asyncpg.Record]:
    """Every occurrence of a series, as slot views read them."""
    return await conn.fetch(SERIES_SLOTS, series_id)


async def list_organization_bookings(
    conn: asyncpg.Connection, organization_id: int, *, since: datetime, until: datetime
) -> list[asyncpg.Record]:
    return await conn.fetch(ORGANIZATION_BOOKINGS, organization_id, since, until)


async def get_organization_booking(conn: asyncpg.Connection, booking_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(ORGANIZATION_BOOKING, booking_id)


async def list_series(conn: asyncpg.Connection, series_ids: list[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(SERIES, series_ids)


async def list_labs(conn: asyncpg.Connection, lab_ids: list[int]) -> list[asyncpg.Record]:
    return await conn.fetch(LABS, lab_ids)


async def list_active_bookings(conn: asyncpg.Connection, slot_ids: list[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(ACTIVE_BOOKINGS, slot_ids)


async def get_lab(conn: asyncpg.Connection, slug: str) -> asyncpg.Record | None:
    return await conn.fetchrow(LAB_BY_SLUG, slug)


async def get_feed_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    row = await conn.fetchrow(FEED_TOKEN_BY_HASH, token_hash)
    if row is not None and row["is_stale"]:
        await conn.execute(TOUCH_FEED_TOKEN, row["id"])
    return row


async def insert_feed_token(
    conn: asyncpg.Connection, *, person_id: UUID, kind: str, name: str, token_hash: bytes, prefix: str
) -> asyncpg.Record:
    return await conn.fetchrow(INSERT_FEED_TOKEN, person_id, kind, name, token_hash, prefix)


async def list_feed_tokens(conn: asyncpg.Connection, person_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_FEED_TOKENS, person_id)


async def get_feed_token_for_update(
    conn: asyncpg.Connection, token_id: UUID, person_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_FEED_TOKEN, token_id, person_id)


async def revoke_feed_token(conn: asyncpg.Connection, token_id: UUID) -> asyncpg.Record:
    return await conn.fetchrow(REVOKE_FEED_TOKEN, token_id)


async def count_miss(conn: asyncpg.Connection, bucket: str, window_seconds: int) -> int:
    row = await conn.fetchrow(COUNT_MISS, bucket, window_seconds)
    return int(row["hits"])


async def forget_old_misses(conn: asyncpg.Connection) -> None:
    await conn.execute(FORGET_OLD_MISSES)


EQUIPMENT_SLUGS = "select slug from equipment where lab_id = $1 and not is_archived order by slug"


async def list_equipment_slugs(conn: asyncpg.Connection, lab_id: int) -> list[str]:
    return [row["slug"] for row in await conn.fetch(EQUIPMENT_SLUGS, lab_id)]
