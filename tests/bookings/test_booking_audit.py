"""A booking and its audit event are written together, or neither is."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from tests.bookings.helpers import Cast
from tests.dates import soon
from tests.factories import Factory


async def _events(pool: asyncpg.Pool, booking_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        """select action, actor_id, object_type, before, after, request_id
           from audit_events where object_type = 'booking' and object_id = $1""",
        booking_id,
    )


async def test_the_audit_event_carries_the_booking_the_caller_and_the_request(
    client, pool, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10)
    headers = {**cast.director.headers, "X-Request-ID": "book-audit-1"}
    response = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(headcount=4), headers=headers
    )
    assert response.status_code == 201, response.text
    booking = response.json()

    [event] = await _events(pool, booking["id"])
    assert event["action"] == "booking.create"
    assert event["actor_id"] == cast.director.id
    assert event["request_id"] == "book-audit-1"
    assert event["before"] is None
    after = event["after"]
    assert after["id"] == booking["id"]
    assert after["slot_id"] == str(slot["id"])
    assert after["status"] == "confirmed"
    assert after["headcount"] == 4
    assert after["lab_slug"] == cast.lab["slug"]
    assert after["organization_slug"] == booking["organization"]
    assert datetime.fromisoformat(after["created_at"]) == datetime.fromisoformat(booking["created_at"])
    assert datetime.fromisoformat(after["starts_at"]) == slot["starts_at"]


async def test_a_refused_booking_leaves_no_booking_and_no_audit_event(
    client, pool, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10, seats_taken=8)
    response = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(headcount=3), headers=cast.director.headers
    )
    assert response.status_code == 409, response.text
    assert await pool.fetchval("select count(*) from bookings where slot_id = $1", slot["id"]) == 0
    assert await pool.fetchval("select seats_taken from slots where id = $1", slot["id"]) == 8
    assert (
        await pool.fetchval(
            "select count(*) from audit_events where action = 'booking.create' and after->>'slot_id' = $1",
            str(slot["id"]),
        )
        == 0
    )
