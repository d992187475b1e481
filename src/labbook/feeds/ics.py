"""iCalendar rendering for labbook's feeds (RFC 5545 / 5546 / 7986), free of I/O.

A feed is described by a ``CalendarSpec`` and a list of ``EventSpec``; both are frozen values that
hold everything the output depends on. ``to_calendar`` builds the whole ``icalendar.Calendar`` (the
reference form). ``render`` produces exactly the same bytes, but serializes each event once per data
version: event blocks and calendar shells are pure functions of their specs, so they are kept in
bounded caches that can never go stale (``service`` keeps event blocks per data version, this module
the calendar shells), so a feed in which one event changed re-renders one event and concatenates the
rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from icalendar import Calendar, Event, Timezone, vDuration, vText

from labbook.timezones import zone

PRODID = "-//labbook//labbook feeds//EN"
_END = b"END:VCALENDAR\r\n"
_counts = {"events": 0}


@dataclass(frozen=True, slots=True)
class Recurrence:
    """An ``RRULE``: daily or weekly, with ISO weekdays (1 = Monday) and ``count`` or ``until``."""

    freq: str
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    count: int | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One ``VEVENT``; every field that reaches the output is here, so the spec is its cache key.

    Times are aware datetimes; they are written in ``tzid`` local time. ``stamp`` is the data's own
    modification time (``updated_at``), used for both ``DTSTAMP`` and ``LAST-MODIFIED``.
    """

    uid: str
    sequence: int
    stamp: datetime
    tzid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    status: str
    description: str = ""
    location: str = ""
    organizer_name: str = ""
    organizer_address: str = ""
    categories: tuple[str, ...] = ()
    is_busy: bool = True
    rrule: Recurrence | None = None
    exdates: tuple[datetime, ...] = ()
    recurrence_id: datetime | None = None


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    """The calendar's own properties and the span its ``VTIMEZONE``s must cover."""

    name: str
    timezone: str
    refresh: timedelta
    description: str = ""
    tzids: tuple[str, ...] = ()
    first_date: date = field(default=date(2000, 1, 1))
    last_date: date = field(default=date(2000, 1, 2))


_WEEKDAYS = {1: "MO", 2: "TU", 3: "WE", 4: "TH", 5: "FR", 6: "SA", 7: "SU"}


def _local(value: datetime, tzid: str) -> datetime:
    return value.astimezone(zone(tzid))


def to_event(spec: EventSpec) -> Event:
    """The ``icalendar.Event`` for one spec."""
    event = Event()
    event.add("uid", spec.uid)
    event.add("dtstamp", spec.stamp.astimezone(UTC))
    event.add("last-modified", spec.stamp.astimezone(UTC))
    event.add("sequence", spec.sequence)
    if spec.recurrence_id is not None:
        event.add("recurrence-id", _local(spec.recurrence_id, spec.tzid))
    event.add("dtstart", _local(spec.starts_at, spec.tzid))
    event.add("dtend", _local(spec.ends_at, spec.tzid))
    if spec.rrule is not None:
        rule: dict[str, object] = {"freq": spec.rrule.freq.upper()}
        if spec.rrule.interval != 1:
            rule["interval"] = spec.rrule.interval
        if spec.rrule.weekdays:
            rule["byday"] = [_WEEKDAYS[d] for d in spec.rrule.weekdays]
        if spec.rrule.count is not None:
            rule["count"] = spec.rrule.count
        if spec.rrule.until is not None:
            # RFC 5545 §3.3.10: with a TZID'd DTSTART, UNTIL must be UTC (icalendar would write it floating).
            rule["until"] = spec.rrule.until.astimezone(UTC)
        event.add("rrule", rule)
    if spec.exdates:
        event.add("exdate", [_local(d, spec.tzid) for d in spec.exdates])
    event.add("summary", spec.summary)
    if spec.description:
        event.add("description", spec.description)
    if spec.location:
        event.add("location", spec.location)
    if spec.organizer_address:
        params = {"CN": spec.organizer_name} if spec.organizer_name else {}
        event.add("organizer", spec.organizer_address, parameters=params)
    if spec.categories:
        event.add("categories", list(spec.categories))
    event.add("status", spec.status)
    event.add("transp", "OPAQUE" if spec.is_busy else "TRANSPARENT")
    return event


def _calendar(spec: CalendarSpec) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # icalendar writes plain strings for these unescaped; vText escapes commas and semicolons.
    calendar.add("name", vText(spec.name))
    calendar.add("x-wr-calname", vText(spec.name))
    if spec.description:
        calendar.add("x-wr-caldesc", vText(spec.description))
    calendar.add("x-wr-timezone", spec.timezone)
    calendar.add("refresh-interval", vDuration(spec.refresh), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(spec.refresh))
    return calendar


def to_calendar(spec: CalendarSpec, events: list[EventSpec]) -> Calendar:
    """The whole calendar, built and time-zoned by icalendar: the reference ``render`` must equal."""
    calendar = _calendar(spec)
    for event in events:
        calendar.add_component(to_event(event))
    calendar.add_missing_timezones(spec.first_date, spec.last_date)
    if not events:
        calendar.add_component(_own_timezone(spec))
    return calendar


def _own_timezone(spec: CalendarSpec) -> Timezone:
    """RFC 5545 §3.6: a calendar holds at least one component, so a feed with no events carries
    the zone it names in ``X-WR-TIMEZONE``, over icalendar's default span (1970–2038): no data,
    no window to cover, and the bytes must not change from one day to the next."""
    return Timezone.from_tzid(spec.timezone)


def serialize_event(spec: EventSpec) -> bytes:
    """The serialized ``VEVENT`` of one spec: what ``to_calendar`` writes for it, byte for byte."""
    _counts["events"] += 1
    return to_event(spec).to_ical()


@lru_cache(maxsize=256)
def _shell(spec: CalendarSpec) -> bytes:
    calendar = _calendar(spec)
    for tzid in spec.tzids:
        calendar.add_component(Timezone.from_tzid(tzid, first_date=spec.first_date, last_date=spec.last_date))
    if not spec.tzids:
        calendar.add_component(_own_timezone(spec))
    text = calendar.to_ical()
    assert text.endswith(_END)
    return text[: -len(_END)]


def render(spec: CalendarSpec, events: list[EventSpec]) -> bytes:
    """The feed's bytes, identical to ``to_calendar(spec, events).to_ical()``."""
    return assemble(spec, [serialize_event(e) for e in events])


def assemble(spec: CalendarSpec, blocks: list[bytes]) -> bytes:
    """The calendar around already serialized events (``serialize_event`` outputs, in order)."""
    return b"".join((_shell(spec), *blocks, _END))


def serialized_events() -> int:
    """How many events this process has serialized so far (the expensive step caches avoid)."""
    return _counts["events"]
