"""Catalog rules: who may change organizations, labs, equipment and opening hours, and how.

Other domains read labs through ``get_lab`` (404 for an unknown slug) and ``find_lab`` (``None``),
never through the repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from msgspec import UNSET

from labbook import db
from labbook.audit import service as audit
from labbook.catalog import repository
from labbook.catalog.rows import (
    EquipmentRow,
    LabRow,
    OpeningHoursRow,
    OrganizationRow,
    UpcomingSlot,
)
from labbook.catalog.schemas import (
    EquipmentCreate,
    EquipmentUpdate,
    LabCreate,
    LabUpdate,
    OpeningHours,
    OrganizationCreate,
    OrganizationUpdate,
)
from labbook.changes import ReadCache
from labbook.core.kinds import BLOCKING_KINDS, HOST_KIND, PEOPLE_KINDS
from labbook.core.principal import Principal
from labbook.core.timespans import Window, fits_opening_hours, peak_load
from labbook.errors import (
    Conflict,
    Forbidden,
    LabCapacityExceeded,
    NotFound,
    OutsideOpeningHours,
    ValidationFailed,
)
from labbook.timezones import zone

_CLOCK_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Localized texts are never NULL in the database: clearing one leaves an empty object.
_LOCALIZED_TEXTS = frozenset({"description", "safety_notes"})
# What a director may edit on their own organization; the rest is an admin's call.
_DESCRIPTIVE_ORGANIZATION_FIELDS = frozenset({"name", "city", "country", "website", "description"})


def _merge(row: msgspec.Struct, patch: msgspec.Struct) -> tuple[dict[str, Any], set[str]]:
    """The row's values with the patch applied, and the names of the fields the patch sets."""
    merged = msgspec.structs.asdict(row)
    given: set[str] = set()
    for name in patch.__struct_fields__:
        value = getattr(patch, name)
        if value is UNSET:
            continue
        given.add(name)
        merged[name] = {} if value is None and name in _LOCALIZED_TEXTS else value
    return merged, given


def _check_languages(languages: Sequence[str]) -> None:
    repeated = sorted({lang for lang in languages if languages.count(lang) > 1})
    if repeated:
        raise ValidationFailed.field("languages", f"each language once; repeated: {', '.join(repeated)}")


# --- organizations -----------------------------------------------------------------------------


async def get_organization(pool: asyncpg.Pool, slug: str) -> OrganizationRow:
    row = await repository.get_organization_by_slug(pool, slug)
    if row is None:
        raise NotFound(f"no organization {slug!r}")
    return row


async def list_organizations(
    pool: asyncpg.Pool, *, kind: str | None, q: str | None, include_archived: bool, limit: int, offset: int
) -> tuple[list[OrganizationRow], int]:
    return await repository.list_organizations(
        pool, kind=kind, q=q, include_archived=include_archived, limit=limit, offset=offset
    )


async def create_organization(pool: asyncpg.Pool, me: Principal, data: OrganizationCreate) -> OrganizationRow:
    me.require_admin()
    async with db.transaction(pool) as conn:
        row = await repository.insert_organization(conn, msgspec.structs.asdict(data))
        await audit.record(conn, me, "organization.create", "organization", row.id, after=row)
    return row


async def update_organization(
    pool: asyncpg.Pool, me: Principal, slug: str, patch: OrganizationUpdate
) -> OrganizationRow:
    async with db.transaction(pool) as conn:
        before = await repository.get_organization_for_update(conn, slug)
        if before is None:
            raise NotFound(f"no organization {slug!r}")
        me.require_organization(before.id)
        fields, given = _merge(before, patch)
        if not me.is_admin and given - _DESCRIPTIVE_ORGANIZATION_FIELDS:
            raise Forbidden(
                f"only an admin may change {', '.join(sorted(given - _DESCRIPTIVE_ORGANIZATION_FIELDS))}"
            )
        if before.kind == HOST_KIND and fields["kind"] != HOST_KIND:
            labs = await repository.count_labs_of_organization(conn, before.id)
            if labs:
                raise Conflict(
                    f"{slug!r} hosts {labs} lab(s), so it must stay a host_university",
                    errors=[{"field": "kind", "message": "an organization with labs is a host_university"}],
                )
        after = await repository.update_organization(conn, before.id, fields)
        await audit.record(
            conn, me, "organization.update", "organization", before.id, before=before, after=after
        )
    return after


async def archive_organization(pool: asyncpg.Pool, me: Principal, slug: str) -> OrganizationRow:
    me.require_admin()
    async with db.transaction(pool) as conn:
        before = await repository.get_organization_for_update(conn, slug)
        if before is None:
            raise NotFound(f"no organization {slug!r}")
        if before.is_archived:
            return before
        after = await repository.archive_organization(conn, before.id)
        await audit.record(
            conn, me, "organization.archive", "organization", before.id, before=before, after=after
        )
    return after


async def unarchive_organization(pool: asyncpg.Pool, me: Principal, slug: str) -> OrganizationRow:
    """Bring an archived organization back: it can be booked for and get people again."""
    me.require_admin()
    async with db.transaction(pool) as conn:
        before = await repository.get_organization_for_update(conn, slug)
        if before is None:
            raise NotFound(f"no organization {slug!r}")
        if not before.is_archived:
            return before
        after = await repository.unarchive_organization(conn, before.id)
        await audit.record(
            conn, me, "organization.unarchive", "organization", before.id, before=before, after=after
        )
    return after


# --- labs --------------------------------------------------------------------------------------


async def get_lab(pool_or_conn: asyncpg.Pool | asyncpg.Connection, slug: str) -> LabRow:
    """The lab with ``slug`` (archived ones too), or ``NotFound``."""
    row = await repository.get_lab_by_slug(pool_or_conn, slug)
    if row is None:
        raise NotFound(f"no lab {slug!r}")
    return row


# What a lab's reply is read from: its row and its host organization's slug.
LAB_TABLES = ("labs", "organizations")


def lab_cache() -> ReadCache[LabRow]:
    return ReadCache(LAB_TABLES)


async def read_lab(pool: asyncpg.Pool, cache: ReadCache[LabRow], slug: str) -> LabRow:
    """``get_lab`` for a public read: from this worker's cache while no lab or organization changed."""
    row = cache.get(slug)
    if row is None:
        generation = cache.generation
        row = await get_lab(pool, slug)
        cache.put(slug, row, generation)
    return row


async def find_lab(conn: asyncpg.Connection, slug: str) -> LabRow | None:
    """The lab with ``slug`` (archived ones too) as the caller's transaction sees it, or ``None``."""
    return await repository.get_lab_by_slug(conn, slug)


async def _lab_for_update(conn: asyncpg.Connection, me: Principal, slug: str) -> LabRow:
    lab = await repository.get_lab_for_update(conn, slug)
    if lab is None:
        raise NotFound(f"no lab {slug!r}")
    me.require_lab(lab.id)
    return lab


async def list_labs(
    pool: asyncpg.Pool,
    *,
    host: str | None,
    language: str | None,
    equipment_kind: str | None,
    q: str | None,
    include_archived: bool,
    limit: int,
    offset: int,
) -> tuple[list[LabRow], int]:
    return await repository.list_labs(
        pool,
        host=host,
        language=language,
        equipment_kind=equipment_kind,
        q=q,
        include_archived=include_archived,
        limit=limit,
        offset=offset,
    )


async def labs_run_by(pool: asyncpg.Pool, me: Principal) -> list[LabRow]:
    """The open labs ``me`` runs: every one for an admin, a manager's own labs otherwise."""
    return await repository.labs_run_by(pool, every=me.is_admin, lab_ids=sorted(me.managed_lab_ids))


async def lab_names(pool: asyncpg.Pool, slugs: Iterable[str]) -> dict[str, dict[str, str]]:
    """The names of the labs with these slugs, in one query however many there are."""
    return await repository.lab_names(pool, sorted(set(slugs)))


async def create_lab(pool: asyncpg.Pool, me: Principal, data: LabCreate) -> LabRow:
    me.require_admin()
    zone(data.timezone)
    _check_languages(data.languages)
    async with db.transaction(pool) as conn:
        host = await repository.get_organization_for_share(conn, data.host)
        if host is None:
            raise ValidationFailed.field("host", f"no organization {data.host!r}")
        if host.kind != HOST_KIND:
            raise ValidationFailed.field(
                "host", f"{data.host!r} is a {host.kind}; labs belong to host universities"
            )
        if host.is_archived:
            raise ValidationFailed.field("host", f"{data.host!r} is archived")
        row = await repository.insert_lab(conn, host.id, msgspec.structs.asdict(data))
        await audit.record(conn, me, "lab.create", "lab", row.id, after=row)
    return row


# The lab-wide rules (docs/architecture.md, rules 3a–3c) hold for the slots already published, not
# only for new ones. The callers hold the lab row lock, which slot writes take first, so no slot
# appears or moves meanwhile.


def _slot_ref(tz: ZoneInfo, row: UpcomingSlot) -> dict[str, Any]:
    return {
        "slot_id": str(row.id),
        "kind": row.kind,
        "starts_at": row.starts_at.astimezone(tz).isoformat(),
        "ends_at": row.ends_at.astimezone(tz).isoformat(),
    }


async def _check_timezone(conn: asyncpg.Connection, lab: LabRow, timezone: str) -> None:
    """Series keep wall-clock times in the lab's zone and slots were checked against its hours."""
    if timezone == lab.timezone:
        return
    slots = await repository.list_upcoming_slots(conn, lab.id)
    series = await repository.list_upcoming_series(conn, lab.id)
    if not slots and not series:
        return
    message = (
        f"{len(slots)} active slot(s) and {len(series)} active series to come were planned in "
        f"{lab.timezone}; cancel them before moving the lab to {timezone}"
    )
    raise Conflict(
        f"{lab.slug!r} keeps its time zone: {message}",
        errors=[{"field": "timezone", "message": message}],
        conflicts=[_slot_ref(zone(lab.timezone), row) for row in slots],
        series_ids=[str(row.id) for row in series],
    )


async def _check_capacity(conn: asyncpg.Connection, lab: LabRow, capacity: int, now: datetime) -> None:
    """No instant from now on holds more people in the lab's slots than ``capacity``."""
    if capacity >= lab.capacity:
        return
    people = [row for row in await repository.list_upcoming_slots(conn, lab.id) if row.kind in PEOPLE_KINDS]
    if not people:
        return
    # From now on only: a slot already running counts, the part of it that is over does not.
    peak, at = peak_load(
        max(people[0].starts_at, now),
        max(row.ends_at for row in people),
        [(row.starts_at, row.ends_at, row.capacity) for row in people],
    )
    if peak <= capacity:
        return
    tz = zone(lab.timezone)
    in_force = [row for row in people if row.starts_at <= at < row.ends_at]
    raise LabCapacityExceeded(
        f"at {at.astimezone(tz).isoformat()} {len(in_force)} slot(s) of {lab.slug!r} hold {peak} "
        f"people, more than a capacity of {capacity}; lower their capacity or cancel them first",
        errors=[{"field": "capacity", "message": f"must be at least {peak}, the most people booked at once"}],
        lab_capacity=capacity,
        peak=peak,
        at=at.astimezone(tz).isoformat(),
        conflicts=[{**_slot_ref(tz, row), "capacity": row.capacity} for row in in_force],
    )


async def _check_slots_within(
    conn: asyncpg.Connection, lab: LabRow, hours: list[tuple[int, time, time]]
) -> None:
    """Every slot to come that had to sit inside the opening hours still sits inside the new ones."""
    tz = zone(lab.timezone)
    windows = [Window(weekday, opens, closes) for weekday, opens, closes in hours]
    outside = [
        row
        for row in await repository.list_upcoming_slots(conn, lab.id)
        if row.kind not in BLOCKING_KINDS
        and not row.is_outside_hours
        and not fits_opening_hours(row.starts_at, row.ends_at, tz, windows)
    ]
    if outside:
        raise OutsideOpeningHours(
            f"{len(outside)} active slot(s) of {lab.slug!r} to come would lie outside these opening "
            "hours; move them, or mark them outside_hours: true, first",
            timezone=lab.timezone,
            conflicts=[_slot_ref(tz, row) for row in outside],
        )


async def update_lab(
    pool: asyncpg.Pool, me: Principal, slug: str, patch: LabUpdate, *, now: datetime
) -> LabRow:
    if patch.timezone is not UNSET:
        zone(patch.timezone)
    if patch.languages is not UNSET:
        _check_languages(patch.languages)
    async with db.transaction(pool) as conn:
        before = await _lab_for_update(conn, me, slug)
        fields, _ = _merge(before, patch)
        await _check_timezone(conn, before, fields["timezone"])
        await _check_capacity(conn, before, fields["capacity"], now)
        after = await repository.update_lab(conn, before.id, fields)
        await audit.record(conn, me, "lab.update", "lab", before.id, before=before, after=after)
    return after


async def archive_lab(pool: asyncpg.Pool, me: Principal, slug: str) -> LabRow:
    async with db.transaction(pool) as conn:
        before = await _lab_for_update(conn, me, slug)
        if before.is_archived:
            return before
        after = await repository.archive_lab(conn, before.id)
        await audit.record(conn, me, "lab.archive", "lab", before.id, before=before, after=after)
    return after


# --- equipment ---------------------------------------------------------------------------------


async def list_equipment(
    pool: asyncpg.Pool | asyncpg.Connection, lab_slug: str, *, include_archived: bool
) -> list[EquipmentRow]:
    lab = await get_lab(pool, lab_slug)
    return await repository.list_equipment(pool, lab.id, include_archived=include_archived)


async def get_equipment(pool: asyncpg.Pool, lab_slug: str, slug: str) -> EquipmentRow:
    lab = await get_lab(pool, lab_slug)
    row = await repository.get_equipment_by_slug(pool, lab.id, slug)
    if row is None:
        raise NotFound(f"no equipment {slug!r} in lab {lab_slug!r}")
    return row


async def create_equipment(
    pool: asyncpg.Pool, me: Principal, lab_slug: str, data: EquipmentCreate
) -> EquipmentRow:
    async with db.transaction(pool) as conn:
        lab = await _lab_for_update(conn, me, lab_slug)
        row = await repository.insert_equipment(conn, lab.id, msgspec.structs.asdict(data))
        await repository.activate_units(conn, row.id, row.units)
        await audit.record(conn, me, "equipment.create", "equipment", row.id, after=row)
    return row


async def update_equipment(
    pool: asyncpg.Pool, me: Principal, lab_slug: str, slug: str, patch: EquipmentUpdate
) -> EquipmentRow:
    async with db.transaction(pool) as conn:
        lab = await _lab_for_update(conn, me, lab_slug)
        before = await repository.get_equipment_for_update(conn, lab.id, slug)
        if before is None:
            raise NotFound(f"no equipment {slug!r} in lab {lab_slug!r}")
        fields, _ = _merge(before, patch)
        if fields["units"] < before.units:
            await _retire_units(conn, before, fields["units"])
        elif fields["units"] > before.units:
            await repository.activate_units(conn, before.id, fields["units"])
        after = await repository.update_equipment(conn, before.id, fields)
        await audit.record(conn, me, "equipment.update", "equipment", before.id, before=before, after=after)
    return after


async def _retire_units(conn: asyncpg.Connection, equipment: EquipmentRow, units: int) -> None:
    """Take units above ``units`` out of use, unless a slot still needs one of them."""
    retiring = await repository.lock_units_above(conn, equipment.id, units)
    unit_ids = [unit.id for unit in retiring]
    held = await repository.list_held_units(conn, unit_ids)
    if held:
        numbers = sorted({row.unit for row in held})
        raise Conflict(
            f"cannot reduce {equipment.slug!r} to {units} units: unit(s) "
            f"{', '.join(map(str, numbers))} are held by {len({row.slot_id for row in held})} "
            "active future slot(s); cancel or move those slots first",
            conflicts=[
                {
                    "slot_id": str(row.slot_id),
                    "unit": row.unit,
                    "equipment": equipment.slug,
                    "starts_at": row.starts_at.isoformat(),
                    "ends_at": row.ends_at.isoformat(),
                }
                for row in held
            ],
        )
    await repository.retire_units(conn, unit_ids)


async def archive_equipment(pool: asyncpg.Pool, me: Principal, lab_slug: str, slug: str) -> EquipmentRow:
    async with db.transaction(pool) as conn:
        lab = await _lab_for_update(conn, me, lab_slug)
        before = await repository.get_equipment_for_update(conn, lab.id, slug)
        if before is None:
            raise NotFound(f"no equipment {slug!r} in lab {lab_slug!r}")
        if before.is_archived:
            return before
        after = await repository.archive_equipment(conn, before.id)
        await audit.record(conn, me, "equipment.archive", "equipment", before.id, before=before, after=after)
    return after


# --- opening hours -----------------------------------------------------------------------------


def _describe(entry: OpeningHours) -> str:
    return f"{WEEKDAYS[entry.weekday - 1]} {entry.opens_at}–{entry.closes_at}"


def check_schedule(hours: list[OpeningHours]) -> list[tuple[int, time, time]]:
    """The schedule as (weekday, opens, closes) rows, or a 422 naming every bad entry."""
    errors: list[dict[str, str]] = []
    for index, entry in enumerate(hours):
        if not 1 <= entry.weekday <= 7:
            errors.append(
                {
                    "field": f"[{index}].weekday",
                    "message": f"entry {index}: weekday {entry.weekday} is not 1 (Monday) to 7 (Sunday)",
                }
            )
        for name in ("opens_at", "closes_at"):
            value = getattr(entry, name)
            if not _CLOCK_TIME.fullmatch(value):
                errors.append(
                    {
                        "field": f"[{index}].{name}",
                        "message": f"entry {index}: {name} {value!r} is not a time HH:MM (00:00-23:59)",
                    }
                )
    if errors:
        raise ValidationFailed("; ".join(e["message"] for e in errors), errors=errors)
    for index, entry in enumerate(hours):
        if entry.closes_at <= entry.opens_at:
            errors.append(
                {
                    "field": f"[{index}].closes_at",
                    "message": f"entry {index} ({_describe(entry)}) must close after it opens",
                }
            )
    # "HH:MM" strings sort like the times they name; an entry is compared with the window that
    # reaches latest so far on its weekday, which catches one long window covering several.
    valid = [i for i, entry in enumerate(hours) if entry.opens_at < entry.closes_at]
    widest: dict[int, int] = {}
    for index in sorted(valid, key=lambda i: (hours[i].weekday, hours[i].opens_at)):
        entry = hours[index]
        earlier = widest.get(entry.weekday)
        if earlier is not None and entry.opens_at < hours[earlier].closes_at:
            errors.append(
                {
                    "field": f"[{index}]",
                    "message": f"entry {index} ({_describe(entry)}) overlaps entry {earlier} "
                    f"({_describe(hours[earlier])})",
                }
            )
        if earlier is None or entry.closes_at > hours[earlier].closes_at:
            widest[entry.weekday] = index
    if errors:
        raise ValidationFailed("; ".join(e["message"] for e in errors), errors=errors)
    return [
        (entry.weekday, time.fromisoformat(entry.opens_at), time.fromisoformat(entry.closes_at))
        for entry in sorted(hours, key=lambda h: (h.weekday, h.opens_at))
    ]


async def get_opening_hours(pool: asyncpg.Pool, lab_slug: str) -> list[OpeningHoursRow]:
    lab = await get_lab(pool, lab_slug)
    return await repository.list_opening_hours(pool, lab.id)


async def set_opening_hours(
    pool: asyncpg.Pool, me: Principal, lab_slug: str, hours: list[OpeningHours]
) -> list[OpeningHoursRow]:
    """Replace the lab's whole weekly schedule; concurrent replacements apply one after the other."""
    rows = check_schedule(hours)
    async with db.transaction(pool) as conn:
        lab = await _lab_for_update(conn, me, lab_slug)
        await _check_slots_within(conn, lab, rows)
        before = await repository.list_opening_hours(conn, lab.id)
        after = await repository.replace_opening_hours(conn, lab.id, rows)
        await audit.record(
            conn,
            me,
            "lab.opening_hours.replace",
            "lab",
            lab.id,
            before=before,
            after=after,
        )
    return after
