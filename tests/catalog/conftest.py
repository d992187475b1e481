"""Catalog test helpers: slots that hold equipment units. Races use ``live`` from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

HoldUnit = Callable[..., Awaitable[UUID]]


@pytest.fixture
def hold_unit(pool: asyncpg.Pool) -> HoldUnit:
    """``await hold_unit(equipment, number, starts_at=..., ends_at=...)``: a slot holding that unit."""

    async def hold(
        equipment: asyncpg.Record,
        number: int,
        *,
        starts_at: datetime,
        ends_at: datetime,
        is_active: bool = True,
    ) -> UUID:
        async with pool.acquire() as conn, conn.transaction():
            slot_id: UUID = await conn.fetchval(
                """insert into slots (lab_id, kind, title, starts_at, ends_at, capacity)
                   values ($1, 'training', $2, $3, $4, 4) returning id""",
                equipment["lab_id"],
                {"en": "Argon welding practice"},
                starts_at,
                ends_at,
            )
            await conn.execute(
                """insert into slot_units (slot_id, unit_id, during, is_active)
                   select $1, id, tstzrange($3, $4, '[)'), $5
                   from equipment_units where equipment_id = $2 and number = $6""",
                slot_id,
                equipment["id"],
                starts_at,
                ends_at,
                is_active,
                number,
            )
        return slot_id

    return hold


def assert_problem(response: httpx.Response, status: int, problem: str) -> dict[str, Any]:
    """The reply is RFC 9457 problem+json with this status and ``type``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{problem}", body
    return body
