"""Acceptance 1: booking mail over real SMTP, in the recipient's language, with iTIP invitations."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import asyncpg
import icalendar
import pytest
import vobject

from labbook.settings import Settings
from tests.bookings.helpers import Cast, new_cast
from tests.dates import soon
from tests.factories import Factory
from tests.notifications.helpers import eventually, running_worker, smtp_server


@pytest.fixture
async def cast(make: Factory) -> Cast:
    return await new_cast(make)


def _calendar_part(message: EmailMessage) -> tuple[str, bytes]:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return part.get_param("method"), payload
    raise AssertionError("no text/calendar part")


def _event(ics: bytes) -> tuple[icalendar.Calendar, Any]:
    calendar = icalendar.Calendar.from_ical(ics)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


async def _org_feed_uids(client, cast: Cast) -> dict[str, int]:
    created = await client.post(
        "/api/v1/me/feed-tokens", json={"kind": "organization"}, headers=cast.director.headers
    )
    assert created.status_code == 201, created.text
    feed = await client.get(created.json()["feed_url"].split("://", 1)[1].split("/", 1)[1].join(["/", ""]))
    assert feed.status_code == 200, feed.text
    calendar = icalendar.Calendar.from_ical(feed.content)
    return {str(e["UID"]): int(e["SEQUENCE"]) for e in calendar.walk("VEVENT")}


async def test_confirmed_then_cancelled_booking_arrives_as_request_then_cancel(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    await pool.execute("update people set language = 'ru' where id = $1", cast.director.id)
    slot = await make.slot(cast.lab, soon(), capacity=10)
    with smtp_server() as (inbox, controller):
        smtp_settings = settings.with_changes(
            smtp_url=f"smtp://127.0.0.1:{controller.port}", mail_from="bookings@labbook.test"
        )
        async with running_worker(smtp_settings):
            created = await client.post(
                f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
            )
            assert created.status_code == 201, created.text
            booking = created.json()
            assert booking["status"] == "confirmed"

            async def confirmed() -> list[EmailMessage]:
                return inbox.to(cast.director.email)

            [first] = await eventually(confirmed, "the confirmation")
            feed = await _org_feed_uids(client, cast)

            cancelled = await client.post(
                f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=cast.manager.headers
            )
            assert cancelled.status_code == 200, cancelled.text

            async def both() -> list[EmailMessage] | None:
                received = inbox.to(cast.director.email)
                return received if len(received) == 2 else None

            _, second = await eventually(both, "the cancellation")

    # In the director's language, from the configured sender, with both bodies.
    assert first["From"] == "bookings@labbook.test"
    assert first["Subject"].startswith("Бронирование подтверждено")
    assert first["Content-Language"] == "ru"
    assert first["List-Unsubscribe"].startswith("<http")
    text = first.get_body(("plain",))
    html = first.get_body(("html",))
    assert text is not None
    assert "подтверждено" in text.get_content()
    assert html is not None
    assert '<html lang="ru">' in html.get_content()

    method, ics = _calendar_part(first)
    assert method == "REQUEST"
    calendar, event = _event(ics)
    assert str(calendar["METHOD"]) == "REQUEST"
    uid = str(event["UID"])
    assert uid == f"booking-{booking['id']}@labbook"
    assert uid in feed, "the invitation names the organization feed's event"
    assert int(event["SEQUENCE"]) == feed[uid]
    assert cast.director.email in str(event["ATTENDEE"])
    assert str(event["ORGANIZER"]).startswith("mailto:")
    # A second, independent parser reads the same invitation.
    parsed = vobject.readOne(ics.decode())
    assert parsed.method.value == "REQUEST"
    assert parsed.vevent.uid.value == uid
    assert parsed.vevent.dtstart.value.utcoffset() is not None

    method, ics = _calendar_part(second)
    assert method == "CANCEL"
    calendar, cancel = _event(ics)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(cancel["UID"]) == uid
    assert int(cancel["SEQUENCE"]) > int(event["SEQUENCE"])
    assert str(cancel["STATUS"]) == "CANCELLED"
    again = vobject.readOne(ics.decode())
    assert again.method.value == "CANCEL"
    assert again.vevent.uid.value == uid
    assert int(again.vevent.sequence.value) == int(cancel["SEQUENCE"])
    assert second["Message-ID"] != first["Message-ID"]


async def test_a_moved_slot_sends_an_invitation_that_moves_the_event(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10)
    with smtp_server() as (inbox, controller):
        async with running_worker(settings.with_changes(smtp_url=f"smtp://127.0.0.1:{controller.port}")):
            created = await client.post(
                f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
            )
            assert created.status_code == 201, created.text

            async def confirmed() -> list[EmailMessage]:
                return inbox.to(cast.director.email)

            [first] = await eventually(confirmed, "the confirmation")
            later = slot["starts_at"] + timedelta(days=1, hours=1)
            moved = await client.patch(
                f"/api/v1/slots/{slot['id']}",
                json={
                    "starts_at": later.isoformat(),
                    "ends_at": (later + timedelta(hours=2)).isoformat(),
                    "outside_hours": True,
                },
                headers=cast.manager.headers,
            )
            assert moved.status_code == 200, moved.text

            async def both() -> list[EmailMessage] | None:
                received = inbox.to(cast.director.email)
                return received if len(received) == 2 else None

            _, second = await eventually(both, "the new time")

    assert second["Subject"].startswith("Сапардың жаңа уақыты")  # the director reads Kazakh
    _, before = _event(_calendar_part(first)[1])
    method, ics = _calendar_part(second)
    assert method == "REQUEST"
    _, after = _event(ics)
    assert str(after["UID"]) == str(before["UID"])
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after.decoded("DTSTART") == later
