"""``POST /series/preview``: every occurrence and what it collides with, decided as publishing decides."""

from __future__ import annotations

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.dates import ahead
from tests.factories import Factory
from tests.slots.conftest import LabSetup, count_slots, make_setup
from tests.slots.test_series import series_body

Client = AsyncTestClient[Litestar]


async def test_preview_lists_every_occurrence_and_writes_nothing(
    client: Client, pool: asyncpg.Pool, setup: LabSetup
) -> None:
    maintenance = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-11-14T09:00:00+05:00"),
            ahead("2028-11-14T13:00:00+05:00"),
            kind="maintenance",
            capacity=0,
            title={"en": "Torch replacement"},
            equipment=[{"equipment": setup.tig, "units": 2}],
        ),
        headers=setup.manager.headers,
    )
    assert maintenance.status_code == 201, maintenance.text
    body = series_body(
        setup,
        ahead("2028-10-31T10:00:00+05:00"),
        ahead("2028-10-31T12:00:00+05:00"),
        equipment=[{"equipment": setup.tig, "units": 6}],
    )
    preview = await client.post("/api/v1/series/preview", json=body, headers=setup.manager.headers)
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert shown["collisions"] == 1
    assert [o["starts_at"] for o in shown["occurrences"]] == [
        ahead("2028-10-31T10:00:00+05:00"),
        ahead("2028-11-07T10:00:00+05:00"),
        ahead("2028-11-14T10:00:00+05:00"),
        ahead("2028-11-21T10:00:00+05:00"),
    ]
    assert [o["fits"] for o in shown["occurrences"]] == [True, True, False, True]
    collided = shown["occurrences"][2]
    assert collided["problem"] == "/problems/unit-taken"
    assert {c["slot_id"] for c in collided["conflicts"]} == {maintenance.json()["id"]}
    assert {c["kind"] for c in collided["conflicts"]} == {"maintenance"}
    assert await count_slots(pool, setup.lab["id"]) == 1
    assert await pool.fetchval("select count(*) from slot_series where lab_id = $1", setup.lab["id"]) == 0

    # publishing decides the same way: refused whole, or written with the previewed collision skipped
    refused = await client.post("/api/v1/series", json=body, headers=setup.manager.headers)
    assert refused.status_code == 409
    assert [o["occurrence_start"] for o in refused.json()["occurrences"]] == [collided["starts_at"]]
    created = await client.post(
        "/api/v1/series", json={**body, "skip_conflicts": True}, headers=setup.manager.headers
    )
    assert created.status_code == 201, created.text
    assert [o["starts_at"] for o in created.json()["skipped"]] == [collided["starts_at"]]
    assert len(created.json()["created"]) == 3


async def test_preview_names_closures_hours_and_lab_capacity(
    client: Client, pool: asyncpg.Pool, make: Factory
) -> None:
    setup = await make_setup(make, capacity=10)
    closure = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-11-08T08:00:00+05:00"),
            ahead("2028-11-08T20:00:00+05:00"),
            kind="closure",
            capacity=0,
            title={"kk": "Мереке"},
        ),
        headers=setup.manager.headers,
    )
    assert closure.status_code == 201, closure.text
    tour = await client.post(
        "/api/v1/slots",
        json=setup.slot(ahead("2028-11-15T10:00:00+05:00"), ahead("2028-11-15T11:00:00+05:00"), capacity=8),
        headers=setup.manager.headers,
    )
    assert tour.status_code == 201, tour.text
    body = series_body(
        setup,
        ahead("2028-11-01T10:00:00+05:00"),
        ahead("2028-11-01T12:00:00+05:00"),
        capacity=5,
        recurrence={"freq": "weekly", "count": 3},
        equipment=[],
    )
    shown = (await client.post("/api/v1/series/preview", json=body, headers=setup.manager.headers)).json()
    assert [o["problem"] for o in shown["occurrences"]] == [
        None,
        "/problems/lab-closed",
        "/problems/lab-capacity",
    ]
    assert shown["occurrences"][1]["conflicts"][0]["slot_id"] == closure.json()["id"]
    assert shown["occurrences"][2]["conflicts"][0]["slot_id"] == tour.json()["id"]

    evening = series_body(
        setup,
        ahead("2028-11-02T19:00:00+05:00"),
        ahead("2028-11-02T21:00:00+05:00"),
        recurrence={"freq": "weekly", "count": 2},
        equipment=[],
    )
    late = (await client.post("/api/v1/series/preview", json=evening, headers=setup.manager.headers)).json()
    assert {o["problem"] for o in late["occurrences"]} == {"/problems/outside-opening-hours"}
    assert await count_slots(pool, setup.lab["id"]) == 2


async def test_preview_is_for_the_labs_managers_and_refuses_bad_input(
    client: Client, setup: LabSetup, make: Factory
) -> None:
    body = series_body(setup, ahead("2028-10-31T10:00:00+05:00"), ahead("2028-10-31T12:00:00+05:00"))
    other = await make.person("lab_manager")
    assert (await client.post("/api/v1/series/preview", json=body)).status_code == 401
    refused = await client.post("/api/v1/series/preview", json=body, headers=other.headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    naive = {**body, "starts_at": ahead("2028-10-31T10:00:00")}
    bad = await client.post("/api/v1/series/preview", json=naive, headers=setup.manager.headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


async def test_preview_is_documented(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/v1/series/preview"]["post"]
    assert "skip_conflicts" in operation["description"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "SeriesPreview"
    )
