"""Only active staff of the lab's host who may teach are named instructor of a slot or a series.

An instructor's personal feed shows the bookings of the slots they run: naming anyone else would
show them other organizations' visits.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Factory, Person
from tests.slots.conftest import LabSetup, count_slots

ALMATY = ZoneInfo("Asia/Almaty")


def _at(days: int, hour: int) -> str:
    start = datetime.combine(datetime.now(ALMATY).date() + timedelta(days=days), time(hour), tzinfo=ALMATY)
    return start.isoformat()


async def _outsider(make: Factory, pool: asyncpg.Pool, setup: LabSetup, who: str) -> Person:
    host = setup.lab["organization_id"]
    if who == "director of a visiting college":
        return await make.person("director")
    if who == "instructor of another host university":
        return await make.person("instructor")
    if who == "host admin who does not teach":
        return await make.person("admin", organization_id=host)
    person = await make.person("instructor", organization_id=host)
    await pool.execute("update people set is_active = false where id = $1", person.id)
    return person


def _assert_refused(reply: Any) -> None:
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["type"] == "/problems/validation"
    assert [e["field"] for e in problem["errors"]] == ["instructor_id"]


OUTSIDERS = (
    "director of a visiting college",
    "instructor of another host university",
    "host admin who does not teach",
    "deactivated host instructor",
)


@pytest.mark.parametrize("who", OUTSIDERS)
async def test_a_slot_refuses_an_instructor_who_is_not_teaching_staff_of_the_host(
    client: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool, setup: LabSetup, who: str
) -> None:
    outsider = await _outsider(make, pool, setup, who)

    reply = await client.post(
        "/api/v1/slots",
        json=setup.slot(_at(5, 10), _at(5, 12), instructor_id=str(outsider.id)),
        headers=setup.manager.headers,
    )

    _assert_refused(reply)
    assert await count_slots(pool, setup.lab["id"]) == 0


@pytest.mark.parametrize("role", ["instructor", "lab_manager"])
async def test_teaching_staff_of_the_host_may_instruct(
    client: AsyncTestClient[Litestar], make: Factory, setup: LabSetup, role: str
) -> None:
    teacher = await make.person(role, organization_id=setup.lab["organization_id"])

    reply = await client.post(
        "/api/v1/slots",
        json=setup.slot(_at(5, 10), _at(5, 12), instructor_id=str(teacher.id)),
        headers=setup.manager.headers,
    )

    assert reply.status_code == 201, reply.text
    assert reply.json()["instructor_id"] == str(teacher.id)


async def test_editing_a_slot_refuses_an_outside_instructor_and_keeps_the_old_one(
    client: AsyncTestClient[Litestar], make: Factory, setup: LabSetup
) -> None:
    teacher = await make.person("instructor", organization_id=setup.lab["organization_id"])
    published = await client.post(
        "/api/v1/slots",
        json=setup.slot(_at(6, 10), _at(6, 12), instructor_id=str(teacher.id)),
        headers=setup.manager.headers,
    )
    assert published.status_code == 201, published.text
    slot_id = published.json()["id"]
    director = await make.person("director")

    reply = await client.patch(
        f"/api/v1/slots/{slot_id}", json={"instructor_id": str(director.id)}, headers=setup.manager.headers
    )

    _assert_refused(reply)
    shown = await client.get(f"/api/v1/slots/{slot_id}", headers=setup.manager.headers)
    assert shown.json()["instructor_id"] == str(teacher.id)
    cleared = await client.patch(
        f"/api/v1/slots/{slot_id}", json={"instructor_id": None}, headers=setup.manager.headers
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["instructor_id"] is None


async def test_a_series_refuses_an_outside_instructor(
    client: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool, setup: LabSetup
) -> None:
    director = await make.person("director")
    body = setup.slot(_at(7, 10), _at(7, 12), instructor_id=str(director.id))
    body["recurrence"] = {"freq": "weekly", "count": 3}

    reply = await client.post("/api/v1/series", json=body, headers=setup.manager.headers)

    _assert_refused(reply)
    assert await count_slots(pool, setup.lab["id"]) == 0
    assert await pool.fetchval("select count(*) from slot_series where lab_id = $1", setup.lab["id"]) == 0
