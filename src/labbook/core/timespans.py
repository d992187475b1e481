"""Local-time and interval arithmetic with no I/O: opening windows, wall clocks and loads over time.

Wall-clock to instant follows RFC 5545 §3.3.5, the same rule calendar apps apply to our feeds:

* a local time that occurs twice (clocks go back) means its first occurrence;
* a local time that does not exist (clocks go forward) is read with the UTC offset from before the
  gap, so an occurrence at 02:30 on the day Europe/Berlin jumps from 02:00 to 03:00 starts at 03:30
  local time (01:30 UTC) and keeps its duration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Window:
    """A weekly opening window in local time; ISO weekday 1 = Monday."""

    weekday: int
    opens_at: time
    closes_at: time


def to_instant(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time in ``tz`` (RFC 5545 rules for gaps and folds)."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def to_local(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock time of an instant in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def fits_opening_hours(
    starts_at: datetime, ends_at: datetime, tz: ZoneInfo, windows: Iterable[Window]
) -> bool:
    """Whether ``[starts_at, ends_at)`` lies inside one opening window of its local date.

    A lab without opening hours is open at any time.
    """
    windows = list(windows)
    if not windows:
        return True
    start, end = to_local(starts_at, tz), to_local(ends_at, tz)
    if end.date() != start.date():
        return False
    return any(
        w.weekday == start.isoweekday() and w.opens_at <= start.time() and end.time() <= w.closes_at
        for w in windows
    )


def peak_load(
    starts_at: datetime, ends_at: datetime, loads: Iterable[tuple[datetime, datetime, int]]
) -> tuple[int, datetime]:
    """The largest sum of ``loads`` in force at one instant of ``[starts_at, ends_at)``, and when."""
    edges: list[tuple[datetime, int]] = []
    for start, end, amount in loads:
        start, end = max(start, starts_at), min(end, ends_at)
        if start < end:
            edges.append((start, amount))
            edges.append((end, -amount))
    # At one instant, ends are applied before starts: the ranges are half-open.
    edges.sort(key=lambda edge: (edge[0], edge[1]))
    peak, at, running = 0, starts_at, 0
    for instant, delta in edges:
        running += delta
        if running > peak:
            peak, at = running, instant
    return peak, at
