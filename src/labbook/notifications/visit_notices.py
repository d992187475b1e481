"""Who is told what about a visit request, and the webhook events it makes.

A request that is made or changes status arrives as a ``visit_request_changed`` job that the
change's own transaction enqueued (migrations/0117). The lab's managers hear of a new request; the
director who asked (and the request's contact, when that is someone else) hears that the lab
accepted it, declined it (with the lab's message) or proposed another time, and that the visit is
booked when they accept the lab's time; the managers hear how the organization answered their time,
and of a request it withdrew. An accepted request carries the invitation of the booking
it made, which is why that booking's own "confirmed" notice is not sent as well.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from labbook.feeds import service as feeds
from labbook.notifications import itip, messages, outbox, repository
from labbook.notifications.repository import BookingNotice, Recipient, VisitNotice
from labbook.notifications.service import DIRECTOR, MANAGER
from labbook.settings import Settings

VISIT_REQUEST_CHANGED = "visit_request_changed"
# The lab's answers, as webhook receivers read them in ``data.answer``.
ANSWERS = ("accepted", "declined", "proposed")


class VisitRequestChange(msgspec.Struct, kw_only=True):
    """A ``visit_request_changed`` job's payload: the request, the status it reached, and when."""

    visit_request_id: UUID
    status: str
    previous_status: str | None
    changed_at: datetime


_decode = msgspec.json.Decoder(VisitRequestChange).decode


def decode_change(payload: bytes | None) -> VisitRequestChange:
    return _decode(payload or b"")


def kinds_for(change: VisitRequestChange) -> list[tuple[str, str]]:
    """(kind, audience) of every notice a change calls for."""
    previous, status = change.previous_status, change.status
    if previous is None and status == "pending":
        return [("visit_requested", MANAGER)]
    if status == "accepted" and previous == "proposed":
        return [("visit_booked", DIRECTOR), ("visit_proposal_accepted", MANAGER)]
    if status == "accepted":
        return [("visit_accepted", DIRECTOR)]
    if status == "declined":
        return [("visit_declined", DIRECTOR)]
    if status == "proposed":
        return [("visit_proposed", DIRECTOR)]
    if status == "pending" and previous == "proposed":
        return [("visit_proposal_declined", MANAGER)]
    if status == "cancelled":
        return [("visit_withdrawn", MANAGER)]
    return []


def event_for(change: VisitRequestChange) -> str | None:
    if change.previous_status is None:
        return "visit_request.created"
    return "visit_request.answered" if change.status in ANSWERS else None


def askers(visit: VisitNotice) -> list[Recipient]:
    """The director who asked, and the request's contact when that is another address."""
    found: list[Recipient] = []
    if visit.requester_email:
        found.append(
            Recipient(
                email=visit.requester_email,
                full_name=visit.requester_name or visit.contact_name,
                language=visit.requester_language or visit.language,
            )
        )
    if visit.contact_email and all(r.email.lower() != visit.contact_email.lower() for r in found):
        found.append(
            Recipient(
                email=visit.contact_email,
                full_name=visit.contact_name,
                language=visit.contact_language or visit.language,
            )
        )
    return found


async def write_visit_notices(pool: asyncpg.Pool, settings: Settings, change: VisitRequestChange) -> int:
    """Write and enqueue the messages one visit-request change calls for; returns how many were new.

    Webhooks hear of every change; a message whose change a later one overtook is left to the later
    change's message, which tells what is true now.
    """
    async with outbox.writing(pool) as conn:
        visit = await repository.get_visit_notice(conn, change.visit_request_id)
        if visit is None:
            return 0
        await _announce(conn, visit, change)
        if visit.updated_at != change.changed_at:
            return 0
        booking = None
        if visit.booking_id is not None:
            booking = await repository.get_booking_notice(conn, visit.booking_id)
        written = 0
        for kind, audience in kinds_for(change):
            if audience == DIRECTOR:
                recipients = askers(visit)
            else:
                recipients = await repository.list_lab_managers(conn, visit.lab_id)
            for recipient in recipients:
                written += await _write(conn, settings, visit, booking, kind, audience, recipient, change)
        return written


async def _announce(conn: asyncpg.Connection, visit: VisitNotice, change: VisitRequestChange) -> None:
    event_type = event_for(change)
    if event_type is None:
        return
    data: dict[str, object] = {
        "visit_request_id": visit.id,
        "status": change.status,
        "previous_status": change.previous_status,
        "lab": visit.lab_slug,
        "organization_id": visit.organization_id,
        "kind": visit.kind,
        "headcount": visit.headcount,
        "windows": visit.windows,
    }
    if event_type == "visit_request.answered":
        data["answer"] = change.status
        data["message"] = visit.proposal_message if change.status == "proposed" else visit.response_message
        if change.status == "proposed":
            data["proposal"] = {"starts_at": visit.proposal_starts_at, "ends_at": visit.proposal_ends_at}
        data["booking_id"] = visit.booking_id
    await outbox.announce(
        conn, event_type, data, dedupe_key=f"{visit.id}:{change.changed_at.isoformat()}:{event_type}"
    )


async def _write(
    conn: asyncpg.Connection,
    settings: Settings,
    visit: VisitNotice,
    booking: BookingNotice | None,
    kind: str,
    audience: str,
    recipient: Recipient,
    change: VisitRequestChange,
) -> int:
    lang = recipient.language
    base = settings.base_url
    tz = visit.lab_timezone
    windows = [
        (datetime.fromisoformat(w["starts_at"]), datetime.fromisoformat(w["ends_at"])) for w in visit.windows
    ]
    booked = booking if kind in ("visit_accepted", "visit_booked", "visit_proposal_accepted") else None
    proposed = kind == "visit_proposed" and visit.proposal_starts_at is not None
    if booked is not None:
        first = booked.starts_at
    elif proposed and visit.proposal_starts_at is not None:
        first = visit.proposal_starts_at
    else:
        first = windows[0][0]
    if audience == MANAGER:
        link = f"{base}/{lang}/manage/visits/{visit.id}"
    elif booked is not None:
        link = f"{base}/{lang}/bookings/{booked.id}"
    else:
        link = f"{base}/{lang}/visit-requests#request-{visit.id}"
    if audience == MANAGER:
        # what the organization said: its answer to the lab's time, or why it withdrew the request
        message = visit.response_message if kind == "visit_withdrawn" else visit.proposal_answer
    else:
        message = visit.proposal_message if proposed else visit.response_message
    contact = " · ".join(p for p in (visit.contact_name, visit.contact_email, visit.contact_phone) if p)
    rendered = messages.render_notice(
        "visit",
        kind,
        lang,
        {
            "audience": audience,
            "lab": messages.pick(visit.lab_name, lang),
            "organization": messages.pick(visit.organization_name, lang),
            "date": messages.day(first, tz, lang),
            "title": messages.pick(booked.title, lang) if booked else visit.purpose,
            "when": messages.when(booked.starts_at, booked.ends_at, tz, lang) if booked else None,
            "windows": [messages.when(starts, ends, tz, lang) for starts, ends in windows],
            "proposal": (
                messages.when(visit.proposal_starts_at, visit.proposal_ends_at, tz, lang)
                if proposed and visit.proposal_starts_at and visit.proposal_ends_at
                else None
            ),
            "message": message,
            "location": outbox.place(visit, lang),
            "headcount": visit.headcount,
            "purpose": visit.purpose,
            "contact": contact,
            "link": link,
            "account_link": f"{base}/{lang}/account",
        },
    )
    event = None
    if booked is not None and audience == DIRECTOR:
        event = await feeds.booking_event(conn, booked.id, settings, lang)
    return await outbox.post(
        conn,
        settings,
        kind=kind,
        recipient=recipient,
        rendered=rendered,
        dedupe_key=f"{kind}:{visit.id}:{change.changed_at.isoformat()}:{recipient.email.lower()}",
        booking_id=booked.id if booked else None,
        events=[event] if event is not None else (),
        method=itip.REQUEST,
    )
