from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from labbook.slots import recurrence
from labbook.slots.recurrence import Rule
from labbook.timezones import zone
from tests.dates import ahead
from tests.slots.conftest import LabSetup, count_slots


def series_body(setup: LabSetup, start: str, end: str, **fields: Any) -> dict[str, Any]:
    body = setup.slot(start, end, equipment=[{"equipment": setup.tig, "units": 2}])
    body["recurrence"] = fields.pop("recurrence", {"freq": "weekly", "count": 4})
    body.update(fields)
    return body


async def assert_matches_rule(pool: asyncpg.Pool, series_id: str) -> list[asyncpg.Record]:
    """The feeds' invariant: a series' slots are exactly the expansion of its rule."""
    row = await pool.fetchrow("select * from slot_series where id = $1", series_id)
    rule = Rule(
        row["local_start"],
        row["duration"],
        zone(row["timezone"]),
        row["freq"],
        row["interval"],
        tuple(row["weekdays"]),
        row["count"],
        row["until"],
    )
    slots = await pool.fetch("select * from slots where series_id = $1 order by occurrence_start", series_id)
    assert [s["occurrence_start"] for s in slots] == [o.starts_at for o in recurrence.expand(rule)]
    return slots


async def test_weekly_series_is_materialized(client, pool, setup: LabSetup) -> None:
    reply = await client.post(
        "/api/v1/series",
        json=series_body(
            setup,
            ahead("2028-10-30T10:00:00+05:00"),
            ahead("2028-10-30T12:00:00+05:00"),
            booking_deadline_hours=24,
        ),
        headers=setup.manager.headers,
    )
    assert reply.status_code == 201, reply.text
    result = reply.json()
    assert result["skipped"] == []
    assert [s["starts_at"] for s in result["created"]] == [
        ahead("2028-10-30T10:00:00+05:00"),
        ahead("2028-11-06T10:00:00+05:00"),
        ahead("2028-11-13T10:00:00+05:00"),
        ahead("2028-11-20T10:00:00+05:00"),
    ]
    assert result["created"][1]["booking_deadline"] == ahead("2028-11-05T10:00:00+05:00")
    assert all(s["occurrence_start"] == s["starts_at"] for s in result["created"])
    assert all([u["unit"] for u in s["units"]] == [1, 2] for s in result["created"])
    series = result["series"]
    assert series["local_start"] == ahead("2028-10-30T10:00:00")
    assert series["duration_minutes"] == 120
    assert series["weekdays"] == []
    await assert_matches_rule(pool, series["id"])
    fetched = (await client.get(f"/api/v1/series/{series['id']}")).json()
    assert len(fetched["occurrences"]) == 4
    audits = await pool.fetchval(
        "select count(*) from audit_events where action = 'slot.publish' and object_id = any($1::text[])",
        [s["id"] for s in result["created"]],
    )
    assert audits == 4


async def test_conflicting_occurrence_refuses_the_whole_series(client, pool, setup: LabSetup) -> None:
    blocker = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-11-14T11:00:00+05:00"),
            ahead("2028-11-14T12:00:00+05:00"),
            equipment=[{"equipment": setup.tig, "units": 6}],
        ),
        headers=setup.manager.headers,
    )
    assert blocker.status_code == 201
    body = series_body(setup, ahead("2028-10-31T10:00:00+05:00"), ahead("2028-10-31T12:00:00+05:00"))
    reply = await client.post("/api/v1/series", json=body, headers=setup.manager.headers)
    assert reply.status_code == 409, reply.text
    problem = reply.json()
    assert problem["type"] == "/problems/series-conflict"
    [occurrence] = problem["occurrences"]
    assert occurrence["occurrence_start"] == ahead("2028-11-14T10:00:00+05:00")
    assert occurrence["problem"] == "/problems/unit-taken"
    assert occurrence["conflicts"][0]["slot_id"] == blocker.json()["id"]
    assert occurrence["conflicts"][0]["equipment"] == setup.tig
    assert await count_slots(pool, setup.lab["id"]) == 1
    assert await pool.fetchval("select count(*) from slot_series where lab_id = $1", setup.lab["id"]) == 0

    reply = await client.post(
        "/api/v1/series", json={**body, "skip_conflicts": True}, headers=setup.manager.headers
    )
    assert reply.status_code == 201, reply.text
    result = reply.json()
    assert len(result["created"]) == 3
    assert [s["occurrence_start"] for s in result["skipped"]] == [ahead("2028-11-14T10:00:00+05:00")]
    slots = await assert_matches_rule(pool, result["series"]["id"])
    assert [s["status"] for s in slots] == ["active", "active", "cancelled", "active"]


async def test_single_occurrence_edit_and_cancel_keep_occurrence_start(client, pool, setup: LabSetup) -> None:
    result = (
        await client.post(
            "/api/v1/series",
            json=series_body(setup, ahead("2028-11-01T10:00:00+05:00"), ahead("2028-11-01T12:00:00+05:00")),
            headers=setup.manager.headers,
        )
    ).json()
    second, third = result["created"][1], result["created"][2]
    moved = await client.patch(
        f"/api/v1/slots/{second['id']}",
        json={"starts_at": ahead("2028-11-09T14:00:00+05:00"), "ends_at": ahead("2028-11-09T16:00:00+05:00")},
        headers=setup.manager.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["occurrence_start"] == ahead("2028-11-08T10:00:00+05:00")
    assert moved.json()["starts_at"] == ahead("2028-11-09T14:00:00+05:00")
    cancelled = await client.post(f"/api/v1/slots/{third['id']}/cancel", headers=setup.manager.headers)
    assert cancelled.json()["status"] == "cancelled"
    await assert_matches_rule(pool, result["series"]["id"])


async def test_this_and_following_edit_splits_the_series(client, pool, setup: LabSetup) -> None:
    result = (
        await client.post(
            "/api/v1/series",
            json=series_body(setup, ahead("2028-11-02T10:00:00+05:00"), ahead("2028-11-02T12:00:00+05:00")),
            headers=setup.manager.headers,
        )
    ).json()
    series_id = result["series"]["id"]
    reply = await client.patch(
        f"/api/v1/series/{series_id}",
        json={
            "scope": "following",
            "from_occurrence": ahead("2028-11-16T10:00:00+05:00"),
            "start_time": "14:30",
            "capacity": 8,
        },
        headers=setup.manager.headers,
    )
    assert reply.status_code == 200, reply.text
    changed = reply.json()
    assert changed["previous_series_id"] == series_id
    new_series = changed["series"]
    assert new_series["id"] != series_id
    assert new_series["count"] == 2
    assert [s["starts_at"] for s in changed["changed"]] == [
        ahead("2028-11-16T14:30:00+05:00"),
        ahead("2028-11-23T14:30:00+05:00"),
    ]
    assert all(s["capacity"] == 8 and s["series_id"] == new_series["id"] for s in changed["changed"])
    assert all(len(s["units"]) == 2 for s in changed["changed"])
    old = await pool.fetchrow("select count, until, sequence from slot_series where id = $1", series_id)
    assert old["count"] is None
    assert old["sequence"] == 1
    assert new_series["sequence"] == 1
    assert old["until"] < datetime.fromisoformat(ahead("2028-11-16T10:00:00+05:00"))
    assert len(await assert_matches_rule(pool, series_id)) == 2
    assert len(await assert_matches_rule(pool, new_series["id"])) == 2
    actions = await pool.fetch(
        """select action from audit_events
           where object_type = 'series' and object_id = any($1::text[]) order by id""",
        [series_id, new_series["id"]],
    )
    assert [a["action"] for a in actions] == ["series.create", "series.split", "series.update"]


async def test_whole_series_edit_is_all_or_nothing(client, pool, setup: LabSetup) -> None:
    result = (
        await client.post(
            "/api/v1/series",
            json=series_body(setup, ahead("2028-11-03T10:00:00+05:00"), ahead("2028-11-03T12:00:00+05:00")),
            headers=setup.manager.headers,
        )
    ).json()
    series_id = result["series"]["id"]
    blocker = await client.post(
        "/api/v1/slots",
        json=setup.slot(
            ahead("2028-11-17T15:00:00+05:00"),
            ahead("2028-11-17T16:00:00+05:00"),
            equipment=[{"equipment": setup.tig, "units": 6}],
        ),
        headers=setup.manager.headers,
    )
    reply = await client.patch(
        f"/api/v1/series/{series_id}",
        json={"scope": "all", "start_time": "14:00", "duration_minutes": 90},
        headers=setup.manager.headers,
    )
    assert reply.status_code == 409
    [occurrence] = reply.json()["occurrences"]
    assert occurrence["starts_at"] == ahead("2028-11-17T14:00:00+05:00")
    assert occurrence["conflicts"][0]["slot_id"] == blocker.json()["id"]
    slots = await assert_matches_rule(pool, series_id)
    assert all(s["starts_at"].hour == 5 and s["sequence"] == 0 for s in slots)
    ok = await client.patch(
        f"/api/v1/series/{series_id}",
        json={"scope": "all", "start_time": "16:00", "duration_minutes": 90},
        headers=setup.manager.headers,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["series"]["local_start"] == ahead("2028-11-03T16:00:00")
    assert [s["ends_at"][11:16] for s in ok.json()["changed"]] == ["17:30"] * 4
    await assert_matches_rule(pool, series_id)


async def test_cancel_following_and_whole_series(client, pool, setup: LabSetup) -> None:
    result = (
        await client.post(
            "/api/v1/series",
            json=series_body(setup, ahead("2029-11-03T10:00:00+05:00"), ahead("2029-11-03T12:00:00+05:00")),
            headers=setup.manager.headers,
        )
    ).json()
    series_id = result["series"]["id"]
    reply = await client.post(
        f"/api/v1/series/{series_id}/cancel",
        json={
            "scope": "following",
            "from_occurrence": ahead("2029-11-17T10:00:00+05:00"),
            "reason": "term ends early",
        },
        headers=setup.manager.headers,
    )
    assert reply.status_code == 200, reply.text
    tail = reply.json()["series"]
    assert tail["status"] == "cancelled"
    assert [s["status"] for s in tail["occurrences"]] == ["cancelled", "cancelled"]
    await assert_matches_rule(pool, tail["id"])
    head = await assert_matches_rule(pool, series_id)
    assert [s["status"] for s in head] == ["active", "active"]
    whole = await client.post(
        f"/api/v1/series/{series_id}/cancel", json={"scope": "all"}, headers=setup.manager.headers
    )
    assert whole.status_code == 200
    assert whole.json()["series"]["status"] == "cancelled"
    assert {s["status"] for s in whole.json()["series"]["occurrences"]} == {"cancelled"}
    again = await client.post(
        f"/api/v1/series/{series_id}/cancel", json={"scope": "all"}, headers=setup.manager.headers
    )
    assert again.status_code == 409
    unknown = await client.post(
        f"/api/v1/series/{tail['id']}/cancel", json={"scope": "all"}, headers=setup.manager.headers
    )
    assert unknown.json()["current_status"] == "cancelled"


async def test_series_rule_errors_are_422(client, pool, setup: LabSetup) -> None:
    body = series_body(
        setup,
        ahead("2028-10-30T10:00:00+05:00"),
        ahead("2028-10-30T12:00:00+05:00"),
        recurrence={"freq": "weekly", "count": 60},
    )
    reply = await client.post("/api/v1/series", json=body, headers=setup.manager.headers)
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "recurrence.count"
    body["recurrence"] = {"freq": "weekly", "weekdays": [3], "count": 3}
    assert (await client.post("/api/v1/series", json=body, headers=setup.manager.headers)).status_code == 422
    assert await count_slots(pool, setup.lab["id"]) == 0


async def test_series_permissions(client, pool, make, setup: LabSetup) -> None:
    body = series_body(setup, ahead("2029-01-01T10:00:00+05:00"), ahead("2029-01-01T12:00:00+05:00"))
    director = await make.person("director")
    other_lab = await make.lab()
    other_manager = await make.person("lab_manager", lab_ids=(other_lab["id"],))
    assert (await client.post("/api/v1/series", json=body)).status_code == 401
    assert (await client.post("/api/v1/series", json=body, headers=director.headers)).status_code == 403
    assert (await client.post("/api/v1/series", json=body, headers=other_manager.headers)).status_code == 403
    assert await count_slots(pool, setup.lab["id"]) == 0
    created = await client.post("/api/v1/series", json=body, headers=setup.manager.headers)
    series_id = created.json()["series"]["id"]
    for headers in (director.headers, other_manager.headers):
        patch = await client.patch(f"/api/v1/series/{series_id}", json={"capacity": 2}, headers=headers)
        assert patch.status_code == 403
        cancel = await client.post(
            f"/api/v1/series/{series_id}/cancel", json={"scope": "all"}, headers=headers
        )
        assert cancel.status_code == 403
    assert (await client.get(f"/api/v1/series/{series_id}")).json()["status"] == "active"


async def test_the_api_is_described(client) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/slots",
        "/api/v1/slots/{slot_id}",
        "/api/v1/slots/{slot_id}/cancel",
        "/api/v1/series",
        "/api/v1/series/{series_id}",
        "/api/v1/series/{series_id}/cancel",
        "/api/v1/labs/{slug}/availability",
    ):
        assert path in paths
