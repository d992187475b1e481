"""The booking and slot races again, with requests split between two server processes sharing one database.

Nothing about seats may live in a worker's memory: only PostgreSQL decides who gets the last seat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg
import httpx

from tests.bookings import races
from tests.bookings.helpers import new_cast
from tests.databases import free_port, labbook_server
from tests.factories import Factory
from tests.slots import races as slot_races
from tests.slots.conftest import make_setup


@asynccontextmanager
async def _servers(database_url: str, count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                labbook_server(database_url, free_port(), LABBOOK_POOL_MAX_SIZE="8")
            )
            for _ in range(count)
        ]


async def test_booking_races_across_two_server_processes(
    database_url: str, pool: asyncpg.Pool, make: Factory
) -> None:
    async with _servers(database_url, 2) as clients:
        await races.last_seats_race(clients, pool, await new_cast(make), make, waitlist=False)
        await races.last_seats_race(clients, pool, await new_cast(make), make, waitlist=True)
        await races.transition_race(clients, pool, await new_cast(make), make)


async def test_slot_races_across_two_server_processes(
    database_url: str, pool: asyncpg.Pool, make: Factory
) -> None:
    async with _servers(database_url, 2) as clients:
        await slot_races.publications_for_the_same_units(
            clients, pool, await make_setup(make, capacity=1000, units=6)
        )
        await slot_races.closure_against_a_slot(clients, pool, await make_setup(make))
        await slot_races.series_against_a_one_off(clients, pool, await make_setup(make, units=1))
