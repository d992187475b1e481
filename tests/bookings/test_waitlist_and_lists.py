"""Waitlist promotion, listing what each role may see, and bad input that writes nothing."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.bookings.helpers import Cast
from tests.dates import soon
from tests.factories import Factory


async def _book(client, cast: Cast, slot_id: object, headcount: int, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/slots/{slot_id}/bookings",
        json=cast.body(headcount=headcount, **fields),
        headers=cast.director.headers,
    )
    assert response.status_code == 201, response.text
    booking: dict[str, Any] = response.json()
    return booking


async def test_freed_seats_go_to_the_oldest_waitlisted_bookings_that_fit(
    client, pool: asyncpg.Pool, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10)
    holder = await _book(client, cast, slot["id"], 10)
    big = await _book(client, cast, slot["id"], 8, waitlist=True)
    small_old = await _book(client, cast, slot["id"], 3, waitlist=True)
    small_new = await _book(client, cast, slot["id"], 3, waitlist=True)
    too_late = await _book(client, cast, slot["id"], 2, waitlist=True)
    assert {b["status"] for b in (big, small_old, small_new, too_late)} == {"waitlisted"}

    # 10 seats free up: the 8 fits first, then 2 seats are left, which only the 2 can use.
    await client.post(f"/api/v1/bookings/{holder['id']}/cancel", headers=cast.director.headers)
    statuses = dict(await pool.fetch("select id::text, status from bookings where slot_id = $1", slot["id"]))
    assert statuses[big["id"]] == "confirmed"
    assert statuses[small_old["id"]] == "waitlisted"
    assert statuses[small_new["id"]] == "waitlisted"
    assert statuses[too_late["id"]] == "confirmed"
    assert await pool.fetchval("select seats_taken from slots where id = $1", slot["id"]) == 10

    # The 8 leaves: the older 3 goes before the newer 3.
    await client.post(f"/api/v1/bookings/{big['id']}/cancel", headers=cast.director.headers)
    rows = dict(await pool.fetch("select id::text, status from bookings where slot_id = $1", slot["id"]))
    assert rows[small_old["id"]] == "confirmed"
    assert rows[small_new["id"]] == "confirmed"
    assert await pool.fetchval("select seats_taken from slots where id = $1", slot["id"]) == 8
    promotions = await pool.fetch(
        "select object_id, before, after from audit_events where action = 'booking.promote' "
        "and object_id = any($1::text[]) order by id",
        [big["id"], small_old["id"], small_new["id"], too_late["id"]],
    )
    assert [p["object_id"] for p in promotions] == [
        big["id"],
        too_late["id"],
        small_old["id"],
        small_new["id"],
    ]
    assert all(p["before"]["status"] == "waitlisted" for p in promotions)


async def test_promotion_into_a_slot_needing_approval_is_pending(
    client, pool: asyncpg.Pool, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=5, requires_approval=True)
    holder = await _book(client, cast, slot["id"], 5)
    waiting = await _book(client, cast, slot["id"], 5, waitlist=True)
    declined = await client.post(f"/api/v1/bookings/{holder['id']}/decline", headers=cast.manager.headers)
    assert declined.status_code == 200
    promoted = await client.get(f"/api/v1/bookings/{waiting['id']}", headers=cast.director.headers)
    assert promoted.json()["status"] == "pending"
    assert promoted.json()["sequence"] == 1


async def test_each_role_lists_what_it_may_see(client, pool: asyncpg.Pool, make: Factory, cast: Cast) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=50, requires_approval=True)
    mine = await _book(client, cast, slot["id"], 2)
    theirs = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json=cast.body(headcount=3),
        headers=cast.other_director.headers,
    )
    other_lab = await make.lab()
    elsewhere = await make.slot(other_lab, soon())
    await _book(client, cast, elsewhere["id"], 1)

    async def ids(person, **params: Any) -> set[str]:
        response = await client.get("/api/v1/bookings", params=params, headers=person.headers)
        assert response.status_code == 200, response.text
        return {b["id"] for b in response.json()["items"]}

    assert await ids(cast.director, slot=str(slot["id"])) == {mine["id"]}
    assert await ids(cast.other_director, slot=str(slot["id"])) == {theirs.json()["id"]}
    managed = await ids(cast.manager, status="pending")
    assert managed == {mine["id"], theirs.json()["id"]}
    assert await ids(cast.admin, slot=str(slot["id"])) == {mine["id"], theirs.json()["id"]}
    assert await ids(cast.manager, lab=other_lab["slug"]) == set()

    page = await client.get(
        "/api/v1/bookings", params={"slot": str(slot["id"]), "limit": 1}, headers=cast.admin.headers
    )
    assert page.json()["total"] == 2
    assert len(page.json()["items"]) == 1
    window = await client.get(
        "/api/v1/bookings",
        params={"from": slot["starts_at"].isoformat(), "to": slot["ends_at"].isoformat()},
        headers=cast.director.headers,
    )
    assert mine["id"] in {b["id"] for b in window.json()["items"]}
    assert elsewhere["id"] not in {b["slot"]["id"] for b in window.json()["items"]}


async def test_list_rejects_naive_times_and_bad_status(client, cast: Cast) -> None:
    naive = await client.get(
        "/api/v1/bookings", params={"from": "2030-01-01T10:00:00"}, headers=cast.admin.headers
    )
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "from"
    # A number is not a time, not even seconds since 1970.
    number = await client.get("/api/v1/bookings", params={"to": "0.5"}, headers=cast.admin.headers)
    assert number.status_code == 422
    assert number.json()["errors"][0]["field"] == "to"
    status = await client.get("/api/v1/bookings", params={"status": "maybe"}, headers=cast.admin.headers)
    assert status.status_code == 422
    assert (await client.get("/api/v1/bookings")).status_code == 401


async def test_bad_input_is_refused_and_writes_nothing(
    client, pool: asyncpg.Pool, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10)
    url = f"/api/v1/slots/{slot['id']}/bookings"
    bad_bodies = [
        cast.body(headcount=-3),
        cast.body(headcount=0),
        cast.body(color="red"),
        cast.body(language="de"),
        cast.body(contact_email="not-an-address"),
        {"headcount": 2, "language": "ru"},
    ]
    for body in bad_bodies:
        response = await client.post(url, json=body, headers=cast.director.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    malformed = await client.post(
        url,
        content=b'{"headcount": 2,',
        headers={**cast.director.headers, "content-type": "application/json"},
    )
    assert malformed.status_code == 400
    anonymous = await client.post(url, json=cast.body())
    assert anonymous.status_code == 401
    manager = await client.post(url, json=cast.body(), headers=cast.manager.headers)
    assert manager.status_code == 403
    assert await pool.fetchval("select count(*) from bookings where slot_id = $1", slot["id"]) == 0
    assert await pool.fetchval("select seats_taken from slots where id = $1", slot["id"]) == 0


async def test_notes_in_kazakh_russian_and_sql_metacharacters_round_trip(
    client, pool: asyncpg.Pool, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(cast.lab, soon(), capacity=10)
    notes = "Өнер қазынасы; «Сварка» — 5 оқушы'); drop table bookings; -- \\ % _ $1 \u0000".replace(
        "\u0000", ""
    )
    booking = await _book(client, cast, slot["id"], 2, notes=notes, age_group="14–16 жас")
    assert booking["notes"] == notes
    assert await pool.fetchval("select notes from bookings where id = $1", booking["id"]) == notes
    assert await pool.fetchval("select count(*) from bookings where slot_id = $1", slot["id"]) == 1
