"""One factory for every row a test needs: ``make.<row>(...)`` inserts real rows and returns them.

Slugs are unique per call. Times are given as instants counted from today by the caller. Slots,
series and bookings are inserted directly, for tests that need a state no API call could leave (a
slot in the past, a full slot) or many rows at once; they follow the contract the slots and bookings
services keep: every change sets ``updated_at = now()`` and ``sequence = sequence + 1``, and a change
to an occurrence does the same to its series; nothing is deleted; a series' slots are exactly its
rule's expansion, each with its ``occurrence_start``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from labbook.accounts.security import ACCESS_TOKEN_PREFIX, hash_secret, new_secret


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Person:
    id: UUID
    organization_id: int
    email: str
    roles: tuple[str, ...]
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Factory:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def organization(self, *, kind: str = "college", **fields: Any) -> asyncpg.Record:
        slug = fields.pop("slug", None) or unique(kind.replace("_", "-"))
        name = fields.pop("name", None) or {"en": f"Org {slug}", "ru": f"Организация {slug}"}
        return await self.pool.fetchrow(
            "insert into organizations (slug, name, kind) values ($1, $2, $3) returning *", slug, name, kind
        )

    async def host(self) -> asyncpg.Record:
        return await self.organization(kind="host_university")

    async def lab(
        self,
        *,
        organization_id: int | None = None,
        capacity: int = 30,
        timezone: str = "Asia/Almaty",
        languages: tuple[str, ...] = ("kk", "ru", "en"),
        min_notice_hours: int = 0,
        max_advance_days: int = 3650,
        building: str | None = None,
        room: str | None = None,
        **fields: Any,
    ) -> asyncpg.Record:
        if organization_id is None:
            organization_id = (await self.host())["id"]
        slug = fields.pop("slug", None) or unique("lab")
        name = fields.pop("name", None) or {"en": f"Lab {slug}", "kk": f"Зертхана {slug}"}
        return await self.pool.fetchrow(
            """insert into labs (slug, organization_id, name, capacity, timezone, languages,
                                 min_notice_hours, max_advance_days, address, building, room)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning *""",
            slug,
            organization_id,
            name,
            capacity,
            timezone,
            list(languages),
            min_notice_hours,
            max_advance_days,
            fields.pop("address", "Satpaev St 22, Almaty"),
            building,
            room,
        )

    async def equipment(
        self,
        *,
        lab_id: int,
        units: int = 6,
        seats_per_unit: int = 2,
        kind: str = "argon_tig_welder",
        **fields: Any,
    ) -> asyncpg.Record:
        slug = fields.pop("slug", None) or unique("eq")
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """insert into equipment (lab_id, slug, kind, name, units, seats_per_unit)
                   values ($1, $2, $3, $4, $5, $6) returning *""",
                lab_id,
                slug,
                kind,
                fields.pop("name", None) or {"en": f"Station {slug}"},
                units,
                seats_per_unit,
            )
            await conn.execute(
                "insert into equipment_units (equipment_id, number) select $1, generate_series(1, $2)",
                row["id"],
                units,
            )
        return row

    async def opening_hours(
        self, *, lab_id: int, weekdays: range = range(1, 8), opens: str = "00:00", closes: str = "23:59"
    ) -> None:
        await self.pool.executemany(
            "insert into opening_hours (lab_id, weekday, opens_at, closes_at) values ($1, $2, $3, $4)",
            [(lab_id, d, time.fromisoformat(opens), time.fromisoformat(closes)) for d in weekdays],
        )

    async def person(
        self,
        *roles: str,
        organization_id: int | None = None,
        lab_ids: tuple[int, ...] = (),
        full_name: str = "Aigerim Test",
        email: str | None = None,
    ) -> Person:
        if organization_id is None:
            kind = "host_university" if {"admin", "lab_manager", "instructor"} & set(roles) else "college"
            organization_id = (await self.organization(kind=kind))["id"]
        email = email or f"{unique('person')}@example.kz"
        token = new_secret(ACCESS_TOKEN_PREFIX)
        async with self.pool.acquire() as conn, conn.transaction():
            person_id = await conn.fetchval(
                """insert into people (organization_id, email, full_name, roles)
                   values ($1, $2, $3, $4) returning id""",
                organization_id,
                email,
                full_name,
                list(roles),
            )
            if lab_ids:
                await conn.execute(
                    "insert into lab_managers (lab_id, person_id) select unnest($1::int[]), $2",
                    list(lab_ids),
                    person_id,
                )
            await conn.execute(
                "insert into access_tokens (person_id, name, token_hash, prefix) values ($1, 'test', $2, $3)",
                person_id,
                hash_secret(token),
                token[:8],
            )
        return Person(person_id, organization_id, email, tuple(roles), token)

    async def units(self, equipment_id: int, *numbers: int) -> list[int]:
        """The ids of an equipment's units by their numbers (station 1, 2, ...)."""
        rows = await self.pool.fetch(
            "select id from equipment_units where equipment_id = $1 and number = any($2::int[])"
            " order by number",
            equipment_id,
            list(numbers),
        )
        return [r["id"] for r in rows]

    async def slot(
        self,
        lab: asyncpg.Record,
        starts_at: datetime,
        hours: float = 2,
        *,
        kind: str = "tour",
        title: dict[str, str] | None = None,
        description: dict[str, str] | None = None,
        capacity: int = 20,
        seats_taken: int = 0,
        organization_id: int | None = None,
        instructor_id: UUID | None = None,
        unit_ids: list[int] | None = None,
        booking_deadline: datetime | None = None,
        requires_approval: bool = False,
        status: str = "active",
        series_id: UUID | None = None,
        occurrence_start: datetime | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> asyncpg.Record:
        """A slot of ``lab`` from ``starts_at``; private to ``organization_id`` when one is given."""
        ends_at = starts_at + timedelta(hours=hours)
        runner = conn or self.pool
        row = await runner.fetchrow(
            """insert into slots (lab_id, series_id, occurrence_start, kind, title, description, starts_at,
                                  ends_at, capacity, seats_taken, visibility, organization_id,
                                  instructor_id, booking_deadline, requires_approval, status)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
               returning *""",
            lab["id"],
            series_id,
            occurrence_start,
            kind,
            title or {"en": "Open tour", "ru": "Экскурсия", "kk": "Экскурсия"},
            description or {},
            starts_at,
            ends_at,
            capacity,
            seats_taken,
            "private" if organization_id is not None else "public",
            organization_id,
            instructor_id,
            booking_deadline,
            requires_approval,
            status,
        )
        for unit_id in unit_ids or []:
            await runner.execute(
                "insert into slot_units (slot_id, unit_id, during) values ($1, $2, tstzrange($3, $4))",
                row["id"],
                unit_id,
                starts_at,
                ends_at,
            )
        return row

    async def series(
        self,
        lab: asyncpg.Record,
        local_start: datetime,
        *,
        count: int,
        hours: float = 2,
        freq: str = "weekly",
        weekdays: tuple[int, ...] = (),
        kind: str = "training",
        title: dict[str, str] | None = None,
        capacity: int = 12,
        organization_id: int | None = None,
        instructor_id: UUID | None = None,
        unit_ids: list[int] | None = None,
        by_until: bool = False,
    ) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
        """A series from ``local_start`` (the lab's wall clock) with ``count`` occurrences and its slots.

        Weekly on ``weekdays`` (default: the start's weekday), or daily; the series starts on its first
        occurrence, the first such day from ``local_start`` on. ``by_until`` stores the rule
        with ``until`` (the last occurrence's start) instead of ``count``.
        """
        tz = ZoneInfo(lab["timezone"])
        title = title or {
            "en": "Argon TIG training",
            "ru": "Аргонодуговая сварка",
            "kk": "Аргонмен дәнекерлеу",
        }
        weekdays = weekdays or (local_start.isoweekday(),)
        starts: list[datetime] = []
        day: date = local_start.date()
        while len(starts) < count:
            if freq == "daily" or day.isoweekday() in weekdays:
                starts.append(datetime.combine(day, local_start.time(), tzinfo=tz))
            day += timedelta(days=1)
        async with self.pool.acquire() as conn, conn.transaction():
            series = await conn.fetchrow(
                """insert into slot_series (lab_id, kind, title, timezone, local_start, duration, freq,
                                            weekdays, count, until, capacity, visibility, organization_id,
                                            instructor_id)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) returning *""",
                lab["id"],
                kind,
                title,
                lab["timezone"],
                starts[0].replace(tzinfo=None),
                timedelta(hours=hours),
                freq,
                list(weekdays) if freq == "weekly" else [],
                None if by_until else count,
                starts[-1] if by_until else None,
                capacity,
                "private" if organization_id is not None else "public",
                organization_id,
                instructor_id,
            )
            slots = [
                await self.slot(
                    lab,
                    start,
                    hours,
                    kind=kind,
                    title=title,
                    capacity=capacity,
                    organization_id=organization_id,
                    instructor_id=instructor_id,
                    unit_ids=unit_ids,
                    series_id=series["id"],
                    occurrence_start=start,
                    conn=conn,
                )
                for start in starts
            ]
        return series, slots

    async def booking(
        self,
        slot: asyncpg.Record,
        organization_id: int,
        *,
        headcount: int = 5,
        status: str = "confirmed",
        contact_name: str = "Aliya Contact",
        contact_email: str | None = "aliya@example.kz",
        contact_phone: str | None = "+7 701 000 0000",
        notes: str | None = None,
        language: str = "ru",
    ) -> asyncpg.Record:
        """A booking of ``slot``; a pending or confirmed one takes its seats as the service would."""
        async with self.pool.acquire() as conn, conn.transaction():
            booking = await conn.fetchrow(
                """insert into bookings (slot_id, organization_id, headcount, contact_name, contact_email,
                                         contact_phone, language, notes, status)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *""",
                slot["id"],
                organization_id,
                headcount,
                contact_name,
                contact_email,
                contact_phone,
                language,
                notes,
                status,
            )
            if status in ("pending", "confirmed"):
                await conn.execute(
                    """update slots set seats_taken = seats_taken + $2, updated_at = now(),
                       sequence = sequence + 1 where id = $1""",
                    slot["id"],
                    headcount,
                )
        return booking

    async def change(self, table: str, row_id: Any, **changes: Any) -> asyncpg.Record:
        """Edit a row the way the services do: the change, ``updated_at = now()``, ``sequence + 1``."""
        assert table in ("slots", "slot_series", "bookings")
        sets = ", ".join(f"{column} = ${n}" for n, column in enumerate(changes, 2))
        sets = f"{sets}, " if sets else ""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"update {table} set {sets}updated_at = now(), sequence = sequence + 1"
                " where id = $1 returning *",
                row_id,
                *changes.values(),
            )
            if table == "slots" and row["series_id"] is not None:
                await conn.execute(
                    "update slot_series set updated_at = now(), sequence = sequence + 1 where id = $1",
                    row["series_id"],
                )
        return row
