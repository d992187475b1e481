"""Dates for tests, relative to today.

A test writes its dates as they fell when it was written, seen from ``WRITTEN``
(``ahead("2028-09-05T10:00:00+05:00")``); each is moved by as many whole weeks as today is past
that day, so it stays as far ahead of today as it was, on the same weekday, and the suite keeps
passing as the years go by.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

WRITTEN = date(2026, 12, 2)
WEEKS = max(0, (date.today() - WRITTEN).days // 7)


def ahead(text: str) -> str:
    """``text``, an ISO date or a date and time, with its date moved along with today."""
    day = date.fromisoformat(text[:10]) + timedelta(weeks=WEEKS)
    return day.isoformat() + text[10:]


def soon(delta: timedelta = timedelta(days=7)) -> datetime:
    """An instant ``delta`` from now, to the second: a slot that far ahead of the clock."""
    return datetime.now(UTC).replace(microsecond=0) + delta
