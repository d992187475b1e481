"""How availability queries scale with the number of slots: 10k, 100k and 1M rows.

Run: ``python benchmarks/availability_scale.py``. It creates its own database on the server named by
``LABBOOK_DATABASE_URL`` (or the embedded one), bulk-loads slots with ``generate_series`` in three
steps, times the availability queries after each step and drops the database at the end.

Labs and history grow together (sqrt each way): more labs share every time range and every unit
gains more past slots, while the queried week of the measured lab always holds the same 28 slots.
The index form (``int4range(x, x, '[]') = int4range($1, $1, '[]') and during && $2``) lets the GiST
index narrow on both columns; the naive form (``x = $1 and during && $2``) does not.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from labbook import db, migrate
from labbook.settings import Settings
from labbook.slots import repository, service

UNITS_PER_LAB = 4
# (labs, days of history): labs x units x days slot rows, each holding one unit for two hours.
STAGES = ((50, 50), (125, 200), (500, 500))
END = datetime.fromisoformat("2027-01-01T00:00:00+05:00")
WEEK = (END - timedelta(days=7), END)
RUNS = 200

NAIVE_SLOTS = """
select id, kind, capacity, starts_at, ends_at from slots
where lab_id = $1 and during && tstzrange($2, $3, '[)') and status = 'active' and id <> all($4::uuid[])
order by starts_at, id
"""
NAIVE_UNITS = """
select unit_id, lower(during) as starts_at, upper(during) as ends_at from slot_units
where unit_id = any($1::int[]) and during && tstzrange($2, $3, '[)') and is_active
"""

SETUP = """
insert into organizations (slug, name, kind) values ('bench-host', '{"en": "Bench host"}', 'host_university');
insert into labs (slug, organization_id, name, capacity, timezone)
select 'bench-lab-' || n, (select id from organizations where slug = 'bench-host'),
       jsonb_build_object('en', 'Lab ' || n), 1000, 'Asia/Almaty'
from generate_series(1, $LABS) n;
insert into equipment (lab_id, slug, kind, name, units)
select id, 'argon-tig', 'argon_tig_welder', '{"en": "Argon TIG"}', $UNITS from labs;
insert into equipment_units (equipment_id, number)
select e.id, n from equipment e cross join generate_series(1, $UNITS) n;
"""

# Rows for labs <= $2 and days < $3, minus what the previous stage ($4 labs, $5 days) loaded.
GENERATE = """
select md5(e.lab_id || '-' || u.number || '-' || d)::uuid as slot_id, e.lab_id, u.id as unit_id,
       $1::timestamptz - (d + 1) * interval '1 day' + interval '10 hours' as starts_at
from equipment e
join equipment_units u on u.equipment_id = e.id
cross join generate_series(0, $3 - 1) d
where e.lab_id <= $2 and not (e.lab_id <= $4 and d < $5)
"""
LOAD_SLOTS = f"""
insert into slots (id, lab_id, kind, title, starts_at, ends_at, capacity)
select slot_id, lab_id, 'training', '{{"en": "Practice"}}', starts_at, starts_at + interval '2 hours', 4
from ({GENERATE}) g
"""
LOAD_UNITS = f"""
insert into slot_units (slot_id, unit_id, during)
select slot_id, unit_id, tstzrange(starts_at, starts_at + interval '2 hours', '[)')
from ({GENERATE}) g
"""


# Bulk loads drop the two GiST indexes and build them again afterwards (much faster than growing them
# row by row); the definitions are read from the catalog, so they stay those of the migrations.
GIST_DEFINITIONS = """
select 'alter table slot_units add constraint ex_slot_units_overlap '
       || pg_get_constraintdef(oid) from pg_constraint where conname = 'ex_slot_units_overlap'
union all
select pg_get_indexdef('ix_slots_lab_during'::regclass)
"""
DROP_GIST = "alter table slot_units drop constraint ex_slot_units_overlap; drop index ix_slots_lab_during"


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _median_ms(run: object, *args: object) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        await run(*args)  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[10:])


async def _buffers(conn: asyncpg.Connection, sql: str, *args: object) -> int:
    """Pages the query touches: the same on a busy or an idle machine."""
    plan = await conn.fetchval("explain (analyze, buffers, format json) " + sql, *args)
    top = plan[0]["Plan"]
    return int(top["Shared Hit Blocks"] + top["Shared Read Blocks"])


async def _plan(conn: asyncpg.Connection, sql: str, *args: object) -> str:
    rows = await conn.fetch("explain (costs off) " + sql, *args)
    lines = [r[0].strip() for r in rows]
    return next((line for line in lines if "Index" in line or "Seq Scan" in line), lines[0])


async def measure(pool: asyncpg.Pool, rows: int) -> dict[str, tuple[float, int]]:
    """Median latency (ms) and pages touched per query; the service call reports pages as 0."""
    figures: dict[str, tuple[float, int]] = {}
    async with pool.acquire() as conn:
        lab_id = 1
        units = [u["unit_id"] for u in await repository.list_lab_units(conn, lab_id)]
        args_slots = (lab_id, WEEK[0], WEEK[1], [])
        args_units = (units, WEEK[0], WEEK[1])
        found = await conn.fetch(repository.OVERLAPPING_SLOTS, *args_slots)
        naive_found = await conn.fetch(NAIVE_SLOTS, *args_slots)
        assert len(found) == len(naive_found) == 7 * UNITS_PER_LAB, len(found)
        queries = (
            ("slots (index form)", repository.OVERLAPPING_SLOTS, args_slots),
            ("slots (naive form)", NAIVE_SLOTS, args_slots),
            ("units (index form)", repository.UNIT_HOLDINGS, args_units),
            ("units (naive form)", NAIVE_UNITS, args_units),
        )
        for name, sql, args in queries:
            figures[name] = (await _median_ms(conn.fetch, sql, *args), await _buffers(conn, sql, *args))
        if rows == max(labs * days * UNITS_PER_LAB for labs, days in STAGES):
            print("  plans:")
            for name, sql, args in queries:
                print(f"    {name:20} {await _plan(conn, sql, *args)}")
    first_day, end_day = date(2026, 12, 25), date(2027, 1, 1)
    service_ms = await _median_ms(service.lab_availability, pool, "bench-lab-1", first_day, end_day)
    figures["availability, 7 days (service)"] = (service_ms, 0)
    return figures


async def main() -> None:
    started = time.perf_counter()
    settings = Settings.from_env()
    url = await asyncio.to_thread(db.resolve_database_url, settings)
    name = f"labbook_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'create database "{name}"')
    bench_url = _with_database(url, name)
    try:
        conn = await db.connect(bench_url)
        try:
            await migrate.apply(conn)
            setup = SETUP.replace("$LABS", str(STAGES[-1][0])).replace("$UNITS", str(UNITS_PER_LAB))
            await conn.execute(setup)
        finally:
            await conn.close()
        pool = await db.create_pool(bench_url, min_size=1, max_size=4)
        results: dict[int, dict[str, tuple[float, int]]] = {}
        previous = (0, 0)
        for labs, days in STAGES:
            rows = labs * days * UNITS_PER_LAB
            load_started = time.perf_counter()
            async with pool.acquire() as conn, conn.transaction():
                definitions = [r[0] for r in await conn.fetch(GIST_DEFINITIONS)]
                await conn.execute(DROP_GIST)
                await conn.execute(LOAD_SLOTS, END, labs, days, *previous)
                await conn.execute(LOAD_UNITS, END, labs, days, *previous)
                await conn.execute("set local maintenance_work_mem = '256MB'")
                for definition in definitions:
                    await conn.execute(definition)
            async with pool.acquire() as conn:
                await conn.execute("analyze slots; analyze slot_units")
                total = await conn.fetchval("select count(*) from slots")
            assert total == rows, (total, rows)
            print(
                f"{rows:>9,} slot rows ({labs} labs x {UNITS_PER_LAB} units x {days} days), "
                f"loaded in {time.perf_counter() - load_started:.1f}s"
            )
            results[rows] = await measure(pool, rows)
            for key, (ms, pages) in results[rows].items():
                print(f"  {key:32} {ms:8.3f} ms median  {pages:6} pages")
            previous = (labs, days)
        await pool.close()
        small, large = min(results), max(results)
        print(f"\ngrowth {large:,} / {small:,} rows (aim < 1.5x for the index form):")
        for key, (ms, pages) in results[large].items():
            small_ms, small_pages = results[small][key]
            page_ratio = f"{pages / small_pages:6.2f}x pages" if small_pages else ""
            print(f"  {key:32} {ms / small_ms:6.2f}x latency  {page_ratio}")
        for what in ("slots", "units"):
            index_ms = results[large][f"{what} (index form)"][0]
            naive_ms = results[large][f"{what} (naive form)"][0]
            print(f"at {large:,} rows the naive {what} query is {naive_ms / index_ms:.1f}x slower")
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()
        print(f"total {time.perf_counter() - started:.0f}s; database {name} dropped")


if __name__ == "__main__":
    os.environ.setdefault("LABBOOK_LOG_LEVEL", "WARNING")
    asyncio.run(main())
