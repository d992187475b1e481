"""The utilization report: hours open, published and booked per lab and week, and hours per station,
each against a count of its own."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.attendance.world import tig_lab
from tests.factories import Factory

ALMATY = ZoneInfo("Asia/Almaty")


async def test_hours_open_published_and_booked_and_use_per_station(
    make: Factory, client: AsyncTestClient[Litestar], pool: asyncpg.Pool
) -> None:
    tig = await tig_lab(make, client)
    # open Monday to Friday 09:00-18:00: 45 hours a week
    await make.opening_hours(lab_id=tig.lab["id"], weekdays=range(1, 6), opens="09:00", closes="18:00")
    today = datetime.now(ALMATY).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=2)
    units = await make.units(tig.tig["id"], 1, 2)
    booked = await make.slot(
        tig.lab, datetime.combine(monday, time(10), tzinfo=ALMATY), 3, kind="training", unit_ids=units
    )
    await make.booking(booked, tig.director.organization_id, headcount=2)
    await make.slot(tig.lab, datetime.combine(monday + timedelta(days=2), time(10), tzinfo=ALMATY), 2)
    sunday = monday + timedelta(days=6)
    reply = await client.get(
        "/api/v1/reports/utilization",
        params={"from": monday.isoformat(), "to": sunday.isoformat(), "lab": tig.lab["slug"], "by": "week"},
        headers=tig.manager.headers,
    )
    assert reply.status_code == 200, reply.text
    report: dict[str, Any] = reply.json()
    open_hours = await pool.fetchval(
        "select sum(extract(epoch from closes_at - opens_at)) / 3600 from opening_hours where lab_id = $1",
        tig.lab["id"],
    )
    published = await pool.fetchval(
        "select sum(extract(epoch from ends_at - starts_at)) / 3600 from slots where lab_id = $1",
        tig.lab["id"],
    )
    assert float(open_hours) == 45.0
    assert report["labs"] == [
        {
            "lab": tig.lab["slug"],
            "period": monday.isoformat(),
            "hours_open": float(open_hours),
            "hours_published": float(published),
            "hours_booked": 3.0,
        }
    ]
    held = await pool.fetchval(
        """select sum(extract(epoch from upper(su.during) - lower(su.during))) / 3600
           from slot_units su join equipment_units u on u.id = su.unit_id where u.equipment_id = $1""",
        tig.tig["id"],
    )
    assert report["equipment"] == [
        {
            "lab": tig.lab["slug"],
            "equipment": "argon-tig",
            "period": monday.isoformat(),
            "units": 4,
            "unit_hours": float(held),
            "hours_per_station": float(held) / 4,
        }
    ]
    wrong = await client.get(
        "/api/v1/reports/utilization",
        params={"from": monday.isoformat(), "to": sunday.isoformat(), "by": "day"},
        headers=tig.manager.headers,
    )
    assert wrong.status_code == 422


# Every minute of the week that the lab is open and neither closed nor under maintenance as a whole,
# counted one by one: a second way to the hours open.
OPEN_MINUTES = """
select count(*) / 60.0
from generate_series($2::timestamptz, $3::timestamptz - interval '1 minute', interval '1 minute') m
cross join lateral (select m at time zone 'Asia/Almaty' as local) l
where exists (
    select 1 from opening_hours h
    where h.lab_id = $1 and h.weekday = extract(isodow from l.local)
      and l.local::time >= h.opens_at and l.local::time < h.closes_at
)
and not exists (
    select 1 from slots s
    where s.lab_id = $1 and s.status = 'active' and s.starts_at <= m and m < s.ends_at
      and (s.kind = 'closure' or (s.kind = 'maintenance'
           and not exists (select 1 from slot_units su where su.slot_id = s.id and su.is_active)))
)
"""


async def test_hours_open_leave_out_closures_and_maintenance_of_the_whole_lab(
    make: Factory, client: AsyncTestClient[Litestar], pool: asyncpg.Pool
) -> None:
    tig = await tig_lab(make, client)
    await make.opening_hours(lab_id=tig.lab["id"], weekdays=range(1, 6), opens="09:00", closes="18:00")
    today = datetime.now(ALMATY).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=3)

    def at(day: int, hour: int) -> datetime:
        return datetime.combine(monday + timedelta(days=day), time(hour), tzinfo=ALMATY)

    # Tuesday closed from noon into the night: 6 of its open hours go
    await make.slot(tig.lab, at(1, 12), 8, kind="closure", capacity=0)
    # Wednesday: two overlapping maintenance windows of the whole lab, 08:00-11:00 and 10:00-12:00,
    # take 09:00-12:00 once
    await make.slot(tig.lab, at(2, 8), 3, kind="maintenance", capacity=0)
    await make.slot(tig.lab, at(2, 10), 2, kind="maintenance", capacity=0)
    # Thursday: two stations serviced all day, the lab stays open; a cancelled closure on Friday
    units = await make.units(tig.tig["id"], 1, 2)
    await make.slot(tig.lab, at(3, 9), 9, kind="maintenance", capacity=0, unit_ids=units)
    await make.slot(tig.lab, at(4, 9), 9, kind="closure", capacity=0, status="cancelled")
    # a closure on Saturday, when the lab is shut anyway
    await make.slot(tig.lab, at(5, 9), 4, kind="closure", capacity=0)

    sunday = monday + timedelta(days=6)
    reply = await client.get(
        "/api/v1/reports/utilization",
        params={"from": monday.isoformat(), "to": sunday.isoformat(), "lab": tig.lab["slug"], "by": "week"},
        headers=tig.manager.headers,
    )
    assert reply.status_code == 200, reply.text
    counted = await pool.fetchval(OPEN_MINUTES, tig.lab["id"], at(0, 0), at(7, 0))
    assert float(counted) == 45 - 6 - 3
    assert [row["hours_open"] for row in reply.json()["labs"]] == [float(counted)]
