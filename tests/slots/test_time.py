"""Local time: Asia/Almaty's 2024 move from UTC+6 to UTC+5, and Europe/Berlin's daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from tests.dates import ahead
from tests.factories import Factory
from tests.slots.conftest import make_setup


async def test_almaty_slot_written_in_the_old_offset_is_shown_in_utc_plus_5(client, make: Factory) -> None:
    setup = await make_setup(make)
    reply = await client.post(
        "/api/v1/slots",
        # A client still on UTC+6: 11:00+06:00 is 10:00 in Almaty since 2024-03-01.
        json=setup.slot(ahead("2028-09-05T11:00:00+06:00"), ahead("2028-09-05T13:00:00+06:00")),
        headers=setup.manager.headers,
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["starts_at"] == ahead("2028-09-05T10:00:00+05:00")
    # 08:30+06:00 is 07:30 in Almaty, before the 08:00 opening.
    early = await client.post(
        "/api/v1/slots",
        json=setup.slot(ahead("2028-09-06T08:30:00+06:00"), ahead("2028-09-06T09:30:00+06:00")),
        headers=setup.manager.headers,
    )
    assert early.status_code == 409
    assert early.json()["starts_at"] == ahead("2028-09-06T07:30:00+05:00")


async def test_almaty_availability_days_follow_the_new_offset(client, make: Factory) -> None:
    setup = await make_setup(make)
    reply = await client.get(f"/api/v1/labs/{setup.slug}/availability?from=2024-02-29&to=2024-03-02")
    assert reply.status_code == 200, reply.text
    days = reply.json()["days"]
    assert [d["free_windows"][0]["starts_at"] for d in days] == [
        "2024-02-29T08:00:00+06:00",
        "2024-03-01T08:00:00+05:00",
    ]


def _spring_change() -> date:
    """The Sunday two years ahead on which Europe/Berlin moves from CET (+01) to CEST (+02)."""
    last = date(date.today().year + 2, 3, 31)
    return last - timedelta(days=(last.weekday() + 1) % 7)


async def test_berlin_slot_across_the_spring_change_lasts_real_hours(client, pool, make: Factory) -> None:
    setup = await make_setup(make, timezone="Europe/Berlin", hours=False)
    day, after = _spring_change(), _spring_change() + timedelta(days=1)
    reply = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            f"{day}T01:00:00+01:00", f"{day}T04:00:00+02:00", equipment=[{"equipment": setup.tig, "units": 6}]
        ),
        headers=setup.manager.headers,
    )
    assert reply.status_code == 201, reply.text
    slot = reply.json()
    assert slot["starts_at"] == f"{day}T01:00:00+01:00"
    assert slot["ends_at"] == f"{day}T04:00:00+02:00"
    row = await pool.fetchrow("select ends_at - starts_at as length from slots where id = $1", slot["id"])
    assert row["length"].total_seconds() == 2 * 3600
    # 03:30 CEST is inside the slot; 01:59 CET + 1 minute is 03:00 CEST.
    clash = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            f"{day}T03:30:00+02:00", f"{day}T05:00:00+02:00", equipment=[{"equipment": setup.tig, "units": 1}]
        ),
        headers=setup.manager.headers,
    )
    assert clash.status_code == 409
    week = (await client.get(f"/api/v1/labs/{setup.slug}/availability?from={day}&to={after}")).json()
    [tig] = week["days"][0]["equipment"]
    assert [(w["starts_at"], w["ends_at"]) for w in tig["windows"]] == [
        (f"{day}T00:00:00+01:00", f"{day}T01:00:00+01:00"),
        (f"{day}T04:00:00+02:00", f"{after}T00:00:00+02:00"),
    ]


async def test_berlin_weekly_series_keeps_wall_clock_and_shifts_out_of_the_gap(
    client, pool, make: Factory
) -> None:
    setup = await make_setup(make, timezone="Europe/Berlin", hours=False)
    change = _spring_change()
    tuesday, next_tuesday = change - timedelta(days=5), change + timedelta(days=2)
    evening = await client.post(
        "/api/v1/series",
        json={
            **setup.slot(f"{tuesday}T17:00:00+01:00", f"{tuesday}T18:30:00+01:00"),
            "recurrence": {"freq": "weekly", "count": 2},
        },
        headers=setup.manager.headers,
    )
    assert evening.status_code == 201, evening.text
    assert [(s["starts_at"], s["ends_at"]) for s in evening.json()["created"]] == [
        (f"{tuesday}T17:00:00+01:00", f"{tuesday}T18:30:00+01:00"),
        (f"{next_tuesday}T17:00:00+02:00", f"{next_tuesday}T18:30:00+02:00"),
    ]
    # 02:30 does not exist on the change day; per RFC 5545 it is read with the offset before the gap.
    before, after = change - timedelta(days=7), change + timedelta(days=7)
    night = await client.post(
        "/api/v1/series",
        json={
            **setup.slot(f"{before}T02:30:00+01:00", f"{before}T03:30:00+01:00", outside_hours=True),
            "recurrence": {"freq": "weekly", "count": 3},
        },
        headers=setup.manager.headers,
    )
    assert night.status_code == 201, night.text
    created = night.json()["created"]
    assert [s["starts_at"] for s in created] == [
        f"{before}T02:30:00+01:00",
        f"{change}T03:30:00+02:00",
        f"{after}T02:30:00+02:00",
    ]
    assert created[1]["occurrence_start"] == f"{change}T03:30:00+02:00"
    stored = await pool.fetchval("select occurrence_start from slots where id = $1", created[1]["id"])
    assert stored == datetime.combine(change, time(1, 30), tzinfo=UTC)
