"""Booking cancels and declines racing the cancellation of their slot, through a live server."""

from __future__ import annotations

import asyncio
import random

from tests.bookings.helpers import Cast
from tests.bookings.races import assert_counter_matches_bookings
from tests.dates import soon
from tests.factories import Factory

ROUNDS = 6
BOOKINGS = 8


async def test_booking_changes_racing_a_slot_cancel_never_deadlock(
    live, pool, cast: Cast, make: Factory
) -> None:
    for _ in range(ROUNDS):
        slot = await make.slot(cast.lab, soon(), capacity=BOOKINGS * 2, requires_approval=True)
        booked = []
        for i in range(BOOKINGS):
            response = await live.post(
                f"/api/v1/slots/{slot['id']}/bookings",
                json=cast.body(headcount=2, contact_name=f"Group {i}"),
                headers=cast.director.headers,
            )
            assert response.status_code == 201, response.text
            booked.append(response.json()["id"])
        requests = [
            (f"/api/v1/bookings/{booking_id}/cancel", cast.director)
            if i % 2
            else (f"/api/v1/bookings/{booking_id}/decline", cast.manager)
            for i, booking_id in enumerate(booked)
        ]
        requests.append((f"/api/v1/slots/{slot['id']}/cancel", cast.manager))
        random.shuffle(requests)
        responses = await asyncio.gather(
            *(live.post(url, json={}, headers=person.headers) for url, person in requests)
        )
        for (url, _), response in zip(requests, responses, strict=True):
            if "/slots/" in url:
                assert response.status_code == 200, response.text
            else:
                # A booking change that queued behind the slot cancel finds the booking cancelled.
                assert response.status_code in (200, 409), response.text
        assert await pool.fetchval("select status from slots where id = $1", slot["id"]) == "cancelled"
        await assert_counter_matches_bookings(pool, slot["id"])
