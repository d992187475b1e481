"""Visit requests tell people: the lab's managers of a new request, the director of each answer,
in each reader's language, with the invitation of the booking an accepted request made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import icalendar
import pytest
import vobject

from labbook.notifications import visit_notices
from labbook.settings import Settings
from tests.bookings.helpers import Cast, new_cast
from tests.factories import Factory
from tests.notifications.helpers import eventually, running_worker
from tests.web.conftest import browser_for, sign_in


@pytest.fixture
async def cast(make: Factory) -> Cast:
    cast = await new_cast(make)
    await make.opening_hours(lab_id=cast.lab["id"], opens="08:00", closes="20:00")
    return cast


@pytest.fixture
def contact() -> str:
    """The request's contact: a teacher without an account (the database is shared by the tests)."""
    return f"gulnar-{uuid4().hex[:8]}@college.kz"


def _window(days: int, hour_utc: int = 5, hours: int = 2) -> dict[str, str]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour_utc, minute=0, second=0, microsecond=0
    )
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=hours)).isoformat()}


async def _ask(client: Any, cast: Cast, contact: str, **fields: Any) -> dict[str, Any]:
    body = {
        "lab": cast.lab["slug"],
        "kind": "tour",
        "windows": [_window(20), _window(21)],
        "headcount": 12,
        "language": "kk",
        "purpose": "Дәнекерлеу зертханасымен танысу",
        "contact_name": "Гүлнар Ахметова",
        "contact_email": contact,
        **fields,
    }
    response = await client.post("/api/v1/visit-requests", json=body, headers=cast.director.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _messages(pool: asyncpg.Pool, kind: str, people: list[str]) -> list[EmailMessage]:
    rows = await pool.fetch(
        "select raw from mail_messages where kind = $1 and status = 'outbox' and recipient = any($2::text[])"
        " order by created_at, recipient",
        kind,
        people,
    )
    return [message_from_bytes(r["raw"], policy=policy.default) for r in rows]  # type: ignore[misc]


async def _told(pool: asyncpg.Pool, kind: str, count: int, people: list[str]) -> list[EmailMessage]:
    """The ``count`` messages of ``kind`` to ``people``, once all are written."""

    async def found() -> list[EmailMessage] | None:
        got = await _messages(pool, kind, people)
        return got if len(got) == count else None

    return await eventually(found, f"{count} {kind} message(s)")


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _calendar(message: EmailMessage) -> bytes | None:
    part = message.get_body(("calendar",))
    if part is None:
        return None
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


async def test_a_new_request_tells_the_managers_and_each_answer_tells_the_director(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, contact: str
) -> None:
    people = [cast.director.email, cast.manager.email, contact]
    await pool.execute("update people set language = 'ru' where id = $1", cast.director.id)
    await pool.execute("update people set language = 'en' where id = $1", cast.manager.id)
    async with running_worker(settings):
        asked = await _ask(client, cast, contact)
        [requested] = await _told(pool, "visit_requested", 1, people)

        offered = _window(25)
        proposed = await client.post(
            f"/api/v1/visit-requests/{asked['id']}/propose",
            json={**offered, "message": "Сейсенбі бос емес"},
            headers=cast.manager.headers,
        )
        assert proposed.status_code == 200, proposed.text
        proposals = {m["To"]: m for m in await _told(pool, "visit_proposed", 2, people)}
        director_mail, contact_mail = proposals[cast.director.email], proposals[contact]

        turned_down = await client.post(
            f"/api/v1/visit-requests/{asked['id']}/proposal/decline",
            json={"message": "Сәрсенбі бізге ыңғайсыз"},
            headers=cast.director.headers,
        )
        assert turned_down.status_code == 200, turned_down.text
        [answer] = await _told(pool, "visit_proposal_declined", 1, people)
        declined = await client.post(
            f"/api/v1/visit-requests/{asked['id']}/decline",
            json={"message": "Зертхана ол аптада жабық"},
            headers=cast.manager.headers,
        )
        assert declined.status_code == 200, declined.text
        declines = await _told(pool, "visit_declined", 2, people)

    # The manager reads English, with the group, its times and whom to call, and a link to the request.
    assert requested["To"] == cast.manager.email
    assert requested["Subject"].startswith("New visit request:")
    assert requested["List-Unsubscribe"].startswith("<http")
    text = _text(requested)
    assert "Дәнекерлеу зертханасымен танысу" in text
    assert contact in text
    assert text.count("(Kazakhstan Time, GMT+05:00)") == 2  # both windows, in the lab's zone
    link = f"/en/manage/visits/{asked['id']}"
    assert link in text
    async with browser_for(settings) as web:
        await sign_in(web, pool, cast.manager)
        page = await web.get(link)
    assert page.status_code == 200, page.text
    assert _calendar(requested) is None

    # The director (Russian) and the request's contact (no account: the request's Kazakh) each hear
    # of the proposed time, in the lab's zone, with the lab's message and where to answer.
    assert director_mail["To"] == cast.director.email
    assert director_mail["Subject"].startswith("Лаборатория предлагает другое время")
    director_text = _text(director_mail)
    start = datetime.fromisoformat(offered["starts_at"]).astimezone(UTC) + timedelta(hours=5)
    assert f"{start:%H:%M}" in director_text.split("Предложенное время:")[1].splitlines()[0]
    assert "Сейсенбі бос емес" in director_text
    assert f"/ru/visit-requests#request-{asked['id']}" in director_text
    assert contact_mail["To"] == contact
    assert contact_mail["Content-Language"] == "kk"
    assert contact_mail["Subject"].startswith("Зертхана басқа уақыт ұсынады")
    async with browser_for(settings) as web:
        await sign_in(web, pool, cast.director, lang="ru")
        page = await web.get("/ru/visit-requests")
    assert page.status_code == 200
    assert f'id="request-{asked["id"]}"' in page.text

    # The manager hears that the lab's time was turned down, with what the organization said.
    assert answer["To"] == cast.manager.email
    assert answer["Subject"].startswith("Your proposed time is declined:")
    assert "Message from the organization: Сәрсенбі бізге ыңғайсыз" in _text(answer)
    assert link in _text(answer)

    # The lab's decline tells the director, with its message.
    assert {m["To"] for m in declines} == {cast.director.email, contact}
    for message in declines:
        assert "Зертхана ол аптада жабық" in _text(message)
        assert _calendar(message) is None


async def test_an_accepted_request_sends_one_message_carrying_the_bookings_invitation(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, contact: str
) -> None:
    people = [cast.director.email, cast.manager.email, contact]
    await pool.execute("update people set language = 'en' where id = $1", cast.director.id)
    async with running_worker(settings):
        asked = await _ask(client, cast, contact, contact_email=cast.director.email)
        accepted = await client.post(
            f"/api/v1/visit-requests/{asked['id']}/accept",
            json={"window_number": 2, "message": "Welcome!"},
            headers=cast.manager.headers,
        )
        assert accepted.status_code == 200, accepted.text
        booking_id = accepted.json()["booking_id"]
        [message] = await _told(pool, "visit_accepted", 1, people)

        other = await _ask(client, cast, contact)
        offered = _window(26)
        proposed = await client.post(
            f"/api/v1/visit-requests/{other['id']}/propose", json=offered, headers=cast.manager.headers
        )
        assert proposed.status_code == 200, proposed.text
        taken = await client.post(
            f"/api/v1/visit-requests/{other['id']}/proposal/accept", json={}, headers=cast.director.headers
        )
        assert taken.status_code == 200, taken.text
        booked = await _told(pool, "visit_booked", 2, people)
        [taken_up] = await _told(pool, "visit_proposal_accepted", 1, people)

        withdrawn = await _ask(client, cast, contact)
        cancelled = await client.post(
            f"/api/v1/visit-requests/{withdrawn['id']}/cancel",
            json={"reason": "Автобус табылмады"},
            headers=cast.director.headers,
        )
        assert cancelled.status_code == 200, cancelled.text
        [gone] = await _told(pool, "visit_withdrawn", 1, people)

    assert message["To"] == cast.director.email
    assert message["Subject"].startswith("Visit request accepted:")
    text = _text(message)
    assert "Welcome!" in text
    assert f"/en/bookings/{booking_id}" in text
    ics = _calendar(message)
    assert ics is not None
    event = icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]
    assert str(event["UID"]) == f"booking-{booking_id}@labbook"
    assert event.decoded("DTSTART") == datetime.fromisoformat(_window(21)["starts_at"])
    parsed = vobject.readOne(ics.decode())
    assert parsed.method.value == "REQUEST"
    assert parsed.vevent.uid.value == f"booking-{booking_id}@labbook"
    # The booking the request made sends no "confirmed" message of its own: this one carries its invitation.
    kinds = await pool.fetch("select kind from mail_messages where booking_id = $1", UUID(booking_id))
    assert [r["kind"] for r in kinds] == ["visit_accepted"]

    # Accepting the lab's time books the visit; both the director and the contact get its invitation,
    # and the lab's manager hears of it (their own feed has the visit: no invitation for them).
    assert taken_up["To"] == cast.manager.email
    assert _calendar(taken_up) is None
    assert f"/manage/visits/{other['id']}" in _text(taken_up)
    assert gone["To"] == cast.manager.email
    assert "Автобус табылмады" in _text(gone)
    assert {m["To"] for m in booked} == {cast.director.email, contact}
    for mail in booked:
        ics = _calendar(mail)
        assert ics is not None
        assert icalendar.Calendar.from_ical(ics).walk("VEVENT")[0].decoded(
            "DTSTART"
        ) == datetime.fromisoformat(offered["starts_at"])


async def test_a_change_handled_twice_writes_its_messages_once(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, contact: str
) -> None:
    asked = await _ask(client, cast, contact)
    [job] = await pool.fetch(
        "select payload from pgqueuer where entrypoint = 'visit_request_changed'"
        " and convert_from(payload, 'UTF8')::jsonb ->> 'visit_request_id' = $1",
        asked["id"],
    )
    change = visit_notices.decode_change(job["payload"])
    assert (change.status, change.previous_status) == ("pending", None)

    first = await visit_notices.write_visit_notices(pool, settings, change)
    again = await visit_notices.write_visit_notices(pool, settings, change)

    assert (first, again) == (1, 0)  # the lab's one manager, once
