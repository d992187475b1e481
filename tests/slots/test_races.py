"""Real concurrent requests against a real PostgreSQL: each invariant holds under a race."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import asyncpg
import pytest

from labbook import db
from labbook.core.principal import Principal
from labbook.errors import LabbookError, UnitTaken
from labbook.slots import service
from labbook.slots.schemas import SlotCreate, UnitRequest
from tests.dates import ahead
from tests.factories import Factory
from tests.slots import races
from tests.slots.conftest import LabSetup, make_setup
from tests.slots.races import OVERLAP_CHECK


def _principal(setup: LabSetup) -> Principal:
    return Principal(
        person_id=setup.manager.id,
        organization_id=setup.manager.organization_id,
        roles=frozenset({"lab_manager"}),
        managed_lab_ids=frozenset({setup.lab["id"]}),
    )


async def test_twenty_publications_for_the_same_units(live, pool, make: Factory) -> None:
    await races.publications_for_the_same_units([live], pool, await make_setup(make, capacity=1000, units=6))


async def test_closure_racing_a_slot_never_both(live, pool, make: Factory) -> None:
    await races.closure_against_a_slot([live], pool, await make_setup(make))


async def test_series_racing_a_one_off_slot_for_one_unit(live, pool, make: Factory) -> None:
    await races.series_against_a_one_off([live], pool, await make_setup(make, units=1))


async def test_raw_connections_calling_the_service(pool, make: Factory) -> None:
    setup = await make_setup(make, capacity=1000, units=4)
    actor = _principal(setup)
    data = SlotCreate(
        lab=setup.slug,
        kind="training",
        title={"en": "Night shift"},
        starts_at=datetime.fromisoformat(ahead("2029-04-02T10:00:00+05:00")),
        ends_at=datetime.fromisoformat(ahead("2029-04-02T12:00:00+05:00")),
        capacity=1,
        equipment=[UnitRequest(equipment=setup.tig, units=1)],
    )

    async def publish() -> str:
        async with db.transaction(pool) as conn:
            try:
                await service.create_slot_in(conn, actor, setup.lab, data)
            except LabbookError as error:
                return error.type
        return "created"

    outcomes = await asyncio.gather(*(publish() for _ in range(20)))
    assert outcomes.count("created") == 4
    assert outcomes.count(UnitTaken("").type) == 16
    assert await pool.fetchval(OVERLAP_CHECK, setup.lab["id"]) == 0


async def test_database_refuses_a_double_hold_even_without_the_lab_lock(pool, make: Factory) -> None:
    setup = await make_setup(make, units=1)
    unit_id = await pool.fetchval(
        "select id from equipment_units where equipment_id = $1", setup.equipment["id"]
    )
    starts_at = datetime.fromisoformat(ahead("2029-04-30T05:00:00+00:00"))
    ends_at = starts_at + timedelta(hours=2)
    slot_ids = [
        await pool.fetchval(
            """insert into slots (lab_id, kind, title, starts_at, ends_at, capacity)
               values ($1, 'training', '{"en": "x"}', $2, $3, 1)
               returning id""",
            setup.lab["id"],
            starts_at,
            ends_at,
        )
        for _ in range(10)
    ]

    async def hold(slot_id: object) -> str | None:
        async with pool.acquire() as conn:
            try:
                await conn.execute(
                    """insert into slot_units (slot_id, unit_id, during)
                       values ($1, $2, tstzrange($3, $4, '[)'))""",
                    slot_id,
                    unit_id,
                    starts_at,
                    ends_at,
                )
            except asyncpg.ExclusionViolationError as error:
                return error.constraint_name
            except asyncpg.DeadlockDetectedError:
                # Concurrent exclusion checks may wait on each other; PostgreSQL then aborts one.
                return "deadlock"
        return None

    outcomes = await asyncio.gather(*(hold(s) for s in slot_ids))
    assert outcomes.count(None) == 1
    assert set(outcomes) - {None} <= {"ex_slot_units_overlap", "deadlock"}
    held = await pool.fetchval("select count(*) from slot_units where unit_id = $1", unit_id)
    assert held == 1


@pytest.mark.parametrize("kind", ["closure", "tour"])
async def test_raw_closure_race(pool, make: Factory, kind: str) -> None:
    setup = await make_setup(make)
    actor = _principal(setup)

    def body(k: str, start: str, end: str) -> SlotCreate:
        return SlotCreate(
            lab=setup.slug,
            kind=k,  # type: ignore[arg-type]
            title={"en": k},
            starts_at=datetime.fromisoformat(start),
            ends_at=datetime.fromisoformat(end),
            capacity=0 if k == "closure" else 5,
        )

    first = body(kind, ahead("2029-06-04T09:00:00+05:00"), ahead("2029-06-04T11:00:00+05:00"))
    other = "tour" if kind == "closure" else "closure"
    second = body(other, ahead("2029-06-04T10:00:00+05:00"), ahead("2029-06-04T12:00:00+05:00"))

    async def publish(data: SlotCreate) -> bool:
        async with db.transaction(pool) as conn:
            try:
                await service.create_slot_in(conn, actor, setup.lab, data)
            except LabbookError:
                return False
        return True

    assert sorted(await asyncio.gather(publish(first), publish(second))) == [False, True]
