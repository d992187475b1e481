from __future__ import annotations

from tests.dates import ahead
from tests.slots.conftest import LabSetup, count_slots, held_units


async def test_publish_picks_free_units_and_reports_them(client, pool, setup: LabSetup) -> None:
    body = setup.slot(
        ahead("2028-09-04T10:00:00+05:00"),
        ahead("2028-09-04T12:00:00+05:00"),
        equipment=[{"equipment": setup.tig, "units": 2}],
    )
    reply = await client.post("/api/v1/slots", json=body, headers=setup.manager.headers)
    assert reply.status_code == 201, reply.text
    slot = reply.json()
    assert slot["lab"] == setup.slug
    assert slot["timezone"] == "Asia/Almaty"
    assert slot["starts_at"] == ahead("2028-09-04T10:00:00+05:00")
    assert slot["units"] == [{"equipment": setup.tig, "unit": 1}, {"equipment": setup.tig, "unit": 2}]
    assert slot["seats_left"] == 4
    assert slot["sequence"] == 0
    second = await client.post("/api/v1/slots", json=body, headers=setup.manager.headers)
    assert second.status_code == 201, second.text
    assert [u["unit"] for u in second.json()["units"]] == [3, 4]
    assert await held_units(pool, setup.lab["id"]) == 4
    assert await count_slots(pool, setup.lab["id"]) == 2


async def test_naive_datetime_is_422(client, pool, setup: LabSetup) -> None:
    body = setup.slot(ahead("2028-09-04T10:00:00"), ahead("2028-09-04T12:00:00"))
    reply = await client.post("/api/v1/slots", json=body, headers=setup.manager.headers)
    assert reply.status_code == 422, reply.text
    assert reply.json()["type"] == "/problems/validation"
    assert await count_slots(pool, setup.lab["id"]) == 0


async def test_end_before_start_is_422(client, setup: LabSetup) -> None:
    body = setup.slot(ahead("2028-09-04T12:00:00+05:00"), ahead("2028-09-04T12:00:00+05:00"))
    reply = await client.post("/api/v1/slots", json=body, headers=setup.manager.headers)
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "ends_at"


async def test_unit_taken_names_the_holder_and_writes_nothing(client, pool, setup: LabSetup) -> None:
    all_units = [{"equipment": setup.tig, "units": 6}]
    first = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-09-05T10:00:00+05:00"), ahead("2028-09-05T12:00:00+05:00"), equipment=all_units
        ),
        headers=setup.manager.headers,
    )
    assert first.status_code == 201, first.text
    reply = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-09-05T11:59:00+05:00"),
            ahead("2028-09-05T13:00:00+05:00"),
            equipment=[{"equipment": setup.tig, "units": 1}],
        ),
        headers=setup.manager.headers,
    )
    assert reply.status_code == 409, reply.text
    problem = reply.json()
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert problem["type"] == "/problems/unit-taken"
    assert problem["conflicts"][0] == {
        "slot_id": first.json()["id"],
        "unit": 1,
        "equipment": setup.tig,
        "kind": "training",
        "starts_at": ahead("2028-09-05T10:00:00+05:00"),
        "ends_at": ahead("2028-09-05T12:00:00+05:00"),
    }
    assert len(problem["conflicts"]) == 6
    assert await count_slots(pool, setup.lab["id"]) == 1
    # Half-open ranges: a slot starting when the other ends takes the same units.
    after = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-09-05T12:00:00+05:00"), ahead("2028-09-05T13:00:00+05:00"), equipment=all_units
        ),
        headers=setup.manager.headers,
    )
    assert after.status_code == 201, after.text


async def test_maintenance_holds_units_against_training(client, pool, setup: LabSetup) -> None:
    maintenance = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-09-06T06:00:00+05:00"),
            ahead("2028-09-06T22:00:00+05:00"),
            kind="maintenance",
            capacity=0,
            equipment=[{"equipment": setup.tig, "units": 5}],
        ),
        headers=setup.manager.headers,
    )
    assert maintenance.status_code == 201, maintenance.text
    training = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-09-06T10:00:00+05:00"),
            ahead("2028-09-06T12:00:00+05:00"),
            equipment=[{"equipment": setup.tig, "units": 2}],
        ),
        headers=setup.manager.headers,
    )
    assert training.status_code == 409
    problem = training.json()
    assert problem["type"] == "/problems/unit-taken"
    assert {c["slot_id"] for c in problem["conflicts"]} == {maintenance.json()["id"]}
    assert problem["free"] == 1
    assert await count_slots(pool, setup.lab["id"]) == 1


async def test_out_of_service_equipment_and_retired_units_are_not_picked(
    client, pool, make, setup: LabSetup
) -> None:
    await pool.execute(
        "update equipment_units set is_retired = true where equipment_id = $1 and number = 1",
        setup.equipment["id"],
    )
    reply = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-09-07T10:00:00+05:00"),
            ahead("2028-09-07T11:00:00+05:00"),
            equipment=[{"equipment": setup.tig, "units": 5}],
        ),
        headers=setup.manager.headers,
    )
    assert reply.status_code == 201, reply.text
    assert [u["unit"] for u in reply.json()["units"]] == [2, 3, 4, 5, 6]
    too_many = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-09-07T12:00:00+05:00"),
            ahead("2028-09-07T13:00:00+05:00"),
            equipment=[{"equipment": setup.tig, "units": 6}],
        ),
        headers=setup.manager.headers,
    )
    assert too_many.status_code == 422
    broken = await make.equipment(lab_id=setup.lab["id"], units=2)
    await pool.execute("update equipment set is_out_of_service = true where id = $1", broken["id"])
    reply = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-09-07T12:00:00+05:00"),
            ahead("2028-09-07T13:00:00+05:00"),
            equipment=[{"equipment": broken["slug"], "units": 1}],
        ),
        headers=setup.manager.headers,
    )
    assert reply.status_code == 409
    assert reply.json()["type"] == "/problems/equipment-out-of-service"
    assert reply.json()["equipment"] == broken["slug"]
    assert await count_slots(pool, setup.lab["id"]) == 1


async def test_opening_hours_and_explicit_override(client, pool, setup: LabSetup) -> None:
    body = setup.slot(ahead("2028-09-04T19:00:00+05:00"), ahead("2028-09-04T21:00:00+05:00"))
    reply = await client.post("/api/v1/slots", json=body, headers=setup.manager.headers)
    assert reply.status_code == 409
    problem = reply.json()
    assert problem["type"] == "/problems/outside-opening-hours"
    assert problem["opening_hours"] == [{"weekday": 1, "opens_at": "08:00:00", "closes_at": "20:00:00"}]
    assert await count_slots(pool, setup.lab["id"]) == 0
    reply = await client.post(
        "/api/v1/slots", json={**body, "outside_hours": True}, headers=setup.manager.headers
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["is_outside_hours"] is True


async def test_lab_without_opening_hours_takes_any_time(client, make) -> None:
    from tests.slots.conftest import make_setup

    open_lab = await make_setup(make, hours=False)
    body = open_lab.slot(ahead("2028-09-04T02:00:00+05:00"), ahead("2028-09-04T04:00:00+05:00"))
    reply = await client.post("/api/v1/slots", json=body, headers=open_lab.manager.headers)
    assert reply.status_code == 201, reply.text


async def test_closures_and_slots_never_overlap(client, pool, setup: LabSetup) -> None:
    tour = await client.post(
        "/api/v1/slots",
        json=setup.slot(ahead("2028-09-08T10:00:00+05:00"), ahead("2028-09-08T11:00:00+05:00"), kind="tour"),
        headers=setup.manager.headers,
    )
    assert tour.status_code == 201
    closure_body = setup.slot(
        ahead("2028-09-08T00:00:00+05:00"), ahead("2028-09-09T00:00:00+05:00"), kind="closure", capacity=0
    )
    closure = await client.post("/api/v1/slots", json=closure_body, headers=setup.manager.headers)
    assert closure.status_code == 409
    assert closure.json()["type"] == "/problems/lab-closed"
    assert closure.json()["conflicts"] == [
        {
            "slot_id": tour.json()["id"],
            "kind": "tour",
            "starts_at": ahead("2028-09-08T10:00:00+05:00"),
            "ends_at": ahead("2028-09-08T11:00:00+05:00"),
        }
    ]
    # A closure ignores opening hours; the next day it fits.
    closure_body.update(
        starts_at=ahead("2028-09-09T00:00:00+05:00"), ends_at=ahead("2028-09-10T00:00:00+05:00")
    )
    closure = await client.post("/api/v1/slots", json=closure_body, headers=setup.manager.headers)
    assert closure.status_code == 201, closure.text
    blocked = await client.post(
        "/api/v1/slots",
        json=setup.slot(ahead("2028-09-09T10:00:00+05:00"), ahead("2028-09-09T11:00:00+05:00"), kind="tour"),
        headers=setup.manager.headers,
    )
    assert blocked.status_code == 409
    assert blocked.json()["conflicts"][0]["slot_id"] == closure.json()["id"]
    assert await count_slots(pool, setup.lab["id"]) == 2


async def test_lab_capacity_is_checked_at_every_instant(client, pool, make) -> None:
    from tests.slots.conftest import make_setup

    small = await make_setup(make, capacity=30)
    headers = small.manager.headers

    async def publish(start: str, end: str, capacity: int) -> object:
        return await client.post(
            "/api/v1/slots",
            json=small.slot(
                f"{ahead('2028-09-11')}T{start}:00+05:00",
                f"{ahead('2028-09-11')}T{end}:00+05:00",
                kind="tour",
                capacity=capacity,
            ),
            headers=headers,
        )

    a = await publish("10:00", "12:00", 20)
    assert a.status_code == 201
    b = await publish("11:00", "13:00", 10)
    assert b.status_code == 201
    # 20 + 10 + 20 = 50 overlap 10:00–13:00 in total, but never more than 30 at one instant.
    assert (await publish("12:00", "13:00", 20)).status_code == 201
    full = await publish("11:30", "12:30", 1)
    assert full.status_code == 409
    problem = full.json()
    assert problem["type"] == "/problems/lab-capacity"
    assert problem["lab_capacity"] == 30
    assert problem["already_taken"] == 30
    assert {c["slot_id"] for c in problem["conflicts"]} == {a.json()["id"], b.json()["id"]}
    too_big = await publish("15:00", "16:00", 31)
    assert too_big.status_code == 409
    assert await count_slots(pool, small.lab["id"]) == 3


async def test_permissions(client, pool, make, setup: LabSetup) -> None:
    body = setup.slot(ahead("2028-09-12T10:00:00+05:00"), ahead("2028-09-12T11:00:00+05:00"))
    director = await make.person("director")
    other_lab = await make.lab()
    other_manager = await make.person("lab_manager", lab_ids=(other_lab["id"],))
    assert (await client.post("/api/v1/slots", json=body)).status_code == 401
    assert (await client.post("/api/v1/slots", json=body, headers=director.headers)).status_code == 403
    assert (await client.post("/api/v1/slots", json=body, headers=other_manager.headers)).status_code == 403
    admin = await make.person("admin")
    created = await client.post("/api/v1/slots", json=body, headers=admin.headers)
    assert created.status_code == 201
    slot_id = created.json()["id"]
    for headers in (director.headers, other_manager.headers):
        assert (
            await client.patch(f"/api/v1/slots/{slot_id}", json={"capacity": 2}, headers=headers)
        ).status_code == 403
        assert (await client.post(f"/api/v1/slots/{slot_id}/cancel", headers=headers)).status_code == 403
    assert (await client.post(f"/api/v1/slots/{slot_id}/cancel")).status_code == 401
    assert await count_slots(pool, setup.lab["id"]) == 1
    assert (await client.get(f"/api/v1/slots/{slot_id}")).json()["status"] == "active"


async def test_private_slot_visible_only_to_its_organization_and_staff(client, make, setup: LabSetup) -> None:
    college = await make.organization(kind="college")
    director = await make.person("director", organization_id=college["id"])
    stranger = await make.person("director")
    reply = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-09-13T10:00:00+05:00"),
            ahead("2028-09-13T11:00:00+05:00"),
            visibility="private",
            organization=college["slug"],
        ),
        headers=setup.manager.headers,
    )
    assert reply.status_code == 201, reply.text
    slot = reply.json()
    assert slot["organization"] == college["slug"]
    url = f"/api/v1/slots/{slot['id']}"
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=stranger.headers)).status_code == 404
    assert (await client.get(url, headers=director.headers)).status_code == 200
    assert (await client.get(url, headers=setup.manager.headers)).status_code == 200
    first, last = ahead("2028-09-13T00:00:00%2B05:00"), ahead("2028-09-14T00:00:00%2B05:00")
    listing = f"/api/v1/slots?lab={setup.slug}&from={first}&to={last}"
    assert (await client.get(listing)).json()["total"] == 0
    assert [s["id"] for s in (await client.get(listing, headers=director.headers)).json()["items"]] == [
        slot["id"]
    ]
    assert (await client.get(listing, headers=setup.manager.headers)).json()["total"] == 1
    missing_org = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-09-13T12:00:00+05:00"), ahead("2028-09-13T13:00:00+05:00"), visibility="private"
        ),
        headers=setup.manager.headers,
    )
    assert missing_org.status_code == 422


async def test_list_filters_and_seats_left(client, pool, setup: LabSetup) -> None:
    headers = setup.manager.headers
    ids = []
    for day, kind in (("14", "tour"), ("15", "training"), ("16", "event")):
        reply = await client.post(
            "/api/v1/slots",
            json=setup.slot(
                ahead(f"2028-09-{day}T10:00:00+05:00"), ahead(f"2028-09-{day}T11:00:00+05:00"), kind=kind
            ),
            headers=headers,
        )
        ids.append(reply.json()["id"])
    await pool.execute("update slots set seats_taken = capacity where id = $1", ids[0])
    first, last = ahead("2028-09-14T00:00:00%2B05:00"), ahead("2028-09-17T00:00:00%2B05:00")
    base = f"/api/v1/slots?lab={setup.slug}&from={first}&to={last}"
    everything = (await client.get(base)).json()
    assert [s["id"] for s in everything["items"]] == ids
    with_seats = (await client.get(base + "&has_seats=true")).json()
    assert [s["id"] for s in with_seats["items"]] == ids[1:]
    assert (await client.get(base + "&kind=event")).json()["items"][0]["id"] == ids[2]
    page = (await client.get(base + "&limit=1&offset=1")).json()
    assert page["total"] == 3
    assert [s["id"] for s in page["items"]] == [ids[1]]
    first, last = ahead("2028-09-16T00:00:00%2B05:00"), ahead("2028-09-17T00:00:00%2B05:00")
    every_lab = f"/api/v1/slots?from={first}&to={last}&kind=event&limit=200"
    assert ids[2] in {s["id"] for s in (await client.get(every_lab)).json()["items"]}
    naive = await client.get(f"/api/v1/slots?lab={setup.slug}&from={ahead('2028-09-14')}T00:00:00")
    assert naive.status_code == 422
    assert (await client.get("/api/v1/slots?lab=no-such-lab")).status_code == 404


async def test_listing_with_seats_agrees_with_the_booking_rules(client, pool, make, setup: LabSetup) -> None:
    """``has_seats`` keeps exactly the slots a booking would be admitted to now: a slot beyond the
    lab's booking window is left out, and booking it is refused for that reason."""
    reply = await client.post(
        "/api/v1/slots",
        json=setup.slot(ahead("2028-09-14T10:00:00+05:00"), ahead("2028-09-14T11:00:00+05:00")),
        headers=setup.manager.headers,
    )
    slot_id = reply.json()["id"]
    first, last = ahead("2028-09-14T00:00:00%2B05:00"), ahead("2028-09-15T00:00:00%2B05:00")
    listing = f"/api/v1/slots?lab={setup.slug}&from={first}&to={last}&has_seats=true"
    assert [s["id"] for s in (await client.get(listing)).json()["items"]] == [slot_id]
    await pool.execute("update labs set max_advance_days = 1 where id = $1", setup.lab["id"])
    beyond = (await client.get(listing)).json()
    assert (beyond["items"], beyond["total"]) == ([], 0)
    director = await make.person("director")
    booking = await client.post(
        f"/api/v1/slots/{slot_id}/bookings",
        json={"headcount": 2, "contact_name": "Айгүл Серікқызы", "language": "ru"},
        headers=director.headers,
    )
    assert booking.status_code == 409, booking.text
    assert booking.json()["type"].endswith("/booking-window")
