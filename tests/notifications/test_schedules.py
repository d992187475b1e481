"""Acceptance 4: a reminder before the visit and the lab managers' daily digest, each once, at the
right local time, however many workers run the schedule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from labbook import db
from labbook.notifications import service
from labbook.settings import Settings
from tests.bookings.helpers import Cast, new_cast
from tests.dates import soon as from_now
from tests.factories import Factory
from tests.notifications.helpers import eventually, running_worker

# The schedules tick once a minute: a wait covers two ticks.
TICKS = 150.0


@pytest.fixture
async def cast(make: Factory) -> Cast:
    return await new_cast(make)


@pytest.fixture
async def other_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A second worker's connections."""
    second = await db.create_pool(database_url, min_size=1, max_size=4)
    yield second
    await second.close()


async def _booked_days_ago(client, pool: asyncpg.Pool, cast: Cast, slot: asyncpg.Record) -> str:
    created = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
    )
    assert created.status_code == 201, created.text
    booking_id: str = created.json()["id"]
    # as if booked three days ago, before the reminder time came
    await pool.execute("update bookings set created_at = now() - interval '3 days' where id = $1", booking_id)
    return booking_id


async def _mail(pool: asyncpg.Pool, kind: str, recipient: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "select booking_id, subject, raw, language from mail_messages where kind = $1 and recipient = $2",
        kind,
        recipient,
    )


async def test_a_reminder_comes_once_when_the_labs_reminder_time_has_come(
    client, pool: asyncpg.Pool, other_pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    soon = await make.slot(cast.lab, from_now(timedelta(hours=23)))
    later = await make.slot(cast.lab, from_now(timedelta(hours=30)))
    soon_booking = await _booked_days_ago(client, pool, cast, soon)
    later_booking = await _booked_days_ago(client, pool, cast, later)

    # Two workers' schedules fire at once, twice.
    for _ in range(2):
        await asyncio.gather(
            service.send_due_reminders(pool, settings), service.send_due_reminders(other_pool, settings)
        )
    reminders = await _mail(pool, "booking_reminder", cast.director.email)
    assert [str(r["booking_id"]) for r in reminders] == [soon_booking]
    text = message_from_bytes(reminders[0]["raw"], policy=policy.default).get_body(("plain",)).get_content()
    assert "Сапарыңыз жақындап қалды" in text
    assert reminders[0]["language"] == "kk"
    assert reminders[0]["subject"].startswith("Еске салу")

    # A lab that reminds two days ahead reminds of the later visit too, and still only once.
    await pool.execute("update labs set reminder_hours = 48 where id = $1", cast.lab["id"])
    for _ in range(2):
        await asyncio.gather(
            service.send_due_reminders(pool, settings), service.send_due_reminders(other_pool, settings)
        )
    reminders = await _mail(pool, "booking_reminder", cast.director.email)
    assert sorted(str(r["booking_id"]) for r in reminders) == sorted([soon_booking, later_booking])


def _zone_where(now: datetime, earliest: time, latest: time) -> str:
    """A time zone whose local time now is between ``earliest`` and ``latest``."""
    for offset in range(-12, 15):
        name = f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"
        local = now.astimezone(ZoneInfo(name)).time()
        if earliest <= local < latest:
            return name
    raise AssertionError(f"no zone has {earliest}-{latest} now")


async def _lab_with_a_visit_tomorrow(
    client, make: Factory, zone: str, now: datetime
) -> tuple[Cast, asyncpg.Record]:
    cast = await new_cast(make)
    await make.pool.execute("update labs set timezone = $2 where id = $1", cast.lab["id"], zone)
    tomorrow = (now.astimezone(ZoneInfo(zone)) + timedelta(days=1)).date()
    starts = datetime.combine(tomorrow, time(10, 0), ZoneInfo(zone))
    slot = await make.slot(cast.lab, from_now(starts - now.replace(microsecond=0)))
    created = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json=cast.body(headcount=7, contact_phone="+7 701 555 01 02"),
        headers=cast.director.headers,
    )
    assert created.status_code == 201, created.text
    return cast, slot


async def test_the_daily_digest_comes_once_after_five_in_the_labs_own_evening(
    client,
    pool: asyncpg.Pool,
    other_pool: asyncpg.Pool,
    settings: Settings,
    make: Factory,
) -> None:
    now = datetime.now(UTC)
    evening, _ = await _lab_with_a_visit_tomorrow(
        client, make, _zone_where(now, time(17, 30), time(23, 0)), now
    )
    morning, _ = await _lab_with_a_visit_tomorrow(
        client, make, _zone_where(now, time(8, 0), time(16, 30)), now
    )
    await pool.execute("update people set language = 'ru' where id = $1", evening.manager.id)

    for _ in range(2):
        await asyncio.gather(
            service.send_due_digests(pool, settings), service.send_due_digests(other_pool, settings)
        )

    [digest] = await _mail(pool, "lab_digest", evening.manager.email)
    assert await _mail(pool, "lab_digest", morning.manager.email) == []
    assert digest["language"] == "ru"
    assert digest["subject"].startswith("Визиты на завтра")
    text = message_from_bytes(digest["raw"], policy=policy.default).get_body(("plain",)).get_content()
    assert "10:00" in text
    assert "+7 701 555 01 02" in text
    assert "Завтра" in text


async def test_two_running_workers_send_the_reminder_once_on_their_schedule(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    soon = await make.slot(cast.lab, from_now(timedelta(hours=20)))
    booking = await _booked_days_ago(client, pool, cast, soon)
    async with running_worker(settings), running_worker(settings):

        async def reminded() -> list[asyncpg.Record]:
            return [
                r
                for r in await _mail(pool, "booking_reminder", cast.director.email)
                if str(r["booking_id"]) == booking
            ]

        await eventually(reminded, "the reminder on the schedule", deadline=TICKS)
        # one more tick of both schedules changes nothing
        ticked = await pool.fetchval("select max(last_run) from pgqueuer_schedules")

        async def ticked_again() -> bool:
            return bool(await pool.fetchval("select max(last_run) > $1 from pgqueuer_schedules", ticked))

        await eventually(ticked_again, "another tick", deadline=TICKS)
    assert len(await reminded()) == 1
