"""How the outreach report's queries scale: a year of data for 10 labs (about 50,000 slots and
200,000 bookings) times each scale asked for.

Run: ``python benchmarks/reports.py [scale ...]`` (default ``1 10``; ``1 10 100`` goes on to 1,000
labs, 5 million slots and 20 million bookings, 6.6 GB). It creates its own database on the
server named by ``LABBOOK_DATABASE_URL`` (or the embedded one), loads it, prints for each report
query its median time (at most 15 runs, fewer once 20 s are spent, at least 2) and the pages its
plan touches (from EXPLAIN ANALYZE, BUFFERS), for one lab and for every lab, and drops the database.
Each query runs as the report service runs it: in a read-only snapshot, planned for its values.

Loading: each batch of 50 labs is one statement that inserts the sessions, their bookings (four per
session) and the marked attendance (a quarter) in chained CTEs, so no row is looked up again. The
session runs with ``session_replication_role = replica``, which skips user triggers and foreign-key
checks: the rows are consistent by construction, and what the triggers would add is left out (a
notification job per booking, 20 million at 100x, and each session's span for the publishing
rules); the reports read neither, and ``seats_taken`` is not used by them either, so no counter is
recomputed. Indexes that no constraint owns are dropped before loading and built after it (one sort
each instead of millions of scattered inserts); primary keys stay. Then ``vacuum (analyze)``, as
autovacuum would leave the tables. On the shared 2-core machine (load average about 20) growing from
100 to 1,000 labs took 1,359 s to load, 407 s to index (the GiST index on 5 million sessions most of
it) and 10 s to vacuum; the database was 6.6 GB.

What it showed, and what changed:

- A report over one lab reads that lab's 5,000 sessions through ``ix_slots_lab_starts`` and their
  bookings through ``ix_bookings_slot`` and ``pk_attendance``: 100,031 page visits for each figure
  group at 100 labs, 105,026 at 1,000 (deeper B-trees), 172-250 ms (at 10 labs the planner reads the
  whole tables instead, 4,119 pages, because that is cheaper while they are that small).
- A report over every lab counts every visit in the range once, so it grows linearly with the visits
  (5,159 pages at 10 labs, 46,561 at 100, 464,802 at 1,000; 0.4-0.7 s, 4.3-6.5 s, 21-39 s); an
  aggregate cannot do less without running totals per lab and day, which labbook does not keep.
- Two things made it worse than linear, both fixed. The outreach totals named a CTE of all visits
  four times, so PostgreSQL wrote it out (to disk past ``work_mem``) and read it four times: 17 times
  slower at 100 labs than at 10 (9.1 s against 0.52 s); reading the visits once into one row per
  organization, it is 11 times slower (8.2 s against 0.77 s, with the machine twice as loaded), and
  one EXPLAIN ANALYZE over 100 labs went from 18.9 s to 6.1 s. And a
  prepared statement switches to a generic plan after five runs: a generic plan made from one lab's
  estimates ran nested loops over every lab's sessions, five times slower at 10 labs; reports now
  plan each statement for its own values (``repository.PLAN_FOR_THE_VALUES``).
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from labbook import db, migrate
from labbook.reports import repository
from labbook.settings import Settings
from labbook.timezones import zone

LABS = 10
SESSIONS_PER_LAB = 5_000
BOOKINGS_PER_SESSION = 4
ORGANIZATIONS = 400
RUNS = 15
MIN_RUNS = 2
BUDGET_S = 20.0
YEAR_START = date(2026, 1, 1)

SETUP = """
insert into organizations (slug, name, kind, city)
select 'bench-org-' || n, jsonb_build_object('en', 'Org ' || n),
       (array['school', 'college', 'university', 'company', 'alumni_group'])[1 + n % 5],
       (array['Almaty', 'Astana', 'Karaganda', 'Shymkent', 'Aktobe'])[1 + n % 5]
from generate_series(1, $1) n;
insert into organizations (slug, name, kind) values ('bench-host', '{"en": "Host"}', 'host_university');
"""
LOAD_LABS = """
insert into labs (slug, organization_id, name, capacity, timezone)
select 'bench-lab-' || n, (select id from organizations where slug = 'bench-host'),
       jsonb_build_object('en', 'Lab ' || n), 1000, 'Asia/Almaty'
from generate_series($1::int, $2::int) n
"""
# A year of sessions per lab: every lab has SESSIONS_PER_LAB spread over 365 days.
# A year of sessions per lab (SESSIONS_PER_LAB spread over 365 days), their bookings and a quarter of
# the bookings marked, for the labs $2..$3, in one statement: each row is generated once and never
# looked up again.
LOAD = """
with new_slots as (
    insert into slots (lab_id, kind, title, starts_at, ends_at, capacity, seats_taken)
    select l.id, case when n % 3 = 0 then 'training' else 'tour' end, '{"en": "Session"}',
           $1::timestamptz + (n * interval '365 days' / $4) + interval '9 hours',
           $1::timestamptz + (n * interval '365 days' / $4) + interval '11 hours', 40, 0
    from labs l cross join generate_series(0, $4::int - 1) n
    where l.id between $2 and $3
    returning id
), new_bookings as (
    insert into bookings (slot_id, organization_id, headcount, contact_name, language, age_group, status)
    select s.id, 1 + abs(hashtext(s.id::text || k)) % $5, 1 + abs(hashtext(k || s.id::text)) % 9, 'Bench',
           (array['kk', 'ru', 'en'])[1 + k % 3], (array['14-15', '16-17', '18-22', null])[1 + k % 4],
           'confirmed'
    from new_slots s cross join generate_series(1, $6::int) k
    returning id, headcount
)
insert into attendance (booking_id, outcome, headcount)
select b.id, case when abs(hashtext(b.id::text)) % 10 = 0 then 'no_show' else 'arrived' end,
       case when abs(hashtext(b.id::text)) % 10 = 0 then null else b.headcount end
from new_bookings b
where abs(hashtext(b.id::text || 'a')) % 4 = 0
"""
LOADED = ["slots", "bookings", "attendance"]
# The indexes of the loaded tables that no constraint owns: dropped before a load and built again
# after it (one sort each instead of millions of scattered inserts). Primary keys, unique and
# exclusion constraints stay and are checked row by row as always.
SECONDARY_INDEXES = """
select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as definition
from pg_index i
where i.indrelid = any($1::regclass[])
  and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid and c.conrelid = i.indrelid)
order by 1
"""
LABS_PER_STATEMENT = 50


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _as_reports_run(conn: asyncpg.Connection, sql: str, *args: object) -> list[asyncpg.Record]:
    """A statement run as the report service runs it: in a read-only snapshot, planned for its values."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await repository.plan_for_the_values(conn)
        return await conn.fetch(sql, *args)


async def _pages(conn: asyncpg.Connection, sql: str, *args: object) -> int:
    """The pages the statement touches (from EXPLAIN ANALYZE, which also warms the cache)."""
    rows = await _as_reports_run(conn, "explain (analyze, buffers, format json) " + sql, *args)
    top = rows[0][0][0]["Plan"]
    return int(top["Shared Hit Blocks"] + top["Shared Read Blocks"])


async def _median_ms(conn: asyncpg.Connection, sql: str, *args: object) -> tuple[float, int]:
    """The median of up to RUNS timed runs, fewer once BUDGET_S seconds are spent (at least MIN_RUNS)."""
    samples: list[float] = []
    spent = 0.0
    while len(samples) < RUNS and (len(samples) < MIN_RUNS or spent < BUDGET_S):
        started = time.perf_counter()
        await _as_reports_run(conn, sql, *args)
        samples.append(time.perf_counter() - started)
        spent += samples[-1]
    return statistics.median(samples) * 1000, len(samples)


QUERIES = (
    ("totals", repository.TOTALS, ()),
    ("by organization kind", repository.BY_ORGANIZATION_KIND, ()),
    ("by region", repository.BY_REGION, ()),
    ("by age group", repository.BY_AGE_GROUP, ()),
    ("by language", repository.BY_LANGUAGE, ()),
    ("top organizations", repository.TOP_ORGANIZATIONS, (10,)),
)


async def grow(conn: asyncpg.Connection, labs_before: int, labs_after: int) -> None:
    started = time.perf_counter()
    year = datetime.combine(YEAR_START, clock(), tzinfo=zone("Asia/Almaty"))
    await conn.execute(LOAD_LABS, labs_before + 1, labs_after)
    indexes = await conn.fetch(SECONDARY_INDEXES, LOADED)
    for index in indexes:
        await conn.execute(f"drop index {index['name']}")
    # Replica mode skips user triggers and foreign-key checks for this session: the rows are made
    # consistent here, and each booking's notification job (20 million at 100x) and each session's
    # span for the publishing rules are left out; the reports read neither.
    await conn.execute("set session_replication_role = replica")
    for first in range(labs_before + 1, labs_after + 1, LABS_PER_STATEMENT):
        last = min(first + LABS_PER_STATEMENT - 1, labs_after)
        await conn.execute(LOAD, year, first, last, SESSIONS_PER_LAB, ORGANIZATIONS, BOOKINGS_PER_SESSION)
    await conn.execute("reset session_replication_role")
    loaded = time.perf_counter()
    for index in indexes:
        await conn.execute(index["definition"])
    indexed = time.perf_counter()
    # As autovacuum would leave the tables: visibility map set, hint bits written, statistics fresh.
    await conn.execute(f"vacuum (analyze) {', '.join(LOADED)}")
    await conn.execute("analyze")
    slots = await conn.fetchval("select count(*) from slots")
    bookings = await conn.fetchval("select count(*) from bookings")
    done = time.perf_counter()
    print(
        f"\n{labs_after} labs: {slots:,} slots, {bookings:,} bookings (loaded in {loaded - started:.0f} s,"
        f" indexed in {indexed - loaded:.0f} s, vacuumed in {done - indexed:.0f} s)",
        flush=True,
    )


async def measure(conn: asyncpg.Connection, labs: int) -> None:
    tz = zone("Asia/Almaty")
    start = datetime.combine(YEAR_START, clock(), tzinfo=tz)
    end = start + timedelta(days=365)
    every = list(range(1, labs + 1))
    for scope, lab_ids in (("one lab", [1]), ("every lab", every)):
        for name, sql, extra in QUERIES:
            args = (start, end, lab_ids, *extra)
            pages = await _pages(conn, sql, *args)
            ms, runs = await _median_ms(conn, sql, *args)
            print(f"  {scope:9}  {name:22} {ms:9.1f} ms  {pages:>11,} pages  ({runs} runs)", flush=True)


async def main(scales: list[float]) -> None:
    settings = Settings.from_env()
    server = db.resolve_database_url(settings)
    name = f"labbook_bench_reports_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'create database "{name}"')
    try:
        conn = await db.connect(_with_database(server, name))
        try:
            await migrate.apply(conn)
            # Index builds sort in memory; a lost commit would only lose benchmark rows.
            await conn.execute("set maintenance_work_mem = '512MB'")
            await conn.execute("set synchronous_commit = off")
            await conn.execute(SETUP.replace("$1", str(ORGANIZATIONS)))
            labs = 0
            for scale in sorted(scales):
                target = max(1, round(LABS * scale))
                await grow(conn, labs, target)
                labs = target
                await measure(conn, labs)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'drop database "{name}" with (force)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main([float(a) for a in sys.argv[1:]] or [1.0, 10.0]))
