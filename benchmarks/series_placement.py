"""Creating a 100-occurrence series against publishing the same 100 slots one by one.

    python benchmarks/series_placement.py [--occurrences 100] [--units 1000] [--held 10] [--rounds 2]

Creates its own database (on ``LABBOOK_DATABASE_URL``'s server, or the embedded one) with two alike
labs, each with one equipment of ``--units`` stations and, every day of the series, a maintenance
window that already holds the first half of them. It then calls the service verbs as the API does:
``create_series`` for a daily series whose occurrences each hold ``--held`` stations, and, in the
other lab, ``publish_slot`` once per occurrence (same times, same stations, one transaction each), and
prints occurrences placed per second for both and their ratio. While a series is placed the lab row is
locked, so its time is also how long every other publication in that lab waits. Rounds alternate
between the two and take another hour of the day each. Bounded: a fixed number of writes and a
deadline for everything.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from labbook import db, embedded, migrate  # noqa: E402
from labbook.core.principal import Principal  # noqa: E402
from labbook.slots import service  # noqa: E402
from labbook.slots.schemas import Recurrence, SeriesCreate, SlotCreate, UnitRequest  # noqa: E402

DEADLINE_SECONDS = 600
TZ = ZoneInfo("Asia/Almaty")
EQUIPMENT = "tig-station"
LABS = ("bench-series", "bench-singles")

SEED_LAB = """
with lab as (
    insert into labs (slug, organization_id, name, capacity, languages, min_notice_hours)
    values ($1, $2, '{"en": "Bench lab"}', 100000, '{kk,ru,en}', 0)
    returning id
), equipment as (
    insert into equipment (lab_id, slug, kind, name, units)
    select id, $3, 'welding_station', '{"en": "TIG station"}', $4 from lab
    returning id, lab_id
), units as (
    insert into equipment_units (equipment_id, number)
    select id, generate_series(1, $4) from equipment
)
select lab_id, id as equipment_id from equipment
"""
# Every day of the series, 07:00-17:00 local: a maintenance window holding units 1..$5.
SEED_BACKGROUND = """
with windows as (
    insert into slots (lab_id, kind, title, starts_at, ends_at, capacity, created_by)
    select $1, 'maintenance', '{"en": "Half the stations serviced"}',
           $3::timestamptz + make_interval(days => d),
           $3::timestamptz + make_interval(days => d, hours => 10),
           0, $6
    from generate_series(0, $4 - 1) d
    returning id, during
)
insert into slot_units (slot_id, unit_id, during)
select w.id, u.id, w.during
from windows w
join equipment_units u on u.equipment_id = $2 and u.number <= $5
"""


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _seed(
    url: str, first_day: datetime, occurrences: int, units: int
) -> tuple[Principal, dict[str, int]]:
    conn = await db.connect(url)
    try:
        host = await conn.fetchval(
            """insert into organizations (slug, name, kind)
               values ('bench-host', '{"en": "Bench University"}', 'host_university') returning id"""
        )
        person = await conn.fetchval(
            """insert into people (organization_id, email, full_name, roles)
               values ($1, 'manager@bench.kz', 'Bench Manager', '{lab_manager}') returning id""",
            host,
        )
        labs: dict[str, int] = {}
        for slug in LABS:
            row = await conn.fetchrow(SEED_LAB, slug, host, EQUIPMENT, units)
            labs[slug] = row["lab_id"]
            await conn.execute(
                SEED_BACKGROUND,
                row["lab_id"],
                row["equipment_id"],
                first_day.replace(hour=7),
                occurrences,
                units // 2,
                person,
            )
        await conn.execute("analyze")
    finally:
        await conn.close()
    actor = Principal(
        person_id=person,
        organization_id=host,
        roles=frozenset({"lab_manager"}),
        managed_lab_ids=frozenset(labs.values()),
    )
    return actor, labs


def _slot(lab: str, starts_at: datetime, held: int) -> SlotCreate:
    return SlotCreate(
        lab=lab,
        kind="training",
        title={"en": "Argon welding practice"},
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        capacity=held,
        equipment=[UnitRequest(equipment=EQUIPMENT, units=held)],
    )


async def _series(
    pool: asyncpg.Pool, actor: Principal, first: datetime, occurrences: int, held: int
) -> float:
    one = _slot(LABS[0], first, held)
    data = SeriesCreate(
        lab=one.lab,
        kind=one.kind,
        title=one.title,
        starts_at=one.starts_at,
        ends_at=one.ends_at,
        capacity=one.capacity,
        equipment=one.equipment,
        recurrence=Recurrence(freq="daily", count=occurrences),
    )
    started = time.perf_counter()
    result = await service.create_series(pool, actor, data)
    elapsed = time.perf_counter() - started
    if len(result.created) != occurrences:
        raise SystemExit(f"the series placed {len(result.created)} of {occurrences} occurrences")
    return elapsed


async def _singles(
    pool: asyncpg.Pool, actor: Principal, first: datetime, occurrences: int, held: int
) -> float:
    started = time.perf_counter()
    for day in range(occurrences):
        await service.publish_slot(pool, actor, _slot(LABS[1], first + timedelta(days=day), held))
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    server_url = os.environ.get("LABBOOK_DATABASE_URL") or embedded.start(ROOT / ".labbook").url()
    name = f"labbook_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'create database "{name}"')
    url = _with_database(server_url, name)
    try:
        conn = await db.connect(url)
        try:
            await migrate.apply(conn)
        finally:
            await conn.close()
        tomorrow = datetime.now(TZ).date() + timedelta(days=2)
        first_day = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=TZ)
        actor, labs = await _seed(url, first_day, args.occurrences, args.units)
        pool = await db.create_pool(url, min_size=1, max_size=2)
        series_seconds: list[float] = []
        singles_seconds: list[float] = []
        try:
            async with asyncio.timeout(DEADLINE_SECONDS):
                for round_ in range(args.rounds):
                    first = first_day.replace(hour=8 + round_)
                    series_seconds.append(await _series(pool, actor, first, args.occurrences, args.held))
                    singles_seconds.append(await _singles(pool, actor, first, args.occurrences, args.held))
            held = await pool.fetch(
                """select s.lab_id, count(*) from slot_units su join slots s on s.id = su.slot_id
                   where s.kind = 'training' and su.is_active group by s.lab_id"""
            )
        finally:
            await pool.close()
        expected = args.rounds * args.occurrences * args.held
        assert {r["lab_id"]: r["count"] for r in held} == dict.fromkeys(labs.values(), expected), held
        print(
            f"occurrences: {args.occurrences}, units: {args.units} (half held by maintenance every day), "
            f"each occurrence holds {args.held}, rounds: {args.rounds}"
        )
        print(f"{'':44} {'seconds':>8} {'occurrences/s':>14}")
        for label, seconds in (
            ("one series (create_series, one transaction)", series_seconds),
            ("single slots (publish_slot, one each)", singles_seconds),
        ):
            best = min(seconds)
            print(f"{label:44} {best:8.2f} {args.occurrences / best:14.0f}   (best of {len(seconds)})")
        ratio = min(singles_seconds) / min(series_seconds)
        print(f"ratio series / single slots (occurrences per second): {ratio:6.2f}")
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--occurrences", type=int, default=100)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--held", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
