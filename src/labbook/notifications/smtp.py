"""Handing a message to the SMTP server that ``LABBOOK_SMTP_URL`` names (aiosmtplib).

``smtp://host:25`` talks plain SMTP (a relay on the same machine), ``smtp+starttls://host:587``
insists on STARTTLS, ``smtps://host:465`` speaks TLS from the first byte; ``user:password@`` before
the host logs in, and ``?cafile=/path/ca.pem`` trusts a private certificate authority.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from labbook.errors import ConfigurationError

TIMEOUT_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Server:
    hostname: str
    port: int
    use_tls: bool
    start_tls: bool
    username: str | None
    password: str | None
    cafile: str | None


def parse_url(url: str) -> Server:
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme not in ("smtp", "smtp+starttls", "smtps") or not parts.hostname:
        raise ConfigurationError("LABBOOK_SMTP_URL must look like smtp+starttls://user:password@host:587")
    default_port = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}[scheme]
    cafile = parse_qs(parts.query).get("cafile", [None])[0]
    return Server(
        hostname=parts.hostname,
        port=parts.port or default_port,
        use_tls=scheme == "smtps",
        start_tls=scheme == "smtp+starttls",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        cafile=cafile,
    )


# A refusal that will not change on a retry: the address or the message itself was rejected.
def is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= refused.code < 600 for refused in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return False
    return isinstance(exc, aiosmtplib.SMTPResponseException) and 500 <= exc.code < 600


async def send(server: Server, *, sender: str, recipient: str, raw: bytes) -> str:
    """Deliver ``raw`` to the server; returns the server's reply, raises ``aiosmtplib.SMTPException``
    or ``OSError`` when it did not take the message."""
    _errors, reply = await aiosmtplib.send(
        raw,
        sender=sender,
        recipients=[recipient],
        hostname=server.hostname,
        port=server.port,
        use_tls=server.use_tls,
        start_tls=server.start_tls if server.start_tls else False,
        username=server.username,
        password=server.password,
        cert_bundle=server.cafile,
        timeout=TIMEOUT_SECONDS,
    )
    return reply
