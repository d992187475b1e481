"""A lab's availability: per local day, the free windows for people and the free equipment units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from labbook.catalog import service as catalog
from labbook.errors import NotFound, ValidationFailed
from labbook.slots import recurrence, repository
from labbook.slots.recurrence import Window
from labbook.slots.rules import PEOPLE_KINDS
from labbook.slots.schemas import (
    Availability,
    DayAvailability,
    EquipmentAvailability,
    FreeUnits,
    FreeWindow,
)
from labbook.timezones import check_dates, zone

MAX_AVAILABILITY_DAYS = 62

Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class _Lab:
    """What a lab holds over the asked window, read once."""

    row: asyncpg.Record
    tz: ZoneInfo
    hours: list[Window]
    closures: list[Span]
    people: list[tuple[datetime, datetime, int]]
    # equipment slug -> its units in service, by number
    equipment: dict[str, list[asyncpg.Record]]
    # active holdings of those units: unit_id, starts_at, ends_at
    holdings: list[asyncpg.Record]


def _merge(pieces: list[tuple[datetime, datetime, Any]]) -> list[tuple[datetime, datetime, Any]]:
    merged: list[tuple[datetime, datetime, Any]] = []
    for start, end, value in pieces:
        if merged and merged[-1][1] == start and merged[-1][2] == value:
            merged[-1] = (merged[-1][0], end, value)
        else:
            merged.append((start, end, value))
    return merged


def _local_day(value: date | datetime, tz: ZoneInfo, *, up: bool) -> date:
    """The local date of an availability bound; a time inside a day rounds ``up`` to the next day."""
    if not isinstance(value, datetime):
        return value
    local = value.astimezone(tz)
    return local.date() + timedelta(days=1) if up and local.time() != time() else local.date()


async def _read_lab(
    conn: asyncpg.Connection, slug: str, first: date | datetime, end: date | datetime
) -> tuple[_Lab, date, date]:
    lab = await catalog.find_lab(conn, slug)
    if lab is None or lab["is_archived"]:
        raise NotFound(f"no lab {slug!r}")
    tz = zone(lab["timezone"])
    first_day, end_day = _local_day(first, tz, up=False), _local_day(end, tz, up=True)
    if end_day <= first_day:
        raise ValidationFailed.field("to", "must be after from")
    if (end_day - first_day).days > MAX_AVAILABILITY_DAYS:
        raise ValidationFailed.field("to", f"ask for at most {MAX_AVAILABILITY_DAYS} days at once")
    hours = [
        Window(h["weekday"], h["opens_at"], h["closes_at"])
        for h in await repository.list_opening_hours(conn, lab["id"])
    ]
    window_start = recurrence.to_instant(datetime.combine(first_day, time()), tz)
    window_end = recurrence.to_instant(datetime.combine(end_day, time()), tz)
    slots = await repository.list_overlapping_slots(conn, lab["id"], window_start, window_end, [])
    units = await repository.list_lab_units(conn, lab["id"])
    holdings = await repository.list_unit_holdings(
        conn, [u["unit_id"] for u in units], window_start, window_end
    )
    equipment: dict[str, list[asyncpg.Record]] = {}
    for unit in units:
        equipment.setdefault(unit["slug"], []).append(unit)
    closures = [(s["starts_at"], s["ends_at"]) for s in slots if s["kind"] == "closure"]
    people = [(s["starts_at"], s["ends_at"], s["capacity"]) for s in slots if s["kind"] in PEOPLE_KINDS]
    return _Lab(lab, tz, hours, closures, people, equipment, holdings), first_day, end_day


def _free_windows(lab: _Lab, open_pieces: list[Span]) -> list[FreeWindow]:
    free_windows: list[FreeWindow] = []
    for start, end in open_pieces:
        pieces = [
            (s, e, lab.row["capacity"] - sum(loads))
            for s, e, loads in recurrence.segments(start, end, lab.people)
        ]
        free_windows += [
            FreeWindow(starts_at=s.astimezone(lab.tz), ends_at=e.astimezone(lab.tz), people_free=free)
            for s, e, free in _merge(pieces)
            if free > 0
        ]
    return free_windows


def _free_units(lab: _Lab, slug: str, open_pieces: list[Span]) -> EquipmentAvailability:
    units = lab.equipment[slug]
    out_of_service = units[0]["is_out_of_service"]
    number = {u["unit_id"]: u["number"] for u in units}
    held = [
        (h["starts_at"], h["ends_at"], number[h["unit_id"]]) for h in lab.holdings if h["unit_id"] in number
    ]
    all_numbers = [u["number"] for u in units]
    windows: list[FreeUnits] = []
    for start, end in [] if out_of_service else open_pieces:
        pieces = [
            (s, e, [n for n in all_numbers if n not in taken])
            for s, e, taken in recurrence.segments(start, end, held)
        ]
        windows += [
            FreeUnits(starts_at=s.astimezone(lab.tz), ends_at=e.astimezone(lab.tz), free_units=numbers)
            for s, e, numbers in _merge(pieces)
            if numbers
        ]
    return EquipmentAvailability(
        equipment=slug, units=len(units), is_out_of_service=out_of_service, windows=windows
    )


async def lab_availability(
    pool: asyncpg.Pool, slug: str, first: date | datetime, end: date | datetime
) -> Availability:
    """Per local date in ``[first, end)``: free windows inside opening hours (outside closures and
    with people room left) and, per equipment, which units are free when. A bound given as a time
    counts from its local date up to the local day that holds ``end``."""
    check_dates(**{"from": first, "to": end})
    async with pool.acquire() as conn:
        lab, first_day, end_day = await _read_lab(conn, slug, first, end)
    days: list[DayAvailability] = []
    day = first_day
    while day < end_day:
        open_pieces = recurrence.subtract(recurrence.day_windows(day, lab.tz, lab.hours), lab.closures)
        days.append(
            DayAvailability(
                date=day,
                free_windows=_free_windows(lab, open_pieces),
                equipment=[_free_units(lab, slug, open_pieces) for slug in lab.equipment],
            )
        )
        day += timedelta(days=1)
    row = lab.row
    return Availability(lab=row["slug"], timezone=row["timezone"], capacity=row["capacity"], days=days)


async def free_stations(
    pool: asyncpg.Pool, slug: str, starts_at: datetime, ends_at: datetime
) -> dict[str, list[int]]:
    """Per equipment of the lab (by slug), the numbers of its units free through all of
    ``[starts_at, ends_at)``: those a slot published then could hold. Out-of-service equipment has none.
    """
    check_dates(starts_at=starts_at, ends_at=ends_at)
    if ends_at <= starts_at:
        raise ValidationFailed.field("ends_at", "must be after starts_at")
    async with pool.acquire() as conn:
        lab = await catalog.find_lab(conn, slug)
        if lab is None or lab["is_archived"]:
            raise NotFound(f"no lab {slug!r}")
        units = await repository.list_lab_units(conn, lab["id"])
        holdings = await repository.list_unit_holdings(
            conn, [u["unit_id"] for u in units], starts_at, ends_at
        )
    held = {row["unit_id"] for row in holdings}
    free: dict[str, list[int]] = {}
    for unit in units:
        numbers = free.setdefault(unit["slug"], [])
        if not unit["is_out_of_service"] and unit["unit_id"] not in held:
            numbers.append(unit["number"])
    return free
