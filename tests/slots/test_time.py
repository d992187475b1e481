"""Local time: Asia/Almaty's 2024 move from UTC+6 to UTC+5, and Europe/Berlin's daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.factories import Factory
from tests.slots.conftest import make_setup


async def test_almaty_slots_either_side_of_2024_03_01(client, pool, make: Factory) -> None:
    setup = await make_setup(make)
    before = await client.post(
        "/api/v1/slots",
        json=setup.slot("2024-02-29T10:00:00+06:00", "2024-02-29T12:00:00+06:00"),
        headers=setup.manager.headers,
    )
    assert before.status_code == 201, before.text
    after = await client.post(
        "/api/v1/slots",
        # Same instant written in UTC: the reply shows it in the lab's new offset.
        json=setup.slot("2024-03-01T05:00:00Z", "2024-03-01T07:00:00Z"),
        headers=setup.manager.headers,
    )
    assert after.status_code == 201, after.text
    assert before.json()["starts_at"] == "2024-02-29T10:00:00+06:00"
    assert after.json()["starts_at"] == "2024-03-01T10:00:00+05:00"
    # A client still on the old offset: 08:30+06:00 is 07:30 in Almaty now, before the 08:00 opening.
    early = await client.post(
        "/api/v1/slots",
        json=setup.slot("2024-03-01T08:30:00+06:00", "2024-03-01T09:30:00+06:00"),
        headers=setup.manager.headers,
    )
    assert early.status_code == 409
    assert early.json()["starts_at"] == "2024-03-01T07:30:00+05:00"


async def test_almaty_weekly_series_keeps_ten_oclock_across_the_change(client, pool, make: Factory) -> None:
    setup = await make_setup(make)
    reply = await client.post(
        "/api/v1/series",
        json={
            **setup.slot("2024-02-20T10:00:00+06:00", "2024-02-20T12:00:00+06:00"),
            "recurrence": {"freq": "weekly", "count": 3},
        },
        headers=setup.manager.headers,
    )
    assert reply.status_code == 201, reply.text
    assert [s["starts_at"] for s in reply.json()["created"]] == [
        "2024-02-20T10:00:00+06:00",
        "2024-02-27T10:00:00+06:00",
        "2024-03-05T10:00:00+05:00",
    ]


async def test_almaty_availability_days_follow_the_new_offset(client, make: Factory) -> None:
    setup = await make_setup(make)
    reply = await client.get(f"/api/v1/labs/{setup.slug}/availability?from=2024-02-29&to=2024-03-02")
    assert reply.status_code == 200, reply.text
    days = reply.json()["days"]
    assert [d["free_windows"][0]["starts_at"] for d in days] == [
        "2024-02-29T08:00:00+06:00",
        "2024-03-01T08:00:00+05:00",
    ]


async def test_berlin_slot_across_the_spring_change_lasts_real_hours(client, pool, make: Factory) -> None:
    setup = await make_setup(make, timezone="Europe/Berlin", hours=False)
    reply = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            "2026-03-29T01:00:00+01:00",
            "2026-03-29T04:00:00+02:00",
            equipment=[{"equipment": setup.tig, "units": 6}],
        ),
        headers=setup.manager.headers,
    )
    assert reply.status_code == 201, reply.text
    slot = reply.json()
    assert slot["starts_at"] == "2026-03-29T01:00:00+01:00"
    assert slot["ends_at"] == "2026-03-29T04:00:00+02:00"
    row = await pool.fetchrow("select ends_at - starts_at as length from slots where id = $1", slot["id"])
    assert row["length"].total_seconds() == 2 * 3600
    # 03:30 CEST is inside the slot; 01:59 CET + 1 minute is 03:00 CEST.
    clash = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            "2026-03-29T03:30:00+02:00",
            "2026-03-29T05:00:00+02:00",
            equipment=[{"equipment": setup.tig, "units": 1}],
        ),
        headers=setup.manager.headers,
    )
    assert clash.status_code == 409
    day = (await client.get(f"/api/v1/labs/{setup.slug}/availability?from=2026-03-29&to=2026-03-30")).json()
    [tig] = day["days"][0]["equipment"]
    assert [(w["starts_at"], w["ends_at"]) for w in tig["windows"]] == [
        ("2026-03-29T00:00:00+01:00", "2026-03-29T01:00:00+01:00"),
        ("2026-03-29T04:00:00+02:00", "2026-03-30T00:00:00+02:00"),
    ]


async def test_berlin_weekly_series_keeps_wall_clock_and_shifts_out_of_the_gap(
    client, pool, make: Factory
) -> None:
    setup = await make_setup(make, timezone="Europe/Berlin", hours=False)
    evening = await client.post(
        "/api/v1/series",
        json={
            **setup.slot("2026-03-24T17:00:00+01:00", "2026-03-24T18:30:00+01:00"),
            "recurrence": {"freq": "weekly", "count": 2},
        },
        headers=setup.manager.headers,
    )
    assert evening.status_code == 201, evening.text
    assert [(s["starts_at"], s["ends_at"]) for s in evening.json()["created"]] == [
        ("2026-03-24T17:00:00+01:00", "2026-03-24T18:30:00+01:00"),
        ("2026-03-31T17:00:00+02:00", "2026-03-31T18:30:00+02:00"),
    ]
    # 02:30 does not exist on 2026-03-29; per RFC 5545 it is read with the offset before the gap.
    night = await client.post(
        "/api/v1/series",
        json={
            **setup.slot("2026-03-22T02:30:00+01:00", "2026-03-22T03:30:00+01:00", outside_hours=True),
            "recurrence": {"freq": "weekly", "count": 3},
        },
        headers=setup.manager.headers,
    )
    assert night.status_code == 201, night.text
    created = night.json()["created"]
    assert [s["starts_at"] for s in created] == [
        "2026-03-22T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-04-05T02:30:00+02:00",
    ]
    assert created[1]["occurrence_start"] == "2026-03-29T03:30:00+02:00"
    stored = await pool.fetchval("select occurrence_start from slots where id = $1", created[1]["id"])
    assert stored == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
