"""Fixtures for booking tests: slots inserted directly and a small cast per test."""

from __future__ import annotations

import asyncpg
import pytest

from tests.bookings.helpers import Cast, SlotFactory, new_cast
from tests.factories import Factory


@pytest.fixture
def slots(pool: asyncpg.Pool) -> SlotFactory:
    return SlotFactory(pool)


@pytest.fixture
async def cast(make: Factory) -> Cast:
    return await new_cast(make)
