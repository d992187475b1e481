from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.factories import unique


async def _audited_people(client, admin, organization: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        reply = await client.post(
            "/api/v1/people",
            json={"organization": organization, "email": f"{unique('a')}@example.kz", "full_name": "Audited"},
            headers=admin.headers,
        )
        assert reply.status_code == 201, reply.text
        ids.append(reply.json()["id"])
    return ids


async def test_admin_reads_who_changed_what_newest_first(client, make) -> None:
    host = await make.host()
    admin = await make.person("admin", organization_id=host["id"], full_name="Erlan Admin")
    [person_id] = await _audited_people(client, admin, host["slug"], 1)
    await client.patch(f"/api/v1/people/{person_id}", json={"full_name": "Renamed"}, headers=admin.headers)

    reply = await client.get("/api/v1/audit", params={"object": f"person:{person_id}"}, headers=admin.headers)

    assert reply.status_code == 200, reply.text
    items = reply.json()["items"]
    assert [e["action"] for e in items] == ["person.update", "person.create"]
    assert items[0]["actor"] == {"id": str(admin.id), "name": "Erlan Admin"}
    assert items[0]["before"]["full_name"] == "Audited"
    assert items[0]["after"]["full_name"] == "Renamed"
    assert items[0]["request_id"]
    assert items[0]["occurred_at"] > items[1]["occurred_at"]


async def test_labs_may_be_named_by_slug(client, make, pool: asyncpg.Pool) -> None:
    admin = await make.person("admin")
    lab = await make.lab()
    async with pool.acquire() as conn:
        await conn.execute(
            "insert into audit_events (action, object_type, object_id) values ('lab.update', 'lab', $1)",
            str(lab["id"]),
        )

    by_slug = await client.get(
        "/api/v1/audit", params={"object": f"lab:{lab['slug']}"}, headers=admin.headers
    )
    by_id = await client.get(
        "/api/v1/audit", params={"object_type": "lab", "object_id": str(lab["id"])}, headers=admin.headers
    )

    assert [e["action"] for e in by_slug.json()["items"]] == ["lab.update"]
    assert by_slug.json()["items"][0]["actor"] is None
    assert by_id.json()["items"] == by_slug.json()["items"]


async def test_pages_follow_the_cursor_without_gaps(client, make) -> None:
    host = await make.host()
    admin = await make.person("admin", organization_id=host["id"])
    created = await _audited_people(client, admin, host["slug"], 5)

    seen: list[str] = []
    params: dict[str, object] = {"actor": admin.email, "limit": 2}
    while True:
        page = (await client.get("/api/v1/audit", params=params, headers=admin.headers)).json()
        seen += [e["object_id"] for e in page["items"]]
        if page["next_before_id"] is None:
            break
        params["before_id"] = page["next_before_id"]

    assert seen == list(reversed(created))


async def test_only_admins_read_the_audit_log(client, make) -> None:
    manager = await make.person("lab_manager")
    assert (await client.get("/api/v1/audit", headers=manager.headers)).status_code == 403
    assert (await client.get("/api/v1/audit")).status_code == 401


async def test_bad_object_reference_is_422(client, make) -> None:
    admin = await make.person("admin")
    reply = await client.get("/api/v1/audit", params={"object": "welding"}, headers=admin.headers)
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "object"


@pytest.mark.parametrize(
    "statement",
    ["update audit_events set action = 'x' where id = $1", "delete from audit_events where id = $1"],
)
async def test_audit_log_is_append_only(pool: asyncpg.Pool, statement: str) -> None:
    event_id = await pool.fetchval(
        "insert into audit_events (action, object_type, object_id) values ('test', 'test', '1') returning id"
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await pool.execute(statement, event_id)
    assert await pool.fetchval("select action from audit_events where id = $1", event_id) == "test"


@pytest.mark.parametrize("before_id", [2**63, 10**30])
async def test_huge_before_id_is_422(client, make, before_id: int) -> None:
    admin = await make.person("admin")

    reply = await client.get("/api/v1/audit", params={"before_id": before_id}, headers=admin.headers)

    assert reply.status_code == 422, reply.text
    problem = reply.json()
    assert problem["type"] == "/problems/validation"
    assert [e["field"] for e in problem["errors"]] == ["before_id"]


async def test_largest_before_id_lists_from_the_newest(client, make) -> None:
    admin = await make.person("admin")

    reply = await client.get("/api/v1/audit", params={"before_id": 2**63 - 1}, headers=admin.headers)

    assert reply.status_code == 200, reply.text
    assert reply.json()["items"]


async def test_the_log_is_read_by_period(client, make, pool: asyncpg.Pool) -> None:
    admin = await make.person("admin")
    lab = await make.lab()
    async with pool.acquire() as conn:
        for days_ago, action in ((10, "lab.create"), (3, "lab.update"), (0, "lab.archive")):
            await conn.execute(
                "insert into audit_events (occurred_at, action, object_type, object_id) "
                "values (now() - make_interval(days => $1), $2, 'lab', $3)",
                days_ago,
                action,
                str(lab["id"]),
            )
    now = datetime.now(UTC)

    def period(**bounds: datetime) -> dict[str, str]:
        return {"object": f"lab:{lab['slug']}", **{k: v.isoformat() for k, v in bounds.items()}}

    middle = await client.get(
        "/api/v1/audit",
        params=period(**{"from": now - timedelta(days=5), "to": now - timedelta(days=1)}),
        headers=admin.headers,
    )
    recent = await client.get(
        "/api/v1/audit", params=period(**{"from": now - timedelta(days=5)}), headers=admin.headers
    )
    naive = await client.get("/api/v1/audit", params={"from": "2027-02-15T00:00:00"}, headers=admin.headers)

    assert [e["action"] for e in middle.json()["items"]] == ["lab.update"]
    assert [e["action"] for e in recent.json()["items"]] == ["lab.archive", "lab.update"]
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "from"
