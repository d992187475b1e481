"""A slot's changes reach people: its instructor gets an invitation for the session (and a cancel
when taken off it or when it is cancelled); its visitors hear of a new title as of a new time."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import asyncpg
import icalendar
import pytest
import vobject

from labbook.notifications import slot_notices
from labbook.settings import Settings
from tests.bookings.helpers import Cast, new_cast
from tests.dates import soon
from tests.factories import Factory
from tests.notifications.helpers import eventually, running_worker


@pytest.fixture
async def cast(make: Factory) -> Cast:
    return await new_cast(make)


async def _mail(pool: asyncpg.Pool, kind: str, recipient: str, count: int = 1) -> list[EmailMessage]:
    async def found() -> list[EmailMessage] | None:
        rows = await pool.fetch(
            "select raw from mail_messages where kind = $1 and recipient = $2 and status = 'outbox'"
            " order by created_at",
            kind,
            recipient,
        )
        return (
            [message_from_bytes(r["raw"], policy=policy.default) for r in rows]
            if len(rows) == count
            else None
        )  # type: ignore[misc]

    return await eventually(found, f"{count} {kind} message(s) to {recipient}")


def _invitation(message: EmailMessage) -> tuple[str, Any, bytes]:
    part = message.get_body(("calendar",))
    assert part is not None, "no invitation"
    ics = part.get_payload(decode=True)
    assert isinstance(ics, bytes)
    calendar = icalendar.Calendar.from_ical(ics)
    [event] = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), event, ics


async def _person_feed(client: Any, headers: dict[str, str]) -> dict[str, int]:
    created = await client.post("/api/v1/me/feed-tokens", json={"kind": "person"}, headers=headers)
    assert created.status_code == 201, created.text
    feed = await client.get("/" + created.json()["feed_url"].split("://", 1)[1].split("/", 1)[1])
    assert feed.status_code == 200, feed.text
    return {
        str(e["UID"]): int(e["SEQUENCE"]) for e in icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
    }


async def _booked(client: Any, pool: asyncpg.Pool, cast: Cast, slot_id: UUID) -> tuple[str, EmailMessage]:
    """The director's booking of the slot, and the confirmation it brought them."""
    booked = await client.post(
        f"/api/v1/slots/{slot_id}/bookings", json=cast.body(), headers=cast.director.headers
    )
    assert booked.status_code == 201, booked.text
    [confirmed] = await _mail(pool, "booking_confirmed", cast.director.email)
    return str(booked.json()["id"]), confirmed


def _slot_body(cast: Cast, **fields: Any) -> dict[str, Any]:
    starts = soon()
    return {
        "lab": cast.lab["slug"],
        "kind": "training",
        "title": {"kk": "Аргонмен дәнекерлеу", "ru": "Аргонная сварка", "en": "Argon welding"},
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "capacity": 10,
        "outside_hours": True,
        **fields,
    }


async def test_the_instructor_is_invited_kept_up_to_date_taken_off_and_told_of_the_cancellation(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    host = cast.lab["organization_id"]
    first = await make.person("instructor", organization_id=host, full_name="Арман Ержанов")
    second = await make.person("instructor", organization_id=host, full_name="Ольга Ким")
    await pool.execute("update people set language = 'en' where id = $1", first.id)
    await pool.execute("update people set language = 'ru' where id = $1", second.id)
    manager = cast.manager.headers
    async with running_worker(settings):
        published = await client.post(
            "/api/v1/slots", json=_slot_body(cast, instructor_id=str(first.id)), headers=manager
        )
        assert published.status_code == 201, published.text
        slot_id = published.json()["id"]
        [assigned] = await _mail(pool, "session_assigned", first.email)
        feed = await _person_feed(client, first.headers)

        renamed = await client.patch(
            f"/api/v1/slots/{slot_id}",
            json={"title": {"kk": "Дәнекерлеу шеберлігі", "ru": "Мастер-класс", "en": "Welding masterclass"}},
            headers=manager,
        )
        assert renamed.status_code == 200, renamed.text
        [changed] = await _mail(pool, "session_changed", first.email)

        handed_on = await client.patch(
            f"/api/v1/slots/{slot_id}", json={"instructor_id": str(second.id)}, headers=manager
        )
        assert handed_on.status_code == 200, handed_on.text
        [taken_off] = await _mail(pool, "session_unassigned", first.email)
        [handed] = await _mail(pool, "session_assigned", second.email)

        cancelled = await client.post(f"/api/v1/slots/{slot_id}/cancel", json={}, headers=manager)
        assert cancelled.status_code == 200, cancelled.text
        [gone] = await _mail(pool, "session_cancelled", second.email)

    uid = f"slot-{slot_id}@labbook"
    method, event, ics = _invitation(assigned)
    assert assigned["Subject"].startswith("Your session: Argon welding, ")
    assert (method, str(event["UID"])) == ("REQUEST", uid)
    assert feed[uid] == int(event["SEQUENCE"]), "the invitation is the event of the instructor's own feed"
    assert first.email in str(event["ATTENDEE"])
    parsed = vobject.readOne(ics.decode())
    assert (parsed.method.value, parsed.vevent.uid.value) == ("REQUEST", uid)
    assert parsed.vevent.dtstart.value.utcoffset() is not None
    assert "/en/manage/attendance?day=" in changed.get_body(("plain",)).get_content()

    sequences = [int(event["SEQUENCE"])]
    for message, expected, summary in (
        (changed, "REQUEST", "Welding masterclass"),
        (taken_off, "CANCEL", None),
        (handed, "REQUEST", "Мастер-класс"),
        (gone, "CANCEL", None),
    ):
        method, later, _ = _invitation(message)
        assert (method, str(later["UID"])) == (expected, uid)
        if summary is not None:
            assert str(later["SUMMARY"]).startswith(summary)
        else:
            assert str(later["STATUS"]) == "CANCELLED"
        sequences.append(int(later["SEQUENCE"]))
    assert sequences[0] < sequences[1] < sequences[2] <= sequences[3] < sequences[4]
    assert handed["Subject"].startswith("Ваше занятие: Мастер-класс")
    assert gone["Subject"].startswith("Занятие отменено")


async def test_a_new_title_tells_the_visitors_with_an_invitation_that_updates_their_event(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10)
    async with running_worker(settings):
        booking_id, confirmed = await _booked(client, pool, cast, slot["id"])
        bigger = await client.patch(
            f"/api/v1/slots/{slot['id']}", json={"capacity": 12}, headers=cast.manager.headers
        )
        assert bigger.status_code == 200, bigger.text
        renamed = await client.patch(
            f"/api/v1/slots/{slot['id']}",
            json={"title": {"kk": "Зертханаға саяхат", "ru": "Экскурсия по лаборатории"}},
            headers=cast.manager.headers,
        )
        assert renamed.status_code == 200, renamed.text
        [updated] = await _mail(pool, "booking_updated", cast.director.email)

    assert updated["Subject"].startswith("Сапарыңыз өзгерді: Зертханаға саяхат")  # the director reads Kazakh
    _, before, _ = _invitation(confirmed)
    method, after, ics = _invitation(updated)
    assert method == "REQUEST"
    assert str(after["UID"]) == str(before["UID"]) == f"booking-{booking_id}@labbook"
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert str(after["SUMMARY"]) == "Зертханаға саяхат"
    assert vobject.readOne(ics.decode()).vevent.summary.value == "Зертханаға саяхат"
    # A new capacity is nothing the visitors need to hear of.
    kinds = await pool.fetch("select kind from mail_messages where booking_id = $1", UUID(booking_id))
    assert sorted(r["kind"] for r in kinds) == ["booking_confirmed", "booking_updated"]


async def test_a_cancelled_slot_removes_the_visit_from_the_directors_calendar(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    await pool.execute("update people set language = 'en' where id = $1", cast.director.id)
    slot = await make.slot(cast.lab, soon(), capacity=10)
    async with running_worker(settings):
        booking_id, confirmed = await _booked(client, pool, cast, slot["id"])
        cancelled = await client.post(
            f"/api/v1/slots/{slot['id']}/cancel",
            json={"reason": "The welding stations are being repaired."},
            headers=cast.manager.headers,
        )
        assert cancelled.status_code == 200, cancelled.text
        [gone] = await _mail(pool, "booking_cancelled", cast.director.email)

    assert gone["Subject"].startswith("Booking cancelled by the lab")
    _, before, _ = _invitation(confirmed)
    method, after, ics = _invitation(gone)
    assert method == "CANCEL"
    assert str(after["UID"]) == str(before["UID"]) == f"booking-{booking_id}@labbook"
    assert str(after["STATUS"]) == "CANCELLED"
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    parsed = vobject.readOne(ics.decode())
    assert (parsed.method.value, parsed.vevent.uid.value) == ("CANCEL", str(before["UID"]))


def test_a_job_queued_before_slots_said_what_changed_still_reads_as_a_new_time() -> None:
    change = slot_notices.decode_change(b'{"slot_id": "4f0c1d5e-8a53-4a53-9c1e-2c1f1b6a7d10", "sequence": 3}')

    assert slot_notices.visitor_kind(change) == "booking_moved"
    assert slot_notices.instructor_notices(change) == []


async def test_a_slot_change_handled_twice_writes_its_messages_once(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    teacher = await make.person("instructor", organization_id=cast.lab["organization_id"])
    published = await client.post(
        "/api/v1/slots", json=_slot_body(cast, instructor_id=str(teacher.id)), headers=cast.manager.headers
    )
    assert published.status_code == 201, published.text
    [job] = await pool.fetch(
        "select payload from pgqueuer where entrypoint = 'slot_changed'"
        " and convert_from(payload, 'UTF8')::jsonb ->> 'slot_id' = $1",
        published.json()["id"],
    )
    change = slot_notices.decode_change(job["payload"])
    assert change.published
    assert change.instructor_id == teacher.id

    first = await slot_notices.write_slot_notices(pool, settings, change)
    again = await slot_notices.write_slot_notices(pool, settings, change)

    assert (first, again) == (1, 0)
