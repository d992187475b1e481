"""Equipment units a slot holds: which ones, picked how, and who holds them when none is free.

``ex_slot_units_overlap`` in PostgreSQL guarantees that no unit is held twice at once; picking
happens here, and a concurrent holder that wins the race only makes us pick again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from labbook.errors import UnitTaken, ValidationFailed
from labbook.slots import repository
from labbook.slots.rules import EquipmentOutOfService, LabContext
from labbook.slots.schemas import UnitRequest

UNIT_PICK_ATTEMPTS = 3


async def resolve_units(
    conn: asyncpg.Connection, lab: LabContext, kind: str, requests: list[UnitRequest]
) -> list[tuple[asyncpg.Record, int]]:
    """The lab's equipment rows named by ``requests``, each with the number of units wanted."""
    if not requests:
        return []
    if kind == "closure":
        raise ValidationFailed.field("equipment", "a closure blocks the whole lab and holds no units")
    slugs = [r.equipment for r in requests]
    if len(set(slugs)) != len(slugs):
        raise ValidationFailed.field("equipment", "name each equipment once")
    rows = {row["slug"]: row for row in await repository.list_lab_equipment(conn, lab.id, slugs)}
    resolved: list[tuple[asyncpg.Record, int]] = []
    for request in requests:
        equipment = rows.get(request.equipment)
        if equipment is None or equipment["is_archived"]:
            raise ValidationFailed.field("equipment", f"the lab has no equipment {request.equipment!r}")
        if equipment["is_out_of_service"]:
            raise EquipmentOutOfService(f"{request.equipment} is out of service", equipment=request.equipment)
        usable = await repository.count_usable_units(conn, equipment["id"])
        if request.units > usable:
            raise ValidationFailed.field(
                "equipment", f"{request.equipment} has {usable} units in service, not {request.units}"
            )
        resolved.append((equipment, request.units))
    return resolved


async def hold_units(
    conn: asyncpg.Connection,
    lab: LabContext,
    slot_id: UUID,
    units: list[tuple[asyncpg.Record, int]],
    starts_at: datetime,
    ends_at: datetime,
    prefer: list[int],
) -> None:
    """Pick free units and hold them; a concurrent holder makes us pick again, then give up."""
    for equipment, wanted in units:
        for _ in range(UNIT_PICK_ATTEMPTS):
            free = await repository.pick_free_units(conn, equipment["id"], starts_at, ends_at, wanted, prefer)
            if len(free) < wanted:
                break
            if await repository.try_insert_slot_units(
                conn, slot_id, [r["id"] for r in free], starts_at, ends_at
            ):
                break
        else:
            free = []
        if len(free) < wanted:
            holders = await repository.list_unit_holders(conn, equipment["id"], starts_at, ends_at)
            raise unit_taken(lab, equipment["slug"], wanted, len(free), starts_at, ends_at, holders)


def unit_taken(
    lab: LabContext,
    equipment: str,
    wanted: int,
    free: int,
    starts_at: datetime,
    ends_at: datetime,
    holders: Sequence[Mapping[str, Any]],
) -> UnitTaken:
    return UnitTaken(
        f"{equipment}: {wanted} unit(s) wanted, {free} free between {lab.iso(starts_at)} and "
        f"{lab.iso(ends_at)}",
        equipment=equipment,
        requested=wanted,
        free=free,
        conflicts=[
            {
                "slot_id": str(h["slot_id"]),
                "unit": h["unit"],
                "equipment": h["equipment"],
                "kind": h["kind"],
                "starts_at": lab.iso(h["starts_at"]),
                "ends_at": lab.iso(h["ends_at"]),
            }
            for h in holders
        ],
    )
