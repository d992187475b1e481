"""Delivery over real SMTP: TLS and authentication, an outage, refusals, and two workers at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from labbook import db
from labbook.notifications import service
from labbook.settings import Settings
from tests.bookings.helpers import Cast, new_cast
from tests.dates import soon
from tests.factories import Factory
from tests.notifications.helpers import FAST, Inbox, eventually, free_port, running_worker, smtp_server


@pytest.fixture
async def cast(make: Factory) -> Cast:
    return await new_cast(make)


async def _book(client, cast: Cast, make: Factory) -> str:
    slot = await make.slot(cast.lab, soon(), capacity=10)
    created = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
    )
    assert created.status_code == 201, created.text
    booking_id: str = created.json()["id"]
    return booking_id


async def _message(pool: asyncpg.Pool, booking_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "select id, message_id, status, attempts, last_error from mail_messages where booking_id = $1",
        UUID(booking_id),
    )


def _certificate(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A self-signed certificate for 127.0.0.1: the server's TLS context and the file a client trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "labbook test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.pem", directory / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


def _only(login: bytes, password: bytes):
    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            login,
            password,
        )
        return AuthResult(success=ok, handled=False)

    return authenticate


async def test_starttls_with_authentication(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory, tmp_path: Path
) -> None:
    context, ca = _certificate(tmp_path)
    with smtp_server(
        tls_context=context,
        require_starttls=True,
        authenticator=_only(b"labbook", b"p@ss word"),
        auth_require_tls=True,
    ) as (inbox, controller):
        url = f"smtp+starttls://labbook:p%40ss%20word@127.0.0.1:{controller.port}?cafile={ca}"
        async with running_worker(settings.with_changes(smtp_url=url)):
            booking_id = await _book(client, cast, make)

            async def sent() -> asyncpg.Record | None:
                row = await _message(pool, booking_id)
                return row if row is not None and row["status"] == "sent" else None

            row = await eventually(sent, "delivery over STARTTLS")
    [received] = inbox.to(cast.director.email)
    assert received["Message-ID"] == row["message_id"]
    assert row["attempts"] == 1


async def test_a_wrong_password_is_retried_not_lost(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory, tmp_path: Path
) -> None:
    context, ca = _certificate(tmp_path)
    with smtp_server(
        tls_context=context, require_starttls=True, authenticator=_only(b"labbook", b"right")
    ) as (inbox, controller):
        url = f"smtp+starttls://labbook:wrong@127.0.0.1:{controller.port}?cafile={ca}"
        async with running_worker(settings.with_changes(smtp_url=url)):
            booking_id = await _book(client, cast, make)

            async def failed_twice() -> asyncpg.Record | None:
                row = await _message(pool, booking_id)
                return row if row is not None and row["attempts"] >= 2 else None

            row = await eventually(failed_twice, "two failed attempts")
    assert row["status"] == "queued"
    assert "Authentication" in row["last_error"]
    assert inbox.to(cast.director.email) == []


async def test_while_the_server_is_down_mail_waits_and_then_arrives_once(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    port = free_port()
    smtp_settings = settings.with_changes(smtp_url=f"smtp://127.0.0.1:{port}")
    async with running_worker(smtp_settings):
        booking_ids = [await _book(client, cast, make) for _ in range(3)]

        async def all_failed() -> list[asyncpg.Record] | None:
            rows = [await _message(pool, b) for b in booking_ids]
            return rows if all(r is not None and r["attempts"] >= 2 for r in rows) else None  # type: ignore[return-value]

        down = await eventually(all_failed, "every message tried twice while the server is down")
        assert {r["status"] for r in down} == {"queued"}
        with smtp_server(port) as (inbox, _controller):

            async def all_sent() -> list[asyncpg.Record] | None:
                rows = [await _message(pool, b) for b in booking_ids]
                return rows if all(r is not None and r["status"] == "sent" for r in rows) else None  # type: ignore[return-value]

            sent = await eventually(all_sent, "every message delivered once the server is back")
            # Later retries find them sent; nothing arrives twice.
            received = inbox.to(cast.director.email)
    assert sorted(m["Message-ID"] for m in received) == sorted(r["message_id"] for r in sent)
    assert sorted(m["Message-ID"] for m in received) == sorted(r["message_id"] for r in down)


class Refusing(Inbox):
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        return "550 5.1.1 no such mailbox here"


async def test_a_permanent_refusal_is_a_dead_letter_at_once(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    with smtp_server(handler=Refusing()) as (inbox, controller):
        async with running_worker(settings.with_changes(smtp_url=f"smtp://127.0.0.1:{controller.port}")):
            booking_id = await _book(client, cast, make)

            async def dead() -> asyncpg.Record | None:
                row = await _message(pool, booking_id)
                return row if row is not None and row["status"] == "dead" else None

            row = await eventually(dead, "the dead letter")
    assert row["attempts"] == 1
    assert "550" in row["last_error"]
    assert inbox.messages() == []


async def test_retries_end_in_a_dead_letter(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    few = service.Retry(first=FAST.first, longest=FAST.longest, attempts=3)
    nowhere = settings.with_changes(smtp_url=f"smtp://127.0.0.1:{free_port()}")
    async with running_worker(nowhere, retry=few):
        booking_id = await _book(client, cast, make)

        async def dead() -> asyncpg.Record | None:
            row = await _message(pool, booking_id)
            return row if row is not None and row["status"] == "dead" else None

        row = await eventually(dead, "the dead letter after three attempts")
    assert row["attempts"] == 3


class Held(Inbox):
    """Holds the first message's DATA until released, so a second delivery runs meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.entered.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return await super().handle_DATA(server, session, envelope)


async def test_two_deliveries_of_one_message_at_once_send_it_once(
    client, pool: asyncpg.Pool, settings: Settings, database_url: str, cast: Cast, make: Factory
) -> None:
    held = Held()
    with smtp_server(handler=held) as (inbox, controller):
        smtp_settings = settings.with_changes(smtp_url=f"smtp://127.0.0.1:{controller.port}")
        booking_id = await _book(client, cast, make)
        change = service.BookingChange(
            booking_id=UUID(booking_id), status="confirmed", previous_status=None, sequence=0
        )
        await service.write_booking_notices(pool, smtp_settings, change)
        row = await _message(pool, booking_id)
        assert row is not None
        # Two workers, two pools, two connections: the second arrives while the first is sending.
        other = await db.create_pool(database_url, min_size=1, max_size=2)
        try:
            first = asyncio.create_task(service.deliver(pool, smtp_settings, row["id"], retry=FAST))
            await asyncio.get_running_loop().run_in_executor(None, held.entered.wait, 60)
            second = await service.deliver(other, smtp_settings, row["id"], retry=FAST)
            held.release.set()
            outcome = await first
            third = await service.deliver(other, smtp_settings, row["id"], retry=FAST)
        finally:
            held.release.set()
            await other.close()
    assert (outcome, second, third) == ("sent", "busy", "sent")
    assert len(inbox.to(cast.director.email)) == 1


async def test_two_workers_deliver_every_message_exactly_once(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    with smtp_server() as (inbox, controller):
        smtp_settings = settings.with_changes(smtp_url=f"smtp://127.0.0.1:{controller.port}")
        async with running_worker(smtp_settings), running_worker(smtp_settings):
            booking_ids = [await _book(client, cast, make) for _ in range(12)]

            async def all_sent() -> list[asyncpg.Record] | None:
                rows = [await _message(pool, b) for b in booking_ids]
                return rows if all(r is not None and r["status"] == "sent" for r in rows) else None  # type: ignore[return-value]

            sent = await eventually(all_sent, "every message delivered")
        received = [m["Message-ID"] for m in inbox.to(cast.director.email)]
    assert sorted(received) == sorted(r["message_id"] for r in sent)
    assert len(set(received)) == len(received) == 12
