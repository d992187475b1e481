"""Fetching and parsing feeds, and a lab whose slots are published through the API.

Rows come from the one factory, ``make`` (``tests/factories.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import icalendar
import pytest
import recurring_ical_events
import vobject
from ical.calendar_stream import IcsCalendarStream
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Factory
from tests.feeds.icscheck import assert_valid

ALMATY = ZoneInfo("Asia/Almaty")


# Feeds write a lab's place into LOCATION: their labs have a building and a room.
PLACE = {"building": "Block G", "room": "104"}


@dataclass(frozen=True)
class Occurrence:
    uid: str
    starts_at: datetime
    ends_at: datetime
    status: str
    summary: str


def parse(data: bytes) -> icalendar.Calendar:
    """Parse with every independent parser we have; each must accept the feed."""
    assert_valid(data)
    calendar = icalendar.Calendar.from_ical(data)
    vobject.readOne(data.decode("utf-8"), validate=True)
    # ical is strict about STATUS values and a non-UTC UNTIL, which it checks while expanding
    list(IcsCalendarStream.calendar_from_ics(data.decode("utf-8")).timeline)
    return calendar


def expand(data: bytes, start: datetime, end: datetime) -> list[Occurrence]:
    """Occurrences between ``start`` and ``end`` as recurring-ical-events expands them."""
    calendar = icalendar.Calendar.from_ical(data)
    found = []
    for event in recurring_ical_events.of(calendar).between(start, end):
        found.append(
            Occurrence(
                uid=str(event["UID"]),
                starts_at=event.decoded("DTSTART"),
                ends_at=event.decoded("DTEND"),
                status=str(event.get("STATUS")),
                summary=str(event.get("SUMMARY")),
            )
        )
    found.sort(key=lambda o: (o.starts_at, o.uid))
    # a second, independent expansion must agree on every occurrence
    timeline = IcsCalendarStream.calendar_from_ics(data.decode("utf-8")).timeline
    by_ical = sorted((e.dtstart, e.uid) for e in timeline if start < e.dtend and e.dtstart < end)
    assert by_ical == [(o.starts_at, o.uid) for o in found]
    return found


async def settle(pool: asyncpg.Pool, lab_id: int) -> None:
    """Backdate the lab's slots and series by an hour: no write can be in flight that long ago, so a
    public feed goes out under its index ETag at once and keeps it (``feeds.service.SETTLE_MARGIN``)."""
    await pool.execute(
        "update slots set updated_at = updated_at - interval '1 hour' where lab_id = $1", lab_id
    )
    await pool.execute(
        "update slot_series set updated_at = updated_at - interval '1 hour' where lab_id = $1", lab_id
    )


async def fetch(client: AsyncTestClient[Litestar], url: str, **headers: str) -> Any:
    return await client.get(url, headers=headers)


def day(days: int, hour: int = 10) -> datetime:
    """``hour`` o'clock in Almaty, ``days`` from today."""
    return datetime.combine(datetime.now(ALMATY).date() + timedelta(days=days), time(hour), tzinfo=ALMATY)


class ApiLab:
    """A lab with opening hours, 6 TIG units, a manager and a director; writes go through the API."""

    def __init__(self, row: asyncpg.Record, manager: Any, director: Any, equipment: asyncpg.Record) -> None:
        self.row = row
        self.slug: str = row["slug"]
        self.url = f"/feeds/labs/{self.slug}.ics"
        self.manager = manager
        self.director = director
        self.equipment = equipment

    async def publish(self, client: AsyncTestClient[Litestar], days: int, **fields: Any) -> dict[str, Any]:
        start = day(days)
        body = {
            "lab": self.slug,
            "kind": "tour",
            "title": {"en": "Open tour"},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "capacity": 20,
            **fields,
        }
        reply = await client.post("/api/v1/slots", json=body, headers=self.manager.headers)
        assert reply.status_code == 201, reply.text
        slot: dict[str, Any] = reply.json()
        return slot

    async def series(
        self, client: AsyncTestClient[Litestar], days: int, count: int, **fields: Any
    ) -> dict[str, Any]:
        start = day(days, 15)
        reply = await client.post(
            "/api/v1/series",
            json={
                "lab": self.slug,
                "kind": "training",
                "title": {"en": "TIG practice"},
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=2)).isoformat(),
                "capacity": 12,
                "recurrence": {"freq": "weekly", "count": count},
                **fields,
            },
            headers=self.manager.headers,
        )
        assert reply.status_code == 201, reply.text
        created: dict[str, Any] = reply.json()
        return created

    async def book(
        self, client: AsyncTestClient[Litestar], slot_id: str, headcount: int = 3
    ) -> dict[str, Any]:
        reply = await client.post(
            f"/api/v1/slots/{slot_id}/bookings",
            json={"headcount": headcount, "contact_name": "Dana", "language": "en"},
            headers=self.director.headers,
        )
        assert reply.status_code in (200, 201), reply.text
        booking: dict[str, Any] = reply.json()
        return booking

    async def cancel(self, client: AsyncTestClient[Litestar], slot_id: str) -> None:
        reply = await client.post(f"/api/v1/slots/{slot_id}/cancel", json={}, headers=self.manager.headers)
        assert reply.status_code == 200, reply.text


@pytest.fixture
async def lab(make: Factory) -> ApiLab:
    row = await make.lab(**PLACE, languages=("en",))
    await make.opening_hours(lab_id=row["id"])
    equipment = await make.equipment(lab_id=row["id"], units=6)
    manager = await make.person("lab_manager", lab_ids=(row["id"],))
    director = await make.person("director")
    return ApiLab(row, manager, director, equipment)
