"""Calendar invitations in e-mail (iTIP, RFC 5546), free of I/O.

An invitation is a feed's event (same UID, same SEQUENCE): the organization feed's for a booking
(``feeds.service.booking_event``), the instructor's for a session or a whole series. It is wrapped in
a calendar with a ``METHOD``: ``REQUEST`` adds or updates the event in the recipient's calendar,
``CANCEL`` removes it. RFC 5546 §3.2.2 and §3.2.5 want an ``ORGANIZER`` and the ``ATTENDEE`` the
message is for; the feed's event already names the organizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache

from icalendar import Calendar, Event, Timezone, vCalAddress

from labbook.feeds.ics import PRODID, EventSpec, to_event

REQUEST = "REQUEST"
CANCEL = "CANCEL"


def invitation(events: Sequence[EventSpec], *, method: str, attendee_email: str, attendee_name: str) -> bytes:
    """The ``text/calendar`` body of an iTIP message about ``events`` for one attendee.

    ``events`` are one UID's: a single event, or a series' master followed by its overrides
    (``RECURRENCE-ID``), as the feed shows them. A ``CANCEL`` of a whole series carries the master.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    for event in events:
        calendar.add_component(_attended(event, method, attendee_email, attendee_name))
    first_year = min(e.starts_at.date() - timedelta(days=1) for e in events).year
    last_year = max(_last_day(e) + timedelta(days=1) for e in events).year
    position = 0
    for tzid in sorted(calendar.get_missing_tzids()):
        try:
            zone = _zone(tzid, first_year, last_year)
        except ValueError:  # a zone icalendar does not know goes without, as add_missing_timezones does
            continue
        calendar.subcomponents.insert(position, zone)
        position += 1
    return calendar.to_ical()


def _attended(event: EventSpec, method: str, attendee_email: str, attendee_name: str) -> Event:
    vevent = to_event(event)
    if method == CANCEL:
        # A cancelled event keeps its UID; its STATUS says so (the feed's event may still say
        # otherwise for a slot that is gone while the booking row is unchanged).
        vevent.pop("STATUS")
        vevent.add("status", "CANCELLED")
    attendee = vCalAddress(f"mailto:{attendee_email}")
    attendee.params["CN"] = attendee_name
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    attendee.params["PARTSTAT"] = "ACCEPTED" if method == REQUEST else "NEEDS-ACTION"
    attendee.params["RSVP"] = "FALSE"
    vevent.add("attendee", attendee)
    return vevent


def _last_day(event: EventSpec) -> date:
    """The last day the event (with its recurrence rule, if any) can take place."""
    last = event.ends_at.date()
    rule = event.rrule
    if rule is None:
        return last
    if rule.until is not None:
        return max(last, rule.until.date())
    step = rule.interval * (7 if rule.freq == "weekly" else 1)
    return last + timedelta(days=step * (rule.count or 1))


@lru_cache(maxsize=64)
def _zone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """The VTIMEZONE of ``tzid`` over whole calendar years around the event. Building one walks the
    zone's transitions, which was half the CPU of writing a booking's e-mail; over whole years the
    invitations of a lab share it."""
    return Timezone.from_tzid(tzid, first_date=date(first_year, 1, 1), last_date=date(last_year, 12, 31))
