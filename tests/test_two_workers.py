"""The booking and slot races again, with requests split between two server processes sharing one database.

Nothing about seats may live in a worker's memory: only PostgreSQL decides who gets the last seat.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx

from tests.bookings import races
from tests.bookings.helpers import SlotFactory, new_cast
from tests.factories import Factory
from tests.slots import races as slot_races
from tests.slots.conftest import make_setup

START_DEADLINE_SECONDS = 60
STOP_DEADLINE_SECONDS = 15


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def _servers(database_url: str, count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    env = {
        **os.environ,
        "LABBOOK_DATABASE_URL": database_url,
        "LABBOOK_LOG_LEVEL": "WARNING",
        "LABBOOK_POOL_MAX_SIZE": "8",
    }
    processes: list[asyncio.subprocess.Process] = []
    clients: list[httpx.AsyncClient] = []
    with tempfile.TemporaryFile() as log:
        try:
            for _ in range(count):
                port = _free_port()
                processes.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "labbook",
                        "serve",
                        "--port",
                        str(port),
                        env=env,
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=log,
                    )
                )
                clients.append(
                    httpx.AsyncClient(
                        base_url=f"http://127.0.0.1:{port}",
                        timeout=30,
                        limits=httpx.Limits(max_connections=50, max_keepalive_connections=50),
                    )
                )
            async with asyncio.timeout(START_DEADLINE_SECONDS):
                for process, client in zip(processes, clients, strict=True):
                    while True:
                        assert process.returncode is None, "a server exited at start"
                        try:
                            if (await client.get("/ready")).status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                        await asyncio.sleep(0.1)
            yield clients
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        finally:
            for client in clients:
                await client.aclose()
            for process in processes:
                if process.returncode is None:
                    process.terminate()
            for process in processes:
                try:
                    async with asyncio.timeout(STOP_DEADLINE_SECONDS):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def test_booking_races_across_two_server_processes(
    database_url: str, pool: asyncpg.Pool, make: Factory
) -> None:
    slots = SlotFactory(pool)
    async with _servers(database_url, 2) as clients:
        await races.last_seats_race(clients, pool, await new_cast(make), slots, waitlist=False)
        await races.last_seats_race(clients, pool, await new_cast(make), slots, waitlist=True)
        await races.transition_race(clients, pool, await new_cast(make), slots)


async def test_slot_races_across_two_server_processes(
    database_url: str, pool: asyncpg.Pool, make: Factory
) -> None:
    async with _servers(database_url, 2) as clients:
        await slot_races.publications_for_the_same_units(
            clients, pool, await make_setup(make, capacity=1000, units=6)
        )
        await slot_races.closure_against_a_slot(clients, pool, await make_setup(make))
        await slot_races.series_against_a_one_off(clients, pool, await make_setup(make, units=1))
