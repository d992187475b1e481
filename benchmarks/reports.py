"""How the outreach report's queries scale: a year of data for 10 labs (about 50,000 slots and
200,000 bookings) times each scale asked for.

Run: ``python benchmarks/reports.py [scale ...]`` (default ``1 10``; the issue's ``100`` means
5 million slots and 20 million bookings, hours of loading on a laptop). It creates its own database
on the server named by ``LABBOOK_DATABASE_URL`` (or the embedded one), bulk-loads with
``generate_series`` (labs grow with the scale, each lab keeps a year of 5,000 sessions with four
bookings each, a quarter of them marked), then prints for each report query its median time and the
pages it touches, for one lab and for every lab, and drops the database.

What to expect: a report over one lab reads that lab's sessions through ``ix_slots_lab_starts`` and
their bookings through ``ix_bookings_slot``, so it stays flat as other labs are added. A report over
every lab counts every visit in the range once; an aggregate cannot do less without keeping running
totals, so it grows linearly with the visits it counts (and says so here rather than hiding it).
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
LOAD_SLOTS = """
insert into slots (lab_id, kind, title, starts_at, ends_at, capacity, seats_taken)
select l.id, case when n % 3 = 0 then 'training' else 'tour' end, '{"en": "Session"}',
       $1::timestamptz + (n * interval '365 days' / $4) + interval '9 hours',
       $1::timestamptz + (n * interval '365 days' / $4) + interval '11 hours', 40, 0
from labs l cross join generate_series(0, $4::int - 1) n
where l.id between $2 and $3
"""
LOAD_BOOKINGS = """
insert into bookings (slot_id, organization_id, headcount, contact_name, language, age_group, status)
select s.id, 1 + abs(hashtext(s.id::text || k)) % $3, 1 + abs(hashtext(k || s.id::text)) % 9, 'Bench',
       (array['kk', 'ru', 'en'])[1 + k % 3], (array['14-15', '16-17', '18-22', null])[1 + k % 4], 'confirmed'
from slots s cross join generate_series(1, $4::int) k
where s.lab_id between $1 and $2
"""
LOAD_ATTENDANCE = """
insert into attendance (booking_id, outcome, headcount)
select b.id, case when abs(hashtext(b.id::text)) % 10 = 0 then 'no_show' else 'arrived' end,
       case when abs(hashtext(b.id::text)) % 10 = 0 then null else b.headcount end
from bookings b join slots s on s.id = b.slot_id
where s.lab_id between $1 and $2 and abs(hashtext(b.id::text || 'a')) % 4 = 0
"""


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _median_ms(conn: asyncpg.Connection, sql: str, *args: object) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        await conn.fetch(sql, *args)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[2:])


async def _buffers(conn: asyncpg.Connection, sql: str, *args: object) -> int:
    plan = await conn.fetchval("explain (analyze, buffers, format json) " + sql, *args)
    top = plan[0]["Plan"]
    return int(top["Shared Hit Blocks"] + top["Shared Read Blocks"])


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
    tz = zone("Asia/Almaty")
    year = datetime.combine(YEAR_START, clock(), tzinfo=tz)
    await conn.execute(LOAD_LABS, labs_before + 1, labs_after)
    first, last = labs_before + 1, labs_after
    await conn.execute(LOAD_SLOTS, year, first, last, SESSIONS_PER_LAB)
    await conn.execute(LOAD_BOOKINGS, first, last, ORGANIZATIONS, BOOKINGS_PER_SESSION)
    await conn.execute(LOAD_ATTENDANCE, first, last)
    await conn.execute("analyze")
    slots = await conn.fetchval("select count(*) from slots")
    bookings = await conn.fetchval("select count(*) from bookings")
    took = time.perf_counter() - started
    print(f"\n{labs_after} labs: {slots:,} slots, {bookings:,} bookings (loaded in {took:.0f} s)")


async def measure(conn: asyncpg.Connection, labs: int) -> None:
    tz = zone("Asia/Almaty")
    start = datetime.combine(YEAR_START, clock(), tzinfo=tz)
    end = start + timedelta(days=365)
    every = list(range(1, labs + 1))
    for scope, lab_ids in (("one lab", [1]), ("every lab", every)):
        for name, sql, extra in QUERIES:
            args = (start, end, lab_ids, *extra)
            ms = await _median_ms(conn, sql, *args)
            pages = await _buffers(conn, sql, *args)
            print(f"  {scope:9}  {name:22} {ms:9.1f} ms  {pages:>9,} pages")


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
