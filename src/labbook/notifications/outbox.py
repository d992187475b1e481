"""Writing one notice into the outbox, and one event for webhook endpoints, inside the caller's
transaction: the steps every kind of notice shares.

A message is composed whole (``mail.compose``) and kept once per ``dedupe_key`` with a ``send_mail``
job (without an SMTP server, in the outbox and with no job); a webhook event becomes one delivery
per subscribed endpoint, once per endpoint and ``dedupe_key``, with a ``deliver_webhook`` job.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg

from labbook import db
from labbook.feeds.events import lab_location, reading_order
from labbook.feeds.ics import EventSpec
from labbook.notifications import itip, mail, messages, repository
from labbook.notifications.messages import Rendered
from labbook.notifications.repository import AtLab, Recipient
from labbook.settings import Settings

SEND_MAIL = "send_mail"
DELIVER_WEBHOOK = "deliver_webhook"


@asynccontextmanager
async def writing(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A transaction that writes a job's notices and whose commit does not wait for the disk: the
    log is flushed in order, so a commit the server loses takes the job's own later "done" with it,
    and the job runs again (dedupe keys keep its messages single)."""
    async with db.transaction(pool) as conn:
        await repository.commit_without_waiting(conn)
        yield conn


def place(row: AtLab, lang: str) -> str:
    """Where the lab is, its name in the reader's language first."""
    lab = {"name": row.lab_name, "building": row.building, "room": row.room, "address": row.address}
    return lab_location(lab, reading_order(lang))


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Where a message's ``List-Unsubscribe`` points (none: invitations and resets carry none), and,
    for a message of an optional kind, its own one-click link and the SHA-256 the message row keeps."""

    target: str | None
    one_click: str | None = None
    secret_hash: bytes | None = None


def unsubscribe(settings: Settings, kind: str, lang: str) -> Unsubscribe:
    """A message of an optional kind gets a one-click link of its own (a 256-bit secret) that turns
    the kind off without signing in; any other points at the account page."""
    if kind not in messages.OPTIONAL:
        return Unsubscribe(target=f"{settings.base_url}/{lang}/account")
    secret = secrets.token_urlsafe(32)
    link = f"{settings.base_url}/{lang}/unsubscribe/{secret}"
    return Unsubscribe(target=link, one_click=link, secret_hash=unsubscribe_hash(secret))


def unsubscribe_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


NO_UNSUBSCRIBE = Unsubscribe(target=None)


def sender(settings: Settings) -> str:
    if settings.mail_from:
        return settings.mail_from
    host = settings.base_url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    return f"labbook@{host}"


async def post(
    conn: asyncpg.Connection,
    settings: Settings,
    *,
    kind: str,
    recipient: Recipient,
    rendered: Rendered,
    dedupe_key: str,
    booking_id: UUID | None = None,
    events: Sequence[EventSpec] = (),
    method: str | None = None,
    unsubscribe: Unsubscribe | None = None,
) -> int:
    """Compose one message to ``recipient`` in their language and keep it; 1 when it is new.

    With ``events`` (one event, or a series' master and overrides) and a ``method``, the message
    carries the iTIP invitation for ``recipient``.
    ``unsubscribe`` is what its ``List-Unsubscribe`` offers (by default: the account page).
    """
    lang = recipient.language
    if unsubscribe is None:
        unsubscribe = Unsubscribe(target=f"{settings.base_url}/{lang}/account")
    calendar = None
    if events and method is not None:
        calendar = itip.invitation(
            events, method=method, attendee_email=recipient.email, attendee_name=recipient.full_name
        )
    from_address = sender(settings)
    header_id = mail.message_id(uuid4(), from_address)
    raw = mail.compose(
        sender=from_address,
        recipient=recipient.email,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        language=lang,
        message_id=header_id,
        date=datetime.now(UTC),
        unsubscribe=unsubscribe.target,
        calendar=calendar,
        method=method if calendar is not None else None,
        one_click=unsubscribe.one_click is not None,
    )
    return await keep(
        conn,
        send=settings.smtp_url is not None,
        dedupe_key=dedupe_key,
        message_id=header_id,
        kind=kind,
        recipient=recipient.email,
        language=lang,
        subject=rendered.subject,
        raw=raw,
        booking_id=booking_id,
        unsubscribe_hash=unsubscribe.secret_hash,
    )


async def keep(
    conn: asyncpg.Connection,
    *,
    send: bool,
    dedupe_key: str,
    message_id: str,
    kind: str,
    recipient: str,
    language: str,
    subject: str,
    raw: bytes,
    booking_id: UUID | None,
    unsubscribe_hash: bytes | None = None,
) -> int:
    """Store a message and enqueue its delivery, once per ``dedupe_key``; 1 when it is new.

    Without ``send`` (no SMTP server is configured) the message stays in the outbox as it is written:
    no job would have anything to do for it. A message of a kind its recipient turned off is not
    written at all.
    """
    if kind in messages.OPTIONAL and await repository.is_opted_out(conn, recipient, kind):
        return 0
    row = await repository.insert_message(
        conn,
        status="queued" if send else "outbox",
        dedupe_key=dedupe_key,
        message_id=message_id,
        kind=kind,
        recipient=recipient,
        language=language,
        subject=subject,
        raw=raw,
        booking_id=booking_id,
        unsubscribe_hash=unsubscribe_hash,
    )
    if row is None:
        return 0
    if send:
        await repository.enqueue_job(conn, SEND_MAIL, str(row.id).encode())
    return 1


async def announce(
    conn: asyncpg.Connection, event_type: str, data: dict[str, object], *, dedupe_key: str
) -> None:
    """Queue ``event_type`` for every endpoint subscribed to it, once per endpoint and ``dedupe_key``."""
    payload: dict[str, object] = {"type": event_type, "timestamp": datetime.now(UTC), "data": data}
    for endpoint_id in await repository.list_subscribed_endpoints(conn, event_type):
        delivery = await repository.insert_delivery(
            conn,
            endpoint_id=endpoint_id,
            event_type=event_type,
            webhook_id=f"msg_{uuid4().hex}",
            dedupe_key=f"{endpoint_id}:{dedupe_key}",
            payload=payload,
        )
        if delivery is not None:
            await repository.enqueue_job(conn, DELIVER_WEBHOOK, str(delivery.id).encode())
