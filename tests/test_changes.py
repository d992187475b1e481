"""A worker's read cache never hides a change: a write is read back once PostgreSQL's notice of it
arrives (at once when this worker made it), and the cache steps aside while it cannot hear notices."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from labbook.changes import CHANNEL, ChangeListener, ReadCache
from labbook.settings import Settings
from tests.dates import soon
from tests.factories import Factory
from tests.feeds.conftest import settle
from tests.live import cached_worker, caught_up

WAIT_SECONDS = 30


@asynccontextmanager
async def _cached(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, ChangeListener]]:
    """A worker with its read cache on, served on this loop, once it listens for changes."""
    async with cached_worker(settings) as (http, app):
        yield http, app.state.changes


async def _lab(http: httpx.AsyncClient, slug: str) -> dict[str, Any]:
    reply = await http.get(f"/api/v1/labs/{slug}")
    assert reply.status_code == 200, reply.text
    lab: dict[str, Any] = reply.json()
    return lab


async def test_a_lab_renamed_by_another_worker_is_read_anew_once_the_notice_arrives(
    settings: Settings, make: Factory, pool: asyncpg.Pool
) -> None:
    lab = await make.lab(name={"en": "Welding Institute"})
    async with _cached(settings) as (http, listener):
        assert (await _lab(http, lab["slug"]))["name"] == {"en": "Welding Institute"}
        assert (await _lab(http, lab["slug"]))["name"] == {"en": "Welding Institute"}

        await pool.execute("update labs set name = $2 where id = $1", lab["id"], {"en": "Argon Centre"})
        await caught_up(pool, listener)

        assert (await _lab(http, lab["slug"]))["name"] == {"en": "Argon Centre"}


async def test_a_host_renamed_by_another_worker_shows_in_its_labs(
    settings: Settings, make: Factory, pool: asyncpg.Pool
) -> None:
    lab = await make.lab()
    async with _cached(settings) as (http, listener):
        await _lab(http, lab["slug"])
        await pool.execute(
            "update organizations set slug = $2 where id = $1", lab["organization_id"], "kaz-tech"
        )
        await caught_up(pool, listener)

        assert (await _lab(http, lab["slug"]))["host"] == "kaz-tech"


async def test_a_lab_changed_through_this_worker_is_read_anew_at_once(
    settings: Settings, make: Factory
) -> None:
    lab = await make.lab(capacity=30)
    manager = await make.person("lab_manager", lab_ids=(lab["id"],))
    async with _cached(settings) as (http, _):
        assert (await _lab(http, lab["slug"]))["capacity"] == 30

        changed = await http.patch(
            f"/api/v1/labs/{lab['slug']}", json={"capacity": 12}, headers=manager.headers
        )
        assert changed.status_code == 200, changed.text

        assert (await _lab(http, lab["slug"]))["capacity"] == 12


async def test_a_public_feed_changed_by_another_worker_is_no_longer_304(
    settings: Settings, make: Factory, pool: asyncpg.Pool
) -> None:
    lab = await make.lab()
    slot = await make.slot(lab, soon(timedelta(days=3)), title={"en": "Argon tour"})
    await settle(pool, lab["id"])
    url = f"/feeds/labs/{lab['slug']}.ics"
    async with _cached(settings) as (http, listener):
        first = await http.get(url)
        assert first.status_code == 200
        held = {"If-None-Match": first.headers["etag"]}
        await caught_up(pool, listener)  # the version the first reply recorded
        assert (await http.get(url, headers=held)).status_code == 304
        assert (await http.get(url, headers=held)).status_code == 304

        await make.change("slots", slot["id"], title={"en": "Argon tour, moved to hall B"})
        await caught_up(pool, listener)

        changed = await http.get(url, headers=held)
        assert changed.status_code == 200
        assert "hall B" in changed.text


async def test_a_booking_through_another_worker_makes_the_feeds_seats_new_there(
    settings: Settings, make: Factory, pool: asyncpg.Pool
) -> None:
    """A booking's commit sends no notice; the worker that took it announces the seats after it."""
    lab = await make.lab(languages=("kk", "ru"))
    slot = await make.slot(lab, soon(timedelta(days=3)), capacity=10)
    director = await make.person("director")
    await settle(pool, lab["id"])
    url = f"/feeds/labs/{lab['slug']}.ics"
    async with _cached(settings) as (reader, listener), _cached(settings) as (writer, _):
        first = await reader.get(url)
        assert first.status_code == 200
        held = {"If-None-Match": first.headers["etag"]}
        await caught_up(pool, listener)
        assert (await reader.get(url, headers=held)).status_code == 304

        booked = await writer.post(
            f"/api/v1/slots/{slot['id']}/bookings",
            json={"headcount": 4, "contact_name": "Ержан Сейткали", "language": "ru"},
            headers=director.headers,
        )
        assert booked.status_code == 201, booked.text
        async with asyncio.timeout(WAIT_SECONDS):
            await listener.until(lambda: listener.last_notice == "slots")

        changed = await reader.get(url, headers=held)
        assert changed.status_code == 200
        assert changed.headers["etag"] != held["If-None-Match"]
        assert ": 6 / 10" in changed.text.replace("\r\n ", ""), "six seats left of ten"


async def test_only_a_change_beyond_the_seat_count_notifies_at_its_commit(
    make: Factory, pool: asyncpg.Pool
) -> None:
    lab = await make.lab()
    slot = await make.slot(lab, soon(timedelta(days=3)), capacity=10, title={"en": "Argon tour"})
    heard: list[str] = []
    marker = f"marker-{secrets.token_hex(4)}"
    done = asyncio.Event()

    def note(conn: object, pid: int, channel: str, table: str) -> None:
        heard.append(table)
        if table == marker:
            done.set()

    async with pool.acquire() as conn:
        await conn.add_listener(CHANNEL, note)
        try:
            await pool.execute(
                "update slots set seats_taken = seats_taken + 2, sequence = sequence + 1,"
                " updated_at = now() where id = $1",
                slot["id"],
            )
            await make.change("slots", slot["id"], title={"en": "Argon tour, hall B"})
            await pool.execute("select pg_notify($1, $2)", CHANNEL, marker)
            async with asyncio.timeout(WAIT_SECONDS):
                await done.wait()
        finally:
            await conn.remove_listener(CHANNEL, note)
    assert heard == ["slots", marker]


async def test_reads_go_to_the_database_while_the_listener_is_cut_off_and_it_reconnects(
    settings: Settings, make: Factory, pool: asyncpg.Pool
) -> None:
    """A database restart cuts the listener's connection as ``pg_terminate_backend`` does."""
    lab = await make.lab(capacity=30)
    async with _cached(settings) as (http, listener):
        await _lab(http, lab["slug"])
        await pool.execute("select pg_terminate_backend($1)", listener.backend_pid)
        async with asyncio.timeout(WAIT_SECONDS):
            await listener.until(lambda: not listener.is_live)

        # nothing tells this worker about the change: while cut off, it reads the database
        await pool.execute("update labs set capacity = 25 where id = $1", lab["id"])
        assert (await _lab(http, lab["slug"]))["capacity"] == 25

        async with asyncio.timeout(WAIT_SECONDS):
            await listener.until(lambda: listener.is_live and listener.connections == 2)
        await _lab(http, lab["slug"])
        await pool.execute("update labs set capacity = 20 where id = $1", lab["id"])
        await caught_up(pool, listener)
        assert (await _lab(http, lab["slug"]))["capacity"] == 20


def test_a_read_that_overlapped_a_change_is_not_kept() -> None:
    cache: ReadCache[str] = ReadCache(["labs"])
    cache.set_live(True)
    before_change = cache.generation
    cache.drop()  # a notice arrives while the read is still waiting for the database
    cache.put("welding", "as it was before the change", before_change)
    assert cache.get("welding") is None

    cache.put("welding", "as it is now", cache.generation)
    assert cache.get("welding") == "as it is now"


def test_a_cache_keeps_nothing_while_nobody_listens() -> None:
    cache: ReadCache[str] = ReadCache(["labs"])
    cache.put("welding", "row", cache.generation)
    assert cache.get("welding") is None
