"""Who is told what when a slot changes: its visitors, its instructor, and webhook endpoints.

A slot whose time, title or instructor changes, that is cancelled, or a one-off slot published with
an instructor, arrives as a ``slot_changed`` job that the change's own transaction enqueued
(migrations/0104, 0118). Visitors hear of a new time (``booking_moved``) or title
(``booking_updated``) with an invitation that updates their event; the cancelled slot's bookings
tell them themselves (``booking_cancelled``). The instructor of a one-off slot gets an invitation for
the session as their personal feed shows it (same UID and SEQUENCE), and ``METHOD:CANCEL`` when they
are taken off it or it is cancelled. A series' occurrences are left to the series: one invitation per
occurrence is not how an instructor should hear of a term of weekly sessions. A change to an
occurrence raises its series' sequence in the same transaction, which queues a ``series_changed``
job, and the series' instructor gets one invitation for the whole series (``series_notices``); the
occurrence's own ``slot_changed`` job still tells its visitors and webhook endpoints.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec

from labbook.feeds import service as feeds
from labbook.notifications import itip, messages, outbox, repository
from labbook.notifications.repository import Recipient, SessionNotice
from labbook.notifications.service import DIRECTOR, contacts_of, write_notice
from labbook.settings import Settings
from labbook.timezones import zone

SLOT_CHANGED = "slot_changed"
_SESSION_INVITES = {
    "session_assigned": itip.REQUEST,
    "session_changed": itip.REQUEST,
    "session_unassigned": itip.CANCEL,
    "session_cancelled": itip.CANCEL,
}


class SlotChange(msgspec.Struct, kw_only=True):
    """A ``slot_changed`` job's payload: the slot, its sequence then, and what changed.

    The defaults read a job queued before migration 0118, which only ever meant a new time.
    """

    slot_id: UUID
    sequence: int
    status: str = "active"
    previous_status: str | None = None
    published: bool = False
    moved: bool = True
    retitled: bool = False
    instructor_id: UUID | None = None
    previous_instructor_id: UUID | None = None


_decode = msgspec.json.Decoder(SlotChange).decode


def decode_change(payload: bytes | None) -> SlotChange:
    return _decode(payload or b"")


def visitor_kind(change: SlotChange) -> str | None:
    """What the slot's visitors are told: a new time outweighs a new title."""
    if change.status != "active" or change.published:
        return None
    if change.moved:
        return "booking_moved"
    return "booking_updated" if change.retitled else None


def instructor_notices(change: SlotChange) -> list[tuple[str, UUID]]:
    """(kind, person) of every notice the session's instructors are sent."""
    new, old = change.instructor_id, change.previous_instructor_id
    if change.status == "cancelled":
        return [("session_cancelled", new)] if new is not None else []
    notices: list[tuple[str, UUID]] = []
    if old is not None and old != new:
        notices.append(("session_unassigned", old))
    if new is not None:
        if change.published or old != new:
            notices.append(("session_assigned", new))
        elif change.moved or change.retitled:
            notices.append(("session_changed", new))
    return notices


async def write_slot_notices(pool: asyncpg.Pool, settings: Settings, change: SlotChange) -> int:
    """Write and enqueue the messages one slot change calls for; returns how many were new.

    Webhooks hear of every change. A message whose change a later one overtook is left to the later
    change's message, except a cancellation's: nothing comes after it for a session that is gone.
    """
    written = 0
    async with outbox.writing(pool) as conn:
        session = await repository.get_session_notice(conn, change.slot_id)
        if session is None:
            return 0
        await _announce(conn, session, change)
        if session.sequence != change.sequence and change.status != "cancelled":
            return 0
        kind = visitor_kind(change)
        if kind is not None:
            occasion = f"slot{change.sequence}"
            for booking_id in await repository.list_slot_bookings(conn, change.slot_id):
                booking = await repository.get_booking_notice(conn, booking_id)
                if booking is None:
                    continue
                for recipient in contacts_of(booking):
                    written += await write_notice(
                        conn, settings, booking, kind, DIRECTOR, recipient, occasion=occasion
                    )
        if session.series_id is None:
            for notice, person_id in instructor_notices(change):
                instructor = await repository.get_active_person(conn, person_id)
                if instructor is not None:
                    written += await _write(conn, settings, session, notice, instructor, change)
    return written


async def _announce(conn: asyncpg.Connection, session: SessionNotice, change: SlotChange) -> None:
    if change.published:
        return
    event_type = "slot.cancelled" if change.status == "cancelled" else "slot.changed"
    changes = [
        name
        for name, changed in (
            ("time", change.moved),
            ("title", change.retitled),
            ("instructor", change.instructor_id != change.previous_instructor_id),
        )
        if changed
    ]
    data: dict[str, object] = {
        "slot_id": session.id,
        "sequence": change.sequence,
        "status": change.status,
        "changes": changes if event_type == "slot.changed" else [],
        "lab": session.lab_slug,
        "kind": session.kind,
        "title": session.title,
        "starts_at": session.starts_at,
        "ends_at": session.ends_at,
        "instructor_id": change.instructor_id,
        "series_id": session.series_id,
    }
    await outbox.announce(conn, event_type, data, dedupe_key=f"{session.id}:{change.sequence}:{event_type}")


async def _write(
    conn: asyncpg.Connection,
    settings: Settings,
    session: SessionNotice,
    kind: str,
    instructor: Recipient,
    change: SlotChange,
) -> int:
    lang = instructor.language
    base = settings.base_url
    tz = session.lab_timezone
    local_day = session.starts_at.astimezone(zone(tz)).date().isoformat()
    rendered = messages.render_notice(
        "session",
        kind,
        lang,
        {
            "lab": messages.pick(session.lab_name, lang),
            "title": messages.pick(session.title, lang),
            "date": messages.day(session.starts_at, tz, lang),
            "when": messages.when(session.starts_at, session.ends_at, tz, lang),
            "location": outbox.place(session, lang),
            "headcount": session.seats_taken,
            "link": f"{base}/{lang}/manage/attendance?day={local_day}",
            "account_link": f"{base}/{lang}/account",
        },
    )
    event = await feeds.session_event(conn, session.id, settings, lang)
    return await outbox.post(
        conn,
        settings,
        kind=kind,
        recipient=instructor,
        rendered=rendered,
        dedupe_key=f"{kind}:{session.id}:{change.sequence}:{instructor.email.lower()}",
        events=[event] if event is not None else (),
        method=_SESSION_INVITES[kind],
    )
