"""The TIG lab every attendance test starts from."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.attendance.world import Lab, tig_lab
from tests.factories import Factory


@pytest.fixture
async def tig(make: Factory, client: AsyncTestClient[Litestar]) -> Lab:
    return await tig_lab(make, client)
