from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.catalog.conftest import assert_problem
from tests.factories import unique


def equipment_body(**fields: Any) -> dict[str, Any]:
    return {
        "slug": unique("tig"),
        "kind": "argon_tig_welder",
        "name": {
            "kk": "Аргонды дәнекерлеу посты",
            "ru": "Пост аргонодуговой сварки",
            "en": "Argon TIG station",
        },
        "units": 6,
        "seats_per_unit": 2,
        **fields,
    }


async def unit_states(pool, equipment_id: int) -> dict[int, bool]:
    """Unit number → is it retired."""
    rows = await pool.fetch(
        "select number, is_retired from equipment_units where equipment_id = $1 order by number", equipment_id
    )
    return {row["number"]: row["is_retired"] for row in rows}


async def test_manager_adds_equipment_with_one_unit_row_per_station(client, make, pool) -> None:
    lab = await make.lab()
    manager = await make.person("lab_manager", lab_ids=(lab["id"],))
    body = equipment_body(description={"ru": "Инвертор TIG 200 А"}, requires_induction=True)

    created = await client.post(f"/api/v1/labs/{lab['slug']}/equipment", json=body, headers=manager.headers)

    assert created.status_code == 201, created.text
    item = created.json()
    assert {k: item[k] for k in body} == body
    assert (item["lab"], item["is_out_of_service"], item["is_archived"]) == (lab["slug"], False, False)
    feed = f"127.0.0.1:8000/feeds/labs/{lab['slug']}/equipment/{body['slug']}.ics"
    assert (item["feed_url"], item["subscribe_url"]) == (f"http://{feed}", f"webcal://{feed}")
    got = await client.get(f"/api/v1/labs/{lab['slug']}/equipment/{body['slug']}")
    assert got.json() == item
    equipment_id = await pool.fetchval("select id from equipment where slug = $1", body["slug"])
    assert await unit_states(pool, equipment_id) == dict.fromkeys(range(1, 7), False)
    listed = (await client.get(f"/api/v1/labs/{lab['slug']}/equipment")).json()
    assert [e["slug"] for e in listed] == [body["slug"]]


async def test_same_slug_is_fine_in_another_lab_but_a_conflict_in_the_same_one(client, make, pool) -> None:
    admin = await make.person("admin")
    lab, other = await make.lab(), await make.lab()
    body = equipment_body()

    first = await client.post(f"/api/v1/labs/{lab['slug']}/equipment", json=body, headers=admin.headers)
    elsewhere = await client.post(f"/api/v1/labs/{other['slug']}/equipment", json=body, headers=admin.headers)
    again = await client.post(f"/api/v1/labs/{lab['slug']}/equipment", json=body, headers=admin.headers)

    assert (first.status_code, elsewhere.status_code) == (201, 201)
    assert body["slug"] in assert_problem(again, 409, "conflict")["detail"]
    assert await pool.fetchval("select count(*) from equipment where slug = $1", body["slug"]) == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"units": 0}, "units"),
        ({"units": 1001}, "units"),
        ({"seats_per_unit": 0}, "seats_per_unit"),
        ({"kind": "Argon-TIG"}, "kind"),
        ({"kind": "argon__tig"}, "kind"),
        ({"slug": "TIG 1"}, "slug"),
        ({"name": {}}, "name"),
        ({"voltage": 220}, "voltage"),
    ],
)
async def test_invalid_equipment_is_refused_and_nothing_is_written(client, make, pool, fields, field) -> None:
    admin = await make.person("admin")
    lab = await make.lab()
    counts = "select (select count(*) from equipment), (select count(*) from equipment_units)"
    before = tuple(await pool.fetchrow(counts))

    reply = await client.post(
        f"/api/v1/labs/{lab['slug']}/equipment", json=equipment_body(**fields), headers=admin.headers
    )

    assert field in assert_problem(reply, 422, "validation")["detail"]
    assert tuple(await pool.fetchrow(counts)) == before


async def test_patch_absent_keeps_null_clears_and_null_on_required_is_refused(client, make, pool) -> None:
    lab = await make.lab()
    equipment = await make.equipment(lab_id=lab["id"])
    admin = await make.person("admin")
    url = f"/api/v1/labs/{lab['slug']}/equipment/{equipment['slug']}"
    await client.patch(url, json={"description": {"en": "200 A inverter"}}, headers=admin.headers)

    changed = await client.patch(
        url, json={"description": None, "is_out_of_service": True}, headers=admin.headers
    )

    assert changed.status_code == 200, changed.text
    item = changed.json()
    assert (item["description"], item["is_out_of_service"], item["units"]) == ({}, True, 6)
    assert item["name"] == equipment["name"]
    for body in ({"units": None}, {"kind": None}, {"units": 0}, {"requires_induction": "yes"}, {"lab": "x"}):
        assert_problem(await client.patch(url, json=body, headers=admin.headers), 422, "validation")
    row = await pool.fetchrow(
        "select units, kind, is_out_of_service from equipment where id = $1", equipment["id"]
    )
    assert tuple(row.values()) == (6, "argon_tig_welder", True)


async def test_units_grow_shrink_and_come_back(client, make, pool) -> None:
    lab = await make.lab()
    equipment = await make.equipment(lab_id=lab["id"], units=3)
    admin = await make.person("admin")
    url = f"/api/v1/labs/{lab['slug']}/equipment/{equipment['slug']}"

    grown = await client.patch(url, json={"units": 5}, headers=admin.headers)
    assert grown.json()["units"] == 5
    assert await unit_states(pool, equipment["id"]) == dict.fromkeys(range(1, 6), False)

    shrunk = await client.patch(url, json={"units": 2}, headers=admin.headers)
    assert shrunk.json()["units"] == 2
    assert await unit_states(pool, equipment["id"]) == {1: False, 2: False, 3: True, 4: True, 5: True}

    regrown = await client.patch(url, json={"units": 4}, headers=admin.headers)
    assert regrown.json()["units"] == 4
    assert await unit_states(pool, equipment["id"]) == {1: False, 2: False, 3: False, 4: False, 5: True}


async def test_units_held_by_future_slots_cannot_be_retired(client, make, pool, hold_unit) -> None:
    lab = await make.lab()
    equipment = await make.equipment(lab_id=lab["id"], units=6)
    manager = await make.person("lab_manager", lab_ids=(lab["id"],))
    url = f"/api/v1/labs/{lab['slug']}/equipment/{equipment['slug']}"
    now = datetime.now(UTC)
    future = await hold_unit(
        equipment, 5, starts_at=now + timedelta(days=3), ends_at=now + timedelta(days=3, hours=2)
    )
    await hold_unit(
        equipment, 6, starts_at=now - timedelta(days=3), ends_at=now - timedelta(days=3, hours=-2)
    )
    await hold_unit(
        equipment,
        6,
        starts_at=now + timedelta(days=4),
        ends_at=now + timedelta(days=4, hours=2),
        is_active=False,
    )

    refused = await client.patch(url, json={"units": 4}, headers=manager.headers)

    problem = assert_problem(refused, 409, "conflict")
    assert [(c["slot_id"], c["unit"], c["equipment"]) for c in problem["conflicts"]] == [
        (str(future), 5, equipment["slug"])
    ]
    assert "5" in problem["detail"]
    assert await pool.fetchval("select units from equipment where id = $1", equipment["id"]) == 6
    assert await unit_states(pool, equipment["id"]) == dict.fromkeys(range(1, 7), False)

    past_and_inactive_only = await client.patch(url, json={"units": 5}, headers=manager.headers)
    assert past_and_inactive_only.status_code == 200, past_and_inactive_only.text
    assert (await unit_states(pool, equipment["id"]))[6] is True


async def test_archived_equipment_leaves_the_list_but_stays_readable(client, make) -> None:
    lab = await make.lab()
    equipment = await make.equipment(lab_id=lab["id"])
    manager = await make.person("lab_manager", lab_ids=(lab["id"],))
    base = f"/api/v1/labs/{lab['slug']}/equipment"

    first = await client.post(f"{base}/{equipment['slug']}/archive", headers=manager.headers)
    again = await client.post(f"{base}/{equipment['slug']}/archive", headers=manager.headers)

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["is_archived"] is True
    assert (await client.get(base)).json() == []
    assert [e["slug"] for e in (await client.get(base, params={"include_archived": "true"})).json()] == [
        equipment["slug"]
    ]
    assert (await client.get(f"{base}/{equipment['slug']}")).json()["is_archived"] is True
    listed = await client.get("/api/v1/labs", params={"equipment_kind": equipment["kind"], "q": lab["slug"]})
    assert listed.json()["items"] == []


async def test_only_admins_and_the_labs_own_managers_change_equipment(client, make, pool) -> None:
    lab, other_lab = await make.lab(), await make.lab()
    equipment = await make.equipment(lab_id=lab["id"])
    foreign = await make.person("lab_manager", lab_ids=(other_lab["id"],))
    director = await make.person("director")
    base = f"/api/v1/labs/{lab['slug']}/equipment"
    url = f"{base}/{equipment['slug']}"

    assert_problem(await client.post(base, json=equipment_body()), 401, "unauthorized")
    assert_problem(await client.patch(url, json={"units": 1}), 401, "unauthorized")
    assert_problem(await client.post(base, json=equipment_body(), headers=director.headers), 403, "forbidden")
    assert_problem(await client.post(base, json=equipment_body(), headers=foreign.headers), 403, "forbidden")
    assert_problem(await client.patch(url, json={"units": 1}, headers=foreign.headers), 403, "forbidden")
    assert_problem(await client.post(f"{url}/archive", headers=foreign.headers), 403, "forbidden")
    row = await pool.fetchrow("select units, is_archived from equipment where id = $1", equipment["id"])
    assert tuple(row.values()) == (6, False)
    assert await pool.fetchval("select count(*) from equipment where lab_id = $1", lab["id"]) == 1
    assert_problem(await client.get(f"{base}/no-such-thing"), 404, "not-found")
    assert_problem(await client.get("/api/v1/labs/no-such-lab/equipment"), 404, "not-found")
