"""Invariant 2 under real concurrency: many HTTP requests at once against a live server."""

from __future__ import annotations

from tests.bookings import races
from tests.bookings.helpers import Cast
from tests.factories import Factory


async def test_fifty_bookings_for_the_last_ten_seats(live, pool, cast: Cast, make: Factory) -> None:
    await races.last_seats_race([live], pool, cast, make, waitlist=False)


async def test_fifty_bookings_for_the_last_ten_seats_with_waitlist(
    live, pool, cast: Cast, make: Factory
) -> None:
    await races.last_seats_race([live], pool, cast, make, waitlist=True)


async def test_concurrent_confirm_decline_and_cancel(live, pool, cast: Cast, make: Factory) -> None:
    await races.transition_race([live], pool, cast, make)
