"""Fixtures for slot tests: a lab with opening hours, six TIG stations and its manager."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from tests.factories import Factory, Person


@dataclass(frozen=True)
class LabSetup:
    lab: asyncpg.Record
    equipment: asyncpg.Record
    manager: Person

    @property
    def slug(self) -> str:
        return str(self.lab["slug"])

    @property
    def tig(self) -> str:
        return str(self.equipment["slug"])

    def slot(self, starts_at: str, ends_at: str, **fields: Any) -> dict[str, Any]:
        """A publication body for this lab."""
        body: dict[str, Any] = {
            "lab": self.slug,
            "kind": "training",
            "title": {"en": "Argon welding practice", "ru": "Практика аргонной сварки"},
            "starts_at": starts_at,
            "ends_at": ends_at,
            "capacity": 4,
        }
        body.update(fields)
        return body


async def make_setup(
    make: Factory, *, timezone: str = "Asia/Almaty", capacity: int = 30, units: int = 6, hours: bool = True
) -> LabSetup:
    lab = await make.lab(timezone=timezone, capacity=capacity)
    if hours:
        await make.opening_hours(lab_id=lab["id"], opens="08:00", closes="20:00")
    equipment = await make.equipment(lab_id=lab["id"], units=units, seats_per_unit=2)
    manager = await make.person("lab_manager", lab_ids=(lab["id"],), organization_id=lab["organization_id"])
    return LabSetup(lab, equipment, manager)


@pytest.fixture
async def setup(make: Factory) -> LabSetup:
    return await make_setup(make)


async def count_slots(pool: asyncpg.Pool, lab_id: int) -> int:
    return int(await pool.fetchval("select count(*) from slots where lab_id = $1", lab_id))


async def held_units(pool: asyncpg.Pool, lab_id: int) -> int:
    return int(
        await pool.fetchval(
            """select count(*) from slot_units su join slots s on s.id = su.slot_id
               where s.lab_id = $1 and su.is_active""",
            lab_id,
        )
    )
