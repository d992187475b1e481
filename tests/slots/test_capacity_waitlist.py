"""Raising a slot's capacity serves its waitlist in the same change."""

from __future__ import annotations

import pytest

from tests.dates import ahead
from tests.factories import Factory
from tests.slots.conftest import LabSetup


@pytest.mark.parametrize(("requires_approval", "promoted"), [(False, "confirmed"), (True, "pending")])
async def test_raising_capacity_promotes_the_waitlisted_bookings_that_fit(
    client, pool, make: Factory, setup: LabSetup, requires_approval: bool, promoted: str
) -> None:
    publish = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-11-06T10:00:00+05:00"),
            ahead("2028-11-06T12:00:00+05:00"),
            kind="tour",
            capacity=4,
            requires_approval=requires_approval,
        ),
        headers=setup.manager.headers,
    )
    assert publish.status_code == 201, publish.text
    slot_id = publish.json()["id"]
    director = await make.person("director")

    async def book(headcount: int, contact: str) -> dict:
        reply = await client.post(
            f"/api/v1/slots/{slot_id}/bookings",
            json={"headcount": headcount, "contact_name": contact, "language": "ru", "waitlist": True},
            headers=director.headers,
        )
        assert reply.status_code == 201, reply.text
        return dict(reply.json())

    a = await book(4, "Group A")
    if requires_approval:
        confirmed = await client.post(f"/api/v1/bookings/{a['id']}/confirm", headers=setup.manager.headers)
        assert confirmed.status_code == 200, confirmed.text
    else:
        assert a["status"] == "confirmed"
    b = await book(2, "Group B")
    c = await book(3, "Group C")
    assert (b["status"], c["status"]) == ("waitlisted", "waitlisted")

    raised = await client.patch(
        f"/api/v1/slots/{slot_id}", json={"capacity": 6}, headers=setup.manager.headers
    )
    assert raised.status_code == 200, raised.text
    assert raised.json()["capacity"] == 6

    statuses = {}
    for booking in (a, b, c):
        reply = await client.get(f"/api/v1/bookings/{booking['id']}", headers=director.headers)
        statuses[booking["contact_name"]] = reply.json()["status"]
    assert statuses == {"Group A": "confirmed", "Group B": promoted, "Group C": "waitlisted"}
    assert await pool.fetchval("select seats_taken from slots where id = $1", slot_id) == 6
    events = await pool.fetch(
        "select action from audit_events where object_type = 'booking' and object_id = $1 order by id",
        b["id"],
    )
    assert [e["action"] for e in events] == ["booking.create", "booking.promote"]
