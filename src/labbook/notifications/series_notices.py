"""Who is told what when a series changes: its instructor, with one invitation for the whole series.

A series published with an instructor, a change of its instructor, and every change the slots service
makes to it or to one of its occurrences (each raises the series' sequence: a new time or title, an
occurrence moved, edited or cancelled, an earlier end) arrive as a ``series_changed`` job that the
change's own transaction enqueued (migrations/0121). The instructor gets ``series_assigned`` or
``series_changed`` with ``METHOD:REQUEST`` carrying the series as their personal feed shows it: the
master with its ``RRULE`` and ``EXDATE``s, and its overrides, under the feed's UID and SEQUENCE. An
instructor taken off the series gets ``series_unassigned``, and a cancelled series' instructor
``series_cancelled``, both ``METHOD:CANCEL`` of the series' UID.

A transaction that rewrites many occurrences may raise the sequence many times, and a job may run
after later changes committed: every job writes for the series as it is when the job runs, under a
key of the series' sequence then, so the instructor gets one invitation per resulting sequence
however many jobs and runs there are. The CANCEL to an instructor taken off the series is keyed by
the change that took them off, since a later change may not name them any more.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec

from labbook.feeds import service as feeds
from labbook.feeds.ics import EventSpec
from labbook.notifications import itip, messages, outbox, repository
from labbook.notifications.repository import Recipient, SeriesNotice
from labbook.settings import Settings
from labbook.timezones import zone

SERIES_CHANGED = "series_changed"
_SERIES_INVITES = {
    "series_assigned": itip.REQUEST,
    "series_changed": itip.REQUEST,
    "series_unassigned": itip.CANCEL,
    "series_cancelled": itip.CANCEL,
}


class SeriesChange(msgspec.Struct, kw_only=True):
    """A ``series_changed`` job's payload: the series, its sequence and instructor then, and before.

    ``published`` is a series new in the change's transaction: nobody had heard of it before.
    """

    series_id: UUID
    sequence: int
    status: str = "active"
    published: bool = False
    instructor_id: UUID | None = None
    previous_instructor_id: UUID | None = None


_decode = msgspec.json.Decoder(SeriesChange).decode


def decode_change(payload: bytes | None) -> SeriesChange:
    return _decode(payload or b"")


def instructor_notices(change: SeriesChange, series: SeriesNotice) -> list[tuple[str, UUID]]:
    """(kind, person) of every notice one change sends, given the series as it is now.

    The REQUEST goes to whoever runs the series now, with the series as it is now: a job whose
    change a later one overtook writes the same message as the later job, under the same key.
    Nothing is cancelled for anyone in the transaction that created the series (``published``):
    nobody had been sent it.
    """
    new, old = change.instructor_id, change.previous_instructor_id
    current = series.instructor_id
    notices: list[tuple[str, UUID]] = []
    if not change.published and old is not None and old != new and old != current:
        notices.append(("series_unassigned", old))
    if current is None:
        return notices
    if series.status == "cancelled":
        if not change.published:
            notices.append(("series_cancelled", current))
    else:
        assigned = change.published or old != new or new != current
        notices.append(("series_assigned" if assigned else "series_changed", current))
    return notices


async def write_series_notices(pool: asyncpg.Pool, settings: Settings, change: SeriesChange) -> int:
    """Write and enqueue the messages one series change calls for; returns how many were new."""
    written = 0
    async with outbox.writing(pool) as conn:
        series = await repository.get_series_notice(conn, change.series_id)
        if series is None:
            return 0
        for kind, person_id in instructor_notices(change, series):
            instructor = await repository.get_active_person(conn, person_id)
            if instructor is not None:
                written += await _write(conn, settings, series, kind, instructor, person_id, change)
    return written


def dedupe_key(kind: str, series: SeriesNotice, change: SeriesChange, email: str) -> str:
    """One invitation per instructor and sequence of the series, one cancellation per series."""
    if _SERIES_INVITES[kind] == itip.REQUEST:
        return f"series_request:{series.id}:{series.sequence}:{email.lower()}"
    if kind == "series_cancelled":
        return f"series_cancelled:{series.id}:{email.lower()}"
    return f"{kind}:{series.id}:{change.sequence}:{email.lower()}"


async def _write(
    conn: asyncpg.Connection,
    settings: Settings,
    series: SeriesNotice,
    kind: str,
    instructor: Recipient,
    person_id: UUID,
    change: SeriesChange,
) -> int:
    lang = instructor.language
    base = settings.base_url
    tz = series.lab_timezone
    dates = f"{messages.day(series.starts_at, tz, lang)} – {messages.day(series.ends_at, tz, lang)}"
    # the time of day the rule gives, whatever single occurrence was moved
    start = series.local_start.replace(tzinfo=zone(tz))
    rendered = messages.render_notice(
        "series",
        kind,
        lang,
        {
            "lab": messages.pick(series.lab_name, lang),
            "title": messages.pick(series.title, lang),
            "dates": dates,
            "repeats": messages.repeats(series.freq, series.interval, series.weekdays, lang),
            "hours": messages.hours(start, start + series.duration, tz, lang),
            "location": outbox.place(series, lang),
            "link": f"{base}/{lang}/series/{series.id}",
            "account_link": f"{base}/{lang}/account",
        },
    )
    method = _SERIES_INVITES[kind]
    events: list[EventSpec] = await feeds.series_events(conn, series.id, person_id, settings, lang)
    if method == itip.CANCEL:
        # the whole series goes: its master, whose UID the overrides share
        events = [e for e in events if e.recurrence_id is None]
    return await outbox.post(
        conn,
        settings,
        kind=kind,
        recipient=instructor,
        rendered=rendered,
        dedupe_key=dedupe_key(kind, series, change, instructor.email),
        events=events,
        method=method,
    )
