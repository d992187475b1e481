"""What each notice says, in the recipient's language: subject, plain text and HTML, free of I/O.

The texts are Jinja2 templates in ``templates/`` whose sentences go through gettext; the catalogs are
``locales/<lang>/LC_MESSAGES/mail.po`` (``python -m labbook.notifications.catalogs check``), compiled
in memory like the pages' catalogs. Dates and times are written by Babel in the lab's time zone.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime, format_time, get_day_names, get_timezone_name
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from labbook.schemas import LANGUAGES
from labbook.timezones import zone

HERE = Path(__file__).parent
LOCALES = HERE / "locales"
TEMPLATES = HERE / "templates"
# Text a lab wrote in another language than the reader's: Russian is read most widely, then Kazakh.
FALLBACK = ("ru", "kk", "en")


def N_(message: str) -> str:
    """Mark a message for the catalog; it is translated where it is used."""
    return message


# kind -> subject; who gets each kind is decided in ``service``.
SUBJECTS: Mapping[str, str] = {
    "booking_received": N_("Booking received: %(title)s, %(date)s"),
    "booking_confirmed": N_("Booking confirmed: %(title)s, %(date)s"),
    "booking_declined": N_("Booking declined: %(title)s, %(date)s"),
    "booking_cancelled": N_("Booking cancelled by the lab: %(title)s, %(date)s"),
    "booking_promoted": N_("A place became free: %(title)s, %(date)s"),
    "booking_requested": N_("New booking to approve: %(organization)s, %(date)s"),
    "booking_withdrawn": N_("Booking cancelled by the visitor: %(organization)s, %(date)s"),
    "booking_reminder": N_("Reminder: %(title)s, %(date)s"),
    "booking_moved": N_("New time for your visit: %(title)s, %(date)s"),
    "lab_digest": N_("Tomorrow's visits to %(lab)s, %(date)s"),
    "booking_updated": N_("Your visit has changed: %(title)s, %(date)s"),
    "visit_requested": N_("New visit request: %(organization)s, %(lab)s"),
    "visit_accepted": N_("Visit request accepted: %(lab)s, %(date)s"),
    "visit_booked": N_("Your visit is booked: %(lab)s, %(date)s"),
    "visit_declined": N_("Visit request declined: %(lab)s"),
    "visit_proposed": N_("The lab proposes another time: %(lab)s, %(date)s"),
    "visit_proposal_accepted": N_("Your proposed time is accepted: %(organization)s, %(date)s"),
    "visit_proposal_declined": N_("Your proposed time is declined: %(organization)s"),
    "visit_withdrawn": N_("Visit request withdrawn: %(organization)s"),
    "session_assigned": N_("Your session: %(title)s, %(date)s"),
    "session_changed": N_("Your session has changed: %(title)s, %(date)s"),
    "session_cancelled": N_("Session cancelled: %(title)s, %(date)s"),
    "session_unassigned": N_("You no longer run this session: %(title)s, %(date)s"),
    "series_assigned": N_("Your sessions: %(title)s, %(dates)s"),
    "series_changed": N_("Your sessions have changed: %(title)s, %(dates)s"),
    "series_cancelled": N_("Sessions cancelled: %(title)s, %(dates)s"),
    "series_unassigned": N_("You no longer run these sessions: %(title)s, %(dates)s"),
    "invitation": N_("Your invitation to labbook"),
    "password_reset": N_("A new password for labbook"),
}
# The kinds a person may turn off (the pages name them). Everything else (what happens to a booking,
# invitations, password resets) is always sent.
OPTIONAL: Sequence[str] = ("booking_received", "booking_reminder", "lab_digest")
STATUSES: Mapping[str, str] = {
    "pending": N_("waiting for the lab's answer"),
    "confirmed": N_("confirmed"),
    "declined": N_("declined"),
    "cancelled": N_("cancelled"),
    "waitlisted": N_("on the waiting list"),
}


@cache
def translations(lang: str) -> Translations:
    path = LOCALES / lang / "LC_MESSAGES" / "mail.po"
    if not path.exists():
        return Translations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


@cache
def _environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def pick(texts: Mapping[str, str] | None, lang: str) -> str:
    """Text in ``lang``, else in the fallback order, else none."""
    if not texts:
        return ""
    for candidate in (lang, *FALLBACK):
        if texts.get(candidate):
            return texts[candidate]
    return next(iter(texts.values()), "")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def when(starts_at: datetime, ends_at: datetime, tz: str, lang: str) -> str:
    """ "8 December 2026, 10:00–12:00 (Kazakhstan Time, GMT+05:00)" in the reader's language, in the
    lab's zone (the name of the zone as it is on that day, so never a summer time Almaty no longer has)."""
    local = zone(tz)
    day = format_datetime(starts_at, "d MMMM y, HH:mm", tzinfo=local, locale=lang)
    end = format_time(ends_at, "HH:mm", tzinfo=local, locale=lang)
    name = get_timezone_name(starts_at.astimezone(local), "long", locale=lang)
    offset = format_datetime(starts_at, "ZZZZ", tzinfo=local, locale=lang)
    return f"{day}–{end} ({name}, {offset})"


def day(starts_at: datetime, tz: str, lang: str) -> str:
    """ "8 December 2026" in the reader's language, in the lab's zone."""
    return format_date(starts_at.astimezone(zone(tz)), "d MMMM y", locale=lang)


def hours(starts_at: datetime, ends_at: datetime, tz: str, lang: str) -> str:
    """ "10:00–12:00 (Kazakhstan Time, GMT+05:00)": the time of day of a session, in the lab's zone."""
    local = zone(tz)
    start = format_time(starts_at, "HH:mm", tzinfo=local, locale=lang)
    end = format_time(ends_at, "HH:mm", tzinfo=local, locale=lang)
    name = get_timezone_name(starts_at.astimezone(local), "long", locale=lang)
    offset = format_datetime(starts_at, "ZZZZ", tzinfo=local, locale=lang)
    return f"{start}–{end} ({name}, {offset})"


def repeats(freq: str, interval: int, weekdays: Sequence[int], lang: str) -> str:
    """ "every week (Tuesday, Thursday)" in the reader's language; ``weekdays`` are ISO (1 = Monday)."""
    gettext, ngettext = translations(lang).gettext, translations(lang).ngettext
    if freq == "daily":
        if interval == 1:
            return gettext("every day")
        return ngettext("every %(num)d day", "every %(num)d days", interval) % {"num": interval}
    names = get_day_names("wide", locale=lang)
    days = ", ".join(names[day - 1] for day in sorted(weekdays))
    if interval == 1:
        return gettext("every week (%(days)s)") % {"days": days}
    return ngettext("every %(num)d week (%(days)s)", "every %(num)d weeks (%(days)s)", interval) % {
        "num": interval,
        "days": days,
    }


def render(kind: str, lang: str, context: Mapping[str, Any]) -> Rendered:
    """The subject and the two bodies of one notice; ``context`` holds what the templates show."""
    if lang not in LANGUAGES:
        raise ValueError(f"no catalog for {lang!r}")
    env = _environment(lang)
    gettext = translations(lang).gettext
    values = {**context, "kind": kind, "lang": lang, "status_text": gettext(STATUSES[context["status"]])}
    subject = gettext(SUBJECTS[kind]) % {
        "title": context["title"],
        "date": context["date"],
        "organization": context["organization"],
    }
    return Rendered(
        subject=subject,
        text=env.get_template("booking.txt").render(values, subject=subject),
        html=env.get_template("booking.html").render(values, subject=subject),
    )


def render_notice(template: str, kind: str, lang: str, context: Mapping[str, Any]) -> Rendered:
    """A notice written by ``template`` (.txt and .html); its subject takes its values from ``context``."""
    if lang not in LANGUAGES:
        raise ValueError(f"no catalog for {lang!r}")
    env = _environment(lang)
    subject = translations(lang).gettext(SUBJECTS[kind]) % context
    values = {**context, "kind": kind, "lang": lang}
    return Rendered(
        subject=subject,
        text=env.get_template(f"{template}.txt").render(values, subject=subject),
        html=env.get_template(f"{template}.html").render(values, subject=subject),
    )


def moment(at: datetime, tz: str, lang: str) -> str:
    """ "8 December 2026, 10:00 (GMT+05:00)" in the reader's language, in zone ``tz``."""
    local = zone(tz)
    offset = format_datetime(at, "ZZZZ", tzinfo=local, locale=lang)
    return f"{format_datetime(at, 'd MMMM y, HH:mm', tzinfo=local, locale=lang)} ({offset})"


def render_link(kind: str, lang: str, context: Mapping[str, Any]) -> Rendered:
    """An invitation or a password reset: ``context`` holds the person's name, the link and its expiry."""
    env = _environment(lang)
    subject = translations(lang).gettext(SUBJECTS[kind])
    values = {**context, "kind": kind, "lang": lang}
    return Rendered(
        subject=subject,
        text=env.get_template("link.txt").render(values, subject=subject),
        html=env.get_template("link.html").render(values, subject=subject),
    )


def render_digest(lang: str, context: Mapping[str, Any]) -> Rendered:
    """A lab manager's list of tomorrow's visits; ``context["visits"]`` holds one mapping per group."""
    env = _environment(lang)
    gettext = translations(lang).gettext
    values = {
        **context,
        "lang": lang,
        "statuses": {code: gettext(text) for code, text in STATUSES.items()},
    }
    subject = gettext(SUBJECTS["lab_digest"]) % {"lab": context["lab"], "date": context["date"]}
    return Rendered(
        subject=subject,
        text=env.get_template("digest.txt").render(values, subject=subject),
        html=env.get_template("digest.html").render(values, subject=subject),
    )
