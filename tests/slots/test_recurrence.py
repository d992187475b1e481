"""The pure rule expansion and local-time maths, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from labbook.errors import ValidationFailed
from labbook.slots import recurrence
from labbook.slots.recurrence import Rule, Window

ALMATY = ZoneInfo("Asia/Almaty")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekly_on_two_weekdays_with_count() -> None:
    rule = Rule(datetime(2026, 9, 1, 10), timedelta(hours=2), ALMATY, "weekly", weekdays=(2, 4), count=5)
    starts = [o.local_start for o in recurrence.expand(rule)]
    assert starts == [
        datetime(2026, 9, 1, 10),
        datetime(2026, 9, 3, 10),
        datetime(2026, 9, 8, 10),
        datetime(2026, 9, 10, 10),
        datetime(2026, 9, 15, 10),
    ]


def test_every_second_week_until_is_inclusive() -> None:
    rule = Rule(
        datetime(2026, 9, 1, 10), timedelta(hours=1), ALMATY, "weekly", interval=2, until=utc(2026, 9, 29, 5)
    )
    occurrences = recurrence.expand(rule)
    assert [o.local_start.date() for o in occurrences] == [
        date(2026, 9, 1),
        date(2026, 9, 15),
        date(2026, 9, 29),
    ]
    assert occurrences[-1].starts_at == utc(2026, 9, 29, 5)


def test_every_other_day() -> None:
    rule = Rule(datetime(2026, 9, 4, 9), timedelta(hours=1), ALMATY, "daily", interval=2, count=3)
    assert [o.local_start.date() for o in recurrence.expand(rule)] == [
        date(2026, 9, 4),
        date(2026, 9, 6),
        date(2026, 9, 8),
    ]


def test_almaty_keeps_wall_clock_across_the_2024_change_to_utc_plus_5() -> None:
    rule = Rule(datetime(2024, 2, 26, 10), timedelta(hours=2), ALMATY, "weekly", weekdays=(1,), count=2)
    first, second = recurrence.expand(rule)
    assert first.starts_at == utc(2024, 2, 26, 4)
    assert second.starts_at == utc(2024, 3, 4, 5)
    assert second.starts_at.astimezone(ALMATY).hour == 10


def test_berlin_weekly_series_keeps_wall_clock_across_dst() -> None:
    rule = Rule(datetime(2026, 3, 24, 17), timedelta(minutes=90), BERLIN, "weekly", count=2)
    before, after = recurrence.expand(rule)
    assert before.starts_at == utc(2026, 3, 24, 16)
    assert after.starts_at == utc(2026, 3, 31, 15)
    assert after.ends_at - after.starts_at == timedelta(minutes=90)


def test_occurrence_in_a_dst_gap_moves_forward_by_the_gap() -> None:
    # Europe/Berlin jumps from 02:00 to 03:00 on 2026-03-29: 02:30 does not exist that day.
    rule = Rule(datetime(2026, 3, 22, 2, 30), timedelta(hours=1), BERLIN, "weekly", count=3)
    occurrences = recurrence.expand(rule)
    gap = occurrences[1]
    assert gap.local_start == datetime(2026, 3, 29, 2, 30)
    assert gap.starts_at == utc(2026, 3, 29, 1, 30)
    assert gap.starts_at.astimezone(BERLIN).time() == time(3, 30)
    assert occurrences[2].starts_at.astimezone(BERLIN).time() == time(2, 30)


def test_ambiguous_local_time_means_the_first_one() -> None:
    # 02:30 happens twice on 2026-10-25 in Berlin; RFC 5545 picks the first (CEST, UTC+2).
    assert recurrence.to_instant(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"count": None, "until": None}, "recurrence"),
        ({"count": 3, "until": utc(2026, 10, 1)}, "recurrence"),
        ({"count": 60}, "recurrence.count"),
        ({"count": None, "until": utc(2027, 9, 30)}, "recurrence.until"),
        ({"count": None, "until": utc(2026, 8, 1)}, "recurrence.until"),
        ({"weekdays": (3,)}, "recurrence.weekdays"),
        ({"freq": "monthly"}, "recurrence.freq"),
        ({"freq": "daily", "weekdays": (2,)}, "recurrence.weekdays"),
    ],
)
def test_invalid_rules_name_the_field(changes: dict[str, object], field: str) -> None:
    base = {"local_start": datetime(2026, 9, 1, 10), "duration": timedelta(hours=1), "tz": ALMATY}
    fields = {"freq": "weekly", "count": 10, **changes}
    with pytest.raises(ValidationFailed) as raised:
        recurrence.expand(Rule(**base, **fields))  # type: ignore[arg-type]
    assert raised.value.members["errors"][0]["field"] == field


def test_a_year_of_daily_occurrences_is_allowed() -> None:
    rule = Rule(datetime(2026, 1, 1, 9), timedelta(hours=1), ALMATY, "daily", until=utc(2027, 1, 1, 4))
    assert len(recurrence.expand(rule)) == 366


def test_opening_hours_fit() -> None:
    windows = [Window(1, time(9), time(13)), Window(1, time(14), time(18))]
    monday = datetime(2026, 9, 7, tzinfo=ALMATY)
    assert recurrence.fits_opening_hours(monday.replace(hour=9), monday.replace(hour=13), ALMATY, windows)
    assert not recurrence.fits_opening_hours(
        monday.replace(hour=12), monday.replace(hour=15), ALMATY, windows
    )
    tuesday = monday + timedelta(days=1)
    assert not recurrence.fits_opening_hours(
        tuesday.replace(hour=9), tuesday.replace(hour=10), ALMATY, windows
    )
    assert recurrence.fits_opening_hours(tuesday.replace(hour=9), tuesday.replace(hour=10), ALMATY, [])


def test_peak_load_counts_overlaps_not_sums() -> None:
    start, end = utc(2026, 9, 7, 4), utc(2026, 9, 7, 8)
    loads = [
        (utc(2026, 9, 7, 4), utc(2026, 9, 7, 5), 10),
        (utc(2026, 9, 7, 5), utc(2026, 9, 7, 6), 10),
        (utc(2026, 9, 7, 5, 30), utc(2026, 9, 7, 9), 5),
    ]
    assert recurrence.peak_load(start, end, loads) == (15, utc(2026, 9, 7, 5, 30))


def test_subtract_and_segments() -> None:
    day = [(utc(2026, 9, 7, 3), utc(2026, 9, 7, 13))]
    assert recurrence.subtract(day, [(utc(2026, 9, 7, 5), utc(2026, 9, 7, 6))]) == [
        (utc(2026, 9, 7, 3), utc(2026, 9, 7, 5)),
        (utc(2026, 9, 7, 6), utc(2026, 9, 7, 13)),
    ]
    pieces = recurrence.segments(
        utc(2026, 9, 7, 3), utc(2026, 9, 7, 6), [(utc(2026, 9, 7, 4), utc(2026, 9, 7, 5), 1)]
    )
    assert [p[2] for p in pieces] == [[], [1], []]
