"""Calendar invitations in e-mail (iTIP, RFC 5546), free of I/O.

An invitation is the organization feed's event for a booking (same UID, same SEQUENCE: see
``feeds.service.booking_event``) wrapped in a calendar with a ``METHOD``: ``REQUEST`` adds or updates
the event in the recipient's calendar, ``CANCEL`` removes it. RFC 5546 §3.2.2 and §3.2.5 want an
``ORGANIZER`` and the ``ATTENDEE`` the message is for; the feed's event already names the organizer.
"""

from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar, vCalAddress

from labbook.feeds.ics import PRODID, EventSpec, to_event

REQUEST = "REQUEST"
CANCEL = "CANCEL"


def invitation(event: EventSpec, *, method: str, attendee_email: str, attendee_name: str) -> bytes:
    """The ``text/calendar`` body of an iTIP message about ``event`` for one attendee."""
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
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(vevent)
    start = event.starts_at.date()
    calendar.add_missing_timezones(start - timedelta(days=1), event.ends_at.date() + timedelta(days=1))
    return calendar.to_ical()
