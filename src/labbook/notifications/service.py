"""Who is told what about a booking, writing the messages, and delivering them.

A booking change arrives as a ``booking_changed`` job that the change's own transaction enqueued
(migrations/0101). Handling it writes one message per recipient into ``mail_messages`` and enqueues
a ``send_mail`` job for each, in one transaction: a job handled twice writes nothing twice
(``dedupe_key``). Delivering holds the message row locked until its outcome is written, so a second
worker skips it, and a message the server accepted is marked sent before anything else happens.
A delivery the server could not take is retried with growing delays; after ``Retry.attempts`` it is
dead, and stays visible in the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from uuid import UUID

import aiosmtplib
import asyncpg
import httpx
import msgspec
from pgqueuer.errors import RetryRequested

from labbook import db
from labbook.audit import service as audit
from labbook.core.principal import Principal
from labbook.errors import NotFound, ValidationFailed
from labbook.feeds import service as feeds
from labbook.notifications import itip, mail, messages, outbox, repository, smtp, webhooks
from labbook.notifications.outbox import DELIVER_WEBHOOK, sender
from labbook.notifications.repository import (
    BookingNotice,
    Delivery,
    DueDigest,
    Endpoint,
    Message,
    MessageText,
    Recipient,
    Visit,
)
from labbook.notifications.schemas import MessageChoices, MessageChoicesUpdate
from labbook.settings import Settings
from labbook.timezones import DEFAULT_TIMEZONE, zone

log = logging.getLogger(__name__)

BOOKING_CHANGED = "booking_changed"
DIRECTOR = "director"
MANAGER = "manager"
# Messages to the visiting organization carry the event from its feed: added or updated, or removed.
_INVITES = {
    "booking_received": itip.REQUEST,
    "booking_confirmed": itip.REQUEST,
    "booking_promoted": itip.REQUEST,
    "booking_moved": itip.REQUEST,
    "booking_updated": itip.REQUEST,
    "booking_declined": itip.CANCEL,
    "booking_cancelled": itip.CANCEL,
}


class BookingChange(msgspec.Struct, kw_only=True):
    """A ``booking_changed`` job's payload: the booking and the status the change left it in."""

    booking_id: UUID
    status: str
    previous_status: str | None
    sequence: int


@dataclass(frozen=True, slots=True)
class Retry:
    """How delivery is retried: ``first`` after the first failure, doubling up to ``longest``."""

    first: timedelta = timedelta(seconds=15)
    longest: timedelta = timedelta(minutes=15)
    attempts: int = 12

    def delay(self, attempts: int) -> timedelta:
        return min(self.first * 2 ** max(attempts - 1, 0), self.longest)


_decode_change = msgspec.json.Decoder(BookingChange).decode


def decode_change(payload: bytes | None) -> BookingChange:
    return _decode_change(payload or b"")


def kinds_for(change: BookingChange, *, cancelled_by_visitor: bool) -> list[tuple[str, str]]:
    """(kind, audience) of every notice a change calls for."""
    previous, status = change.previous_status, change.status
    if status == "pending" and previous is None:
        return [("booking_received", DIRECTOR), ("booking_requested", MANAGER)]
    if status == "confirmed" and previous is None:
        return [("booking_confirmed", DIRECTOR)]
    if previous == "waitlisted" and status in ("pending", "confirmed"):
        promoted = [("booking_promoted", DIRECTOR)]
        return [*promoted, ("booking_requested", MANAGER)] if status == "pending" else promoted
    if status == "confirmed":
        return [("booking_confirmed", DIRECTOR)]
    if status == "declined":
        return [("booking_declined", DIRECTOR)]
    if status == "cancelled" and previous in ("pending", "confirmed"):
        return [("booking_withdrawn", MANAGER)] if cancelled_by_visitor else [("booking_cancelled", DIRECTOR)]
    return []


def contacts_of(booking: BookingNotice) -> list[Recipient]:
    if not booking.contact_email:
        return []
    language = booking.contact_language or booking.language
    return [Recipient(email=booking.contact_email, full_name=booking.contact_name, language=language)]


async def write_booking_notices(pool: asyncpg.Pool, settings: Settings, change: BookingChange) -> int:
    """Write and enqueue the messages one booking change calls for; returns how many were new.

    A change that a later one already overtook (a booking confirmed before its "received" notice
    was written) is left to the later change's notice, which tells what is true now.
    """
    async with outbox.writing(pool) as conn:
        booking = await repository.get_booking_notice(conn, change.booking_id)
        if booking is None:
            return 0
        # Webhooks hear of every change, overtaken or not: programs keep their own state.
        await _write_webhooks(conn, booking, change)
        if booking.sequence != change.sequence:
            return 0
        canceller = None
        if change.status == "cancelled":
            canceller = await repository.get_canceller_organization(conn, booking.id)
        written = 0
        for kind, audience in kinds_for(change, cancelled_by_visitor=canceller == booking.organization_id):
            if kind == "booking_confirmed" and booking.from_visit_request and change.previous_status is None:
                continue  # the visit request's own notice tells it, with the same invitation
            if audience == DIRECTOR:
                recipients = contacts_of(booking)
            else:
                recipients = await repository.list_lab_managers(conn, booking.lab_id)
            for recipient in recipients:
                written += await write_notice(conn, settings, booking, kind, audience, recipient)
        return written


async def write_notice(
    conn: asyncpg.Connection,
    settings: Settings,
    booking: BookingNotice,
    kind: str,
    audience: str,
    recipient: Recipient,
    *,
    occasion: str | None = None,
) -> int:
    """Write one notice about ``booking``; ``occasion`` tells this notice from others of its kind
    (by default the booking's sequence: one notice per change)."""
    lang = recipient.language
    base = settings.base_url
    link = f"{base}/{lang}/bookings/{booking.id}" if audience == DIRECTOR else f"{base}/{lang}/manage/"
    unsubscribe = outbox.unsubscribe(settings, kind, lang)
    contact = " · ".join(p for p in (booking.contact_name, booking.contact_email, booking.contact_phone) if p)
    rendered = messages.render(
        kind,
        lang,
        {
            "audience": audience,
            "title": messages.pick(booking.title, lang),
            "lab": messages.pick(booking.lab_name, lang),
            "date": messages.day(booking.starts_at, booking.lab_timezone, lang),
            "when": messages.when(booking.starts_at, booking.ends_at, booking.lab_timezone, lang),
            "location": outbox.place(booking, lang),
            "organization": messages.pick(booking.organization_name, lang),
            "headcount": booking.headcount,
            "status": booking.status,
            "status_message": booking.status_message if kind == "booking_declined" else None,
            "contact": contact,
            "notes": booking.notes,
            "link": link,
            "account_link": f"{base}/{lang}/account",
            "unsubscribe_link": unsubscribe.one_click,
        },
    )
    method = _INVITES.get(kind)
    event = await feeds.booking_event(conn, booking.id, settings, lang) if method is not None else None
    return await outbox.post(
        conn,
        settings,
        kind=kind,
        recipient=recipient,
        rendered=rendered,
        dedupe_key=f"{kind}:{booking.id}:{occasion or booking.sequence}:{recipient.email.lower()}",
        booking_id=booking.id,
        events=[event] if event is not None else (),
        method=method,
        unsubscribe=unsubscribe,
    )


# ---- webhooks -------------------------------------------------------------------------------------

WEBHOOK_TIMEOUT_SECONDS = 10


async def _write_webhooks(conn: asyncpg.Connection, booking: BookingNotice, change: BookingChange) -> None:
    event_type = webhooks.event_for(change.status, change.previous_status)
    if event_type is None:
        return
    data: dict[str, object] = {
        "booking_id": booking.id,
        "status": change.status,
        "previous_status": change.previous_status,
        "sequence": change.sequence,
        "lab": booking.lab_slug,
        "title": booking.title,
        "starts_at": booking.starts_at,
        "ends_at": booking.ends_at,
        "headcount": booking.headcount,
        "organization_id": booking.organization_id,
    }
    await outbox.announce(conn, event_type, data, dedupe_key=f"{booking.id}:{change.sequence}:{event_type}")


async def register_endpoint(
    pool: asyncpg.Pool, me: Principal, *, url: str, events: list[str], description: str | None
) -> tuple[Endpoint, str]:
    """A new endpoint and its signing secret (shown this once)."""
    if not webhooks.acceptable_url(url):
        raise ValidationFailed.field("url", "an https:// address (http:// only to this machine)")
    unknown = sorted(set(events) - set(webhooks.EVENTS))
    if unknown or not events:
        raise ValidationFailed.field("events", f"choose from {', '.join(webhooks.EVENTS)}")
    secret = webhooks.new_secret()
    async with db.transaction(pool) as conn:
        endpoint = await repository.insert_endpoint(
            conn,
            url=url,
            secret=secret,
            events=sorted(set(events)),
            description=description,
            created_by=me.person_id,
        )
        await audit.record(conn, me, "webhook.create", "webhook_endpoint", endpoint.id, after=endpoint)
    return endpoint, secret


async def list_endpoints(pool: asyncpg.Pool) -> list[Endpoint]:
    async with pool.acquire() as conn:
        return await repository.list_endpoints(conn)


async def list_deliveries(
    pool: asyncpg.Pool, endpoint_id: UUID, *, limit: int = 50, offset: int = 0
) -> list[Delivery]:
    """The delivery log of one endpoint, newest first; failures stay in it with their last error."""
    async with pool.acquire() as conn:
        if await repository.get_endpoint(conn, endpoint_id) is None:
            raise NotFound("no such webhook endpoint")
        return await repository.list_deliveries(conn, endpoint_id, limit=limit, offset=offset)


async def replay_delivery(pool: asyncpg.Pool, me: Principal, delivery_id: UUID) -> Delivery:
    """Send a delivery again, with its own webhook-id (receivers that saw it drop the repeat)."""
    async with db.transaction(pool) as conn:
        delivery = await repository.replay_delivery(conn, delivery_id)
        if delivery is None:
            raise NotFound("no such webhook delivery")
        await repository.enqueue_job(conn, DELIVER_WEBHOOK, str(delivery.id).encode())
        await audit.record(conn, me, "webhook.replay", "webhook_delivery", delivery.id, after=delivery)
    return delivery


async def deliver_webhook(pool: asyncpg.Pool, delivery_id: UUID, *, retry: Retry) -> str:
    """POST one delivery to its endpoint; 2xx is delivered, anything else is retried, then dead."""
    failed: Delivery | None = None
    async with db.transaction(pool) as conn:
        delivery = await repository.claim_delivery(conn, delivery_id)
        if delivery is None:
            return "busy"
        if delivery.status != "pending":
            return delivery.status
        body = delivery.body.encode()
        headers = webhooks.headers(delivery.secret, delivery.webhook_id, datetime.now(UTC), body)
        status_code: int | None = None
        try:
            async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS) as http:
                response = await http.post(delivery.url, content=body, headers=headers)
            status_code = response.status_code
            response.raise_for_status()
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            failed = await repository.mark_delivery_failed(
                conn, delivery.id, status_code, error[:1000], max_attempts=retry.attempts
            )
        else:
            await repository.mark_delivered(conn, delivery.id, status_code)
            return "delivered"
    assert failed is not None
    if failed.status == "dead":
        return "dead"
    raise RetryRequested(delay=retry.delay(failed.attempts), reason=failed.last_error)


# ---- scheduled: reminders and the daily digest --------------------------------------------------

REMINDER_BATCH = 200
# When lab managers get the list of tomorrow's visits, in each lab's own time zone.
DIGEST_TIME = time(17, 0)


async def send_due_reminders(pool: asyncpg.Pool, settings: Settings) -> int:
    """Remind visitors whose lab's reminder time (``labs.reminder_hours`` before the start) has come.

    Runs every minute on every worker's schedule; the dedupe key (booking, start time, recipient)
    makes each reminder once-only, and a slot that moves gets a reminder for its new time.
    """
    async with pool.acquire() as conn:
        due = await repository.list_due_reminders(conn, limit=REMINDER_BATCH)
    written = 0
    for item in due:
        async with db.transaction(pool) as conn:
            booking = await repository.get_booking_notice(conn, item.id)
            if booking is None or booking.status != "confirmed":
                continue
            occasion = str(int(booking.starts_at.timestamp()))
            for recipient in contacts_of(booking):
                written += await write_notice(
                    conn, settings, booking, "booking_reminder", DIRECTOR, recipient, occasion=occasion
                )
    return written


async def send_due_digests(pool: asyncpg.Pool, settings: Settings, *, at: time = DIGEST_TIME) -> int:
    """Tell each lab's managers about tomorrow's visits, once a day after ``at`` in the lab's zone."""
    async with pool.acquire() as conn:
        labs = await repository.list_due_digests(conn, at=at)
    written = 0
    for lab in labs:
        async with db.transaction(pool) as conn:
            visits = await repository.list_visits(conn, lab.id, lab.starts, lab.ends)
            if not visits:
                continue
            for manager in await repository.list_lab_managers(conn, lab.id):
                written += await _write_digest(conn, settings, lab, visits, manager)
    return written


async def _write_digest(
    conn: asyncpg.Connection, settings: Settings, lab: DueDigest, visits: list[Visit], manager: Recipient
) -> int:
    lang = manager.language
    local = zone(lab.timezone)
    unsubscribe = outbox.unsubscribe(settings, "lab_digest", lang)
    rendered = messages.render_digest(
        lang,
        {
            "lab": messages.pick(lab.name, lang),
            "date": messages.day(lab.starts, lab.timezone, lang),
            "people": sum(v.headcount for v in visits),
            "visits": [
                {
                    "time": f"{v.starts_at.astimezone(local):%H:%M}–{v.ends_at.astimezone(local):%H:%M}",
                    "title": messages.pick(v.title, lang),
                    "organization": messages.pick(v.organization_name, lang),
                    "headcount": v.headcount,
                    "status": v.status,
                    "contact": " · ".join(p for p in (v.contact_name, v.contact_email, v.contact_phone) if p),
                }
                for v in visits
            ],
            "link": f"{settings.base_url}/{lang}/manage/",
            "unsubscribe_link": unsubscribe.one_click,
        },
    )
    return await outbox.post(
        conn,
        settings,
        kind="lab_digest",
        recipient=manager,
        rendered=rendered,
        dedupe_key=f"lab_digest:{lab.id}:{lab.today.isoformat()}:{manager.email.lower()}",
        unsubscribe=unsubscribe,
    )


async def deliver(pool: asyncpg.Pool, settings: Settings, message_id: UUID, *, retry: Retry) -> str:
    """Hand one message to the SMTP server, or keep it in the outbox when there is none.

    Returns the message's status afterwards (``busy`` when another worker is delivering it);
    raises ``RetryRequested`` when the server could not take it and attempts remain.
    """
    failed: Message | None = None
    async with db.transaction(pool) as conn:
        message = await repository.claim_message(conn, message_id)
        if message is None:
            return "busy"
        if message.status != "queued":
            return message.status
        if settings.smtp_url is None:
            # Nothing left the machine: if the server loses this commit, the job keeps it again.
            await repository.commit_without_waiting(conn)
            await repository.keep_in_outbox(conn, message.id)
            return "outbox"
        try:
            await smtp.send(
                smtp.parse_url(settings.smtp_url),
                sender=sender(settings),
                recipient=message.recipient,
                raw=message.raw,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            # a refusal that a retry cannot change is dead at once
            limit = message.attempts + 1 if smtp.is_permanent(exc) else retry.attempts
            error = f"{type(exc).__name__}: {exc}"
            failed = await repository.mark_failed(conn, message.id, error, max_attempts=limit)
            log.warning("mail %s to %s not delivered: %s", message.message_id, message.recipient, exc)
        else:
            await repository.mark_sent(conn, message.id)
            return "sent"
    assert failed is not None
    if failed.status == "dead":
        log.error(
            "mail %s to %s is dead after %d attempts", failed.message_id, failed.recipient, failed.attempts
        )
        return "dead"
    raise RetryRequested(delay=retry.delay(failed.attempts), reason=failed.last_error)


# ---- reading the outbox -------------------------------------------------------------------------

STATUSES: Sequence[str] = ("queued", "outbox", "sent", "dead")


async def list_messages(
    pool: asyncpg.Pool, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Message], int]:
    """The newest messages first, with how many there are in all."""
    async with pool.acquire() as conn:
        return await list_messages_in(conn, status=status, limit=limit, offset=offset)


async def list_messages_in(
    conn: asyncpg.Connection, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Message], int]:
    return await repository.list_messages(conn, status=status, limit=limit, offset=offset)


async def get_message(pool: asyncpg.Pool, message_id: UUID) -> MessageText:
    async with pool.acquire() as conn:
        return await get_message_in(conn, message_id)


async def get_message_in(conn: asyncpg.Connection, message_id: UUID) -> MessageText:
    message = await repository.get_message(conn, message_id)
    if message is None:
        raise NotFound("no such message")
    return message


async def read_message(pool: asyncpg.Pool, message_id: UUID) -> tuple[MessageText, mail.Readable]:
    """One message with what its reader would see."""
    message = await get_message(pool, message_id)
    return message, mail.read(message.raw)


# ---- invitations and password resets --------------------------------------------------------------

LINK_ISSUED = "link_issued"


class LinkIssued(msgspec.Struct, kw_only=True):
    """A ``link_issued`` job's payload (labbook.accounts.signin): a one-time link and whom it is for."""

    link_id: UUID
    purpose: str
    url: str
    email: str
    full_name: str
    language: str
    expires_at: datetime


decode_link = msgspec.json.Decoder(LinkIssued).decode


async def write_link_mail(pool: asyncpg.Pool, settings: Settings, link: LinkIssued) -> int:
    """The mail that carries an invitation or a reset link, in the person's language; always sent."""
    lang = link.language
    rendered = messages.render_link(
        link.purpose,
        lang,
        {
            "full_name": link.full_name,
            "email": link.email,
            "link": link.url,
            "until": messages.moment(link.expires_at, DEFAULT_TIMEZONE, lang),
        },
    )
    async with db.transaction(pool) as conn:
        return await outbox.post(
            conn,
            settings,
            kind=link.purpose,
            recipient=Recipient(email=link.email, full_name=link.full_name, language=lang),
            rendered=rendered,
            dedupe_key=f"{link.purpose}:{link.link_id}",
            unsubscribe=outbox.NO_UNSUBSCRIBE,
        )


# ---- which optional messages a person gets ------------------------------------------------------


async def _my_email(conn: asyncpg.Connection, me: Principal) -> str:
    email = await repository.get_person_email(conn, me.person_id)
    assert email is not None, "a signed-in person exists"
    return email


async def get_message_choices(pool: asyncpg.Pool, me: Principal) -> MessageChoices:
    """Each optional kind of message, and whether my address gets it."""
    async with pool.acquire() as conn:
        off = await repository.list_opt_outs(conn, await _my_email(conn, me))
    return _choices(off)


def _choices(off: set[str]) -> MessageChoices:
    return MessageChoices(**{kind: kind not in off for kind in messages.OPTIONAL})


async def choose_messages(pool: asyncpg.Pool, me: Principal, data: MessageChoicesUpdate) -> MessageChoices:
    """Turn optional kinds on or off for my address; kinds not named stay as they are."""
    wanted = {kind: on for kind, on in msgspec.structs.asdict(data).items() if on is not msgspec.UNSET}
    async with db.transaction(pool) as conn:
        email = await _my_email(conn, me)
        before = await repository.list_opt_outs(conn, email)
        for kind, on in wanted.items():
            if on:
                await repository.remove_opt_out(conn, email, kind)
            else:
                await repository.add_opt_out(conn, email, kind)
        after = await repository.list_opt_outs(conn, email)
        if after != before:
            await audit.record(
                conn,
                me,
                "person.mail-choices",
                "person",
                me.person_id,
                before={"off": sorted(before)},
                after={"off": sorted(after)},
            )
    return _choices(after)


async def unsubscribe_target(pool: asyncpg.Pool, secret: str) -> repository.UnsubscribeTarget:
    """What an unsubscribe link turns off; an unknown link is a 404."""
    async with pool.acquire() as conn:
        target = await repository.get_unsubscribe_target(conn, outbox.unsubscribe_hash(secret))
    if target is None:
        raise NotFound("no such unsubscribe link")
    return target


async def unsubscribe(pool: asyncpg.Pool, secret: str) -> repository.UnsubscribeTarget:
    """Turn off the kind of message an unsubscribe link came with, for its recipient (no sign-in).

    Using the link again changes nothing; the account page turns the kind back on.
    """
    async with db.transaction(pool) as conn:
        target = await repository.get_unsubscribe_target(conn, outbox.unsubscribe_hash(secret))
        if target is None:
            raise NotFound("no such unsubscribe link")
        await repository.add_opt_out(conn, target.recipient, target.kind)
    return msgspec.structs.replace(target, is_off=True)
