"""SQL factories for slots, series and bookings, and helpers that fetch and parse feeds.

Rows follow the contract the slots and bookings services keep: every change sets
``updated_at = now()`` and ``sequence = sequence + 1``, and a change to an occurrence does the same
to its series; nothing is deleted; a series' slots are exactly its rule's expansion, each with its
``occurrence_start``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
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


class FeedFactory:
    def __init__(self, pool: asyncpg.Pool, make: Factory) -> None:
        self.pool = pool
        self.make = make

    async def lab(self, **fields: Any) -> asyncpg.Record:
        fields.setdefault(
            "name", {"kk": "Дәнекерлеу институты", "ru": "Институт сварки", "en": "Welding Institute"}
        )
        lab = await self.make.lab(**fields)
        return await self.pool.fetchrow(
            "update labs set building = 'Block G', room = '104' where id = $1 returning *", lab["id"]
        )

    async def units(self, equipment_id: int, *numbers: int) -> list[int]:
        rows = await self.pool.fetch(
            "select id from equipment_units where equipment_id = $1 and number = any($2::int[])"
            " order by number",
            equipment_id,
            list(numbers),
        )
        return [r["id"] for r in rows]

    async def slot(
        self,
        lab: asyncpg.Record,
        starts_at: datetime,
        hours: float = 2,
        *,
        kind: str = "tour",
        title: dict[str, str] | None = None,
        description: dict[str, str] | None = None,
        capacity: int = 20,
        visibility: str = "public",
        organization_id: int | None = None,
        instructor_id: UUID | None = None,
        unit_ids: list[int] | None = None,
        series_id: UUID | None = None,
        occurrence_start: datetime | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> asyncpg.Record:
        ends_at = starts_at + timedelta(hours=hours)
        runner = conn or self.pool
        row = await runner.fetchrow(
            """insert into slots (lab_id, series_id, occurrence_start, kind, title, description, starts_at,
                                  ends_at, capacity, visibility, organization_id, instructor_id)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning *""",
            lab["id"],
            series_id,
            occurrence_start,
            kind,
            title or {"en": "Open tour", "ru": "Экскурсия", "kk": "Экскурсия"},
            description or {},
            starts_at,
            ends_at,
            capacity,
            visibility,
            organization_id,
            instructor_id,
        )
        for unit_id in unit_ids or []:
            await runner.execute(
                "insert into slot_units (slot_id, unit_id, during) values ($1, $2, tstzrange($3, $4))",
                row["id"],
                unit_id,
                starts_at,
                ends_at,
            )
        return row

    async def series(
        self,
        lab: asyncpg.Record,
        local_start: datetime,
        *,
        count: int,
        hours: float = 2,
        freq: str = "weekly",
        weekdays: tuple[int, ...] = (),
        kind: str = "training",
        title: dict[str, str] | None = None,
        capacity: int = 12,
        visibility: str = "public",
        organization_id: int | None = None,
        instructor_id: UUID | None = None,
        unit_ids: list[int] | None = None,
        by_until: bool = False,
    ) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
        """A series with ``count`` occurrences, every ``weekdays`` (default: the start's weekday).

        ``by_until`` stores the rule with ``until`` (the last occurrence's start) instead of ``count``.
        """
        tz = ZoneInfo(lab["timezone"])
        title = title or {
            "en": "Argon TIG training",
            "ru": "Аргонодуговая сварка",
            "kk": "Аргонмен дәнекерлеу",
        }
        weekdays = weekdays or (local_start.isoweekday(),)
        starts: list[datetime] = []
        day: date = local_start.date()
        while len(starts) < count:
            if freq == "daily" or day.isoweekday() in weekdays:
                starts.append(datetime.combine(day, local_start.time(), tzinfo=tz))
            day += timedelta(days=1)
        async with self.pool.acquire() as conn, conn.transaction():
            series = await conn.fetchrow(
                """insert into slot_series (lab_id, kind, title, timezone, local_start, duration, freq,
                                            weekdays, count, until, capacity, visibility, organization_id,
                                            instructor_id)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) returning *""",
                lab["id"],
                kind,
                title,
                lab["timezone"],
                local_start,
                timedelta(hours=hours),
                freq,
                list(weekdays) if freq == "weekly" else [],
                None if by_until else count,
                starts[-1] if by_until else None,
                capacity,
                visibility,
                organization_id,
                instructor_id,
            )
            slots = [
                await self.slot(
                    lab,
                    start,
                    hours,
                    kind=kind,
                    title=title,
                    capacity=capacity,
                    visibility=visibility,
                    organization_id=organization_id,
                    instructor_id=instructor_id,
                    unit_ids=unit_ids,
                    series_id=series["id"],
                    occurrence_start=start,
                    conn=conn,
                )
                for start in starts
            ]
        return series, slots

    async def booking(
        self,
        slot: asyncpg.Record,
        organization_id: int,
        *,
        headcount: int = 5,
        status: str = "confirmed",
        contact_name: str = "Aliya Contact",
        contact_email: str | None = "aliya@example.kz",
        contact_phone: str | None = "+7 701 000 0000",
        notes: str | None = None,
        language: str = "ru",
    ) -> asyncpg.Record:
        async with self.pool.acquire() as conn, conn.transaction():
            booking = await conn.fetchrow(
                """insert into bookings (slot_id, organization_id, headcount, contact_name, contact_email,
                                         contact_phone, language, notes, status)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *""",
                slot["id"],
                organization_id,
                headcount,
                contact_name,
                contact_email,
                contact_phone,
                language,
                notes,
                status,
            )
            if status in ("pending", "confirmed"):
                await conn.execute(
                    """update slots set seats_taken = seats_taken + $2, updated_at = now(),
                       sequence = sequence + 1 where id = $1""",
                    slot["id"],
                    headcount,
                )
        return booking

    async def change(self, table: str, row_id: Any, **changes: Any) -> asyncpg.Record:
        """Edit a row the way the services do: the change, ``updated_at = now()``, ``sequence + 1``."""
        assert table in ("slots", "slot_series", "bookings")
        sets = ", ".join(f"{column} = ${n}" for n, column in enumerate(changes, 2))
        sets = f"{sets}, " if sets else ""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"update {table} set {sets}updated_at = now(), sequence = sequence + 1"
                " where id = $1 returning *",
                row_id,
                *changes.values(),
            )
            if table == "slots" and row["series_id"] is not None:
                await conn.execute(
                    "update slot_series set updated_at = now(), sequence = sequence + 1 where id = $1",
                    row["series_id"],
                )
        return row


@pytest.fixture
def feeds(pool: asyncpg.Pool, make: Factory) -> FeedFactory:
    return FeedFactory(pool, make)


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
async def lab(make: Factory, feeds: FeedFactory) -> ApiLab:
    row = await feeds.lab(languages=("en",))
    await make.opening_hours(lab_id=row["id"])
    equipment = await make.equipment(lab_id=row["id"], units=6)
    manager = await make.person("lab_manager", lab_ids=(row["id"],))
    director = await make.person("director")
    return ApiLab(row, manager, director, equipment)
