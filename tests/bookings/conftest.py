"""Fixtures for booking tests: a small cast per test."""

from __future__ import annotations

import pytest

from tests.bookings.helpers import Cast, new_cast
from tests.factories import Factory


@pytest.fixture
async def cast(make: Factory) -> Cast:
    return await new_cast(make)
