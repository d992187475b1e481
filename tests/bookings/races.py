"""Race scenarios shared by the in-process tests and the two-server test.

Each scenario sends its requests concurrently through ``clients`` (alternating between them) and then
checks what PostgreSQL holds, not just what the responses said.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import asyncpg
import httpx

from tests.bookings.helpers import Cast
from tests.dates import soon
from tests.factories import Factory

# (status before, action) -> status after
LEGAL = {
    ("pending", "confirm"): "confirmed",
    ("pending", "decline"): "declined",
    ("pending", "cancel"): "cancelled",
    ("confirmed", "cancel"): "cancelled",
    ("waitlisted", "cancel"): "cancelled",
}


async def assert_counter_matches_bookings(pool: asyncpg.Pool, slot_id: object) -> None:
    row = await pool.fetchrow(
        """select s.seats_taken, s.capacity,
                  (select coalesce(sum(headcount), 0) from bookings
                   where slot_id = s.id and status in ('pending', 'confirmed')) as held
           from slots s where s.id = $1""",
        slot_id,
    )
    assert row["seats_taken"] == row["held"], dict(row)
    assert row["seats_taken"] <= row["capacity"]


async def last_seats_race(
    clients: list[httpx.AsyncClient],
    pool: asyncpg.Pool,
    cast: Cast,
    make: Factory,
    *,
    waitlist: bool,
    requests: int = 50,
    seats_left: int = 10,
) -> None:
    """``requests`` single-seat bookings at once for the last ``seats_left`` seats of a slot."""
    slot = await make.slot(cast.lab, soon(), capacity=40)
    url = f"/api/v1/slots/{slot['id']}/bookings"
    first = await clients[0].post(url, json=cast.body(headcount=40 - seats_left), headers=cast.admin.headers)
    assert first.status_code == 422  # an admin must say for whom
    first = await clients[0].post(
        url, json=cast.body(headcount=40 - seats_left), headers=cast.director.headers
    )
    assert first.status_code == 201, first.text
    directors = [cast.director, cast.other_director]
    responses = await asyncio.gather(
        *(
            clients[i % len(clients)].post(
                url,
                json=cast.body(headcount=1, waitlist=waitlist, contact_name=f"Group {i}"),
                headers=directors[i % 2].headers,
            )
            for i in range(requests)
        )
    )
    codes = Counter(r.status_code for r in responses)
    statuses = Counter(r.json().get("status") for r in responses if r.status_code == 201)
    if waitlist:
        assert codes == {201: requests}, codes
        assert statuses == {"confirmed": seats_left, "waitlisted": requests - seats_left}
    else:
        assert codes == {201: seats_left, 409: requests - seats_left}, codes
        assert statuses == {"confirmed": seats_left}
        for refused in (r.json() for r in responses if r.status_code == 409):
            assert refused["type"] == "/problems/slot-full"
            assert refused["slot_id"] == str(slot["id"])
            assert refused["requested"] == 1
            assert refused["seats_left"] == 0
    stored = await pool.fetch(
        "select status, count(*) from bookings where slot_id = $1 and id <> $2 group by status",
        slot["id"],
        first.json()["id"],
    )
    assert dict(stored) == dict(statuses)
    assert await pool.fetchval("select seats_taken from slots where id = $1", slot["id"]) == 40
    await assert_counter_matches_bookings(pool, slot["id"])
    created = await pool.fetchval(
        "select count(*) from audit_events where action = 'booking.create' and object_id in "
        "(select id::text from bookings where slot_id = $1)",
        slot["id"],
    )
    assert created == sum(statuses.values()) + 1


async def transition_race(
    clients: list[httpx.AsyncClient],
    pool: asyncpg.Pool,
    cast: Cast,
    make: Factory,
    *,
    bookings: int = 15,
    waiting: int = 5,
) -> None:
    """Confirm, decline and cancel every booking of a full slot at once, while others wait for seats."""
    slot = await make.slot(cast.lab, soon(), capacity=bookings * 2, requires_approval=True)
    url = f"/api/v1/slots/{slot['id']}/bookings"

    async def book(index: int, waitlist: bool) -> dict[str, Any]:
        response = await clients[index % len(clients)].post(
            url, json=cast.body(headcount=2, waitlist=waitlist), headers=cast.director.headers
        )
        assert response.status_code == 201, response.text
        booking: dict[str, Any] = response.json()
        return booking

    raced = [await book(i, False) for i in range(bookings)]
    queued = [await book(i, True) for i in range(waiting)]
    assert {b["status"] for b in queued} == {"waitlisted"}

    requests = [
        (booking["id"], action, cast.director if action == "cancel" else cast.manager)
        for booking in raced
        for action in ("confirm", "decline", "cancel")
    ]
    random.shuffle(requests)
    responses = await asyncio.gather(
        *(
            clients[i % len(clients)].post(f"/api/v1/bookings/{booking_id}/{action}", headers=person.headers)
            for i, (booking_id, action, person) in enumerate(requests)
        )
    )
    won: dict[str, list[str]] = {b["id"]: [] for b in raced}
    for (booking_id, action, _), response in zip(requests, responses, strict=True):
        if response.status_code == 200:
            won[booking_id].append(action)
        else:
            assert response.status_code == 409, response.text
            problem = response.json()
            assert problem["type"] == "/problems/illegal-transition"
            assert problem["current_status"] in ("confirmed", "declined", "cancelled")

    for booking in raced:
        row = await pool.fetchrow("select status, sequence from bookings where id = $1", booking["id"])
        events = await pool.fetch(
            "select action, before, after from audit_events "
            "where object_type = 'booking' and object_id = $1 and action <> 'booking.create' order by id",
            booking["id"],
        )
        # The audit log tells the story of the winners only, and replaying it gives the final state.
        actions = [e["action"].removeprefix("booking.") for e in events]
        assert sorted(actions) == sorted(won[booking["id"]])
        status = "pending"
        for event, action in zip(events, actions, strict=True):
            assert event["before"]["status"] == status
            status = LEGAL[(status, action)]
            assert event["after"]["status"] == status
        assert row["status"] == status
        assert status in ("declined", "cancelled")
        assert row["sequence"] == len(actions)

    # Every freed seat went to the waitlist, in order, and the counter still adds up.
    promoted = await pool.fetch(
        "select status from bookings where id = any($1::uuid[]) order by created_at",
        [b["id"] for b in queued],
    )
    assert [r["status"] for r in promoted] == ["pending"] * waiting
    await assert_counter_matches_bookings(pool, slot["id"])
    assert await pool.fetchval("select seats_taken from slots where id = $1", slot["id"]) == waiting * 2
