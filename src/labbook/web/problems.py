"""A service's refusal explained in words, in the page's language, for the form that caused it."""

from __future__ import annotations

from typing import Any

from labbook.errors import LabbookError
from labbook.web.forms import N_, field_errors
from labbook.web.i18n import Gettext

# By problem type slug. Placeholders name the error's members (``SlotFull.seats_left`` ...).
SENTENCES = {
    "slot-full": N_(
        "Only %(seats_left)s seats are left in this session, and you asked for %(requested)s. "
        "Book fewer seats, join the waiting list, or ask the lab for a visit of your own."
    ),
    "booking-window": N_("This session cannot be booked now: the booking period is over or not open yet."),
    "slot-not-bookable": N_("This session takes no bookings: it was cancelled or is not open to visitors."),
    "series-not-bookable": N_(
        "Not every session of this course can be booked, so nothing was booked. "
        "The sessions that cannot be booked are listed below."
    ),
    "lab-closed": N_("The lab is closed at that time."),
    "outside-opening-hours": N_("That time is outside the lab's opening hours."),
    "lab-capacity": N_("The lab cannot hold that many people at that time."),
    "unit-taken": N_("The equipment is already taken at that time."),
    "too-few-stations": N_(
        "The group does not fit on the stations chosen: %(headcount)s trainees, %(places)s places "
        "on %(stations)s stations. Give the group more stations."
    ),
    "illegal-transition": N_("This cannot be done any more: the status has already changed."),
    "not-found": N_("It no longer exists, or you may not see it."),
    "forbidden": N_("You may not do this."),
    "rate-limited": N_("Too many attempts. Wait a little and try again."),
    "login-throttled": N_("Too many failed sign-ins. Wait a quarter of an hour and try again."),
    "wrong-credentials": N_("The email or the password is wrong."),
    "link-invalid": N_("This link was already used or has expired. Ask for a new one."),
    "validation": N_("Some fields need attention."),
}
GENERIC = N_("This could not be done. Check the form and try again.")


def explain(exc: LabbookError, lang: str) -> tuple[str, dict[str, str]]:
    """The sentence for the top of the form and the messages next to fields."""
    gettext = Gettext(lang)
    members: dict[str, Any] = {k: v for k, v in exc.members.items() if isinstance(v, int | str)}
    template = SENTENCES.get(exc.slug, GENERIC)
    try:
        sentence = gettext.plain(template, **members) if "%(" in template else gettext.plain(template)
    except KeyError:
        sentence = gettext.plain(GENERIC)
    return sentence, field_errors(exc, lang)
