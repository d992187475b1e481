from __future__ import annotations

from tests.dates import ahead
from tests.factories import Factory
from tests.slots.conftest import LabSetup, make_setup


async def test_free_windows_and_units_per_local_day(client, make: Factory) -> None:
    setup = await make_setup(make, capacity=20, units=3)
    headers = setup.manager.headers
    tour = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-12-04T10:00:00+05:00"), ahead("2028-12-04T12:00:00+05:00"), kind="tour", capacity=20
        ),
        headers=headers,
    )
    assert tour.status_code == 201
    training = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-12-04T14:00:00+05:00"),
            ahead("2028-12-04T16:00:00+05:00"),
            capacity=4,
            equipment=[{"equipment": setup.tig, "units": 2}],
        ),
        headers=headers,
    )
    assert training.status_code == 201
    closure = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-12-05T00:00:00+05:00"), ahead("2028-12-06T00:00:00+05:00"), kind="closure", capacity=0
        ),
        headers=headers,
    )
    assert closure.status_code == 201
    reply = await client.get(
        f"/api/v1/labs/{setup.slug}/availability?from={ahead('2028-12-04')}&to={ahead('2028-12-07')}"
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["timezone"] == "Asia/Almaty"
    monday, tuesday, wednesday = body["days"]
    assert monday["date"] == ahead("2028-12-04")
    assert [
        (w["starts_at"][11:16], w["ends_at"][11:16], w["people_free"]) for w in monday["free_windows"]
    ] == [
        ("08:00", "10:00", 20),
        ("12:00", "14:00", 20),
        ("14:00", "16:00", 16),
        ("16:00", "20:00", 20),
    ]
    [tig] = monday["equipment"]
    assert tig["equipment"] == setup.tig
    assert tig["units"] == 3
    assert [(w["starts_at"][11:16], w["ends_at"][11:16], w["free_units"]) for w in tig["windows"]] == [
        ("08:00", "14:00", [1, 2, 3]),
        ("14:00", "16:00", [3]),
        ("16:00", "20:00", [1, 2, 3]),
    ]
    assert tuesday["free_windows"] == []
    assert tuesday["equipment"][0]["windows"] == []
    assert [(w["starts_at"][11:16], w["ends_at"][11:16]) for w in wednesday["free_windows"]] == [
        ("08:00", "20:00")
    ]


async def test_availability_limits(client, setup: LabSetup) -> None:
    too_long = await client.get(
        f"/api/v1/labs/{setup.slug}/availability?from={ahead('2028-11-28')}&to={ahead('2029-01-30')}"
    )
    assert too_long.status_code == 422
    backwards = await client.get(
        f"/api/v1/labs/{setup.slug}/availability?from={ahead('2028-12-02')}&to={ahead('2028-11-28')}"
    )
    assert backwards.status_code == 422
    assert (
        await client.get(
            f"/api/v1/labs/no-such-lab/availability?from={ahead('2028-11-28')}&to={ahead('2028-11-29')}"
        )
    ).status_code == 404
    ok = await client.get(
        f"/api/v1/labs/{setup.slug}/availability?from={ahead('2028-11-28')}&to={ahead('2029-01-29')}"
    )
    assert ok.status_code == 200
    assert len(ok.json()["days"]) == 62
