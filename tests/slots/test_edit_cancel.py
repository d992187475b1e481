from __future__ import annotations

import asyncpg

from tests.dates import ahead
from tests.slots.conftest import LabSetup, held_units


async def _publish(client, setup: LabSetup, start: str, end: str, **fields) -> dict:
    reply = await client.post(
        "/api/v1/slots", json=setup.slot(start, end, **fields), headers=setup.manager.headers
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


async def _book(pool: asyncpg.Pool, slot_id: str, headcount: int, status: str = "confirmed") -> object:
    org = await pool.fetchval(
        "insert into organizations (slug, name, kind) values ('c-' || substr(md5(random()::text), 1, 10), "
        "'{\"en\": \"College\"}', 'college') returning id"
    )
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "update slots set seats_taken = seats_taken + $2 where id = $1", slot_id, headcount
        )
        return await conn.fetchval(
            """insert into bookings (slot_id, organization_id, headcount, contact_name, language, status)
               values ($1, $2, $3, 'Dana', 'ru', $4) returning id""",
            slot_id,
            org,
            headcount,
            status,
        )


async def test_edit_time_capacity_units_bumps_sequence_and_audits(client, pool, setup: LabSetup) -> None:
    slot = await _publish(
        client,
        setup,
        ahead("2028-10-02T10:00:00+05:00"),
        ahead("2028-10-02T12:00:00+05:00"),
        equipment=[{"equipment": setup.tig, "units": 2}],
    )
    reply = await client.patch(
        f"/api/v1/slots/{slot['id']}",
        json={
            "starts_at": ahead("2028-10-02T13:00:00+05:00"),
            "ends_at": ahead("2028-10-02T15:00:00+05:00"),
            "capacity": 6,
            "equipment": [{"equipment": setup.tig, "units": 3}],
            "title": {"kk": "Аргонды дәнекерлеу"},
        },
        headers=setup.manager.headers,
    )
    assert reply.status_code == 200, reply.text
    changed = reply.json()
    assert changed["starts_at"] == ahead("2028-10-02T13:00:00+05:00")
    assert changed["capacity"] == 6
    assert changed["title"] == {"kk": "Аргонды дәнекерлеу"}
    assert [u["unit"] for u in changed["units"]] == [1, 2, 3]
    assert changed["sequence"] == 1
    assert changed["updated_at"] > slot["updated_at"]
    during = await pool.fetch("select during from slot_units where slot_id = $1", slot["id"])
    assert {str(r["during"].lower) for r in during} == {ahead("2028-10-02 08:00:00+00:00")}
    actions = await pool.fetch(
        "select action from audit_events where object_type = 'slot' and object_id = $1 order by id",
        slot["id"],
    )
    assert [a["action"] for a in actions] == ["slot.publish", "slot.update"]


async def test_edit_rechecks_units_against_other_slots(client, pool, setup: LabSetup) -> None:
    first = await _publish(
        client,
        setup,
        ahead("2028-10-03T10:00:00+05:00"),
        ahead("2028-10-03T12:00:00+05:00"),
        equipment=[{"equipment": setup.tig, "units": 4}],
    )
    second = await _publish(
        client,
        setup,
        ahead("2028-10-03T13:00:00+05:00"),
        ahead("2028-10-03T15:00:00+05:00"),
        equipment=[{"equipment": setup.tig, "units": 4}],
    )
    reply = await client.patch(
        f"/api/v1/slots/{second['id']}",
        json={"starts_at": ahead("2028-10-03T11:00:00+05:00")},
        headers=setup.manager.headers,
    )
    assert reply.status_code == 409
    assert reply.json()["type"] == "/problems/unit-taken"
    assert {c["slot_id"] for c in reply.json()["conflicts"]} == {first["id"]}
    unchanged = (await client.get(f"/api/v1/slots/{second['id']}")).json()
    assert unchanged["starts_at"] == ahead("2028-10-03T13:00:00+05:00")
    assert unchanged["sequence"] == 0
    assert len(unchanged["units"]) == 4
    # Moving within its own time keeps its stations.
    keep = await client.patch(
        f"/api/v1/slots/{second['id']}",
        json={"ends_at": ahead("2028-10-03T16:00:00+05:00")},
        headers=setup.manager.headers,
    )
    assert keep.json()["units"] == unchanged["units"]


async def test_capacity_cannot_shrink_below_seats_taken(client, pool, setup: LabSetup) -> None:
    slot = await _publish(
        client, setup, ahead("2028-10-04T10:00:00+05:00"), ahead("2028-10-04T12:00:00+05:00"), capacity=10
    )
    await _book(pool, slot["id"], 7)
    reply = await client.patch(
        f"/api/v1/slots/{slot['id']}", json={"capacity": 6}, headers=setup.manager.headers
    )
    assert reply.status_code == 409
    assert reply.json()["type"] == "/problems/capacity-below-seats-taken"
    assert reply.json()["seats_taken"] == 7
    assert (
        await client.patch(f"/api/v1/slots/{slot['id']}", json={"capacity": 7}, headers=setup.manager.headers)
    ).status_code == 200


async def test_cancel_releases_units_cancels_bookings_and_audits(client, pool, setup: LabSetup) -> None:
    all_units = [{"equipment": setup.tig, "units": 6}]
    slot = await _publish(
        client,
        setup,
        ahead("2028-10-05T10:00:00+05:00"),
        ahead("2028-10-05T12:00:00+05:00"),
        equipment=all_units,
    )
    booking = await _book(pool, slot["id"], 2)
    declined = await _book(pool, slot["id"], 1, status="declined")
    reply = await client.post(
        f"/api/v1/slots/{slot['id']}/cancel",
        json={"reason": "welding gas delivery late"},
        headers=setup.manager.headers,
    )
    assert reply.status_code == 200, reply.text
    cancelled = reply.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["sequence"] == 1
    assert len(cancelled["units"]) == 6
    assert await held_units(pool, setup.lab["id"]) == 0
    rows = {
        r["id"]: r
        for r in await pool.fetch(
            "select id, status, sequence, status_message from bookings where slot_id = $1", slot["id"]
        )
    }
    assert rows[booking]["status"] == "cancelled"
    assert rows[booking]["sequence"] == 1
    assert rows[booking]["status_message"] == "welding gas delivery late"
    assert rows[declined]["status"] == "declined"
    audit = await pool.fetchrow(
        "select after from audit_events where action = 'slot.cancel' and object_id = $1", slot["id"]
    )
    assert audit["after"]["reason"] == "welding gas delivery late"
    again = await client.post(f"/api/v1/slots/{slot['id']}/cancel", headers=setup.manager.headers)
    assert again.status_code == 409
    assert again.json()["current_status"] == "cancelled"
    reuse = await _publish(
        client,
        setup,
        ahead("2028-10-05T10:00:00+05:00"),
        ahead("2028-10-05T12:00:00+05:00"),
        equipment=all_units,
    )
    assert len(reuse["units"]) == 6


async def test_edit_of_missing_slot_is_404(client, setup: LabSetup) -> None:
    reply = await client.patch(
        "/api/v1/slots/00000000-0000-0000-0000-000000000000",
        json={"capacity": 3},
        headers=setup.manager.headers,
    )
    assert reply.status_code == 404


async def test_visibility_switches_and_deadline(client, make, setup: LabSetup) -> None:
    college = await make.organization(kind="college")
    slot = await _publish(
        client, setup, ahead("2028-10-06T10:00:00+05:00"), ahead("2028-10-06T12:00:00+05:00")
    )
    url = f"/api/v1/slots/{slot['id']}"
    private = await client.patch(
        url, json={"visibility": "private", "organization": college["slug"]}, headers=setup.manager.headers
    )
    assert private.status_code == 200, private.text
    assert private.json()["organization"] == college["slug"]
    assert (await client.get(url)).status_code == 404
    public = await client.patch(url, json={"visibility": "public"}, headers=setup.manager.headers)
    assert public.status_code == 200, public.text
    assert public.json()["organization"] is None
    late = await client.patch(
        url, json={"booking_deadline": ahead("2028-10-06T13:00:00+05:00")}, headers=setup.manager.headers
    )
    assert late.status_code == 422
    deadline = await client.patch(
        url, json={"booking_deadline": ahead("2028-10-05T18:00:00+05:00")}, headers=setup.manager.headers
    )
    assert deadline.json()["booking_deadline"] == ahead("2028-10-05T18:00:00+05:00")
    cleared = await client.patch(url, json={"booking_deadline": None}, headers=setup.manager.headers)
    assert cleared.json()["booking_deadline"] is None
    assert cleared.json()["sequence"] == 4
