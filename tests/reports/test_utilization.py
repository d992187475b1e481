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
