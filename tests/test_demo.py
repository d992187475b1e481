"""The demo data: loads once, tells a consistent story, and its documented tokens work."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from labbook import db
from labbook.demo import load_demo
from labbook.demo.story import DEMO_TOKENS, build_story
from tests.databases import throwaway_database

TABLES = (
    "organizations",
    "people",
    "access_tokens",
    "labs",
    "lab_managers",
    "equipment",
    "equipment_units",
    "opening_hours",
    "audit_events",
    "slot_series",
    "slots",
    "slot_units",
    "bookings",
    "visit_requests",
)
DEMO_LABS = ("welding-institute", "mining-machinery-lab", "metallurgy-lab", "mine-ventilation-lab")
STATUSES = {"pending", "confirmed", "declined", "cancelled", "waitlisted"}


async def _counts(conn: asyncpg.Connection) -> dict[str, int]:
    return {table: await conn.fetchval(f"select count(*) from {table}") for table in TABLES}


@pytest.fixture
async def demo(conn: asyncpg.Connection) -> asyncpg.Connection:
    await load_demo(conn)
    return conn


# --- the story itself, for a first load on any day of the year --------------------------------


def _days_of_a_year(hour: int) -> list[datetime]:
    start = datetime(2026, 1, 1, hour, tzinfo=UTC)
    return [start + timedelta(days=day) for day in range(366)]


@pytest.mark.parametrize("hour", [3, 20])
def test_story_lies_ahead_and_closes_on_a_holiday_whatever_day_it_is_first_loaded(hour: int) -> None:
    for now in _days_of_a_year(hour):
        story = build_story(now)
        assert min(s.starts_at for s in story.slots) > now
        assert story.holiday_date in {
            s.starts_at.astimezone(ZoneInfo("Asia/Almaty")).date() for s in story.slots if s.kind == "closure"
        }


async def test_the_services_take_the_story_whatever_day_it_is_first_loaded(empty_database: str) -> None:
    """The demo is written through the services, which check every rule: each first load that puts
    another public holiday in the story's weeks (early and late in the UTC day) must go through."""
    firsts: dict[tuple[date, int], datetime] = {}
    for hour in (3, 20):
        for now in _days_of_a_year(hour):
            firsts.setdefault((build_story(now).holiday_date, hour), now)
    conn = await db.connect(empty_database)
    try:
        for now in firsts.values():
            load = conn.transaction()
            await load.start()
            try:
                summary = await load_demo(conn, now=now)
                assert summary.startswith("demo data loaded"), now
                assert await conn.fetchval("select count(*) from bookings") == len(build_story(now).bookings)
            finally:
                await load.rollback()
    finally:
        await conn.close()


def test_story_has_a_weekly_series_with_one_cancelled_and_one_moved_occurrence() -> None:
    story = build_story(datetime(2026, 3, 10, 9, tzinfo=UTC))
    occurrences = [s for s in story.slots if s.series == "welding-weekly"]
    assert len(occurrences) == 12
    almaty = ZoneInfo("Asia/Almaty")
    for slot in occurrences:
        assert slot.occurrence_start is not None
        local = slot.occurrence_start.astimezone(almaty)
        assert (local.isoweekday(), local.hour) == (2, 14)
        assert len(slot.units) == 6
    assert [s.status for s in occurrences].count("cancelled") == 1
    moved = [s for s in occurrences if s.starts_at != s.occurrence_start]
    assert len(moved) == 1
    assert moved[0].status == "active"
    # Loaded on 10 March, the demo's week starts on 16 March: Nauryz (Monday 23 March) closes the labs.
    assert story.holiday["en"] == "Nauryz"


# --- loaded into PostgreSQL --------------------------------------------------------------------


async def test_loading_twice_changes_nothing(conn: asyncpg.Connection) -> None:
    first = await load_demo(conn)
    before = await _counts(conn)
    second = await load_demo(conn)
    assert await _counts(conn) == before
    assert "nothing changed" in second
    for token in DEMO_TOKENS.values():
        assert token in first
        assert token in second
    assert await conn.fetchval("select count(*) from audit_events where action = 'demo.load'") == 1


async def test_demo_holds_every_booking_status_and_a_full_slot_with_a_waitlist(
    demo: asyncpg.Connection,
) -> None:
    rows = await demo.fetch(
        """select b.status, s.capacity, s.seats_taken, s.id as slot_id
           from bookings b join slots s on s.id = b.slot_id join labs l on l.id = s.lab_id
           where l.slug = any($1::text[])""",
        list(DEMO_LABS),
    )
    assert {r["status"] for r in rows} == STATUSES
    waitlisted = {r["slot_id"] for r in rows if r["status"] == "waitlisted"}
    assert any(r["slot_id"] in waitlisted and r["seats_taken"] == r["capacity"] for r in rows)
    pending_requests = await demo.fetchval(
        """select count(*) from visit_requests v join labs l on l.id = v.lab_id
           where l.slug = 'welding-institute' and v.status = 'pending'"""
    )
    assert pending_requests >= 1


async def test_demo_has_a_training_request_for_4_tig_stations_and_a_proposal_for_the_director(
    demo: asyncpg.Connection,
) -> None:
    training = await demo.fetchrow(
        """select v.headcount, (select e.seats_per_unit from equipment e
                                where e.lab_id = l.id and e.slug = 'argon-tig') as per_station
           from visit_requests v join labs l on l.id = v.lab_id
           where l.slug = 'welding-institute' and v.status = 'pending' and v.kind = 'training'"""
    )
    assert training is not None
    assert training["headcount"] == 4 * training["per_station"]
    waiting = await demo.fetch(
        """select p.status, v.status as request_status from visit_proposals p
           join visit_requests v on v.id = p.visit_request_id
           join people d on d.id = v.requested_by
           where d.email = 'director@labbook.demo'"""
    )
    assert [(r["status"], r["request_status"]) for r in waiting] == [("open", "proposed")]


async def test_seats_taken_is_the_pending_and_confirmed_headcount(demo: asyncpg.Connection) -> None:
    held = await demo.fetch(
        """select s.id, s.seats_taken,
                  coalesce(sum(b.headcount) filter (where b.status in ('pending', 'confirmed')), 0) as held
           from slots s join labs l on l.id = s.lab_id left join bookings b on b.slot_id = s.id
           where l.slug = any($1::text[])
           group by s.id""",
        list(DEMO_LABS),
    )
    assert len(held) >= 25
    wrong = [(r["id"], r["seats_taken"], r["held"]) for r in held if r["seats_taken"] != r["held"]]
    assert wrong == []


async def test_no_unit_is_held_twice_and_no_active_slot_meets_a_closure(demo: asyncpg.Connection) -> None:
    double = await demo.fetchval(
        """select count(*) from slot_units a join slot_units b
             on a.unit_id = b.unit_id and a.slot_id < b.slot_id and a.during && b.during
           where a.is_active and b.is_active"""
    )
    assert double == 0
    on_closure = await demo.fetch(
        """select s.id from slots s
           join slots c on c.lab_id = s.lab_id and c.kind = 'closure' and c.status = 'active'
                        and c.id <> s.id and c.during && s.during
           join labs l on l.id = s.lab_id
           where s.status = 'active' and l.slug = any($1::text[])""",
        list(DEMO_LABS),
    )
    assert on_closure == []
    held = await demo.fetch(
        """select s.kind, s.status, count(*) as units, bool_and(su.is_active = (s.status = 'active')) as agree
           from slot_units su join slots s on s.id = su.slot_id
           join equipment e on e.lab_id = s.lab_id and e.slug = 'argon-tig'
           join equipment_units u on u.id = su.unit_id and u.equipment_id = e.id
           join labs l on l.id = s.lab_id and l.slug = 'welding-institute'
           group by s.id, s.kind, s.status"""
    )
    assert all(r["agree"] for r in held)
    assert {(r["kind"], r["units"]) for r in held} >= {("maintenance", 2), ("training", 6)}


async def test_series_is_stored_with_its_occurrences(demo: asyncpg.Connection) -> None:
    series = await demo.fetchrow(
        """select ss.id, ss.count, ss.weekdays, ss.instructor_id from slot_series ss
           join labs l on l.id = ss.lab_id where l.slug = 'welding-institute'"""
    )
    assert series["count"] == 12
    assert series["weekdays"] == [2]
    assert series["instructor_id"] is not None
    occurrences = await demo.fetch(
        "select status, starts_at, occurrence_start, sequence from slots where series_id = $1", series["id"]
    )
    assert len(occurrences) == 12
    assert Counter(r["status"] for r in occurrences) == {"active": 11, "cancelled": 1}
    moved = [r for r in occurrences if r["starts_at"] != r["occurrence_start"]]
    assert len(moved) == 1
    # Moving an occurrence raises its sequence, so calendar apps take the new time.
    unmoved = [r for r in occurrences if r["status"] == "active" and r["starts_at"] == r["occurrence_start"]]
    assert {r["sequence"] for r in unmoved} == {moved[0]["sequence"] - 1}


async def test_demo_labs_are_listed_by_the_api(demo: asyncpg.Connection, client) -> None:
    reply = await client.get("/api/v1/labs", params={"host": "satbayev-university"})
    assert reply.status_code == 200, reply.text
    slugs = sorted(lab["slug"] for lab in reply.json()["items"])
    assert slugs == ["metallurgy-lab", "mining-machinery-lab", "welding-institute"]
    welding = await client.get("/api/v1/labs/welding-institute/equipment")
    assert welding.status_code == 200, welding.text
    tig = next(e for e in welding.json() if e["slug"] == "argon-tig")
    assert (tig["units"], tig["seats_per_unit"], tig["requires_induction"]) == (6, 2, True)


@pytest.mark.parametrize(
    ("key", "email", "roles"),
    [
        ("admin", "admin@labbook.demo", ["admin"]),
        ("manager", "manager@labbook.demo", ["lab_manager"]),
        ("director", "director@labbook.demo", ["director"]),
        ("director2", "director2@labbook.demo", ["director"]),
        ("instructor", "instructor@labbook.demo", ["instructor"]),
    ],
)
async def test_demo_tokens_authenticate(
    demo: asyncpg.Connection, client, key: str, email: str, roles: list[str]
) -> None:
    reply = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {DEMO_TOKENS[key]}"})
    assert reply.status_code == 200, reply.text
    me = reply.json()
    assert (me["email"], me["roles"]) == (email, roles)
    if key == "manager":
        assert me["managed_labs"] == ["welding-institute"]


# --- concurrent first loads on an empty database -----------------------------------------------


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    async with throwaway_database(server_url, "labbook_demo", migrated=True) as url:
        yield url


async def test_concurrent_first_loads_load_once(empty_database: str) -> None:
    connections = [await db.connect(empty_database) for _ in range(6)]
    try:
        summaries = await asyncio.gather(*(load_demo(c) for c in connections))
        counts = await _counts(connections[0])
        loads = await connections[0].fetchval("select count(*) from audit_events where action = 'demo.load'")
    finally:
        for c in connections:
            await c.close()
    assert sum(s.startswith("demo data loaded") for s in summaries) == 1
    story = build_story(datetime.now(UTC))
    assert counts["organizations"] == len(story.organizations)
    assert counts["slots"] == len(story.slots)
    assert counts["bookings"] == len(story.bookings)
    assert counts["access_tokens"] == len(DEMO_TOKENS)
    assert loads == 1


async def _cli(*args: str, database_url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "labbook",
        *args,
        env={**os.environ, "LABBOOK_DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_cli_loads_the_demo_and_prints_the_tokens(empty_database: str) -> None:
    code, first = await _cli("demo", database_url=empty_database)
    assert code == 0, first
    assert first.startswith("demo data loaded")
    for token in DEMO_TOKENS.values():
        assert token in first
    code, second = await _cli("demo", database_url=empty_database)
    assert code == 0, second
    assert "nothing changed" in second
