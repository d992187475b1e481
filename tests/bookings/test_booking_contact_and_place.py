"""A booking says where the lab is, and whom to reach: the director's own details unless others are given."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.bookings.helpers import Cast
from tests.dates import soon
from tests.factories import Factory

PLACE = {"address": "Satpaev St 22, Almaty", "building": "Block G", "room": "104"}


async def _with_profile(pool: asyncpg.Pool, cast: Cast, phone: str | None) -> None:
    await pool.execute("update people set phone = $2 where id = $1", cast.director.id, phone)


async def _book(client: Any, cast: Cast, slot_id: object, **fields: Any) -> dict[str, Any]:
    reply = await client.post(
        f"/api/v1/slots/{slot_id}/bookings", json=cast.body(**fields), headers=cast.director.headers
    )
    assert reply.status_code == 201, reply.text
    booking: dict[str, Any] = reply.json()
    return booking


async def test_every_booking_reply_says_where_the_lab_is(
    client, pool: asyncpg.Pool, cast: Cast, make: Factory
) -> None:
    await pool.execute(
        "update labs set address = $2, building = $3, room = $4 where id = $1",
        cast.lab["id"],
        PLACE["address"],
        PLACE["building"],
        PLACE["room"],
    )
    slot = await make.slot(cast.lab, soon(), capacity=5, requires_approval=True)
    booked = await _book(client, cast, slot["id"], headcount=5)
    waitlisted = await _book(client, cast, slot["id"], headcount=2, waitlist=True)
    assert waitlisted["status"] == "waitlisted"

    fetched = await client.get(f"/api/v1/bookings/{booked['id']}", headers=cast.director.headers)
    listed = await client.get(
        "/api/v1/bookings", params={"slot": str(slot["id"])}, headers=cast.manager.headers
    )
    confirmed = await client.post(f"/api/v1/bookings/{booked['id']}/confirm", headers=cast.manager.headers)

    replies = [booked, waitlisted, fetched.json(), *listed.json()["items"], confirmed.json()]
    assert len(replies) == 6
    for reply in replies:
        assert {key: reply["slot"][key] for key in PLACE} == PLACE


async def test_a_lab_without_building_or_room_says_so(client, cast: Cast, make: Factory) -> None:
    slot = await make.slot(cast.lab, soon())

    booked = await _book(client, cast, slot["id"])

    assert booked["slot"]["address"] == cast.lab["address"]
    assert booked["slot"]["building"] is None
    assert booked["slot"]["room"] is None


async def test_contact_details_default_to_the_directors_profile(
    client, pool: asyncpg.Pool, cast: Cast, make: Factory
) -> None:
    await _with_profile(pool, cast, "+7 701 555 00 11")
    slot = await make.slot(cast.lab, soon(), capacity=6)

    booked = await _book(client, cast, slot["id"], headcount=6)
    # a full slot waitlists: the booking is written by another statement, with the same defaults
    waitlisted = await _book(client, cast, slot["id"], headcount=1, waitlist=True)

    for booking in (booked, waitlisted):
        assert booking["contact_email"] == cast.director.email
        assert booking["contact_phone"] == "+7 701 555 00 11"
        shown = await client.get(f"/api/v1/bookings/{booking['id']}", headers=cast.manager.headers)
        assert (shown.json()["contact_email"], shown.json()["contact_phone"]) == (
            cast.director.email,
            "+7 701 555 00 11",
        )


async def test_contact_details_given_in_the_request_win(
    client, pool: asyncpg.Pool, cast: Cast, make: Factory
) -> None:
    await _with_profile(pool, cast, "+7 701 555 00 11")
    slot = await make.slot(cast.lab, soon())

    booked = await _book(client, cast, slot["id"], contact_email="teacher@college.kz")

    assert booked["contact_email"] == "teacher@college.kz"
    assert booked["contact_phone"] == "+7 701 555 00 11"
    other = await _book(client, cast, slot["id"], contact_phone="+7 702 000 00 00")
    assert other["contact_email"] == cast.director.email
    assert other["contact_phone"] == "+7 702 000 00 00"
