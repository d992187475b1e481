"""Slot race scenarios shared by the in-process tests and the two-server test.

Requests go out all at once, alternating between ``clients``; afterwards the checks read what
PostgreSQL holds, not just what the replies said. Dates lie two years ahead so they stay future.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from itertools import cycle
from typing import Any

import asyncpg
import httpx

from tests.slots.conftest import LabSetup

OVERLAP_CHECK = """
select count(*) from slot_units a
join slot_units b on a.unit_id = b.unit_id and a.slot_id < b.slot_id and a.during && b.during
join slots s on s.id = a.slot_id
where a.is_active and b.is_active and s.lab_id = $1
"""


def day(offset: int = 0) -> str:
    return (date.today() + timedelta(days=730 + offset)).isoformat()


async def _post_all(
    clients: list[httpx.AsyncClient], setup: LabSetup, requests: list[tuple[str, dict[str, Any]]]
) -> list[httpx.Response]:
    return await asyncio.gather(
        *(
            client.post(path, json=body, headers=setup.manager.headers)
            for client, (path, body) in zip(cycle(clients), requests)
        )
    )


async def publications_for_the_same_units(
    clients: list[httpx.AsyncClient], pool: asyncpg.Pool, setup: LabSetup
) -> None:
    """20 publications want 2 of 6 units in overlapping windows: 3 win, the units are held once."""
    when = day()
    bodies = [
        setup.slot(
            f"{when}T{10 + i % 3}:00:00+05:00",
            f"{when}T{13 + i % 3}:00:00+05:00",
            capacity=1,
            equipment=[{"equipment": setup.tig, "units": 2}],
        )
        for i in range(20)
    ]
    replies = await _post_all(clients, setup, [("/api/v1/slots", b) for b in bodies])
    created = [r for r in replies if r.status_code == 201]
    refused = [r for r in replies if r.status_code != 201]
    assert len(created) == 3
    assert {r.status_code for r in refused} == {409}
    assert all(r.json()["type"] == "/problems/unit-taken" and r.json()["conflicts"] for r in refused)
    held = sorted(u["unit"] for r in created for u in r.json()["units"])
    assert held == [1, 2, 3, 4, 5, 6]
    assert await pool.fetchval(OVERLAP_CHECK, setup.lab["id"]) == 0


async def closure_against_a_slot(
    clients: list[httpx.AsyncClient], pool: asyncpg.Pool, setup: LabSetup
) -> None:
    """A closure and a tour on the same day, ten times: never both."""
    for offset in range(10):
        when, after = day(offset), day(offset + 1)
        closure = setup.slot(f"{when}T00:00:00+05:00", f"{after}T00:00:00+05:00", kind="closure", capacity=0)
        tour = setup.slot(f"{when}T10:00:00+05:00", f"{when}T11:00:00+05:00", kind="tour")
        replies = await _post_all(clients, setup, [("/api/v1/slots", closure), ("/api/v1/slots", tour)])
        assert sorted(r.status_code for r in replies) == [201, 409]
        loser = next(r for r in replies if r.status_code == 409)
        winner = next(r for r in replies if r.status_code == 201)
        assert loser.json()["type"] == "/problems/lab-closed"
        assert loser.json()["conflicts"][0]["slot_id"] == winner.json()["id"]
    assert await pool.fetchval("select count(*) from slots where lab_id = $1", setup.lab["id"]) == 10


async def series_against_a_one_off(
    clients: list[httpx.AsyncClient], pool: asyncpg.Pool, setup: LabSetup
) -> None:
    """A daily series and a one-off slot want the only unit: never both."""
    for week in range(5):
        first, second = day(week * 7), day(week * 7 + 1)
        series = {
            **setup.slot(
                f"{first}T10:00:00+05:00",
                f"{first}T12:00:00+05:00",
                equipment=[{"equipment": setup.tig, "units": 1}],
            ),
            "recurrence": {"freq": "daily", "count": 3},
        }
        one_off = setup.slot(
            f"{second}T11:00:00+05:00",
            f"{second}T13:00:00+05:00",
            equipment=[{"equipment": setup.tig, "units": 1}],
        )
        series_reply, slot_reply = await _post_all(
            clients, setup, [("/api/v1/series", series), ("/api/v1/slots", one_off)]
        )
        assert sorted([series_reply.status_code, slot_reply.status_code]) == [201, 409]
        if slot_reply.status_code == 409:
            assert slot_reply.json()["type"] == "/problems/unit-taken"
            assert slot_reply.json()["conflicts"][0]["unit"] == 1
        else:
            assert series_reply.json()["type"] == "/problems/series-conflict"
            [occurrence] = series_reply.json()["occurrences"]
            assert occurrence["conflicts"][0]["slot_id"] == slot_reply.json()["id"]
    assert await pool.fetchval(OVERLAP_CHECK, setup.lab["id"]) == 0
