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
from email.policy import SMTP, default
from email.utils import format_datetime
from uuid import UUID

_SUBJECT_PLACEHOLDER = "labbook-subject-placeholder"


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
    gets), and ``one_click`` says a POST to it turns the messages off at once (RFC 8058)."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = _SUBJECT_PLACEHOLDER
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        if one_click:
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    if calendar is not None and method is not None:
        message.add_alternative(calendar.decode(), subtype="calendar", params={"method": method})
    # after the parts: making the message multipart moves every Content-* header into its first part
    message["Content-Language"] = language
    # The modern folder moves the space between two words out of the encoded-words when it folds a
    # long non-ASCII subject, and RFC 2047 readers then drop it ("Институтсварки"); the classic
    # ``Header`` keeps every space inside an encoded-word.
    encoded = Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")
    return message.as_bytes().replace(
        f"Subject: {_SUBJECT_PLACEHOLDER}\r\n".encode(), f"Subject: {encoded}\r\n".encode(), 1
    )


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
