"""Recurring series: creating one (every occurrence a slot), reading, changing and cancelling it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec

from labbook import db
from labbook.audit import service as audit
from labbook.core.principal import Principal
from labbook.errors import IllegalTransition, LabbookError, NotFound, UnitTaken, ValidationFailed
from labbook.slots import recurrence, repository
from labbook.slots.publishing import (
    UPDATABLE,
    audit_view,
    cancel_slot_rows,
    lab_by_slug,
    move_slot,
    viewer,
)
from labbook.slots.recurrence import Occurrence, Rule
from labbook.slots.rules import (
    COLLISIONS,
    CapacityBelowSeatsTaken,
    LabContext,
    Placement,
    check_instructor,
    check_not_past,
    check_shape,
    locked_lab,
    resolve_audience,
)
from labbook.slots.schemas import (
    PlannedOccurrence,
    SeriesCancel,
    SeriesCreate,
    SeriesPreview,
    SeriesUpdate,
    SkippedOccurrence,
)
from labbook.slots.series_plan import SeriesPlan, collision, plan_series, raise_collisions
from labbook.slots.units import UNIT_PICK_ATTEMPTS, resolve_units
from labbook.timezones import check_dates, zone

# Columns a series split copies from the old series to the new one.
_SERIES_COPY = (
    "lab_id",
    "kind",
    "title",
    "description",
    "timezone",
    "duration",
    "freq",
    "interval",
    "weekdays",
    "capacity",
    "visibility",
    "organization_id",
    "instructor_id",
    "requires_approval",
)


# What makes one changed occurrence collide, rather than the whole change fail.
_OCCURRENCE_COLLISIONS: tuple[type[LabbookError], ...] = (UnitTaken, CapacityBelowSeatsTaken, *COLLISIONS)


@dataclass(frozen=True, slots=True)
class SeriesView:
    row: asyncpg.Record
    lab_slug: str
    organization_slug: str | None
    occurrences: list[asyncpg.Record]


@dataclass(frozen=True, slots=True)
class SeriesCreateResult:
    series: SeriesView
    created: list[asyncpg.Record]
    skipped: list[SkippedOccurrence]


@dataclass(frozen=True, slots=True)
class SeriesChangeResult:
    series: SeriesView
    previous_series_id: UUID | None
    changed: list[asyncpg.Record]


@dataclass(frozen=True, slots=True)
class _Split:
    series: asyncpg.Record
    previous_series_id: UUID | None
    slots: list[asyncpg.Record]
    occurrences: list[Occurrence]


def _rule_of(series: asyncpg.Record) -> Rule:
    return Rule(
        local_start=series["local_start"],
        duration=series["duration"],
        tz=zone(series["timezone"]),
        freq=series["freq"],
        interval=series["interval"],
        weekdays=tuple(series["weekdays"]),
        count=series["count"],
        until=series["until"],
    )


async def _series_view(
    conn: asyncpg.Connection, principal: Principal | None, series: asyncpg.Record
) -> SeriesView:
    """The series with the occurrences ``principal`` may see (as ``GET /slots/{id}`` would show them)."""
    lab = await repository.get_lab(conn, series["lab_id"])
    assert lab is not None
    occurrences = await repository.list_series_slot_views(conn, series["id"], viewer(principal))
    organization = None
    if series["organization_id"] is not None:
        organization = await repository.get_organization_slug(conn, series["organization_id"])
    return SeriesView(series, lab["slug"], organization, occurrences)


def _new_rule(lab: LabContext, data: SeriesCreate) -> Rule:
    return Rule(
        local_start=recurrence.to_local(data.starts_at, lab.tz),
        duration=data.ends_at - data.starts_at,
        tz=lab.tz,
        freq=data.recurrence.freq,
        interval=data.recurrence.interval,
        weekdays=tuple(sorted(set(data.recurrence.weekdays))),
        count=data.recurrence.count,
        until=data.recurrence.until,
    )


async def _insert_series(
    conn: asyncpg.Connection,
    actor: Principal,
    lab: LabContext,
    data: SeriesCreate,
    rule: Rule,
    organization_id: int | None,
) -> asyncpg.Record:
    return await repository.insert_series(
        conn,
        lab_id=lab.id,
        kind=data.kind,
        title=data.title,
        description=data.description,
        timezone=lab.row["timezone"],
        local_start=rule.local_start,
        duration=rule.duration,
        freq=rule.freq,
        interval=rule.interval,
        weekdays=list(rule.weekdays),
        count=rule.count,
        until=rule.until,
        capacity=data.capacity,
        visibility=data.visibility,
        organization_id=organization_id,
        instructor_id=data.instructor_id,
        requires_approval=data.requires_approval,
        created_by=actor.person_id,
    )


def _occurrence_rows(
    plan: SeriesPlan, skipped: list[UUID], deadline: timedelta | None
) -> list[tuple[UUID, datetime, datetime, datetime | None, str]]:
    """Slot rows of the plan: the placed occurrences active, the colliding ones cancelled."""
    return [
        (
            placed.slot_id,
            placed.occurrence.starts_at,
            placed.occurrence.ends_at,
            None if deadline is None else placed.occurrence.starts_at - deadline,
            "active",
        )
        for placed in plan.placed
    ] + [
        (slot_id, occurrence.starts_at, occurrence.ends_at, None, "cancelled")
        for slot_id, (occurrence, _) in zip(skipped, plan.collisions, strict=True)
    ]


async def _write_occurrences(
    conn: asyncpg.Connection,
    lab: LabContext,
    data: SeriesCreate,
    occurrences: list[Occurrence],
    units: list[tuple[asyncpg.Record, int]],
    common: dict[str, Any],
) -> tuple[SeriesPlan, list[UUID]]:
    """Plan and write every occurrence; returns the plan and the ids of the skipped occurrences."""
    placement = Placement(data.kind, data.starts_at, data.ends_at, data.capacity, data.outside_hours)
    deadline = None if data.booking_deadline_hours is None else timedelta(hours=data.booking_deadline_hours)
    # Writers that skip the lab lock can still take a unit between our read and our write; the
    # exclusion constraint refuses it and we plan again with what they hold.
    for _ in range(UNIT_PICK_ATTEMPTS):
        plan = await plan_series(conn, lab, placement, occurrences, units)
        if plan.collisions and (not data.skip_conflicts or not plan.placed):
            raise_collisions([c for _, c in plan.collisions], len(occurrences))
        skipped = [uuid4() for _ in plan.collisions]
        holdings = [
            (placed.slot_id, unit, placed.occurrence.starts_at, placed.occurrence.ends_at)
            for placed in plan.placed
            for _, unit, _ in placed.holdings
        ]
        rows = _occurrence_rows(plan, skipped, deadline)
        if await repository.try_insert_series_slots(conn, common, rows, holdings):
            return plan, skipped
    raise UnitTaken("other writers kept taking the units while the series was being placed; try again")


async def _audit_created(
    conn: asyncpg.Connection,
    actor: Principal,
    series: asyncpg.Record,
    plan: SeriesPlan,
    views: dict[UUID, asyncpg.Record],
    skipped: list[UUID],
) -> None:
    created = [placed.slot_id for placed in plan.placed]
    await audit.record_many(
        conn, actor, "slot.publish", "slot", [(i, db.record_to_dict(views[i])) for i in created]
    )
    await audit.record_many(
        conn, actor, "slot.skip", "slot", [(i, db.record_to_dict(views[i])) for i in skipped]
    )
    after = {**db.record_to_dict(series), "skipped": [c.occurrence_start for _, c in plan.collisions]}
    await audit.record(conn, actor, "series.create", "series", series["id"], after=after)


async def create_series(
    pool: asyncpg.Pool, actor: Principal, data: SeriesCreate, *, now: datetime
) -> SeriesCreateResult:
    """Materialize every occurrence of a rule as a slot: all of them, or (``skip_conflicts``) those
    that fit, the others staying as cancelled occurrences so the series still matches its rule.

    The occurrences are checked, written and audited with a fixed number of statements, whatever
    their count, while the lab row is locked.
    """
    async with db.transaction(pool) as conn:
        return await create_series_in(conn, actor, data, now=now)


@dataclass(frozen=True, slots=True)
class _NewSeries:
    """A new series checked as a whole, before any of its occurrences is placed."""

    lab: LabContext
    rule: Rule
    occurrences: list[Occurrence]
    organization_id: int | None
    units: list[tuple[asyncpg.Record, int]]


async def _checked_series(
    conn: asyncpg.Connection, actor: Principal, data: SeriesCreate, now: datetime
) -> _NewSeries:
    """Lock the lab and check what holds for every occurrence alike (shape, audience, instructor, units)."""
    found = await lab_by_slug(conn, data.lab)
    lab = await locked_lab(conn, actor, found["id"])
    check_dates(**{"recurrence.until": data.recurrence.until})
    check_shape(data.kind, data.starts_at, data.ends_at, data.capacity, None)
    check_not_past(data.starts_at, now)
    rule = _new_rule(lab, data)
    occurrences = recurrence.expand(rule)
    organization_id = await resolve_audience(conn, data.visibility, data.organization)
    await check_instructor(conn, lab.id, data.instructor_id)
    units = await resolve_units(conn, lab, data.kind, data.equipment)
    return _NewSeries(lab, rule, occurrences, organization_id, units)


async def preview_series(
    pool: asyncpg.Pool, actor: Principal, data: SeriesCreate, *, now: datetime
) -> SeriesPreview:
    """Every occurrence ``create_series`` would write, each with what it collides with; writes nothing.

    The plan is the one publishing makes (``plan_series``), read under the same lab lock, so the
    preview and the publishing decide alike; a writer that comes in between can still change the
    answer, and publishing then says so.
    """
    async with db.transaction(pool) as conn:
        new = await _checked_series(conn, actor, data, now)
        placement = Placement(data.kind, data.starts_at, data.ends_at, data.capacity, data.outside_hours)
        plan = await plan_series(conn, new.lab, placement, new.occurrences, new.units)
    collided = {occurrence.index: c for occurrence, c in plan.collisions}
    tz = new.lab.tz
    shown = [
        PlannedOccurrence(
            starts_at=o.starts_at.astimezone(tz),
            ends_at=o.ends_at.astimezone(tz),
            fits=o.index not in collided,
            problem=collided[o.index].problem if o.index in collided else None,
            detail=collided[o.index].detail if o.index in collided else None,
            conflicts=collided[o.index].conflicts if o.index in collided else [],
        )
        for o in new.occurrences
    ]
    return SeriesPreview(
        lab=new.lab.row["slug"], timezone=new.lab.row["timezone"], occurrences=shown, collisions=len(collided)
    )


async def create_series_in(
    conn: asyncpg.Connection, actor: Principal, data: SeriesCreate, *, now: datetime
) -> SeriesCreateResult:
    """``create_series`` inside the caller's transaction."""
    new = await _checked_series(conn, actor, data, now)
    lab, rule, occurrences = new.lab, new.rule, new.occurrences
    organization_id, units = new.organization_id, new.units
    series = await _insert_series(conn, actor, lab, data, rule, organization_id)
    common = {
        "lab_id": lab.id,
        "series_id": series["id"],
        "kind": data.kind,
        "title": data.title,
        "description": data.description,
        "capacity": data.capacity,
        "visibility": data.visibility,
        "organization_id": organization_id,
        "requires_approval": data.requires_approval,
        "is_outside_hours": data.outside_hours,
        "instructor_id": data.instructor_id,
        "created_by": actor.person_id,
    }
    plan, skipped = await _write_occurrences(conn, lab, data, occurrences, units, common)
    created = [placed.slot_id for placed in plan.placed]
    views = await repository.list_slot_views_by_id(conn, created + skipped)
    await _audit_created(conn, actor, series, plan, {view["id"]: view for view in views}, skipped)
    # A new series' slots start where their occurrences do: ``views`` is in occurrence order. The
    # actor manages the lab, so sees every one of them.
    organization = data.organization if organization_id is not None else None
    view = SeriesView(series, lab.row["slug"], organization, views)
    placed_ids = set(created)
    created_rows = [row for row in views if row["id"] in placed_ids]
    return SeriesCreateResult(view, created_rows, [c for _, c in plan.collisions])


async def get_series_for(pool: asyncpg.Pool, principal: Principal | None, series_id: UUID) -> SeriesView:
    async with pool.acquire() as conn:
        series = await repository.get_series(conn, series_id, viewer(principal))
        if series is None:
            raise NotFound("no such series")
        return await _series_view(conn, principal, series)


async def _split_series(
    conn: asyncpg.Connection, actor: Principal, series: asyncpg.Record, split: Occurrence, index: int
) -> asyncpg.Record:
    """End ``series`` just before ``split`` and start a new one with the same rule from there."""
    await repository.update_series(
        conn,
        series["id"],
        local_start=series["local_start"],
        duration=series["duration"],
        count=None,
        until=split.starts_at - timedelta(seconds=1),
        capacity=series["capacity"],
        title=series["title"],
        description=series["description"],
        status=series["status"],
        instructor_id=series["instructor_id"],
    )
    rest = await repository.insert_series(
        conn,
        **{key: series[key] for key in _SERIES_COPY},
        local_start=split.local_start,
        count=None if series["count"] is None else series["count"] - index,
        until=series["until"],
        created_by=actor.person_id,
    )
    await repository.repoint_slots(conn, series["id"], rest["id"], split.starts_at)
    after = {"following_series_id": str(rest["id"]), "from_occurrence": split.starts_at}
    await audit.record(conn, actor, "series.split", "series", series["id"], before=series, after=after)
    return rest


async def _lock_series_scope(
    conn: asyncpg.Connection,
    actor: Principal,
    series_id: UUID,
    scope: str,
    from_occurrence: datetime | None,
) -> tuple[LabContext, _Split]:
    """Lock lab, series and its slots; for ``following``, split the series at ``from_occurrence``.

    The old series keeps the occurrences before the split (``until`` just before it); a new series
    with the same rule takes the rest, and their slots move to it, so each series' slots still match
    its rule exactly.
    """
    found = await repository.get_series(conn, series_id, viewer(actor))
    if found is None:
        raise NotFound("no such series")
    lab = await locked_lab(conn, actor, found["lab_id"])
    series = await repository.lock_series(conn, series_id)
    assert series is not None
    if series["status"] != "active":
        raise IllegalTransition("the series is cancelled", current_status=series["status"])
    slots = await repository.lock_series_slots(conn, series_id)
    occurrences = recurrence.expand(_rule_of(series))
    if scope == "all":
        return lab, _Split(series, None, slots, occurrences)
    if from_occurrence is None:
        raise ValidationFailed.field("from_occurrence", "name the first occurrence to change")
    index = next((o.index for o in occurrences if o.starts_at == from_occurrence), None)
    if index is None:
        raise ValidationFailed.field(
            "from_occurrence", "is not the original start of an occurrence of the series"
        )
    if index == 0:
        return lab, _Split(series, None, slots, occurrences)
    split = occurrences[index]
    rest = await _split_series(conn, actor, series, split, index)
    moved = [slot for slot in slots if slot["occurrence_start"] >= split.starts_at]
    return lab, _Split(rest, series["id"], moved, occurrences[index:])


@dataclass(frozen=True, slots=True)
class _Change:
    """What an update asks of every occurrence in its scope."""

    local_start: datetime
    duration: timedelta
    moves: bool
    capacity: int
    title: Any
    description: Any
    instructor_id: UUID | None
    reassigns: bool


def _change_of(series: asyncpg.Record, data: SeriesUpdate) -> _Change:
    local_start = series["local_start"]
    if data.start_time is not msgspec.UNSET:
        local_start = datetime.combine(local_start.date(), time.fromisoformat(data.start_time))
    duration = series["duration"]
    if data.duration_minutes is not msgspec.UNSET:
        duration = timedelta(minutes=data.duration_minutes)
    return _Change(
        local_start=local_start,
        duration=duration,
        moves=local_start != series["local_start"] or duration != series["duration"],
        capacity=series["capacity"] if data.capacity is msgspec.UNSET else data.capacity,
        title=series["title"] if data.title is msgspec.UNSET else data.title,
        description=series["description"] if data.description is msgspec.UNSET else data.description,
        instructor_id=series["instructor_id"] if data.instructor_id is msgspec.UNSET else data.instructor_id,
        reassigns=data.instructor_id is not msgspec.UNSET,
    )


def _moved_fields(slot: asyncpg.Record, new: Occurrence, change: _Change) -> dict[str, Any]:
    fields = {key: slot[key] for key in UPDATABLE}
    fields.update(
        occurrence_start=new.starts_at,
        capacity=change.capacity,
        title=change.title,
        description=change.description,
    )
    # an occurrence handed to someone else keeps them unless the series changes hands itself
    if change.reassigns:
        fields["instructor_id"] = change.instructor_id
    if change.moves:
        fields.update(starts_at=new.starts_at, ends_at=new.ends_at)
        if slot["booking_deadline"] is not None:
            fields["booking_deadline"] = slot["booking_deadline"] + (new.starts_at - slot["starts_at"])
    return fields


async def _change_occurrence(
    conn: asyncpg.Connection,
    actor: Principal,
    lab: LabContext,
    slot: asyncpg.Record,
    fields: dict[str, Any],
) -> None:
    """Write one occurrence's new fields; an active one is re-checked, and written only if it fits."""
    if slot["status"] != "active":
        before = await audit_view(conn, slot["id"])
        await repository.update_slot(conn, slot["id"], fields)
        after = await audit_view(conn, slot["id"])
        await audit.record(conn, actor, "slot.update", "slot", slot["id"], before=before, after=after)
        return
    async with conn.transaction():
        await move_slot(conn, actor, lab, slot, fields, None)


async def update_series(
    pool: asyncpg.Pool, actor: Principal, series_id: UUID, data: SeriesUpdate, *, now: datetime
) -> SeriesChangeResult:
    """Change the time of day, duration, capacity, title or instructor of all or the following occurrences.

    Every changed occurrence is re-checked; if any collides, nothing is written and the reply lists
    each collision. A new time of day moves the occurrences' ``occurrence_start`` with the rule.
    """
    async with db.transaction(pool) as conn:
        lab, part = await _lock_series_scope(conn, actor, series_id, data.scope, data.from_occurrence)
        series = part.series
        change = _change_of(series, data)
        if change.reassigns:
            await check_instructor(conn, lab.id, change.instructor_id)
        # The k-th occurrence keeps its date; a rule bounded by `until` is re-bounded by the new last one.
        rule = replace(_rule_of(series), local_start=change.local_start, duration=change.duration)
        occurrences = recurrence.expand(replace(rule, count=len(part.occurrences), until=None))
        check_shape(series["kind"], occurrences[0].starts_at, occurrences[0].ends_at, change.capacity, None)
        by_start = {slot["occurrence_start"]: slot for slot in part.slots}
        changed: list[UUID] = []
        collisions: list[SkippedOccurrence] = []
        for old, new in zip(part.occurrences, occurrences, strict=True):
            slot = by_start[old.starts_at]
            if change.moves and slot["status"] == "active" and new.starts_at < now <= slot["starts_at"]:
                raise ValidationFailed.field(
                    "start_time", f"would move the occurrence of {lab.iso(slot['starts_at'])} into the past"
                )
            try:
                await _change_occurrence(conn, actor, lab, slot, _moved_fields(slot, new, change))
            except _OCCURRENCE_COLLISIONS as error:
                collisions.append(collision(lab, new, error))
                continue
            if slot["status"] == "active":
                changed.append(slot["id"])
        if collisions:
            raise_collisions(collisions, len(occurrences))
        updated = await repository.update_series(
            conn,
            series["id"],
            local_start=change.local_start,
            duration=change.duration,
            count=series["count"],
            until=None if series["count"] is not None else occurrences[-1].starts_at,
            capacity=change.capacity,
            title=change.title,
            description=change.description,
            status=series["status"],
            instructor_id=change.instructor_id,
        )
        await audit.record(conn, actor, "series.update", "series", series["id"], before=series, after=updated)
        view = await _series_view(conn, actor, updated)
        changed_rows = await repository.list_slot_views_by_id(conn, changed)
    return SeriesChangeResult(view, part.previous_series_id, changed_rows)


async def cancel_series(
    pool: asyncpg.Pool, actor: Principal, series_id: UUID, data: SeriesCancel, *, now: datetime
) -> SeriesChangeResult:
    """Cancel the whole series (its occurrences after ``now``) or an occurrence and all that follow it."""
    async with db.transaction(pool) as conn:
        _, part = await _lock_series_scope(conn, actor, series_id, data.scope, data.from_occurrence)
        series = part.series
        whole = data.scope == "all"
        cancelled: list[UUID] = []
        for slot in part.slots:
            if slot["status"] != "active" or (whole and slot["starts_at"] <= now):
                continue
            await cancel_slot_rows(conn, actor, slot["id"], data.reason)
            cancelled.append(slot["id"])
        updated = await repository.update_series(
            conn,
            series["id"],
            local_start=series["local_start"],
            duration=series["duration"],
            count=series["count"],
            until=series["until"],
            capacity=series["capacity"],
            title=series["title"],
            description=series["description"],
            status="cancelled",
            instructor_id=series["instructor_id"],
        )
        after = {**db.record_to_dict(updated), "reason": data.reason}
        await audit.record(conn, actor, "series.cancel", "series", series["id"], before=series, after=after)
        view = await _series_view(conn, actor, updated)
        cancelled_rows = await repository.list_slot_views_by_id(conn, cancelled)
    return SeriesChangeResult(view, part.previous_series_id, cancelled_rows)
