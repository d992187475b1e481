"""Placing every occurrence of a new series at once: which fit, which units each gets, which collide.

The occurrences are checked as if published one after the other (``publishing``), but with a fixed
number of queries whatever their count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec

from labbook.errors import LabbookError
from labbook.slots import repository
from labbook.slots.recurrence import Occurrence
from labbook.slots.rules import COLLISIONS, LabContext, Placement, SeriesConflict, check_placement
from labbook.slots.schemas import SkippedOccurrence
from labbook.slots.units import unit_taken

# (equipment id, unit id, unit number) of a unit held
Holding = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Placed:
    """An occurrence that fits, with the slot id it will get and the units it will hold."""

    occurrence: Occurrence
    slot_id: UUID
    holdings: list[Holding]


@dataclass(frozen=True, slots=True)
class _Shortfall:
    """An occurrence found too few free units of one equipment; who holds them is read afterwards."""

    occurrence: Occurrence
    equipment: asyncpg.Record
    wanted: int
    free: int
    # units of this equipment held by earlier occurrences of the same series
    series_holders: list[dict[str, Any]]


@dataclass(slots=True)
class SeriesPlan:
    placed: list[Placed] = field(default_factory=list)
    collisions: list[tuple[Occurrence, SkippedOccurrence]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Known:
    """What the database holds around the occurrences: per occurrence (1-based), the active slots
    overlapping it and the units they hold; per equipment, its usable (unit id, number)s."""

    overlapping: dict[int, list[Mapping[str, Any]]]
    held: dict[int, set[int]]
    usable: dict[int, list[tuple[int, int]]]


def collision(lab: LabContext, occurrence: Occurrence, error: LabbookError) -> SkippedOccurrence:
    conflicts = error.members.get("conflicts")
    return SkippedOccurrence(
        occurrence_start=occurrence.starts_at.astimezone(lab.tz),
        starts_at=occurrence.starts_at.astimezone(lab.tz),
        ends_at=occurrence.ends_at.astimezone(lab.tz),
        problem=error.type,
        detail=error.detail,
        conflicts=conflicts if isinstance(conflicts, list) else [],
    )


def raise_collisions(collisions: list[SkippedOccurrence], total: int) -> None:
    raise SeriesConflict(
        f"{len(collisions)} of {total} occurrences collide; nothing was written",
        occurrences=[msgspec.to_builtins(c) for c in collisions],
    )


async def _read_known(
    conn: asyncpg.Connection,
    lab: LabContext,
    occurrences: list[Occurrence],
    units: list[tuple[asyncpg.Record, int]],
) -> _Known:
    known = _Known({}, {}, {})
    starts = [o.starts_at for o in occurrences]
    ends = [o.ends_at for o in occurrences]
    for row in await repository.list_overlapping_slots_per_range(conn, lab.id, starts, ends):
        known.overlapping.setdefault(row["n"], []).append(row)
        known.held.setdefault(row["n"], set()).update(row["unit_ids"])
    if units:
        for row in await repository.list_usable_units(conn, [equipment["id"] for equipment, _ in units]):
            known.usable.setdefault(row["equipment_id"], []).append((row["id"], row["number"]))
    return known


def _as_rows(p: Placement, earlier: list[Placed]) -> list[dict[str, Any]]:
    """Earlier occurrences of the series as the overlap rows the checks read."""
    return [
        {
            "id": placed.slot_id,
            "kind": p.kind,
            "capacity": p.capacity,
            "starts_at": placed.occurrence.starts_at,
            "ends_at": placed.occurrence.ends_at,
        }
        for placed in earlier
    ]


def _series_holders(p: Placement, equipment: asyncpg.Record, earlier: list[Placed]) -> list[dict[str, Any]]:
    return [
        {
            "slot_id": placed.slot_id,
            "unit": number,
            "equipment": equipment["slug"],
            "kind": p.kind,
            "starts_at": placed.occurrence.starts_at,
            "ends_at": placed.occurrence.ends_at,
        }
        for placed in earlier
        for equipment_id, _, number in placed.holdings
        if equipment_id == equipment["id"]
    ]


def _pick_units(
    p: Placement,
    occurrence: Occurrence,
    units: list[tuple[asyncpg.Record, int]],
    usable: dict[int, list[tuple[int, int]]],
    taken: set[int],
    earlier: list[Placed],
) -> list[Holding] | _Shortfall:
    """The first free units of each equipment, or what falls short."""
    holdings: list[Holding] = []
    for equipment, wanted in units:
        candidates = [(unit, number) for unit, number in usable.get(equipment["id"], []) if unit not in taken]
        candidates = candidates[:wanted]
        if len(candidates) < wanted:
            holders = _series_holders(p, equipment, earlier)
            return _Shortfall(occurrence, equipment, wanted, len(candidates), holders)
        holdings += [(equipment["id"], unit, number) for unit, number in candidates]
    return holdings


async def _report_shortfalls(
    conn: asyncpg.Connection, lab: LabContext, shortfalls: list[_Shortfall], plan: SeriesPlan
) -> None:
    """Add each shortfall to the plan's collisions, naming every holder of the units it wanted."""
    holders: dict[int, list[Mapping[str, Any]]] = {}
    for row in await repository.list_unit_holders_per_range(
        conn,
        lab.id,
        [s.equipment["id"] for s in shortfalls],
        [s.occurrence.starts_at for s in shortfalls],
        [s.occurrence.ends_at for s in shortfalls],
    ):
        holders.setdefault(row["n"], []).append(row)
    for n, s in enumerate(shortfalls, start=1):
        found = sorted([*holders.get(n, []), *s.series_holders], key=lambda h: (h["unit"], h["starts_at"]))
        o = s.occurrence
        refusal = unit_taken(lab, s.equipment["slug"], s.wanted, s.free, o.starts_at, o.ends_at, found)
        plan.collisions.append((o, collision(lab, o, refusal)))
    plan.collisions.sort(key=lambda c: c[0].index)


async def plan_series(
    conn: asyncpg.Connection,
    lab: LabContext,
    p: Placement,
    occurrences: list[Occurrence],
    units: list[tuple[asyncpg.Record, int]],
) -> SeriesPlan:
    """Check and pick units for every occurrence as publishing them one after the other would.

    Occurrences placed earlier in the series count as if they were already written: their people,
    closures and units weigh on the later ones they overlap, and a collision leaves no trace.
    """
    known = await _read_known(conn, lab, occurrences, units)
    plan = SeriesPlan()
    shortfalls: list[_Shortfall] = []
    for n, occurrence in enumerate(occurrences, start=1):
        earlier = [placed for placed in plan.placed if placed.occurrence.ends_at > occurrence.starts_at]
        rows = [*known.overlapping.get(n, []), *_as_rows(p, earlier)]
        rows.sort(key=lambda row: (row["starts_at"], row["id"]))
        try:
            check_placement(lab, replace(p, starts_at=occurrence.starts_at, ends_at=occurrence.ends_at), rows)
        except COLLISIONS as error:
            plan.collisions.append((occurrence, collision(lab, occurrence, error)))
            continue
        taken = known.held.get(n, set()).union(unit for placed in earlier for _, unit, _ in placed.holdings)
        picked = _pick_units(p, occurrence, units, known.usable, taken, earlier)
        if isinstance(picked, _Shortfall):
            shortfalls.append(picked)
        else:
            plan.placed.append(Placed(occurrence, uuid4(), picked))
    if shortfalls:
        await _report_shortfalls(conn, lab, shortfalls, plan)
    return plan
