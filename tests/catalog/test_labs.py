from __future__ import annotations

from typing import Any

import pytest

from tests.catalog.conftest import assert_problem
from tests.factories import unique

NAME = {"kk": "Дәнекерлеу институты", "ru": "Институт сварки", "en": "Welding Institute"}


def lab_body(host: str, **fields: Any) -> dict[str, Any]:
    return {"slug": unique("lab"), "host": host, "name": NAME, "capacity": 20, **fields}


async def test_admin_creates_a_lab_with_defaults_and_feed_links(client, make, pool) -> None:
    admin = await make.person("admin")
    host = await make.host()
    body = lab_body(
        host["slug"],
        description={"kk": "Аргонмен дәнекерлеу", "ru": "Аргонодуговая сварка"},
        building="Горно-металлургический корпус",
        room="112",
        address="ул. Сатпаева 22, Алматы",
        languages=["kk", "ru"],
        min_visitor_age=14,
        safety_notes={"ru": "Закрытая обувь обязательна"},
        accessibility="step-free entrance from Satpaev St",
    )

    created = await client.post("/api/v1/labs", json=body, headers=admin.headers)

    assert created.status_code == 201, created.text
    lab = created.json()
    assert {k: lab[k] for k in body} == body
    assert (lab["timezone"], lab["min_notice_hours"], lab["max_advance_days"]) == ("Asia/Almaty", 24, 365)
    assert lab["feed_url"] == f"http://127.0.0.1:8000/feeds/labs/{body['slug']}.ics"
    assert lab["subscribe_url"] == f"webcal://127.0.0.1:8000/feeds/labs/{body['slug']}.ics"
    assert (await client.get(f"/api/v1/labs/{body['slug']}")).json() == lab
    stored = await pool.fetchrow("select name, organization_id from labs where slug = $1", body["slug"])
    assert stored["name"] == NAME
    assert stored["organization_id"] == host["id"]
    assert (
        await pool.fetchval(
            "select count(*) from audit_events where action = 'lab.create' and after->>'slug' = $1",
            body["slug"],
        )
        == 1
    )


async def test_labs_belong_to_existing_host_universities(client, make, pool) -> None:
    admin = await make.person("admin")
    college = await make.organization(kind="college")
    before = await pool.fetchval("select count(*) from labs")

    not_a_host = await client.post("/api/v1/labs", json=lab_body(college["slug"]), headers=admin.headers)
    missing = await client.post("/api/v1/labs", json=lab_body("no-such-university"), headers=admin.headers)

    assert assert_problem(not_a_host, 422, "validation")["errors"][0]["field"] == "host"
    assert assert_problem(missing, 422, "validation")["errors"][0]["field"] == "host"
    assert await pool.fetchval("select count(*) from labs") == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": -3}, "capacity"),
        ({"timezone": "Asia/Alma-Ata-Nowhere"}, "timezone"),
        ({"timezone": "+05:00"}, "timezone"),
        ({"languages": []}, "languages"),
        ({"languages": ["kk", "de"]}, "languages"),
        ({"languages": ["ru", "ru"]}, "languages"),
        ({"min_visitor_age": 101}, "min_visitor_age"),
        ({"max_advance_days": 0}, "max_advance_days"),
        ({"name": {}}, "name"),
        ({"slug": "Сварка"}, "slug"),
        ({"floor": 3}, "floor"),
    ],
)
async def test_invalid_labs_are_refused_and_nothing_is_written(client, make, pool, fields, field) -> None:
    admin = await make.person("admin")
    host = await make.host()
    before = await pool.fetchval("select count(*) from labs")

    reply = await client.post("/api/v1/labs", json=lab_body(host["slug"], **fields), headers=admin.headers)

    problem = assert_problem(reply, 422, "validation")
    assert field in problem["detail"]
    assert await pool.fetchval("select count(*) from labs") == before


async def test_duplicate_lab_slug_is_a_conflict_naming_the_slug(client, make) -> None:
    admin = await make.person("admin")
    lab = await make.lab()
    host = await make.host()

    reply = await client.post(
        "/api/v1/labs", json=lab_body(host["slug"], slug=lab["slug"]), headers=admin.headers
    )

    assert lab["slug"] in assert_problem(reply, 409, "conflict")["detail"]


async def test_list_filters_by_host_language_equipment_kind_and_archived(client, make) -> None:
    host = await make.host()
    kk_only = await make.lab(organization_id=host["id"], languages=("kk",))
    en_ru = await make.lab(organization_id=host["id"], languages=("ru", "en"))
    archived = await make.lab(organization_id=host["id"], languages=("kk",))
    await make.pool.execute("update labs set is_archived = true where id = $1", archived["id"])
    await make.equipment(lab_id=en_ru["id"], kind="mine_hoist_model")
    await make.lab()

    async def slugs(**params: Any) -> list[str]:
        reply = await client.get("/api/v1/labs", params={"host": host["slug"], **params})
        assert reply.status_code == 200, reply.text
        assert reply.json()["total"] == len(reply.json()["items"])
        return [lab["slug"] for lab in reply.json()["items"]]

    assert await slugs() == sorted([kk_only["slug"], en_ru["slug"]])
    assert await slugs(include_archived="true") == sorted([kk_only["slug"], en_ru["slug"], archived["slug"]])
    assert await slugs(language="kk") == [kk_only["slug"]]
    assert await slugs(language="en") == [en_ru["slug"]]
    assert await slugs(equipment_kind="mine_hoist_model") == [en_ru["slug"]]
    assert await slugs(equipment_kind="electron_microscope") == []
    assert (await client.get(f"/api/v1/labs/{archived['slug']}")).json()["is_archived"] is True


async def test_text_search_is_case_insensitive_over_every_language_and_description(client, make) -> None:
    host = await make.host()
    welding = await make.lab(organization_id=host["id"], name={"kk": "Дәнекерлеу институты", "en": "Welding"})
    mining = await make.lab(organization_id=host["id"], name={"ru": "Горные машины"})
    await make.pool.execute(
        "update labs set description = $2 where id = $1", mining["id"], {"ru": "Шахтные подъёмные машины"}
    )

    async def search(q: str) -> list[str]:
        reply = await client.get("/api/v1/labs", params={"host": host["slug"], "q": q})
        return [lab["slug"] for lab in reply.json()["items"]]

    assert await search("ДӘНЕКЕРЛЕУ") == [welding["slug"]]
    assert await search("welding") == [welding["slug"]]
    assert await search("горные") == [mining["slug"]]
    assert await search("ПОДЪЁМНЫЕ") == [mining["slug"]]
    assert await search("microscope") == []


async def test_sql_and_like_metacharacters_in_q_match_only_themselves(client, make, pool) -> None:
    host = await make.host()
    percent = await make.lab(organization_id=host["id"], name={"ru": "Лаборатория 100% качества"})
    underscore = await make.lab(organization_id=host["id"], name={"en": "lab_b"})
    plain = await make.lab(organization_id=host["id"], name={"en": "lab b 100 percent"})
    quote = await make.lab(organization_id=host["id"], name={"en": "O'Brien's lab; -- notes"})

    async def search(q: str) -> list[str]:
        reply = await client.get("/api/v1/labs", params={"host": host["slug"], "q": q})
        assert reply.status_code == 200, reply.text
        return [lab["slug"] for lab in reply.json()["items"]]

    assert await search("%") == [percent["slug"]]
    assert await search("0%") == [percent["slug"]]
    assert await search("_") == [underscore["slug"]]
    assert await search("lab_b") == [underscore["slug"]]
    assert await search("\\") == []
    assert await search("'; drop table labs; --") == []
    assert await search("O'Brien's lab; --") == [quote["slug"]]
    assert plain["slug"] in await search("lab b")
    assert await pool.fetchval("select count(*) from labs where organization_id = $1", host["id"]) == 4
    orgs = await client.get("/api/v1/organizations", params={"q": "'; drop table organizations; --"})
    assert orgs.json()["total"] == 0


async def test_list_pages_with_total(client, make) -> None:
    host = await make.host()
    slugs = sorted([(await make.lab(organization_id=host["id"]))["slug"] for _ in range(3)])

    first = (await client.get("/api/v1/labs", params={"host": host["slug"], "limit": 2})).json()
    second = (await client.get("/api/v1/labs", params={"host": host["slug"], "limit": 2, "offset": 2})).json()

    assert [lab["slug"] for lab in first["items"]] == slugs[:2]
    assert [lab["slug"] for lab in second["items"]] == slugs[2:]
    assert (first["total"], second["total"], first["limit"], second["offset"]) == (3, 3, 2, 2)
    assert_problem(await client.get("/api/v1/labs", params={"limit": 201}), 422, "validation")
    assert_problem(await client.get("/api/v1/labs", params={"language": "de"}), 422, "validation")


async def test_patch_absent_keeps_null_clears_and_null_on_required_is_refused(client, make, pool) -> None:
    lab = await make.lab()
    manager = await make.person("lab_manager", lab_ids=(lab["id"],))
    url = f"/api/v1/labs/{lab['slug']}"
    set_up = await client.patch(
        url,
        json={"building": "Корпус 3", "room": "204", "description": {"en": "TIG"}, "timezone": "Asia/Aqtau"},
        headers=manager.headers,
    )
    assert set_up.status_code == 200, set_up.text

    cleared = await client.patch(url, json={"room": None, "description": None}, headers=manager.headers)

    assert cleared.status_code == 200, cleared.text
    lab_now = cleared.json()
    assert (lab_now["building"], lab_now["room"], lab_now["description"]) == ("Корпус 3", None, {})
    assert (lab_now["timezone"], lab_now["capacity"], lab_now["name"]) == ("Asia/Aqtau", 30, lab["name"])
    for body in ({"capacity": None}, {"name": None}, {"timezone": None}, {"languages": None}):
        assert_problem(await client.patch(url, json=body, headers=manager.headers), 422, "validation")
    for body in ({"timezone": "Mars/Olympus"}, {"languages": ["kk", "kk"]}, {"capacity": 0}, {"slug": "x"}):
        assert_problem(await client.patch(url, json=body, headers=manager.headers), 422, "validation")
    row = await pool.fetchrow("select capacity, timezone, languages, room from labs where id = $1", lab["id"])
    assert tuple(row.values()) == (30, "Asia/Aqtau", ["kk", "ru", "en"], None)
    audit = await pool.fetchrow(
        """select before, after from audit_events where action = 'lab.update' and object_id = $1
           order by id desc limit 1""",
        str(lab["id"]),
    )
    assert (audit["before"]["room"], audit["after"]["room"]) == ("204", None)


async def test_the_labs_manager_sets_how_long_before_a_visit_groups_are_reminded(client, make, pool) -> None:
    lab = await make.lab()
    manager = await make.person("lab_manager", lab_ids=(lab["id"],))
    url = f"/api/v1/labs/{lab['slug']}"
    assert (await client.get(url)).json()["reminder_hours"] == 24

    changed = await client.patch(url, json={"reminder_hours": 48}, headers=manager.headers)
    off = await client.patch(url, json={"reminder_hours": 0}, headers=manager.headers)

    assert changed.json()["reminder_hours"] == 48
    assert off.json()["reminder_hours"] == 0
    for hours in (-1, 169, "24", None):
        refused = await client.patch(url, json={"reminder_hours": hours}, headers=manager.headers)
        assert_problem(refused, 422, "validation")
    assert await pool.fetchval("select reminder_hours from labs where id = $1", lab["id"]) == 0


async def test_archive_by_its_manager_hides_the_lab_from_lists_only(client, make) -> None:
    host = await make.host()
    lab = await make.lab(organization_id=host["id"])
    manager = await make.person("lab_manager", lab_ids=(lab["id"],))

    first = await client.post(f"/api/v1/labs/{lab['slug']}/archive", headers=manager.headers)
    again = await client.post(f"/api/v1/labs/{lab['slug']}/archive", headers=manager.headers)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["is_archived"] is True
    assert (await client.get("/api/v1/labs", params={"host": host["slug"]})).json()["items"] == []
    assert (await client.get(f"/api/v1/labs/{lab['slug']}")).status_code == 200


async def test_only_admins_and_the_labs_own_managers_change_a_lab(client, make, pool) -> None:
    lab = await make.lab()
    other_lab = await make.lab()
    own = await make.person("lab_manager", lab_ids=(lab["id"],))
    foreign = await make.person("lab_manager", lab_ids=(other_lab["id"],))
    director = await make.person("director")
    admin = await make.person("admin")
    url = f"/api/v1/labs/{lab['slug']}"

    assert_problem(await client.patch(url, json={"capacity": 5}), 401, "unauthorized")
    assert_problem(await client.post(f"{url}/archive"), 401, "unauthorized")
    assert_problem(await client.patch(url, json={"capacity": 5}, headers=director.headers), 403, "forbidden")
    assert_problem(await client.patch(url, json={"capacity": 5}, headers=foreign.headers), 403, "forbidden")
    assert_problem(await client.post(f"{url}/archive", headers=foreign.headers), 403, "forbidden")
    assert await pool.fetchval("select capacity from labs where id = $1", lab["id"]) == 30
    assert (await client.patch(url, json={"capacity": 12}, headers=own.headers)).json()["capacity"] == 12
    assert (await client.patch(url, json={"capacity": 14}, headers=admin.headers)).json()["capacity"] == 14
    host = await make.host()
    assert_problem(
        await client.post("/api/v1/labs", json=lab_body(host["slug"]), headers=own.headers), 403, "forbidden"
    )
    assert_problem(await client.post("/api/v1/labs", json=lab_body(host["slug"])), 401, "unauthorized")
    assert_problem(
        await client.patch("/api/v1/labs/no-such-lab", json={}, headers=admin.headers), 404, "not-found"
    )
