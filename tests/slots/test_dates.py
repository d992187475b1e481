"""Dates a manager has no reason to use: the past, and anything outside 2000–2100; paging bounds."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.dates import ahead
from tests.factories import Factory
from tests.slots.conftest import LabSetup, count_slots, make_setup


def _field(reply) -> str:
    assert reply.status_code == 422, reply.text
    problem = reply.json()
    assert problem["type"] == "/problems/validation"
    return str(problem["errors"][0]["field"])


def _hours_ago(hours: int) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0).isoformat()


@pytest.mark.parametrize("kind", ["tour", "training", "maintenance", "closure"])
async def test_publishing_in_the_past_is_refused_for_every_kind(client, pool, setup: LabSetup, kind) -> None:
    capacity = 0 if kind in ("maintenance", "closure") else 4
    reply = await client.post(
        "/api/v1/slots",
        json=setup.slot(_hours_ago(30), _hours_ago(29), kind=kind, capacity=capacity, outside_hours=True),
        headers=setup.manager.headers,
    )
    assert _field(reply) == "starts_at"
    assert await count_slots(pool, setup.lab["id"]) == 0


async def test_publishing_a_series_that_starts_in_the_past_is_refused(client, pool, setup: LabSetup) -> None:
    reply = await client.post(
        "/api/v1/series",
        json={
            **setup.slot(_hours_ago(24 * 8), _hours_ago(24 * 8 - 1), outside_hours=True),
            "recurrence": {"freq": "weekly", "count": 4},
        },
        headers=setup.manager.headers,
    )
    assert _field(reply) == "starts_at"
    assert await count_slots(pool, setup.lab["id"]) == 0
    assert await pool.fetchval("select count(*) from slot_series where lab_id = $1", setup.lab["id"]) == 0


async def test_moving_a_slot_into_the_past_is_refused(client, pool, setup: LabSetup) -> None:
    published = await client.post(
        "/api/v1/slots",
        json=setup.slot(ahead("2028-10-02T10:00:00+05:00"), ahead("2028-10-02T12:00:00+05:00")),
        headers=setup.manager.headers,
    )
    assert published.status_code == 201, published.text
    slot = published.json()
    reply = await client.patch(
        f"/api/v1/slots/{slot['id']}",
        json={"starts_at": _hours_ago(30), "ends_at": _hours_ago(29), "outside_hours": True},
        headers=setup.manager.headers,
    )
    assert _field(reply) == "starts_at"
    unchanged = (await client.get(f"/api/v1/slots/{slot['id']}", headers=setup.manager.headers)).json()
    assert unchanged["starts_at"] == slot["starts_at"]
    assert unchanged["sequence"] == slot["sequence"]
    # Other edits of a slot stay possible; only its start is checked, and only when it moves.
    retitled = await client.patch(
        f"/api/v1/slots/{slot['id']}", json={"title": {"en": "Renamed"}}, headers=setup.manager.headers
    )
    assert retitled.status_code == 200, retitled.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=0001-01-01&to=0001-01-02", "from"),
        ("from=9999-12-30&to=9999-12-31", "from"),
        ("from=2099-12-30&to=2100-01-02", "to"),
    ],
)
async def test_availability_outside_2000_to_2100_is_a_422(client, setup: LabSetup, query, field) -> None:
    reply = await client.get(f"/api/v1/labs/{setup.slug}/availability?{query}")
    assert _field(reply) == field


async def test_availability_at_the_edges_of_the_range_answers(client, setup: LabSetup) -> None:
    first = await client.get(f"/api/v1/labs/{setup.slug}/availability?from=2000-01-01&to=2000-01-02")
    assert first.status_code == 200, first.text
    last = await client.get(f"/api/v1/labs/{setup.slug}/availability?from=2099-12-31&to=2100-01-01")
    assert last.status_code == 200, last.text


async def test_series_near_year_9999_is_a_422(client, pool, setup: LabSetup) -> None:
    reply = await client.post(
        "/api/v1/series",
        json={
            **setup.slot("9999-12-28T10:00:00+05:00", "9999-12-28T12:00:00+05:00"),
            "recurrence": {"freq": "weekly", "count": 3},
        },
        headers=setup.manager.headers,
    )
    assert _field(reply) == "starts_at"
    assert await count_slots(pool, setup.lab["id"]) == 0


async def test_series_until_after_2100_is_a_422(client, setup: LabSetup) -> None:
    reply = await client.post(
        "/api/v1/series",
        json={
            **setup.slot(ahead("2028-10-02T10:00:00+05:00"), ahead("2028-10-02T12:00:00+05:00")),
            "recurrence": {"freq": "weekly", "until": "2200-01-01T00:00:00Z"},
        },
        headers=setup.manager.headers,
    )
    assert _field(reply) == "recurrence.until"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"starts_at": "2100-06-01T10:00:00+05:00", "ends_at": "2100-06-01T12:00:00+05:00"}, "starts_at"),
        ({"ends_at": "9999-12-31T23:00:00+00:00"}, "ends_at"),
        ({"booking_deadline": "0001-01-01T00:00:00+00:00"}, "booking_deadline"),
    ],
)
async def test_slot_dates_outside_2000_to_2100_are_a_422(
    client, pool, setup: LabSetup, fields, field
) -> None:
    body = setup.slot(
        ahead("2028-10-03T10:00:00+05:00"), ahead("2028-10-03T12:00:00+05:00"), outside_hours=True
    )
    reply = await client.post("/api/v1/slots", json={**body, **fields}, headers=setup.manager.headers)
    assert _field(reply) == field
    assert await count_slots(pool, setup.lab["id"]) == 0


async def test_editing_a_slot_to_year_9999_is_a_422(client, setup: LabSetup) -> None:
    published = await client.post(
        "/api/v1/slots",
        json=setup.slot(ahead("2028-10-04T10:00:00+05:00"), ahead("2028-10-04T12:00:00+05:00")),
        headers=setup.manager.headers,
    )
    assert published.status_code == 201, published.text
    reply = await client.patch(
        f"/api/v1/slots/{published.json()['id']}",
        json={"ends_at": "9999-12-31T23:59:00+00:00"},
        headers=setup.manager.headers,
    )
    assert _field(reply) == "ends_at"


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=0001-01-01T00:00:00Z", "from"), ("to=9999-12-31T23:59:00Z", "to")],
)
async def test_list_filters_outside_2000_to_2100_are_a_422(client, setup: LabSetup, query, field) -> None:
    reply = await client.get(f"/api/v1/slots?lab={setup.slug}&{query}")
    assert _field(reply) == field


@pytest.mark.parametrize(
    "query", [f"offset={2**31}", "offset=99999999999999999999", "offset=-1", "limit=0", "limit=201"]
)
async def test_paging_out_of_bounds_is_a_422(client, query) -> None:
    reply = await client.get(f"/api/v1/slots?{query}")
    assert reply.status_code == 422, reply.text


async def test_largest_offset_answers_an_empty_page(client) -> None:
    reply = await client.get(f"/api/v1/slots?offset={2**31 - 1}&limit=200")
    assert reply.status_code == 200, reply.text
    assert reply.json()["items"] == []


async def test_series_edit_moving_an_upcoming_occurrence_into_the_past_is_refused(
    client, pool, make: Factory
) -> None:
    # A zone where it is around noon now, so that "today 13:30" is ahead and "today 10:00" is gone.
    offset = 12 - datetime.now(UTC).hour
    setup = await make_setup(make, timezone="Etc/GMT" + (f"{-offset:+d}" if offset else ""))
    tz = ZoneInfo(setup.lab["timezone"])
    today = datetime.now(tz).date()
    start = datetime.combine(today, time(13, 30), tz)
    created = await client.post(
        "/api/v1/series",
        json={
            **setup.slot(start.isoformat(), (start + timedelta(hours=1)).isoformat()),
            "recurrence": {"freq": "daily", "count": 3},
        },
        headers=setup.manager.headers,
    )
    assert created.status_code == 201, created.text
    series = created.json()["series"]
    reply = await client.patch(
        f"/api/v1/series/{series['id']}", json={"start_time": "10:00"}, headers=setup.manager.headers
    )
    assert _field(reply) == "start_time"
    starts = await pool.fetch("select starts_at from slots where series_id = $1 order by 1", series["id"])
    assert starts[0]["starts_at"] == start
    later = await client.patch(
        f"/api/v1/series/{series['id']}", json={"start_time": "15:00"}, headers=setup.manager.headers
    )
    assert later.status_code == 200, later.text
