from __future__ import annotations

import pytest

from tests.catalog.conftest import assert_problem
from tests.factories import unique

KAZAKH = "Ғылыми зертхана «Дәнекерлеу институты»"
RUSSIAN = "Технический колледж имени Ш. Есенова"


async def test_admin_creates_organization_and_everyone_reads_it_back_byte_exactly(client, make, pool) -> None:
    admin = await make.person("admin")
    slug = unique("college")
    body = {
        "slug": slug,
        "name": {"kk": KAZAKH, "ru": RUSSIAN, "en": "Technical College"},
        "kind": "college",
        "city": "Ақтау",
        "country": "KZ",
        "website": "https://college.example.kz",
        "description": {"ru": "Колледж нефти и газа"},
    }

    created = await client.post("/api/v1/organizations", json=body, headers=admin.headers)

    assert created.status_code == 201, created.text
    got = await client.get(f"/api/v1/organizations/{slug}")
    assert got.status_code == 200
    for reply in (created.json(), got.json()):
        assert {k: reply[k] for k in body} == body
        assert reply["is_archived"] is False
    assert KAZAKH.encode() in got.content
    stored = await pool.fetchval("select name->>'kk' from organizations where slug = $1", slug)
    assert stored == KAZAKH
    events = await pool.fetch(
        """select action, before, after from audit_events
           where object_type = 'organization' and object_id = $1""",
        str(await pool.fetchval("select id from organizations where slug = $1", slug)),
    )
    assert [(e["action"], e["before"], e["after"]["slug"]) for e in events] == [
        ("organization.create", None, slug)
    ]


async def test_list_filters_by_kind_and_finds_names_case_insensitively_in_any_language(client, make) -> None:
    marker = unique("zz").replace("-", "")
    school = await make.organization(kind="school", name={"kk": f"Ғылыми мектеп {marker}"})
    college = await make.organization(kind="college", name={"ru": f"Горный колледж {marker}"})

    by_kazakh = (await client.get("/api/v1/organizations", params={"q": f"ҒЫЛЫМИ МЕКТЕП {marker}"})).json()
    by_russian = (await client.get("/api/v1/organizations", params={"q": f"горный КОЛЛЕДЖ {marker}"})).json()
    both = (await client.get("/api/v1/organizations", params={"q": marker})).json()
    schools = (await client.get("/api/v1/organizations", params={"q": marker, "kind": "school"})).json()

    assert [o["slug"] for o in by_kazakh["items"]] == [school["slug"]]
    assert [o["slug"] for o in by_russian["items"]] == [college["slug"]]
    assert {o["slug"] for o in both["items"]} == {school["slug"], college["slug"]}
    assert both["total"] == 2
    assert [o["slug"] for o in schools["items"]] == [school["slug"]]


async def test_list_pages_with_a_total_across_pages(client, make) -> None:
    marker = unique("pg").replace("-", "")
    slugs = sorted([(await make.organization(name={"en": f"Alumni {marker} {i}"}))["slug"] for i in range(5)])

    pages = [
        (await client.get("/api/v1/organizations", params={"q": marker, "limit": 2, "offset": o})).json()
        for o in (0, 2, 4, 6)
    ]

    assert [[o["slug"] for o in p["items"]] for p in pages] == [slugs[0:2], slugs[2:4], slugs[4:5], []]
    assert {p["total"] for p in pages} == {5}
    assert (pages[0]["limit"], pages[1]["offset"]) == (2, 2)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"kind": "castle"}])
async def test_list_rejects_bad_paging_and_unknown_kinds(client, params) -> None:
    assert_problem(await client.get("/api/v1/organizations", params=params), 422, "validation")


async def test_patch_leaves_absent_fields_and_clears_null_ones(client, make) -> None:
    admin = await make.person("admin")
    org = await make.organization(kind="school")
    url = f"/api/v1/organizations/{org['slug']}"
    await client.patch(
        url, json={"city": "Алматы", "website": "https://school.example.kz"}, headers=admin.headers
    )

    cleared = await client.patch(url, json={"website": None}, headers=admin.headers)

    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["city"], cleared.json()["website"]) == ("Алматы", None)
    assert cleared.json()["name"] == org["name"]
    nulled_name = await client.patch(url, json={"name": None}, headers=admin.headers)
    assert_problem(nulled_name, 422, "validation")
    assert (await client.get(url)).json()["name"] == org["name"]


async def test_directors_edit_only_descriptive_fields_of_their_own_organization(client, make, pool) -> None:
    org = await make.organization(kind="college")
    other = await make.organization(kind="college")
    director = await make.person("director", organization_id=org["id"])
    url = f"/api/v1/organizations/{org['slug']}"

    renamed = await client.patch(url, json={"name": {"kk": "Жаңа атау"}}, headers=director.headers)
    rekinded = await client.patch(url, json={"kind": "host_university"}, headers=director.headers)
    foreign = await client.patch(
        f"/api/v1/organizations/{other['slug']}", json={"city": "Семей"}, headers=director.headers
    )
    archive = await client.post(f"{url}/archive", headers=director.headers)

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == {"kk": "Жаңа атау"}
    assert_problem(rekinded, 403, "forbidden")
    assert_problem(foreign, 403, "forbidden")
    assert_problem(archive, 403, "forbidden")
    assert await pool.fetchval("select kind from organizations where id = $1", org["id"]) == "college"
    assert await pool.fetchval("select city from organizations where id = $1", other["id"]) is None


async def test_archived_organizations_leave_the_list_but_stay_readable(client, make) -> None:
    admin = await make.person("admin")
    marker = unique("arch").replace("-", "")
    org = await make.organization(name={"en": f"Old partner {marker}"})

    first = await client.post(f"/api/v1/organizations/{org['slug']}/archive", headers=admin.headers)
    again = await client.post(f"/api/v1/organizations/{org['slug']}/archive", headers=admin.headers)

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["is_archived"] is True
    assert (await client.get("/api/v1/organizations", params={"q": marker})).json()["total"] == 0
    with_archived = await client.get(
        "/api/v1/organizations", params={"q": marker, "include_archived": "true"}
    )
    assert [o["slug"] for o in with_archived.json()["items"]] == [org["slug"]]
    assert (await client.get(f"/api/v1/organizations/{org['slug']}")).json()["is_archived"] is True


async def test_duplicate_slug_is_a_conflict_naming_the_slug(client, make, pool) -> None:
    admin = await make.person("admin")
    org = await make.organization()

    reply = await client.post(
        "/api/v1/organizations",
        json={"slug": org["slug"], "name": {"en": "Copy"}, "kind": "company"},
        headers=admin.headers,
    )

    body = assert_problem(reply, 409, "conflict")
    assert org["slug"] in body["detail"]
    assert await pool.fetchval("select count(*) from organizations where slug = $1", org["slug"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "Bad Slug", "name": {"en": "X"}, "kind": "college"}, "slug"),
        ({"slug": "x--y", "name": {"en": "X"}, "kind": "college"}, "slug"),
        ({"slug": "ok-slug", "name": {}, "kind": "college"}, "name"),
        ({"slug": "ok-slug", "name": {"de": "X"}, "kind": "college"}, "name"),
        ({"slug": "ok-slug", "name": {"en": "X"}, "kind": "castle"}, "kind"),
        ({"slug": "ok-slug", "name": {"en": "X"}, "kind": "college", "colour": "red"}, "colour"),
        ({"slug": "ok-slug", "name": {"en": "X"}, "kind": "college", "website": "ftp://x"}, "website"),
    ],
)
async def test_invalid_organizations_are_refused_and_nothing_is_written(
    client, make, pool, body, field
) -> None:
    admin = await make.person("admin")
    before = await pool.fetchval("select count(*) from organizations")

    reply = await client.post("/api/v1/organizations", json=body, headers=admin.headers)

    problem = assert_problem(reply, 422, "validation")
    assert field in problem["detail"]
    assert await pool.fetchval("select count(*) from organizations") == before


async def test_patch_validation_failure_leaves_the_organization_unchanged(client, make, pool) -> None:
    admin = await make.person("admin")
    org = await make.organization()
    url = f"/api/v1/organizations/{org['slug']}"

    for body in ({"slug": "renamed"}, {"kind": "castle"}, {"name": {}}, {"website": "not a url"}):
        assert_problem(await client.patch(url, json=body, headers=admin.headers), 422, "validation")

    row = await pool.fetchrow(
        "select slug, kind, name, website, updated_at from organizations where id = $1", org["id"]
    )
    assert (row["slug"], row["kind"], row["name"], row["website"]) == (
        org["slug"],
        org["kind"],
        org["name"],
        None,
    )
    assert row["updated_at"] == org["updated_at"]


async def test_writes_need_a_token_and_the_admin_role(client, make) -> None:
    org = await make.organization()
    manager = await make.person("lab_manager")
    body = {"slug": unique("x"), "name": {"en": "X"}, "kind": "college"}

    assert_problem(await client.post("/api/v1/organizations", json=body), 401, "unauthorized")
    assert_problem(await client.post(f"/api/v1/organizations/{org['slug']}/archive"), 401, "unauthorized")
    assert_problem(await client.patch(f"/api/v1/organizations/{org['slug']}", json={}), 401, "unauthorized")
    assert_problem(
        await client.post("/api/v1/organizations", json=body, headers=manager.headers), 403, "forbidden"
    )
    assert_problem(await client.get("/api/v1/organizations/no-such-org"), 404, "not-found")


async def test_a_host_with_labs_stays_a_host_university(client, make, pool) -> None:
    admin = await make.person("admin")
    host = await make.host()
    empty_host = await make.host()
    await make.lab(organization_id=host["id"])

    refused = await client.patch(
        f"/api/v1/organizations/{host['slug']}", json={"kind": "university"}, headers=admin.headers
    )
    allowed = await client.patch(
        f"/api/v1/organizations/{empty_host['slug']}", json={"kind": "university"}, headers=admin.headers
    )

    assert "1 lab" in assert_problem(refused, 409, "conflict")["detail"]
    assert (
        await pool.fetchval("select kind from organizations where id = $1", host["id"]) == "host_university"
    )
    assert allowed.json()["kind"] == "university"


async def test_malformed_json_is_a_bad_request(client, make) -> None:
    admin = await make.person("admin")
    reply = await client.post(
        "/api/v1/organizations",
        content=b'{"slug": "x",',
        headers={**admin.headers, "content-type": "application/json"},
    )
    assert_problem(reply, 400, "bad-request")


async def test_an_archived_organization_comes_back_and_it_is_audited(client, make, pool) -> None:
    admin = await make.person("admin")
    director = await make.person("director")
    marker = unique("back").replace("-", "")
    org = await make.organization(name={"en": f"Returning partner {marker}"})
    url = f"/api/v1/organizations/{org['slug']}"
    await client.post(f"{url}/archive", headers=admin.headers)

    refused = await client.post(f"{url}/unarchive", headers=director.headers)
    back = await client.post(f"{url}/unarchive", headers=admin.headers)
    again = await client.post(f"{url}/unarchive", headers=admin.headers)

    assert refused.status_code == 403
    assert (back.status_code, again.status_code) == (200, 200)
    assert back.json()["is_archived"] is False
    assert (await client.get("/api/v1/organizations", params={"q": marker})).json()["total"] == 1
    actions = await pool.fetch(
        "select action from audit_events where object_type = 'organization' and object_id = $1 order by id",
        str(org["id"]),
    )
    assert [r["action"] for r in actions] == ["organization.archive", "organization.unarchive"]
