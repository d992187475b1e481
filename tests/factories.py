"""Factories that create real rows for tests and return them, with unique slugs per call."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

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
        **fields: Any,
    ) -> asyncpg.Record:
        if organization_id is None:
            organization_id = (await self.host())["id"]
        slug = fields.pop("slug", None) or unique("lab")
        name = fields.pop("name", None) or {"en": f"Lab {slug}", "kk": f"Зертхана {slug}"}
        return await self.pool.fetchrow(
            """insert into labs (slug, organization_id, name, capacity, timezone, languages,
                                 min_notice_hours, max_advance_days, address)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *""",
            slug,
            organization_id,
            name,
            capacity,
            timezone,
            list(languages),
            min_notice_hours,
            max_advance_days,
            fields.pop("address", "Satpaev St 22, Almaty"),
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
        import datetime as dt

        await self.pool.executemany(
            "insert into opening_hours (lab_id, weekday, opens_at, closes_at) values ($1, $2, $3, $4)",
            [(lab_id, d, dt.time.fromisoformat(opens), dt.time.fromisoformat(closes)) for d in weekdays],
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
