"""Concurrent writers against the real database: the outcome is one writer's, never a mix."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from tests.catalog.conftest import assert_problem
from tests.catalog.test_opening_hours import stored_schedule
from tests.factories import Factory, Person, unique

WORKDAYS = [{"weekday": d, "opens_at": "09:00", "closes_at": "18:00"} for d in range(1, 6)]
SPLIT_WEEK = [
    {"weekday": d, "opens_at": window[0], "closes_at": window[1]}
    for d in range(1, 8)
    for window in (("08:00", "12:00"), ("13:00", "17:00"))
]


def as_rows(schedule: list[dict]) -> list[tuple[int, str, str]]:
    return sorted((e["weekday"], e["opens_at"], e["closes_at"]) for e in schedule)


async def test_concurrent_schedule_replacements_leave_exactly_one_schedule(live, make, pool) -> None:
    lab = await make.lab()
    admin = await make.person("admin")
    manager = await make.person("lab_manager", lab_ids=(lab["id"],))
    url = f"/api/v1/labs/{lab['slug']}/opening-hours"

    for _ in range(10):
        replies = await asyncio.gather(
            live.put(url, json=WORKDAYS, headers=admin.headers),
            live.put(url, json=SPLIT_WEEK, headers=manager.headers),
            live.put(url, json=WORKDAYS, headers=manager.headers),
            live.put(url, json=SPLIT_WEEK, headers=admin.headers),
        )

        assert [r.status_code for r in replies] == [200] * 4, [r.text for r in replies]
        assert await stored_schedule(pool, lab["id"]) in (as_rows(WORKDAYS), as_rows(SPLIT_WEEK))


async def test_concurrent_creates_of_one_slug_give_one_201_and_409s(live, make, pool) -> None:
    admin = await make.person("admin")
    host = await make.host()
    lab = await make.lab()
    lab_slug, org_slug, equipment_slug = unique("race-lab"), unique("race-org"), unique("race-tig")

    labs, orgs, equipment = await asyncio.gather(
        asyncio.gather(
            *(
                live.post(
                    "/api/v1/labs",
                    json={
                        "slug": lab_slug,
                        "host": host["slug"],
                        "name": {"en": f"Copy {i}"},
                        "capacity": 10,
                    },
                    headers=admin.headers,
                )
                for i in range(8)
            )
        ),
        asyncio.gather(
            *(
                live.post(
                    "/api/v1/organizations",
                    json={"slug": org_slug, "name": {"ru": f"Копия {i}"}, "kind": "school"},
                    headers=admin.headers,
                )
                for i in range(8)
            )
        ),
        asyncio.gather(
            *(
                live.post(
                    f"/api/v1/labs/{lab['slug']}/equipment",
                    json={"slug": equipment_slug, "kind": "lathe", "name": {"en": f"Lathe {i}"}, "units": 3},
                    headers=admin.headers,
                )
                for i in range(8)
            )
        ),
    )

    for replies, slug in ((labs, lab_slug), (orgs, org_slug), (equipment, equipment_slug)):
        assert sorted(r.status_code for r in replies) == [201] + [409] * 7, [r.text for r in replies]
        for reply in replies:
            if reply.status_code == 409:
                assert slug in assert_problem(reply, 409, "conflict")["detail"]
    assert await pool.fetchval("select count(*) from labs where slug = $1", lab_slug) == 1
    assert await pool.fetchval("select count(*) from organizations where slug = $1", org_slug) == 1
    equipment_id = await pool.fetchval("select id from equipment where slug = $1", equipment_slug)
    assert (
        await pool.fetchval("select count(*) from equipment_units where equipment_id = $1", equipment_id) == 3
    )


async def test_a_slot_taking_a_unit_while_it_is_being_retired_makes_the_retirement_fail(
    live, make, pool
) -> None:
    lab = await make.lab()
    equipment = await make.equipment(lab_id=lab["id"], units=6)
    admin = await make.person("admin")
    starts_at = datetime.now(UTC) + timedelta(days=7)

    async with pool.acquire() as publisher:
        transaction = publisher.transaction()
        await transaction.start()
        slot_id = await publisher.fetchval(
            """insert into slots (lab_id, kind, title, starts_at, ends_at, capacity)
               values ($1, 'training', '{"en": "TIG"}', $2, $3, 2) returning id""",
            lab["id"],
            starts_at,
            starts_at + timedelta(hours=2),
        )
        await publisher.execute(
            """insert into slot_units (slot_id, unit_id, during)
               select $1, id, tstzrange($3, $4) from equipment_units
               where equipment_id = $2 and number = 6""",
            slot_id,
            equipment["id"],
            starts_at,
            starts_at + timedelta(hours=2),
        )
        shrink = asyncio.create_task(
            live.patch(
                f"/api/v1/labs/{lab['slug']}/equipment/{equipment['slug']}",
                json={"units": 5},
                headers=admin.headers,
            )
        )
        # The shrink must be waiting on the publisher's locks before the publisher commits.
        while not await pool.fetchval(
            """select count(*) from pg_stat_activity
               where datname = current_database() and wait_event_type = 'Lock'"""
        ):
            assert not shrink.done(), shrink.result().text
        await transaction.commit()
        reply = await shrink

    problem = assert_problem(reply, 409, "conflict")
    assert [c["slot_id"] for c in problem["conflicts"]] == [str(slot_id)]
    assert (
        await pool.fetchval(
            "select is_retired from equipment_units where equipment_id = $1 and number = 6", equipment["id"]
        )
        is False
    )


async def queued_on_lab_locks(
    pool: asyncpg.Pool, lab_ids: list[int], requests: list[Coroutine[Any, Any, httpx.Response]]
) -> list[httpx.Response]:
    """Send ``requests`` while the labs' rows are locked, and let go once all wait on the locks."""
    async with pool.acquire() as holder:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("select 1 from labs where id = any($1::int[]) for update", lab_ids)
        tasks = [asyncio.create_task(request) for request in requests]
        while await pool.fetchval(
            """select count(*) from pg_stat_activity
               where datname = current_database() and wait_event_type = 'Lock'"""
        ) < len(tasks):
            assert not any(t.done() for t in tasks), [t.result().text for t in tasks if t.done()]
        await transaction.rollback()
        return await asyncio.gather(*tasks)


async def lab_with_manager(make: Factory, **fields: Any) -> tuple[asyncpg.Record, Person]:
    lab = await make.lab(**fields)
    manager = await make.person("lab_manager", lab_ids=(lab["id"],), organization_id=lab["organization_id"])
    return lab, manager


def training(lab: asyncpg.Record, starts_at: datetime, ends_at: datetime, capacity: int) -> dict[str, Any]:
    return {
        "lab": lab["slug"],
        "kind": "training",
        "title": {"en": "Argon welding practice"},
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
        "capacity": capacity,
    }


# Three labs per race: six requests queued at once leave the live server's pool of ten room to spare.
LABS_PER_RACE = 3


async def test_a_capacity_cut_racing_a_slot_publication_never_lets_both_break_the_capacity(
    live, make, pool
) -> None:
    # Alone each change fits: 20 + 8 people in a lab of 30, or 20 people in a lab cut to 25.
    # Together they put 28 people in a lab of 25, so one of them must be refused.
    starts_at = (datetime.now(UTC) + timedelta(days=20)).replace(microsecond=0)
    labs = [await lab_with_manager(make, capacity=30) for _ in range(LABS_PER_RACE)]
    for lab, _ in labs:
        await pool.execute(
            """insert into slots (lab_id, kind, title, starts_at, ends_at, capacity)
               values ($1, 'tour', '{"en": "Morning tour"}', $2, $3, 20)""",
            lab["id"],
            starts_at,
            starts_at + timedelta(hours=2),
        )

    replies = await queued_on_lab_locks(
        pool,
        [lab["id"] for lab, _ in labs],
        [
            request
            for lab, manager in labs
            for request in (
                live.patch(f"/api/v1/labs/{lab['slug']}", json={"capacity": 25}, headers=manager.headers),
                live.post(
                    "/api/v1/slots",
                    json=training(lab, starts_at + timedelta(hours=1), starts_at + timedelta(hours=3), 8),
                    headers=manager.headers,
                ),
            )
        ],
    )

    for (lab, _), cut, published in zip(labs, replies[::2], replies[1::2], strict=True):
        outcome = (cut.status_code, published.status_code)
        assert outcome in ((200, 409), (409, 201)), (cut.text, published.text)
        assert_problem(cut if outcome[0] == 409 else published, 409, "lab-capacity")
        capacity = await pool.fetchval("select capacity from labs where id = $1", lab["id"])
        people = await pool.fetchval(
            "select sum(capacity) from slots where lab_id = $1 and status = 'active'", lab["id"]
        )
        assert (capacity, people) in ((25, 20), (30, 28))


async def test_new_opening_hours_racing_a_slot_publication_never_leave_the_slot_outside(
    live, make, pool
) -> None:
    # The slot fits 08:00-20:00 but not 09:00-18:00: whichever comes second must be refused.
    almaty = ZoneInfo("Asia/Almaty")
    day = (datetime.now(almaty) + timedelta(days=20)).date()
    starts_at = datetime.combine(day, time(8), almaty)
    labs = [await lab_with_manager(make) for _ in range(LABS_PER_RACE)]
    for lab, _ in labs:
        await make.opening_hours(lab_id=lab["id"], opens="08:00", closes="20:00")
    shorter = [{"weekday": d, "opens_at": "09:00", "closes_at": "18:00"} for d in range(1, 8)]

    replies = await queued_on_lab_locks(
        pool,
        [lab["id"] for lab, _ in labs],
        [
            request
            for lab, manager in labs
            for request in (
                live.put(f"/api/v1/labs/{lab['slug']}/opening-hours", json=shorter, headers=manager.headers),
                live.post(
                    "/api/v1/slots",
                    json=training(lab, starts_at, starts_at + timedelta(hours=2), 4),
                    headers=manager.headers,
                ),
            )
        ],
    )

    for (lab, _), hours, published in zip(labs, replies[::2], replies[1::2], strict=True):
        outcome = (hours.status_code, published.status_code)
        assert outcome in ((200, 409), (409, 201)), (hours.text, published.text)
        assert_problem(hours if outcome[0] == 409 else published, 409, "outside-opening-hours")
        opens = await pool.fetchval("select min(opens_at) from opening_hours where lab_id = $1", lab["id"])
        slots = await pool.fetchval("select count(*) from slots where lab_id = $1", lab["id"])
        assert (opens, slots) in ((time(9), 0), (time(8), 1))
