"""Recurrence rules and free-time arithmetic, with no I/O.

Wall clocks become instants by ``labbook.core.timespans`` (RFC 5545 §3.3.5 for gaps and folds).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import count as counter
from itertools import pairwise
from typing import TypeVar
from zoneinfo import ZoneInfo

from labbook.core.timespans import Window as Window
from labbook.core.timespans import fits_opening_hours as fits_opening_hours
from labbook.core.timespans import peak_load as peak_load
from labbook.core.timespans import to_instant as to_instant
from labbook.core.timespans import to_local as to_local
from labbook.errors import ValidationFailed

FREQS = ("daily", "weekly")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Rule:
    """A series rule: the first occurrence's wall-clock start in ``tz`` and how it repeats."""

    local_start: datetime
    duration: timedelta
    tz: ZoneInfo
    freq: str
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    count: int | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Occurrence:
    index: int
    local_start: datetime
    starts_at: datetime
    ends_at: datetime


def one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def validate(rule: Rule) -> None:
    """Refuse rules that are ambiguous or longer than a year, naming the offending field."""
    if rule.freq not in FREQS:
        raise ValidationFailed.field("recurrence.freq", "must be daily or weekly")
    if not 1 <= rule.interval <= 52:
        raise ValidationFailed.field("recurrence.interval", "must be between 1 and 52")
    if (rule.count is None) == (rule.until is None):
        raise ValidationFailed.field("recurrence", "give exactly one of count or until")
    if rule.weekdays and rule.freq == "daily":
        raise ValidationFailed.field(
            "recurrence.weekdays",
            "weekdays go with weekly rules: Monday to Friday is weekly on [1, 2, 3, 4, 5]",
        )
    if any(not 1 <= day <= 7 for day in rule.weekdays):
        raise ValidationFailed.field("recurrence.weekdays", "ISO weekdays are 1 (Monday) to 7 (Sunday)")
    if rule.duration <= timedelta(0):
        raise ValidationFailed.field("ends_at", "must be after starts_at")
    # RFC 5545 leaves a DTSTART outside its own rule undefined; calendar apps disagree about it.
    if rule.weekdays and rule.local_start.isoweekday() not in rule.weekdays:
        raise ValidationFailed.field(
            "recurrence.weekdays", "the first occurrence must fall on one of the weekdays"
        )
    first = to_instant(rule.local_start, rule.tz)
    if rule.until is not None:
        if rule.until < first:
            raise ValidationFailed.field("recurrence.until", "must not be before the first occurrence")
        limit = to_instant(datetime.combine(one_year_after(rule.local_start.date()), time.max), rule.tz)
        if rule.until > limit:
            raise ValidationFailed.field("recurrence.until", "a series may span at most one year")
    if rule.count is not None and rule.count < 1:
        raise ValidationFailed.field("recurrence.count", "must be at least 1")


def _candidate_days(rule: Rule) -> Iterator[date]:
    first = rule.local_start.date()
    if rule.freq == "daily":
        for step in counter():
            yield first + timedelta(days=step * rule.interval)
    else:
        weekdays = set(rule.weekdays) or {first.isoweekday()}
        monday = first - timedelta(days=first.isoweekday() - 1)
        for week in counter():
            start = monday + timedelta(weeks=week * rule.interval)
            for weekday in sorted(weekdays):
                day = start + timedelta(days=weekday - 1)
                if day >= first:
                    yield day


def expand(rule: Rule) -> list[Occurrence]:
    """Every occurrence of a valid rule, in order. A count reaching past one year is a 422."""
    validate(rule)
    horizon = one_year_after(rule.local_start.date())
    wall = rule.local_start.time()
    occurrences: list[Occurrence] = []
    for day in _candidate_days(rule):
        if rule.count is not None and len(occurrences) >= rule.count:
            break
        if day > horizon:
            if rule.count is not None:
                raise ValidationFailed.field("recurrence.count", "a series may span at most one year")
            break
        local = datetime.combine(day, wall)
        starts_at = to_instant(local, rule.tz)
        if rule.until is not None and starts_at > rule.until:
            break
        occurrences.append(Occurrence(len(occurrences), local, starts_at, starts_at + rule.duration))
    return occurrences


def day_windows(day: date, tz: ZoneInfo, windows: Sequence[Window]) -> list[tuple[datetime, datetime]]:
    """The open intervals of one local date as instants; the whole day when no hours are set."""
    if not windows:
        return [(to_instant(datetime.combine(day, time()), tz), to_instant(_next_midnight(day), tz))]
    return [
        (
            to_instant(datetime.combine(day, w.opens_at), tz),
            to_instant(datetime.combine(day, w.closes_at), tz),
        )
        for w in sorted(windows, key=lambda w: w.opens_at)
        if w.weekday == day.isoweekday()
    ]


def _next_midnight(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time())


def subtract(
    intervals: Iterable[tuple[datetime, datetime]], holes: Iterable[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """Half-open intervals minus half-open holes."""
    result = list(intervals)
    for hole_start, hole_end in holes:
        remaining: list[tuple[datetime, datetime]] = []
        for start, end in result:
            if hole_end <= start or end <= hole_start:
                remaining.append((start, end))
                continue
            if start < hole_start:
                remaining.append((start, hole_start))
            if hole_end < end:
                remaining.append((hole_end, end))
        result = remaining
    return result


def segments(
    starts_at: datetime, ends_at: datetime, loads: Iterable[tuple[datetime, datetime, T]]
) -> list[tuple[datetime, datetime, list[T]]]:
    """Cut ``[starts_at, ends_at)`` at every load boundary; each piece lists the loads in force."""
    clipped = [(max(s, starts_at), min(e, ends_at), v) for s, e, v in loads]
    clipped = [c for c in clipped if c[0] < c[1]]
    cuts = sorted({starts_at, ends_at, *(c[0] for c in clipped), *(c[1] for c in clipped)})
    return [
        (start, end, [v for s, e, v in clipped if s <= start and end <= e]) for start, end in pairwise(cuts)
    ]
