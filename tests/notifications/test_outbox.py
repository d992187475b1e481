"""The transactional outbox, who is told what, and the local outbox when there is no SMTP server."""

from __future__ import annotations

from email import message_from_bytes, policy
from uuid import UUID

import asyncpg
import pytest

from labbook.bookings import service as bookings
from labbook.bookings.schemas import BookingCreate
from labbook.core.principal import Principal
from labbook.core.roles import Role
from labbook.notifications import service
from labbook.settings import Settings
from tests.bookings.helpers import Cast, new_cast
from tests.databases import run_labbook
from tests.dates import soon
from tests.factories import Factory
from tests.notifications.helpers import eventually, running_worker


@pytest.fixture
async def cast(make: Factory) -> Cast:
    return await new_cast(make)


async def _jobs_for(pool: asyncpg.Pool, booking_id: UUID | str) -> list[asyncpg.Record]:
    return await pool.fetch(
        """select entrypoint, convert_from(payload, 'UTF8')::jsonb as payload from pgqueuer
           where entrypoint = 'booking_changed'
             and convert_from(payload, 'UTF8')::jsonb ->> 'booking_id' = $1::text""",
        str(booking_id),
    )


async def _messages(pool: asyncpg.Pool, booking_id: UUID | str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "select kind, recipient, language, subject, status, raw from mail_messages"
        " where booking_id = $1 order by created_at, kind",
        UUID(str(booking_id)),
    )


async def test_a_rolled_back_booking_enqueues_nothing_and_a_committed_one_enqueues_once(
    pool: asyncpg.Pool, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10)
    me = Principal(
        person_id=cast.director.id,
        organization_id=cast.director.organization_id,
        roles=frozenset({Role.DIRECTOR}),
    )
    data = BookingCreate(headcount=3, contact_name="Асем Жұмабекова", language="kk")
    now = await pool.fetchval("select now()")

    class Abandon(Exception):
        pass

    kept: dict[str, object] = {}

    async def book_then_abandon() -> None:
        async with pool.acquire() as conn, conn.transaction():
            kept.update(await bookings.book_seats_in(conn, me, slot["id"], data, now=now))
            raise Abandon

    with pytest.raises(Abandon):
        await book_then_abandon()
    assert await pool.fetchval("select count(*) from bookings where id = $1", kept["id"]) == 0
    assert await _jobs_for(pool, kept["id"]) == []

    booked = await bookings.book_seats(pool, me, slot["id"], data, now=now)
    [job] = await _jobs_for(pool, booked["id"])
    assert job["payload"]["status"] == "confirmed"
    assert job["payload"]["previous_status"] is None


async def test_without_smtp_every_message_stays_in_the_outbox_in_each_readers_language(
    client, pool: asyncpg.Pool, settings: Settings, database_url: str, cast: Cast, make: Factory
) -> None:
    await pool.execute("update people set language = 'en' where id = $1", cast.director.id)
    await pool.execute("update people set language = 'kk' where id = $1", cast.manager.id)
    slot = await make.slot(cast.lab, soon(), capacity=10, requires_approval=True)
    async with running_worker(settings):
        created = await client.post(
            f"/api/v1/slots/{slot['id']}/bookings",
            json=cast.body(notes="Бізбен бірге екі мұғалім келеді"),
            headers=cast.director.headers,
        )
        assert created.status_code == 201, created.text
        booking = created.json()
        assert booking["status"] == "pending"

        async def in_outbox(count: int) -> list[asyncpg.Record] | None:
            rows = await _messages(pool, booking["id"])
            return rows if len(rows) == count and all(r["status"] == "outbox" for r in rows) else None

        await eventually(lambda: in_outbox(2), "the director and the lab manager told")
        declined = await client.post(
            f"/api/v1/bookings/{booking['id']}/decline",
            json={"message": "The lab is closed for an inspection that week."},
            headers=cast.manager.headers,
        )
        assert declined.status_code == 200, declined.text
        rows = await eventually(lambda: in_outbox(3), "the director told of the decline")

    by_kind = {r["kind"]: r for r in rows}
    assert set(by_kind) == {"booking_received", "booking_requested", "booking_declined"}
    # Each in the reader's language: the director reads English, the lab manager Kazakh.
    assert by_kind["booking_received"]["language"] == "en"
    requested = by_kind["booking_requested"]
    assert requested["recipient"] == cast.manager.email
    assert requested["language"] == "kk"
    assert requested["subject"].startswith("Растауды күтетін жаңа бронь")
    manager_mail = message_from_bytes(requested["raw"], policy=policy.default)
    manager_text = manager_mail.get_body(("plain",)).get_content()
    assert "Бізбен бірге екі мұғалім келеді" in manager_text
    assert manager_mail.get_body(("calendar",)) is None

    declined_mail = message_from_bytes(by_kind["booking_declined"]["raw"], policy=policy.default)
    assert declined_mail["To"] == cast.director.email
    assert declined_mail["Subject"].startswith("Booking declined")
    assert (
        "The lab is closed for an inspection that week." in declined_mail.get_body(("plain",)).get_content()
    )
    assert "METHOD:CANCEL" in declined_mail.get_body(("calendar",)).get_content()

    # The same messages through the command line, as an admin without a browser reads them.
    rc, out, err = await run_labbook(database_url, "mail", "list", "--status", "outbox", "--limit", "500")
    assert rc == 0, err
    listed = [line for line in out.splitlines() if cast.manager.email in line]
    assert len(listed) == 1
    assert "Растауды күтетін жаңа бронь" in listed[0]
    message_id = listed[0].split()[0]
    rc, out, err = await run_labbook(database_url, "mail", "show", message_id)
    assert rc == 0, err
    shown = message_from_bytes(out.encode(), policy=policy.default)
    assert shown["To"] == cast.manager.email
    assert shown["Message-ID"] == manager_mail["Message-ID"]


async def test_a_cancellation_by_the_visitor_tells_the_lab_and_one_by_the_lab_tells_the_visitor(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    mine, theirs = [
        (
            await client.post(
                f"/api/v1/slots/{(await make.slot(cast.lab, soon(), capacity=10))['id']}/bookings",
                json=cast.body(),
                headers=cast.director.headers,
            )
        ).json()
        for _ in range(2)
    ]
    by_visitor = await client.post(
        f"/api/v1/bookings/{mine['id']}/cancel", json={}, headers=cast.director.headers
    )
    by_lab = await client.post(
        f"/api/v1/bookings/{theirs['id']}/cancel", json={}, headers=cast.manager.headers
    )
    assert by_visitor.status_code == by_lab.status_code == 200

    async with running_worker(settings):

        async def told(booking_id: str, kind: str) -> asyncpg.Record | None:
            rows = [
                r for r in await _messages(pool, booking_id) if r["kind"] == kind and r["status"] == "outbox"
            ]
            return rows[0] if rows else None

        withdrawn = await eventually(lambda: told(mine["id"], "booking_withdrawn"), "the lab told")
        cancelled = await eventually(lambda: told(theirs["id"], "booking_cancelled"), "the visitor told")
    assert withdrawn["recipient"] == cast.manager.email
    assert cancelled["recipient"] == cast.director.email
    assert {r["kind"] for r in await _messages(pool, mine["id"])} == {"booking_withdrawn"}
    assert {r["kind"] for r in await _messages(pool, theirs["id"])} == {"booking_cancelled"}


async def test_a_booking_change_handled_twice_writes_its_messages_once(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10, requires_approval=True)
    booking = (
        await client.post(
            f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
        )
    ).json()
    change = service.BookingChange(
        booking_id=UUID(booking["id"]), status="pending", previous_status=None, sequence=0
    )

    first = await service.write_booking_notices(pool, settings, change)
    again = await service.write_booking_notices(pool, settings, change)

    assert first == 2  # the director and the one lab manager
    assert again == 0
    assert len(await _messages(pool, booking["id"])) == 2
