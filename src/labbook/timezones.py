"""Time-zone facts labbook relies on, and the start-up check that the database is current."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from labbook.errors import ConfigurationError, ValidationFailed

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Almaty"
# Dates outside this range are typos, and near year 1 or 9999 the time zone arithmetic overflows.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@cache
def zone(name: str) -> ZoneInfo:
    """A ``ZoneInfo`` for an IANA name, or a 422 naming the field."""
    if name not in _known_zones():
        raise ValidationFailed.field("timezone", f"{name!r} is not an IANA time zone such as Asia/Almaty")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed.field("timezone", f"{name!r} is not an IANA time zone") from None


def check_dates(**named: datetime | date | None) -> None:
    """Each named date or instant lies between 2000-01-01 and 2100-01-01 (UTC), or a 422 naming it."""
    for name, value in named.items():
        if value is None:
            continue
        instant = value if isinstance(value, datetime) else datetime.combine(value, time(), UTC)
        if not EARLIEST <= instant <= LATEST:
            raise ValidationFailed.field(name, "must lie between 2000-01-01 and 2100-01-01")


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_tzdata() -> None:
    """Refuse to run on a time-zone database from before Kazakhstan's 2024 change to UTC+5.

    ``zoneinfo`` reads the operating system's database first; a stale one would put every visit in
    Almaty an hour off without any other symptom.
    """
    probe = datetime(2024, 6, 1, 12, tzinfo=UTC).astimezone(ZoneInfo("Asia/Almaty"))
    offset = probe.utcoffset()
    if offset is None or offset.total_seconds() != 5 * 3600:
        raise ConfigurationError(
            "the time-zone database is older than tzdata 2024a: Asia/Almaty shows "
            f"{probe.isoformat()} instead of UTC+05:00 after 2024-03-01. Update the system package "
            "'tzdata' (apt-get install --only-upgrade tzdata) or remove the stale system database so "
            "Python's tzdata package is used."
        )
