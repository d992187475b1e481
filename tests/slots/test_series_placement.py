"""Placing a series: every occurrence checked as if published one after the other, in a fixed
number of statements whatever the number of occurrences."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from labbook import db
from labbook.core.principal import Principal
from labbook.slots import service
from labbook.slots.schemas import Recurrence, SeriesCreate, UnitRequest
from tests.factories import Factory
from tests.slots.conftest import LabSetup, count_slots, held_units, make_setup
from tests.slots.test_series import assert_matches_rule


def day(offset: int) -> str:
    return (date.today() + timedelta(days=400 + offset)).isoformat()


def at(offset: int, clock: str) -> str:
    return f"{day(offset)}T{clock}:00+05:00"


async def _post(client: Any, setup: LabSetup, path: str, body: dict[str, Any]) -> Any:
    return await client.post(path, json=body, headers=setup.manager.headers)


async def _audits(pool: asyncpg.Pool, setup: LabSetup, action: str) -> int:
    """Audit events of ``action`` on the slots of the test's lab."""
    return int(
        await pool.fetchval(
            """select count(*) from audit_events e join slots s on s.id::text = e.object_id
               where e.action = $1 and s.lab_id = $2""",
            action,
            setup.lab["id"],
        )
    )


async def test_every_collision_is_reported_and_nothing_is_written(client, pool, setup: LabSetup) -> None:
    stations = await _post(
        client,
        setup,
        "/api/v1/slots",
        setup.slot(at(1, "11:00"), at(1, "12:00"), equipment=[{"equipment": setup.tig, "units": 6}]),
    )
    closure = await _post(
        client,
        setup,
        "/api/v1/slots",
        setup.slot(at(3, "00:00"), at(4, "00:00"), kind="closure", capacity=0),
    )
    crowd = await _post(
        client, setup, "/api/v1/slots", setup.slot(at(4, "09:00"), at(4, "13:00"), capacity=28)
    )
    assert [r.status_code for r in (stations, closure, crowd)] == [201, 201, 201]
    publishes = await _audits(pool, setup, "slot.publish")
    body = {
        **setup.slot(at(0, "10:00"), at(0, "12:00"), equipment=[{"equipment": setup.tig, "units": 2}]),
        "recurrence": {"freq": "daily", "count": 6},
    }

    reply = await _post(client, setup, "/api/v1/series", body)

    assert reply.status_code == 409, reply.text
    problem = reply.json()
    assert problem["type"] == "/problems/series-conflict"
    assert problem["detail"] == "3 of 6 occurrences collide; nothing was written"
    taken, closed, full = problem["occurrences"]
    assert [taken["occurrence_start"], closed["occurrence_start"], full["occurrence_start"]] == [
        at(1, "10:00"),
        at(3, "10:00"),
        at(4, "10:00"),
    ]
    assert taken["problem"] == "/problems/unit-taken"
    assert "2 unit(s) wanted, 0 free" in taken["detail"]
    assert [c["unit"] for c in taken["conflicts"]] == [1, 2, 3, 4, 5, 6]
    assert {c["slot_id"] for c in taken["conflicts"]} == {stations.json()["id"]}
    assert closed["problem"] == "/problems/lab-closed"
    assert [c["slot_id"] for c in closed["conflicts"]] == [closure.json()["id"]]
    assert full["problem"] == "/problems/lab-capacity"
    assert [c["slot_id"] for c in full["conflicts"]] == [crowd.json()["id"]]
    assert await count_slots(pool, setup.lab["id"]) == 3
    assert await held_units(pool, setup.lab["id"]) == 6
    assert await pool.fetchval("select count(*) from slot_series where lab_id = $1", setup.lab["id"]) == 0
    assert await _audits(pool, setup, "slot.publish") == publishes

    reply = await _post(client, setup, "/api/v1/series", {**body, "skip_conflicts": True})

    assert reply.status_code == 201, reply.text
    result = reply.json()
    assert [s["occurrence_start"] for s in result["skipped"]] == [
        at(1, "10:00"),
        at(3, "10:00"),
        at(4, "10:00"),
    ]
    assert [s["problem"] for s in result["skipped"]] == [
        "/problems/unit-taken",
        "/problems/lab-closed",
        "/problems/lab-capacity",
    ]
    assert [s["starts_at"] for s in result["created"]] == [at(0, "10:00"), at(2, "10:00"), at(5, "10:00")]
    assert [[u["unit"] for u in s["units"]] for s in result["created"]] == [[1, 2]] * 3
    slots = await assert_matches_rule(pool, result["series"]["id"])
    assert [s["status"] for s in slots] == [
        "active",
        "cancelled",
        "active",
        "cancelled",
        "cancelled",
        "active",
    ]
    assert [o["status"] for o in result["series"]["occurrences"]] == [s["status"] for s in slots]
    assert await held_units(pool, setup.lab["id"]) == 6 + 3 * 2
    assert await _audits(pool, setup, "slot.publish") == publishes + 3
    assert await _audits(pool, setup, "slot.skip") == 3


async def test_occurrences_that_overlap_each_other_compete_like_separate_slots(
    client, pool, setup: LabSetup
) -> None:
    """Thirty-hour daily occurrences overlap the next one: it is refused as if the earlier one were
    already published, and the one after it, which overlaps only a refused one, fits."""
    body = {
        **setup.slot(
            at(0, "10:00"),
            at(1, "16:00"),
            outside_hours=True,
            equipment=[{"equipment": setup.tig, "units": 4}],
        ),
        "recurrence": {"freq": "daily", "count": 4},
    }

    refused = await _post(client, setup, "/api/v1/series", body)

    assert refused.status_code == 409, refused.text
    occurrences = refused.json()["occurrences"]
    assert [o["occurrence_start"] for o in occurrences] == [at(1, "10:00"), at(3, "10:00")]
    assert all("4 unit(s) wanted, 2 free" in o["detail"] for o in occurrences)

    reply = await _post(client, setup, "/api/v1/series", {**body, "skip_conflicts": True})

    assert reply.status_code == 201, reply.text
    first, third = reply.json()["created"]
    second, fourth = reply.json()["skipped"]
    assert [u["unit"] for u in first["units"]] == [1, 2, 3, 4]
    assert [(c["slot_id"], c["unit"]) for c in second["conflicts"]] == [
        (first["id"], n) for n in (1, 2, 3, 4)
    ]
    assert [(c["slot_id"], c["unit"]) for c in fourth["conflicts"]] == [
        (third["id"], n) for n in (1, 2, 3, 4)
    ]

    crowd = {
        **setup.slot(at(20, "10:00"), at(21, "16:00"), outside_hours=True, capacity=20),
        "recurrence": {"freq": "daily", "count": 2},
    }
    reply = await _post(client, setup, "/api/v1/series", crowd)

    assert reply.status_code == 409, reply.text
    [full] = reply.json()["occurrences"]
    assert full["problem"] == "/problems/lab-capacity"
    assert full["occurrence_start"] == at(21, "10:00")


async def test_statements_do_not_grow_with_the_occurrences(database_url: str, make: Factory) -> None:
    setup = await make_setup(make, capacity=1000, units=50, hours=False)
    actor = Principal(
        person_id=setup.manager.id,
        organization_id=setup.manager.organization_id,
        roles=frozenset({"lab_manager"}),
        managed_lab_ids=frozenset({setup.lab["id"]}),
    )
    one_connection = await db.create_pool(database_url, min_size=1, max_size=1)
    statements: list[str] = []
    try:
        async with one_connection.acquire() as conn:
            conn.add_query_logger(lambda record: statements.append(record.query))

        async def create(first: str, count: int) -> int:
            statements.clear()
            starts_at = datetime.fromisoformat(first)
            result = await service.create_series(
                one_connection,
                actor,
                SeriesCreate(
                    lab=setup.slug,
                    kind="training",
                    title={"en": "Argon welding practice"},
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(hours=2),
                    capacity=2,
                    equipment=[UnitRequest(equipment=setup.tig, units=3)],
                    recurrence=Recurrence(freq="daily", count=count),
                ),
                now=datetime.now(UTC),
            )
            assert len(result.created) == count
            return len(statements)

        # The first call also prepares statements and reads type definitions.
        await create(at(200, "10:00"), 1)
        few = await create(at(0, "10:00"), 3)
        many = await create(at(100, "10:00"), 60)
    finally:
        await one_connection.close()
    assert many == few
