from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import asyncpg
import pytest

from labbook.accounts import service as accounts
from labbook.core.principal import Principal
from labbook.core.roles import Role
from tests.factories import unique
from tests.web.conftest import browser_for, sign_in


def _new_person(organization: str, **fields: object) -> dict[str, object]:
    return {
        "organization": organization,
        "email": f"{unique('new')}@example.kz",
        "full_name": "Dana Seitkali",
        **fields,
    }


async def test_admin_adds_a_lab_manager_and_it_is_audited(client, make, pool: asyncpg.Pool) -> None:
    host = await make.host()
    lab = await make.lab(organization_id=host["id"])
    admin = await make.person("admin", organization_id=host["id"])
    body = _new_person(
        host["slug"], roles=["lab_manager"], managed_labs=[lab["slug"]], phone="+7 701 000 0000"
    )

    reply = await client.post("/api/v1/people", json=body, headers=admin.headers)

    assert reply.status_code == 201, reply.text
    person = reply.json()
    assert person["roles"] == ["lab_manager"]
    assert person["managed_labs"] == [lab["slug"]]
    event = await pool.fetchrow(
        "select actor_id, action, after from audit_events where object_type = 'person' and object_id = $1",
        person["id"],
    )
    assert event["actor_id"] == admin.id
    assert event["action"] == "person.create"
    assert event["after"]["email"] == body["email"]


async def test_duplicate_email_is_409(client, make) -> None:
    host = await make.host()
    admin = await make.person("admin", organization_id=host["id"])
    body = _new_person(host["slug"])
    assert (await client.post("/api/v1/people", json=body, headers=admin.headers)).status_code == 201

    again = await client.post(
        "/api/v1/people", json={**body, "email": str(body["email"]).upper()}, headers=admin.headers
    )

    assert again.status_code == 409
    assert again.json()["type"] == "/problems/conflict"


async def test_lab_manager_needs_labs_of_own_host(client, make) -> None:
    host = await make.host()
    other_lab = await make.lab()
    college = await make.organization(kind="college")
    admin = await make.person("admin", organization_id=host["id"])

    foreign = await client.post(
        "/api/v1/people",
        json=_new_person(host["slug"], roles=["lab_manager"], managed_labs=[other_lab["slug"]]),
        headers=admin.headers,
    )
    college_manager = await client.post(
        "/api/v1/people", json=_new_person(college["slug"], roles=["lab_manager"]), headers=admin.headers
    )
    unknown_role = await client.post(
        "/api/v1/people", json=_new_person(host["slug"], roles=["janitor"]), headers=admin.headers
    )

    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "managed_labs"
    assert college_manager.status_code == 422
    assert unknown_role.status_code == 422


async def test_only_admins_add_people(client, make) -> None:
    director = await make.person("director")
    reply = await client.post("/api/v1/people", json=_new_person("whatever"), headers=director.headers)
    assert reply.status_code == 403
    assert reply.json()["type"] == "/problems/forbidden"


async def test_director_lists_own_organization_only(client, make) -> None:
    college = await make.organization(kind="college")
    director = await make.person("director", organization_id=college["id"])
    colleague = await make.person("instructor", organization_id=college["id"])
    stranger = await make.person("director")

    listed = await client.get("/api/v1/people", headers=director.headers)
    elsewhere = await client.get(
        "/api/v1/people", params={"organization": "some-other-org"}, headers=director.headers
    )

    assert listed.status_code == 200, listed.text
    ids = {p["id"] for p in listed.json()["items"]}
    assert ids == {str(director.id), str(colleague.id)}
    assert str(stranger.id) not in ids
    assert elsewhere.json()["items"] == []
    lab_manager = await make.person("lab_manager")
    assert (await client.get("/api/v1/people", headers=lab_manager.headers)).status_code == 403


async def test_admin_filters_people(client, make) -> None:
    college = await make.organization(kind="college")
    admin = await make.person("admin")
    name = unique("Zhanar")
    wanted = await make.person("director", organization_id=college["id"], full_name=name)
    await make.person("instructor", organization_id=college["id"])

    reply = await client.get(
        "/api/v1/people",
        params={"organization": college["slug"], "role": "director", "q": name[-8:]},
        headers=admin.headers,
    )

    page = reply.json()
    assert [p["id"] for p in page["items"]] == [str(wanted.id)]
    assert page["total"] == 1


async def test_who_may_read_a_person(client, make) -> None:
    college = await make.organization(kind="college")
    person = await make.person("instructor", organization_id=college["id"])
    director = await make.person("director", organization_id=college["id"])
    outsider = await make.person("director")
    admin = await make.person("admin")

    for reader, status in ((person, 200), (director, 200), (admin, 200), (outsider, 404)):
        reply = await client.get(f"/api/v1/people/{person.id}", headers=reader.headers)
        assert reply.status_code == status, (reader.roles, reply.text)


async def test_patch_changes_roles_and_labs_and_audits_before_after(client, make, pool) -> None:
    host = await make.host()
    lab = await make.lab(organization_id=host["id"])
    admin = await make.person("admin", organization_id=host["id"])
    person = await make.person("instructor", organization_id=host["id"])

    reply = await client.patch(
        f"/api/v1/people/{person.id}",
        json={"roles": ["instructor", "lab_manager"], "managed_labs": [lab["slug"]], "phone": None},
        headers=admin.headers,
    )

    assert reply.status_code == 200, reply.text
    assert reply.json()["roles"] == ["instructor", "lab_manager"]
    assert reply.json()["managed_labs"] == [lab["slug"]]
    me = (await client.get("/api/v1/me", headers=person.headers)).json()
    assert me["managed_labs"] == [lab["slug"]]
    event = await pool.fetchrow(
        "select before, after from audit_events where action = 'person.update' and object_id = $1",
        str(person.id),
    )
    assert event["before"]["roles"] == ["instructor"]
    assert event["after"]["roles"] == ["instructor", "lab_manager"]

    dropped = await client.patch(
        f"/api/v1/people/{person.id}", json={"roles": ["instructor"]}, headers=admin.headers
    )
    assert dropped.json()["managed_labs"] == []


async def test_patch_rejects_unknown_fields(client, make) -> None:
    admin = await make.person("admin")
    person = await make.person("director")
    reply = await client.patch(f"/api/v1/people/{person.id}", json={"email": "x@y.kz"}, headers=admin.headers)
    assert reply.status_code == 422


async def test_deactivated_person_tokens_stop_working(client, make, pool) -> None:
    admin = await make.person("admin")
    person = await make.person("director")
    assert (await client.get("/api/v1/me", headers=person.headers)).status_code == 200

    reply = await client.post(f"/api/v1/people/{person.id}/deactivate", headers=admin.headers)

    assert reply.status_code == 200, reply.text
    assert reply.json()["is_active"] is False
    action = await pool.fetchval(
        "select action from audit_events where object_id = $1 order by id desc limit 1", str(person.id)
    )
    assert action == "person.deactivate"
    assert (await client.get("/api/v1/me", headers=person.headers)).status_code == 401
    # reactivating does not bring old tokens back: they were revoked
    await client.patch(f"/api/v1/people/{person.id}", json={"is_active": True}, headers=admin.headers)
    assert (await client.get("/api/v1/me", headers=person.headers)).status_code == 401
    live = await pool.fetchval(
        "select count(*) from access_tokens where person_id = $1 and revoked_at is null", person.id
    )
    assert live == 0


async def test_admin_cannot_lock_themselves_out(client, make) -> None:
    admin = await make.person("admin")
    reply = await client.post(f"/api/v1/people/{admin.id}/deactivate", headers=admin.headers)
    assert reply.status_code == 409


async def test_admin_issues_token_for_someone(client, make) -> None:
    admin = await make.person("admin")
    person = await make.person("director")

    reply = await client.post(
        f"/api/v1/people/{person.id}/tokens", json={"name": "issued"}, headers=admin.headers
    )

    assert reply.status_code == 201, reply.text
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {reply.json()['token']}"})
    assert me.json()["id"] == str(person.id)
    forbidden = await client.post(
        f"/api/v1/people/{admin.id}/tokens", json={"name": "steal"}, headers=person.headers
    )
    assert forbidden.status_code == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"offset": "99999999999999999999"}, "offset"),
        ({"offset": str(2**31)}, "offset"),
        ({"limit": "99999999999999999999"}, "limit"),
    ],
)
async def test_out_of_range_paging_is_a_422_naming_the_parameter(client, make, params, field) -> None:
    admin = await make.person("admin")

    reply = await client.get("/api/v1/people", params=params, headers=admin.headers)

    assert reply.status_code == 422, reply.text
    assert [error["field"] for error in reply.json()["errors"]] == [field]


async def test_the_largest_offset_answers_an_empty_page(client, make) -> None:
    admin = await make.person("admin")

    reply = await client.get("/api/v1/people", params={"offset": 2**31 - 1}, headers=admin.headers)

    assert reply.status_code == 200, reply.text
    assert (reply.json()["items"], reply.json()["offset"]) == ([], 2**31 - 1)


@pytest.mark.parametrize(
    ("q", "matching", "other"),
    [
        ("50%", "Asel 50% Group", "Asel 500 Group"),
        ("a_b", "Dana a_b Nurlan", "Dana axb Nurlan"),
        ("\\", "Timur \\ Sadykov", "Timur / Sadykov"),
    ],
)
async def test_search_takes_wildcards_and_backslashes_literally(client, make, q, matching, other) -> None:
    admin = await make.person("admin")
    college = await make.organization(kind="college")
    wanted = await make.person("director", organization_id=college["id"], full_name=matching)
    await make.person("director", organization_id=college["id"], full_name=other)

    reply = await client.get(
        "/api/v1/people", params={"organization": college["slug"], "q": q}, headers=admin.headers
    )

    assert reply.status_code == 200, reply.text
    assert [p["id"] for p in reply.json()["items"]] == [str(wanted.id)]


async def test_a_page_past_the_end_still_reports_the_total(client, make) -> None:
    college = await make.organization(kind="college")
    admin = await make.person("admin")
    name = unique("Gulnar_50%")
    for role in ("director", "instructor", "instructor"):
        await make.person(role, organization_id=college["id"], full_name=name)
    # An underscore or percent in another name must not count: the count escapes like the listing.
    await make.person("instructor", organization_id=college["id"], full_name=name.replace("_50%", "x50x"))
    query = {"organization": college["slug"], "q": name}

    full = (await client.get("/api/v1/people", params=query, headers=admin.headers)).json()
    past = (await client.get("/api/v1/people", params={**query, "offset": 10}, headers=admin.headers)).json()
    directors = (
        await client.get(
            "/api/v1/people", params={**query, "role": "director", "offset": 5}, headers=admin.headers
        )
    ).json()

    assert full["total"] == len(full["items"]) == 3
    assert past["items"] == []
    assert past["total"] == 3
    assert directors["items"] == []
    assert directors["total"] == 1


async def test_deactivation_ends_private_feed_addresses_for_good(client, make, pool) -> None:
    admin = await make.person("admin")
    director = await make.person("director")
    addresses = []
    for kind in ("organization", "person"):
        created = await client.post(
            "/api/v1/me/feed-tokens", json={"kind": kind, "name": "office"}, headers=director.headers
        )
        assert created.status_code == 201, created.text
        addresses.append(urlsplit(created.json()["feed_url"]).path)
    for address in addresses:
        assert (await client.get(address)).status_code == 200

    reply = await client.post(f"/api/v1/people/{director.id}/deactivate", headers=admin.headers)

    assert reply.status_code == 200, reply.text
    for address in addresses:
        assert (await client.get(address)).status_code == 404
    reactivated = await client.patch(
        f"/api/v1/people/{director.id}", json={"is_active": True}, headers=admin.headers
    )
    assert reactivated.status_code == 200, reactivated.text
    assert reactivated.json()["is_active"] is True
    for address in addresses:
        assert (await client.get(address)).status_code == 404
    live = await pool.fetchval(
        "select count(*) from feed_tokens where person_id = $1 and revoked_at is null", director.id
    )
    assert live == 0


async def test_reactivation_revives_no_link_session_or_token(client, make, pool, settings) -> None:
    """Everything a person held before deactivation stays dead; they come back through a new link."""
    admin = await make.person("admin")
    person = await make.person("director")
    invitation = await client.post(f"/api/v1/people/{person.id}/invitations", json={}, headers=admin.headers)
    assert invitation.status_code == 201, invitation.text
    old_link = "/" + invitation.json()["url"].split("://", 1)[1].split("/", 1)[1]
    async with browser_for(settings) as browser:
        await sign_in(browser, pool, person)
        assert (await browser.get("/en/account")).status_code == 200

        off = await client.post(f"/api/v1/people/{person.id}/deactivate", headers=admin.headers)
        on = await client.post(f"/api/v1/people/{person.id}/reactivate", headers=admin.headers)

        assert off.json()["is_active"] is False
        assert on.status_code == 200, on.text
        assert on.json()["is_active"] is True
        # the old browser session is gone for good: the account page asks to sign in again
        account = await browser.get("/en/account")
        assert account.status_code == 303
        assert "/en/login" in account.headers["location"]
        # the invitation sent before deactivation cannot set a password any more
        assert (await browser.get(old_link)).status_code == 404
    assert (await client.get("/api/v1/me", headers=person.headers)).status_code == 401
    actions = await pool.fetch(
        "select action from audit_events where object_id = $1 order by id", str(person.id)
    )
    assert [r["action"] for r in actions][-2:] == ["person.deactivate", "person.reactivate"]
    fresh = await client.post(f"/api/v1/people/{person.id}/invitations", json={}, headers=admin.headers)
    fresh_link = "/" + fresh.json()["url"].split("://", 1)[1].split("/", 1)[1]
    async with browser_for(settings) as browser:
        assert (await browser.get(fresh_link)).status_code == 200


async def test_only_an_admin_reactivates(client, make) -> None:
    admin = await make.person("admin")
    director = await make.person("director")
    person = await make.person("director", organization_id=director.organization_id)
    await client.post(f"/api/v1/people/{person.id}/deactivate", headers=admin.headers)

    refused = await client.post(f"/api/v1/people/{person.id}/reactivate", headers=director.headers)

    assert refused.status_code == 403
    reply = await client.get(f"/api/v1/people/{person.id}", headers=admin.headers)
    assert reply.json()["is_active"] is False


async def test_labs_given_to_one_manager_at_once_all_count(make, pool) -> None:
    """Two admins each add a lab to the same person at the same moment: the person runs both."""
    host = await make.host()
    labs = [await make.lab(organization_id=host["id"]) for _ in range(4)]
    admin = await make.person("admin", organization_id=host["id"])
    person = await make.person("instructor", organization_id=host["id"])
    me = Principal(person_id=admin.id, organization_id=admin.organization_id, roles=frozenset({Role.ADMIN}))

    await asyncio.gather(
        *(accounts.set_lab_manager(pool, me, person.id, lab["slug"], manages=True) for lab in labs)
    )

    row = await pool.fetchrow("select roles from people where id = $1", person.id)
    managed = await pool.fetchval("select count(*) from lab_managers where person_id = $1", person.id)
    assert sorted(row["roles"]) == ["instructor", "lab_manager"]
    assert managed == len(labs)
