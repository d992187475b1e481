"""A lab change keeps its future slots valid (docs/architecture.md, rules 3a–3c).

Capacity, opening hours and time zone are each checked against the slots already published.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from tests.catalog.conftest import assert_problem
from tests.factories import Factory, Person

ALMATY = ZoneInfo("Asia/Almaty")


def future_day(days: int = 30) -> date:
    return (datetime.now(ALMATY) + timedelta(days=days)).date()


def local(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), ALMATY)


def slot_body(
    lab: asyncpg.Record, kind: str, day: date, start: str, end: str, **fields: Any
) -> dict[str, Any]:
    return {
        "lab": lab["slug"],
        "kind": kind,
        "title": {"en": f"{kind} {start}", "ru": f"{kind} {start}"},
        "starts_at": local(day, start).isoformat(),
        "ends_at": local(day, end).isoformat(),
        "capacity": 0 if kind in ("maintenance", "closure") else 4,
        **fields,
    }


async def publish(client: httpx.AsyncClient, manager: Person, body: dict[str, Any]) -> UUID:
    reply = await client.post("/api/v1/slots", json=body, headers=manager.headers)
    assert reply.status_code == 201, reply.text
    return UUID(reply.json()["id"])


async def insert_slot(
    pool: asyncpg.Pool, lab_id: int, starts_at: datetime, ends_at: datetime, capacity: int, status: str
) -> UUID:
    """A slot the API would not publish (one in the past, or cancelled), straight into the table."""
    slot_id: UUID = await pool.fetchval(
        """insert into slots (lab_id, kind, title, starts_at, ends_at, capacity, status)
           values ($1, 'tour', $2, $3, $4, $5, $6) returning id""",
        lab_id,
        {"en": "Old tour"},
        starts_at,
        ends_at,
        capacity,
        status,
    )
    return slot_id


async def lab_and_manager(make: Factory, **fields: Any) -> tuple[asyncpg.Record, Person]:
    lab = await make.lab(**fields)
    manager = await make.person("lab_manager", lab_ids=(lab["id"],), organization_id=lab["organization_id"])
    return lab, manager


async def lab_updates(pool: asyncpg.Pool, lab_id: int) -> int:
    return int(
        await pool.fetchval(
            "select count(*) from audit_events where action = 'lab.update' and object_id = $1", str(lab_id)
        )
    )


def slot_ids(problem: dict[str, Any]) -> set[UUID]:
    return {UUID(c["slot_id"]) for c in problem["conflicts"]}


# --- capacity ----------------------------------------------------------------------------------


async def test_capacity_below_the_future_peak_is_a_409_naming_the_instant_and_its_slots(
    client, make, pool
) -> None:
    lab, manager = await lab_and_manager(make, capacity=30)
    day = future_day()
    training = await publish(client, manager, slot_body(lab, "training", day, "10:00", "12:00", capacity=12))
    tour = await publish(client, manager, slot_body(lab, "tour", day, "11:00", "13:00", capacity=10))
    await publish(client, manager, slot_body(lab, "event", day, "12:00", "14:00", capacity=8))
    # Maintenance and closures hold no people; past and cancelled slots no longer count.
    await publish(client, manager, slot_body(lab, "maintenance", day, "09:00", "15:00"))
    await publish(client, manager, slot_body(lab, "closure", day, "16:00", "18:00"))
    now = datetime.now(UTC)
    await insert_slot(pool, lab["id"], now - timedelta(hours=3), now - timedelta(hours=1), 30, "active")
    await insert_slot(pool, lab["id"], local(day, "10:30"), local(day, "11:30"), 25, "cancelled")
    audited = await lab_updates(pool, lab["id"])
    url = f"/api/v1/labs/{lab['slug']}"

    refused = await client.patch(url, json={"capacity": 21}, headers=manager.headers)

    problem = assert_problem(refused, 409, "lab-capacity")
    assert datetime.fromisoformat(problem["at"]) == local(day, "11:00")
    assert (problem["peak"], problem["lab_capacity"]) == (22, 21)
    assert slot_ids(problem) == {training, tour}
    assert {c["capacity"] for c in problem["conflicts"]} == {12, 10}
    assert [e["field"] for e in problem["errors"]] == ["capacity"]
    assert await pool.fetchval("select capacity from labs where id = $1", lab["id"]) == 30
    assert await lab_updates(pool, lab["id"]) == audited

    accepted = await client.patch(url, json={"capacity": 22}, headers=manager.headers)

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["capacity"] == 22


async def test_a_slot_already_running_still_counts_and_raising_capacity_always_works(
    client, make, pool
) -> None:
    lab, manager = await lab_and_manager(make, capacity=30)
    now = datetime.now(UTC)
    running = await insert_slot(
        pool, lab["id"], now - timedelta(hours=1), now + timedelta(hours=2), 18, "active"
    )
    url = f"/api/v1/labs/{lab['slug']}"

    problem = assert_problem(
        await client.patch(url, json={"capacity": 17}, headers=manager.headers), 409, "lab-capacity"
    )
    assert slot_ids(problem) == {running}
    assert (await client.patch(url, json={"capacity": 40}, headers=manager.headers)).status_code == 200
    assert (await client.patch(url, json={"capacity": 18}, headers=manager.headers)).status_code == 200


# --- opening hours -----------------------------------------------------------------------------


def every_day(opens: str, closes: str) -> list[dict[str, Any]]:
    return [{"weekday": d, "opens_at": opens, "closes_at": closes} for d in range(1, 8)]


async def stored_hours(pool: asyncpg.Pool, lab_id: int) -> list[tuple[int, str, str]]:
    rows = await pool.fetch(
        "select weekday, opens_at, closes_at from opening_hours where lab_id = $1 order by weekday", lab_id
    )
    return [(r["weekday"], r["opens_at"].strftime("%H:%M"), r["closes_at"].strftime("%H:%M")) for r in rows]


async def test_hours_that_leave_future_slots_outside_are_a_409_listing_them(client, make, pool) -> None:
    lab, manager = await lab_and_manager(make)
    await make.opening_hours(lab_id=lab["id"], opens="08:00", closes="20:00")
    day = future_day()
    early = await publish(client, manager, slot_body(lab, "training", day, "08:00", "10:00"))
    late = await publish(client, manager, slot_body(lab, "tour", day, "17:00", "19:00"))
    await publish(client, manager, slot_body(lab, "event", day, "12:00", "13:00"))
    # Published outside hours on purpose, or kinds that ignore hours: none of them stands in the way.
    await publish(client, manager, slot_body(lab, "event", day, "21:00", "22:00", outside_hours=True))
    await publish(client, manager, slot_body(lab, "maintenance", day, "06:00", "07:00"))
    await publish(client, manager, slot_body(lab, "closure", day, "20:00", "21:00"))
    now = datetime.now(UTC)
    await insert_slot(
        pool, lab["id"], now - timedelta(days=2), now - timedelta(days=2, hours=-1), 4, "active"
    )
    await insert_slot(pool, lab["id"], local(day, "06:00"), local(day, "07:00"), 4, "cancelled")
    url = f"/api/v1/labs/{lab['slug']}/opening-hours"
    before = await stored_hours(pool, lab["id"])

    refused = await client.put(url, json=every_day("09:00", "18:00"), headers=manager.headers)

    problem = assert_problem(refused, 409, "outside-opening-hours")
    assert slot_ids(problem) == {early, late}
    assert {datetime.fromisoformat(c["starts_at"]) for c in problem["conflicts"]} == {
        local(day, "08:00"),
        local(day, "17:00"),
    }
    assert problem["timezone"] == "Asia/Almaty"
    assert await stored_hours(pool, lab["id"]) == before

    day_off = [e for e in every_day("08:00", "19:00") if e["weekday"] != day.isoweekday()]
    problem = assert_problem(
        await client.put(url, json=day_off, headers=manager.headers), 409, "outside-opening-hours"
    )
    assert len(problem["conflicts"]) == 3

    accepted = await client.put(url, json=every_day("08:00", "19:00"), headers=manager.headers)
    assert accepted.status_code == 200, accepted.text
    assert await stored_hours(pool, lab["id"]) == [(d, "08:00", "19:00") for d in range(1, 8)]


# --- time zone ---------------------------------------------------------------------------------


async def test_time_zone_stays_while_future_slots_exist(client, make, pool) -> None:
    lab, manager = await lab_and_manager(make)
    slot = await publish(client, manager, slot_body(lab, "tour", future_day(), "10:00", "11:00"))
    url = f"/api/v1/labs/{lab['slug']}"

    problem = assert_problem(
        await client.patch(url, json={"timezone": "Europe/Berlin"}, headers=manager.headers), 409, "conflict"
    )
    assert slot_ids(problem) == {slot}
    assert [e["field"] for e in problem["errors"]] == ["timezone"]
    assert await pool.fetchval("select timezone from labs where id = $1", lab["id"]) == "Asia/Almaty"
    same = await client.patch(url, json={"timezone": "Asia/Almaty", "room": "114"}, headers=manager.headers)
    assert same.status_code == 200, same.text

    cancelled = await client.post(f"/api/v1/slots/{slot}/cancel", headers=manager.headers)
    assert cancelled.status_code == 200, cancelled.text
    moved = await client.patch(url, json={"timezone": "Europe/Berlin"}, headers=manager.headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["timezone"] == "Europe/Berlin"


async def test_time_zone_stays_while_an_active_series_exists(client, make) -> None:
    lab, manager = await lab_and_manager(make)
    series_body = {
        **slot_body(lab, "training", future_day(), "10:00", "12:00"),
        "recurrence": {"freq": "weekly", "count": 2},
    }
    created = await client.post("/api/v1/series", json=series_body, headers=manager.headers)
    assert created.status_code == 201, created.text
    series_id = created.json()["series"]["id"]
    # With every occurrence cancelled one by one, the series itself is still active and editable.
    for occurrence in created.json()["created"]:
        reply = await client.post(f"/api/v1/slots/{occurrence['id']}/cancel", headers=manager.headers)
        assert reply.status_code == 200, reply.text
    url = f"/api/v1/labs/{lab['slug']}"

    problem = assert_problem(
        await client.patch(url, json={"timezone": "Asia/Tokyo"}, headers=manager.headers), 409, "conflict"
    )
    assert problem["series_ids"] == [series_id]
    assert problem["conflicts"] == []

    ended = await client.post(f"/api/v1/series/{series_id}/cancel", json={}, headers=manager.headers)
    assert ended.status_code == 200, ended.text
    moved = await client.patch(url, json={"timezone": "Asia/Tokyo"}, headers=manager.headers)
    assert moved.status_code == 200, moved.text
