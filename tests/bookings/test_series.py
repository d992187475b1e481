"""Booking every remaining occurrence of a series in one request: all or nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from tests.bookings.helpers import Cast
from tests.dates import soon
from tests.factories import Factory

# Weekly from six days ago: one occurrence is over, three are to come.
FIRST = timedelta(days=-6)


def _local(cast: Cast, delta: timedelta) -> datetime:
    """The lab's wall clock ``delta`` from now, as a series' start is given."""
    return soon(delta).astimezone(ZoneInfo(cast.lab["timezone"]))


async def test_series_booking_covers_every_remaining_occurrence(
    client, pool: asyncpg.Pool, cast: Cast, make: Factory
) -> None:
    series, occurrences = await make.series(cast.lab, _local(cast, FIRST), count=4, capacity=12)
    response = await client.post(
        f"/api/v1/series/{series['id']}/bookings", json=cast.body(headcount=6), headers=cast.director.headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    future = occurrences[1:]
    assert [b["slot"]["id"] for b in body["bookings"]] == [str(s["id"]) for s in future]
    assert {b["group_id"] for b in body["bookings"]} == {body["group_id"]}
    assert {b["status"] for b in body["bookings"]} == {"confirmed"}
    seats = await pool.fetch(
        "select id, seats_taken from slots where series_id = $1 order by starts_at", series["id"]
    )
    assert [s["seats_taken"] for s in seats] == [0, 6, 6, 6]
    grouped = await pool.fetchval("select count(*) from bookings where group_id = $1", body["group_id"])
    assert grouped == 3


async def test_one_full_occurrence_books_nothing_and_says_which(
    client, pool: asyncpg.Pool, cast: Cast, make: Factory
) -> None:
    series, occurrences = await make.series(cast.lab, _local(cast, FIRST), count=4, capacity=12)
    crowded = occurrences[2]
    taken = await client.post(
        f"/api/v1/slots/{crowded['id']}/bookings",
        json=cast.body(headcount=10),
        headers=cast.other_director.headers,
    )
    assert taken.status_code == 201
    response = await client.post(
        f"/api/v1/series/{series['id']}/bookings", json=cast.body(headcount=6), headers=cast.director.headers
    )
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["type"] == "/problems/series-not-bookable"
    assert problem["failures"] == [
        {
            "slot_id": str(crowded["id"]),
            "starts_at": crowded["starts_at"].astimezone(ZoneInfo("Asia/Almaty")).isoformat(),
            "type": "/problems/slot-full",
            "detail": "2 seats left, 6 requested",
            "seats_left": 2,
            "requested": 6,
            "capacity": 12,
        }
    ]
    seats = await pool.fetch(
        "select seats_taken from slots where series_id = $1 order by starts_at", series["id"]
    )
    assert [s["seats_taken"] for s in seats] == [0, 0, 10, 0]
    mine = await pool.fetchval(
        "select count(*) from bookings where organization_id = $1", cast.director.organization_id
    )
    assert mine == 0


async def test_private_series_and_waitlist(client, cast: Cast, make: Factory) -> None:
    series, _ = await make.series(
        cast.lab, _local(cast, timedelta(days=7)), count=3, organization_id=cast.director.organization_id
    )
    url = f"/api/v1/series/{series['id']}/bookings"
    assert (await client.post(url, json=cast.body(), headers=cast.other_director.headers)).status_code == 404
    waitlisted = await client.post(url, json=cast.body(waitlist=True), headers=cast.director.headers)
    assert waitlisted.status_code == 422
    assert waitlisted.json()["errors"][0]["field"] == "waitlist"
    own = await client.post(url, json=cast.body(), headers=cast.director.headers)
    assert own.status_code == 201, own.text
    assert len(own.json()["bookings"]) == 3
