"""The booking state machine: every legal and illegal transition, seats, sequence and audit."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.bookings.helpers import Cast
from tests.dates import soon
from tests.factories import Factory

ACTIONS = ("confirm", "decline", "cancel")
# (status before, action) -> status after; everything absent is a 409.
LEGAL = {
    ("pending", "confirm"): "confirmed",
    ("pending", "decline"): "declined",
    ("pending", "cancel"): "cancelled",
    ("confirmed", "cancel"): "cancelled",
    ("waitlisted", "cancel"): "cancelled",
}
HOLDS_SEATS = {"pending", "confirmed"}


async def _booking_in(
    client, pool: asyncpg.Pool, cast: Cast, make: Factory, status: str, headcount: int = 4
) -> tuple[dict[str, Any], asyncpg.Record]:
    """A booking of ``headcount`` in a fresh 10-seat slot, driven through the API into ``status``."""
    full = status == "waitlisted"
    slot = await make.slot(
        cast.lab, soon(), capacity=10, seats_taken=10 if full else 0, requires_approval=True
    )
    created = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json=cast.body(headcount=headcount, waitlist=full),
        headers=cast.director.headers,
    )
    booking = created.json()
    if status in ("confirmed", "declined"):
        action = "confirm" if status == "confirmed" else "decline"
        booking = (
            await client.post(f"/api/v1/bookings/{booking['id']}/{action}", headers=cast.manager.headers)
        ).json()
    elif status == "cancelled":
        booking = (
            await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=cast.director.headers)
        ).json()
    assert booking["status"] == status
    return booking, slot


@pytest.mark.parametrize("before", ["pending", "confirmed", "declined", "cancelled", "waitlisted"])
@pytest.mark.parametrize("action", ACTIONS)
async def test_every_transition(client, pool, cast: Cast, make: Factory, before: str, action: str) -> None:
    booking, slot = await _booking_in(client, pool, cast, make, before)
    seats_before = await pool.fetchval("select seats_taken from slots where id = $1", slot["id"])
    audit_before = await pool.fetchval(
        "select count(*) from audit_events where object_type = 'booking' and object_id = $1", booking["id"]
    )
    actor = cast.director if action == "cancel" else cast.manager
    response = await client.post(f"/api/v1/bookings/{booking['id']}/{action}", json={}, headers=actor.headers)
    row = await pool.fetchrow("select status, sequence from bookings where id = $1", booking["id"])
    seats_after = await pool.fetchval("select seats_taken from slots where id = $1", slot["id"])
    audit_after = await pool.fetchval(
        "select count(*) from audit_events where object_type = 'booking' and object_id = $1", booking["id"]
    )
    after = LEGAL.get((before, action))
    if after is None:
        assert response.status_code == 409, response.text
        problem = response.json()
        assert problem["type"] == "/problems/illegal-transition"
        assert problem["current_status"] == before
        assert row["status"] == before
        assert row["sequence"] == booking["sequence"]
        assert seats_after == seats_before
        assert audit_after == audit_before
        return
    assert response.status_code == 200, response.text
    assert response.json()["status"] == after
    assert response.json()["sequence"] == booking["sequence"] + 1
    assert row["status"] == after
    freed = before in HOLDS_SEATS and after not in HOLDS_SEATS
    assert seats_after == seats_before - (4 if freed else 0)
    assert audit_after == audit_before + 1
    event = await pool.fetchrow(
        "select action, actor_id, before, after from audit_events "
        "where object_type = 'booking' and object_id = $1 order by id desc limit 1",
        booking["id"],
    )
    assert event["action"] == f"booking.{action}"
    assert event["actor_id"] == actor.id
    assert event["before"]["status"] == before
    assert event["after"]["status"] == after


async def test_decline_message_reaches_the_director(client, pool, cast: Cast, make: Factory) -> None:
    booking, _ = await _booking_in(client, pool, cast, make, "pending")
    message = "Зертхана жөндеуде; лаборатория на ремонте"
    declined = await client.post(
        f"/api/v1/bookings/{booking['id']}/decline", json={"message": message}, headers=cast.manager.headers
    )
    assert declined.status_code == 200, declined.text
    seen = await client.get(f"/api/v1/bookings/{booking['id']}", headers=cast.director.headers)
    assert seen.json()["status_message"] == message


async def test_cancel_reason_is_kept(client, pool, cast: Cast, make: Factory) -> None:
    booking, _ = await _booking_in(client, pool, cast, make, "confirmed")
    cancelled = await client.post(
        f"/api/v1/bookings/{booking['id']}/cancel",
        json={"reason": "bus broke down"},
        headers=cast.manager.headers,
    )
    assert cancelled.json()["status_message"] == "bus broke down"


async def test_only_the_labs_manager_confirms(client, pool, make, cast: Cast) -> None:
    booking, _ = await _booking_in(client, pool, cast, make, "pending")
    other_lab = await make.lab()
    other_manager = await make.person("lab_manager", lab_ids=(other_lab["id"],))
    for person, expected in [(cast.director, 403), (other_manager, 404)]:
        response = await client.post(f"/api/v1/bookings/{booking['id']}/confirm", headers=person.headers)
        assert response.status_code == expected, response.text
    assert await pool.fetchval("select status from bookings where id = $1", booking["id"]) == "pending"
    by_admin = await client.post(f"/api/v1/bookings/{booking['id']}/confirm", headers=cast.admin.headers)
    assert by_admin.json()["status"] == "confirmed"


async def test_other_organizations_director_cannot_see_or_cancel(
    client, pool, cast: Cast, make: Factory
) -> None:
    booking, _ = await _booking_in(client, pool, cast, make, "confirmed")
    url = f"/api/v1/bookings/{booking['id']}"
    assert (await client.get(url, headers=cast.other_director.headers)).status_code == 404
    assert (await client.post(f"{url}/cancel", headers=cast.other_director.headers)).status_code == 404
    assert (await client.get(url)).status_code == 401
    assert (await client.post(f"{url}/cancel")).status_code == 401
    assert await pool.fetchval("select status from bookings where id = $1", booking["id"]) == "confirmed"
