"""One e-mail message as RFC 5322 bytes: plain text, HTML and an optional iTIP invitation, no I/O.

The parts are alternatives of one ``multipart/alternative``: mail programs show the richest they
understand, and Gmail, Outlook and Apple Mail read the ``text/calendar; method=...`` part as an
invitation to add or update (or remove) the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.header import Header
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32, default
from email.utils import format_datetime, formataddr, parseaddr
from uuid import UUID


def message_id(uid: UUID, sender: str) -> str:
    """A Message-ID unique to this message, kept by every delivery attempt of it."""
    return f"<{uid}@{sender.rpartition('@')[2]}>"


def compose(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    language: str,
    message_id: str,
    date: datetime,
    unsubscribe: str | None,
    calendar: bytes | None = None,
    method: str | None = None,
    one_click: bool = False,
) -> bytes:
    """The message; ``unsubscribe`` is where its List-Unsubscribe points (none: a message everyone
    gets), and ``one_click`` says a POST to it turns the messages off at once (RFC 8058).

    Built with the classic ``email.mime`` classes: the modern ``EmailMessage`` parses every header it
    is given and took three times as long, the largest part of the worker's time per message. Every
    part is UTF-8 in base64 with CRLF line ends (its canonical form), which any mail server relays.
    The classic ``Header`` also folds a long non-ASCII subject without losing a space between words
    (the modern folder moves it out of the encoded-words, and RFC 2047 readers drop it).
    """
    message = MIMEMultipart("alternative")
    message["From"] = _address(sender)
    message["To"] = _address(recipient)
    message["Subject"] = Header(subject, "utf-8", header_name="Subject")  # type: ignore[assignment]
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe is not None:
        # One line however long (up to RFC 5322's 998): folded, readers see a space before the "<".
        message["List-Unsubscribe"] = _Folded(f"<{unsubscribe}>")  # type: ignore[assignment]
        if one_click:
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Content-Language"] = language
    message.attach(_part(text, "plain"))
    message.attach(_part(html, "html"))
    if calendar is not None and method is not None:
        invitation = _part(calendar.decode(), "calendar")
        invitation.set_param("method", method)
        message.attach(invitation)
    return message.as_bytes(policy=_SMTP)


_SMTP = compat32.clone(linesep="\r\n")


@dataclass(frozen=True, slots=True)
class _Folded:
    """A header value already encoded and folded: the policy writes it as it is."""

    value: str

    def encode(self, linesep: str, maxlinelen: int) -> str:
        return self.value


def _part(content: str, subtype: str) -> MIMEText:
    return MIMEText("\r\n".join(content.splitlines()) + "\r\n", subtype, "utf-8")


def _address(address: str) -> str:
    """``address`` for a header: a display name in other scripts is encoded, the address never is."""
    if address.isascii():
        return address
    name, mailbox = parseaddr(address)
    return formataddr((name, mailbox), charset="utf-8")


@dataclass(frozen=True, slots=True)
class Readable:
    """What a person reading the outbox sees of one message."""

    sender: str
    recipient: str
    subject: str
    date: str
    message_id: str
    text: str
    calendar_method: str | None
    calendar: str | None


def read(raw: bytes) -> Readable:
    """The headers, the plain text and the invitation of a message that ``compose`` wrote."""
    message = message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    text = message.get_body(("plain",))
    calendar = message.get_body(("calendar",))
    return Readable(
        sender=str(message["From"]),
        recipient=str(message["To"]),
        subject=str(message["Subject"]),
        date=str(message["Date"]),
        message_id=str(message["Message-ID"]),
        text=text.get_content() if text is not None else "",
        calendar_method=str(calendar.get_param("method")) if calendar is not None else None,
        calendar=calendar.get_content() if calendar is not None else None,
    )
