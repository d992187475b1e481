"""A TIG lab whose stations need an induction, its manager and instructor, and a college's director."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Factory, Person


@dataclass
class Lab:
    make: Factory
    client: AsyncTestClient[Litestar]
    lab: asyncpg.Record
    tig: asyncpg.Record
    manager: Person
    instructor: Person
    director: Person
    other_director: Person

    async def session(
        self, starts_in: timedelta, *, induction: bool = False, kind: str = "training", hours: float = 2
    ) -> asyncpg.Record:
        """A session on the TIG stations starting ``starts_in`` from now (negative: in the past)."""
        starts_at = datetime.now(UTC).replace(microsecond=0) + starts_in
        units = await self.make.units(self.tig["id"], 1, 2)
        slot = await self.make.slot(
            self.lab,
            starts_at,
            hours,
            kind=kind,
            capacity=20,
            unit_ids=units,
            instructor_id=self.instructor.id,
            title={"en": "Argon TIG", "ru": "Аргон", "kk": "Аргон"},
        )
        if induction:
            slot = await self.make.pool.fetchrow(
                "update slots set is_induction = true where id = $1 returning *", slot["id"]
            )
        return slot

    async def booking(self, slot: asyncpg.Record, headcount: int = 4) -> asyncpg.Record:
        return await self.make.booking(slot, self.director.organization_id, headcount=headcount)

    async def roster(self, booking_id: Any, names: list[str], who: Person | None = None) -> Any:
        return await self.client.put(
            f"/api/v1/bookings/{booking_id}/roster",
            json={"trainees": [{"full_name": n} for n in names]},
            headers=(who or self.director).headers,
        )

    async def mark(self, booking_id: Any, body: dict[str, Any], who: Person | None = None) -> Any:
        return await self.client.put(
            f"/api/v1/bookings/{booking_id}/attendance", json=body, headers=(who or self.manager).headers
        )


async def tig_lab(make: Factory, client: AsyncTestClient[Litestar]) -> Lab:
    host = await make.host()
    lab = await make.lab(organization_id=host["id"])
    tig = await make.equipment(lab_id=lab["id"], units=4, slug="argon-tig")
    await make.pool.execute("update equipment set requires_induction = true where id = $1", tig["id"])
    college = await make.organization(kind="college")
    school = await make.organization(kind="school")
    return Lab(
        make=make,
        client=client,
        lab=lab,
        tig=tig,
        manager=await make.person("lab_manager", organization_id=host["id"], lab_ids=(lab["id"],)),
        instructor=await make.person("instructor", organization_id=host["id"]),
        director=await make.person("director", organization_id=college["id"]),
        other_director=await make.person("director", organization_id=school["id"]),
    )
