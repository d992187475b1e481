from __future__ import annotations

import pytest

from tests.catalog.conftest import assert_problem

WEEKDAYS_9_TO_18 = [{"weekday": d, "opens_at": "09:00", "closes_at": "18:00"} for d in range(1, 6)]


async def stored_schedule(pool, lab_id: int) -> list[tuple[int, str, str]]:
    rows = await pool.fetch(
        """select weekday, to_char(opens_at, 'HH24:MI') as o, to_char(closes_at, 'HH24:MI') as c
           from opening_hours where lab_id = $1 order by weekday, opens_at""",
        lab_id,
    )
    return [(r["weekday"], r["o"], r["c"]) for r in rows]


async def test_put_replaces_the_whole_week_and_get_returns_it_in_order(client, make, pool) -> None:
    lab = await make.lab()
    manager = await make.person("lab_manager", lab_ids=(lab["id"],))
    url = f"/api/v1/labs/{lab['slug']}/opening-hours"
    await make.opening_hours(lab_id=lab["id"], weekdays=range(6, 8), opens="10:00", closes="14:00")
    split_saturday = [
        {"weekday": 6, "opens_at": "14:00", "closes_at": "17:30"},
        {"weekday": 6, "opens_at": "09:00", "closes_at": "13:00"},
    ]

    put = await client.put(url, json=WEEKDAYS_9_TO_18 + split_saturday, headers=manager.headers)

    assert put.status_code == 200, put.text
    expected = [*WEEKDAYS_9_TO_18, split_saturday[1], split_saturday[0]]
    assert put.json() == expected
    assert (await client.get(url)).json() == expected
    assert len(await stored_schedule(pool, lab["id"])) == 7
    audit = await pool.fetchrow(
        """select before, after from audit_events
           where action = 'lab.opening_hours.replace' and object_id = $1""",
        str(lab["id"]),
    )
    assert (len(audit["before"]), len(audit["after"])) == (2, 7)

    closed = await client.put(url, json=[], headers=manager.headers)
    assert closed.json() == []
    assert await stored_schedule(pool, lab["id"]) == []


@pytest.mark.parametrize(
    ("entries", "named"),
    [
        ([{"weekday": 1, "opens_at": "18:00", "closes_at": "09:00"}], "entry 0 (Monday 18:00–09:00)"),
        ([{"weekday": 2, "opens_at": "10:00", "closes_at": "10:00"}], "entry 0 (Tuesday"),
        (
            [
                {"weekday": 3, "opens_at": "08:00", "closes_at": "20:00"},
                {"weekday": 3, "opens_at": "09:00", "closes_at": "10:00"},
                {"weekday": 3, "opens_at": "12:00", "closes_at": "13:00"},
            ],
            "entry 2 (Wednesday 12:00–13:00) overlaps entry 0 (Wednesday 08:00–20:00)",
        ),
        (
            [
                {"weekday": 5, "opens_at": "13:00", "closes_at": "17:00"},
                {"weekday": 5, "opens_at": "09:00", "closes_at": "13:30"},
            ],
            "entry 0 (Friday 13:00–17:00) overlaps entry 1 (Friday 09:00–13:30)",
        ),
        (
            [
                {"weekday": 1, "opens_at": "09:00", "closes_at": "10:00"},
                {"weekday": 8, "opens_at": "09:00", "closes_at": "10:00"},
            ],
            "entry 1: weekday 8 is not 1 (Monday) to 7 (Sunday)",
        ),
        ([{"weekday": 0, "opens_at": "09:00", "closes_at": "10:00"}], "entry 0: weekday 0"),
        (
            [{"weekday": 1, "opens_at": "9:00", "closes_at": "10:00"}],
            "entry 0: opens_at '9:00' is not a time",
        ),
        ([{"weekday": 1, "opens_at": "09:00", "closes_at": "24:00"}], "entry 0: closes_at '24:00'"),
        ([{"weekday": "Mon", "opens_at": "09:00", "closes_at": "10:00"}], "expected a whole number"),
        ([{"weekday": 1, "opens_at": "09:00"}], "closes_at"),
        ([{"weekday": 1, "opens_at": "09:00", "closes_at": "10:00", "note": "x"}], "note"),
    ],
)
async def test_bad_schedules_are_refused_naming_the_entries_and_the_old_one_stays(
    client, make, pool, entries, named
) -> None:
    lab = await make.lab()
    admin = await make.person("admin")
    url = f"/api/v1/labs/{lab['slug']}/opening-hours"
    assert (await client.put(url, json=WEEKDAYS_9_TO_18, headers=admin.headers)).status_code == 200
    before = await stored_schedule(pool, lab["id"])

    reply = await client.put(url, json=entries, headers=admin.headers)

    assert named in assert_problem(reply, 422, "validation")["detail"]
    assert await stored_schedule(pool, lab["id"]) == before


async def test_only_admins_and_the_labs_own_managers_set_hours(client, make, pool) -> None:
    lab, other_lab = await make.lab(), await make.lab()
    foreign = await make.person("lab_manager", lab_ids=(other_lab["id"],))
    director = await make.person("director")
    url = f"/api/v1/labs/{lab['slug']}/opening-hours"

    assert_problem(await client.put(url, json=WEEKDAYS_9_TO_18), 401, "unauthorized")
    assert_problem(await client.put(url, json=WEEKDAYS_9_TO_18, headers=director.headers), 403, "forbidden")
    assert_problem(await client.put(url, json=WEEKDAYS_9_TO_18, headers=foreign.headers), 403, "forbidden")
    assert await stored_schedule(pool, lab["id"]) == []
    assert (await client.get(url)).json() == []
    assert_problem(await client.get("/api/v1/labs/no-such-lab/opening-hours"), 404, "not-found")
