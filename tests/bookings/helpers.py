"""Slots and series inserted directly, and a small cast (lab, manager, two directors, admin)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from tests.factories import Factory, Person


class SlotFactory:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def slot(
        self,
        *,
        lab_id: int,
        starts_in: timedelta = timedelta(days=7),
        duration: timedelta = timedelta(hours=2),
        capacity: int = 20,
        seats_taken: int = 0,
        kind: str = "tour",
        organization_id: int | None = None,
        booking_deadline: datetime | None = None,
        requires_approval: bool = False,
        status: str = "active",
        series_id: UUID | None = None,
        title: dict[str, str] | None = None,
    ) -> asyncpg.Record:
        starts_at = datetime.now(UTC).replace(microsecond=0) + starts_in
        return await self.pool.fetchrow(
            """insert into slots (lab_id, series_id, occurrence_start, kind, title, starts_at, ends_at,
                                  capacity, seats_taken, visibility, organization_id, booking_deadline,
                                  requires_approval, status)
               values ($1, $2, case when $2::uuid is null then null else $4::timestamptz end,
                       $3, $5, $4, $6, $7, $8, $9, $10, $11, $12, $13)
               returning *""",
            lab_id,
            series_id,
            kind,
            starts_at,
            title or {"en": "Welding lab tour", "kk": "Дәнекерлеу зертханасына экскурсия"},
            starts_at + duration,
            capacity,
            seats_taken,
            "private" if organization_id else "public",
            organization_id,
            booking_deadline,
            requires_approval,
            status,
        )

    async def series(
        self,
        *,
        lab_id: int,
        starts_in: list[timedelta],
        capacity: int = 12,
        requires_approval: bool = False,
        organization_id: int | None = None,
    ) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
        first = datetime.now(UTC).replace(microsecond=0) + min(starts_in)
        series = await self.pool.fetchrow(
            """insert into slot_series (lab_id, kind, title, timezone, local_start, duration, freq, count,
                                        capacity, visibility, organization_id, requires_approval)
               values ($1, 'training', $2, 'Asia/Almaty', $3, interval '2 hours', 'weekly',
                       $4, $5, $6, $7, $8)
               returning *""",
            lab_id,
            {"en": "Argon welding practice"},
            first.replace(tzinfo=None),
            len(starts_in),
            capacity,
            "private" if organization_id else "public",
            organization_id,
            requires_approval,
        )
        slots = [
            await self.slot(
                lab_id=lab_id,
                starts_in=delta,
                capacity=capacity,
                kind="training",
                requires_approval=requires_approval,
                organization_id=organization_id,
                series_id=series["id"],
            )
            for delta in starts_in
        ]
        return series, slots


@dataclass
class Cast:
    lab: asyncpg.Record
    manager: Person
    director: Person
    other_director: Person
    admin: Person

    def body(self, **fields: Any) -> dict[str, Any]:
        return {"headcount": 5, "contact_name": "Ержан Сейткали", "language": "ru", **fields}


async def new_cast(make: Factory) -> Cast:
    lab = await make.lab(languages=("kk", "ru"))
    return Cast(
        lab=lab,
        manager=await make.person(
            "lab_manager", organization_id=lab["organization_id"], lab_ids=(lab["id"],)
        ),
        director=await make.person("director"),
        other_director=await make.person("director"),
        admin=await make.person("admin"),
    )
