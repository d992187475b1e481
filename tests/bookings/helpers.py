"""A small cast for booking tests: a lab, its manager, two directors and an admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from tests.factories import Factory, Person


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
