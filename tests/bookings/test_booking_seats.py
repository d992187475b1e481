"""Booking seats in one slot: the reply, the counter, the audit log and every reason to refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from tests.bookings.helpers import Cast
from tests.dates import soon
from tests.factories import Factory


async def _seats(pool: asyncpg.Pool, slot_id: object) -> int:
    seats: int = await pool.fetchval("select seats_taken from slots where id = $1", slot_id)
    return seats


async def test_director_books_seats_and_gets_the_whole_booking_back(
    client, pool, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(
        cast.lab,
        soon(),
        capacity=20,
        title={"en": "Welding lab tour", "kk": "Дәнекерлеу зертханасына экскурсия"},
    )
    body = cast.body(
        headcount=12,
        contact_email="ershan@college.kz",
        contact_phone="+7 701 123 45 67",
        age_group="16-17",
        notes="Екі оқытушы бірге келеді; два преподавателя",
    )
    response = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=body, headers=cast.director.headers
    )
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["status"] == "confirmed"
    assert booking["headcount"] == 12
    assert booking["notes"] == body["notes"]
    assert booking["slot"]["id"] == str(slot["id"])
    assert booking["slot"]["lab"] == cast.lab["slug"]
    assert booking["slot"]["title"]["kk"] == "Дәнекерлеу зертханасына экскурсия"
    assert datetime.fromisoformat(booking["slot"]["starts_at"]) == slot["starts_at"]
    # shown on the lab's wall clock (Asia/Almaty has been UTC+5 since March 2024)
    assert booking["slot"]["timezone"] == "Asia/Almaty"
    assert booking["slot"]["starts_at"].endswith("+05:00")
    org_slug = await pool.fetchval(
        "select slug from organizations where id = $1", cast.director.organization_id
    )
    assert booking["organization"] == org_slug
    assert booking["sequence"] == 0
    assert booking["group_id"] is None
    assert await _seats(pool, slot["id"]) == 12

    fetched = await client.get(f"/api/v1/bookings/{booking['id']}", headers=cast.director.headers)
    assert fetched.json() == booking
    events = await pool.fetch(
        "select action, actor_id, after from audit_events where object_type = 'booking' and object_id = $1",
        booking["id"],
    )
    assert [(e["action"], e["actor_id"]) for e in events] == [("booking.create", cast.director.id)]
    assert events[0]["after"]["headcount"] == 12


async def test_slot_requiring_approval_makes_a_pending_booking(client, cast: Cast, make: Factory) -> None:
    slot = await make.slot(cast.lab, soon(), requires_approval=True)
    response = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"


async def test_full_slot_says_how_many_seats_are_left(client, pool, cast: Cast, make: Factory) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10, seats_taken=7)
    response = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(headcount=4), headers=cast.director.headers
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "/problems/slot-full"
    assert problem["seats_left"] == 3
    assert problem["requested"] == 4
    assert problem["slot_id"] == str(slot["id"])
    assert await _seats(pool, slot["id"]) == 7
    assert await pool.fetchval("select count(*) from bookings where slot_id = $1", slot["id"]) == 0


async def test_full_slot_with_waitlist_queues_the_booking(client, pool, cast: Cast, make: Factory) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10, seats_taken=10)
    response = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json=cast.body(headcount=4, waitlist=True),
        headers=cast.director.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "waitlisted"
    assert await _seats(pool, slot["id"]) == 10


async def test_waitlist_is_ignored_when_seats_are_free(client, cast: Cast, make: Factory) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10)
    response = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json=cast.body(headcount=4, waitlist=True),
        headers=cast.director.headers,
    )
    assert response.json()["status"] == "confirmed"


async def test_group_larger_than_the_slot_is_not_waitlisted(client, cast: Cast, make: Factory) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10, seats_taken=10)
    response = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json=cast.body(headcount=11, waitlist=True),
        headers=cast.director.headers,
    )
    assert response.status_code == 409
    assert response.json()["capacity"] == 10


async def test_booking_deadline_min_notice_and_max_advance(client, pool, make: Factory, cast: Cast) -> None:
    lab = await make.lab(min_notice_hours=48, max_advance_days=30, languages=("ru",))
    past_deadline = await make.slot(
        lab, soon(timedelta(days=10)), booking_deadline=datetime.now(UTC) - timedelta(minutes=1)
    )
    too_soon = await make.slot(lab, soon(timedelta(hours=47)))
    too_far = await make.slot(lab, soon(timedelta(days=31)))
    in_window = await make.slot(
        lab, soon(timedelta(days=29)), booking_deadline=datetime.now(UTC) + timedelta(days=1)
    )
    answers = {}
    for name, slot in [("deadline", past_deadline), ("notice", too_soon), ("advance", too_far)]:
        response = await client.post(
            f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
        )
        assert response.status_code == 409, response.text
        answers[name] = response.json()
        assert answers[name]["type"] == "/problems/booking-window"
        assert await _seats(pool, slot["id"]) == 0
    assert "booking_deadline" in answers["deadline"]
    assert answers["notice"]["min_notice_hours"] == 48
    assert answers["advance"]["max_advance_days"] == 30
    ok = await client.post(
        f"/api/v1/slots/{in_window['id']}/bookings", json=cast.body(), headers=cast.director.headers
    )
    assert ok.status_code == 201, ok.text


async def test_slots_that_take_no_bookings(client, cast: Cast, make: Factory) -> None:
    maintenance = await make.slot(cast.lab, soon(), kind="maintenance")
    cancelled = await make.slot(cast.lab, soon(), status="cancelled")
    for slot in (maintenance, cancelled):
        response = await client.post(
            f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
        )
        assert response.status_code == 409
        assert response.json()["type"] == "/problems/slot-not-bookable"


async def test_language_must_be_one_the_lab_speaks(client, pool, cast: Cast, make: Factory) -> None:
    slot = await make.slot(cast.lab, soon())
    response = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(language="en"), headers=cast.director.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "language"
    assert await _seats(pool, slot["id"]) == 0


async def test_private_slot_is_invisible_to_other_organizations(client, cast: Cast, make: Factory) -> None:
    slot = await make.slot(cast.lab, soon(), organization_id=cast.director.organization_id)
    other = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.other_director.headers
    )
    assert other.status_code == 404
    own = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
    )
    assert own.status_code == 201, own.text


async def test_admin_books_for_a_named_organization(client, pool, cast: Cast, make: Factory) -> None:
    slot = await make.slot(cast.lab, soon())
    org_slug = await pool.fetchval(
        "select slug from organizations where id = $1", cast.director.organization_id
    )
    unnamed = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.admin.headers
    )
    assert unnamed.status_code == 422
    assert unnamed.json()["errors"][0]["field"] == "organization"
    named = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json=cast.body(organization=org_slug),
        headers=cast.admin.headers,
    )
    assert named.status_code == 201, named.text
    assert named.json()["organization"] == org_slug
    # a director cannot book on behalf of someone else's organization
    other_slug = await pool.fetchval(
        "select slug from organizations where id = $1", cast.other_director.organization_id
    )
    response = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json=cast.body(organization=other_slug),
        headers=cast.director.headers,
    )
    assert response.status_code == 403


async def test_unknown_slot_is_404(client, cast: Cast) -> None:
    response = await client.post(
        "/api/v1/slots/00000000-0000-4000-8000-000000000000/bookings",
        json=cast.body(),
        headers=cast.director.headers,
    )
    assert response.status_code == 404


async def test_retried_booking_with_idempotency_key_books_once(
    client, pool, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10)
    headers = {**cast.director.headers, "Idempotency-Key": f"book-{slot['id']}"}
    first = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(headcount=3), headers=headers
    )
    again = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(headcount=3), headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert await _seats(pool, slot["id"]) == 3
    assert await pool.fetchval("select count(*) from bookings where slot_id = $1", slot["id"]) == 1
