from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from litestar.testing import AsyncTestClient

from labbook.accounts.security import hash_secret
from labbook.app import create_app


async def test_me_names_person_organization_roles_and_managed_labs(client, make) -> None:
    host = await make.host()
    lab = await make.lab(organization_id=host["id"])
    manager = await make.person("lab_manager", organization_id=host["id"], lab_ids=(lab["id"],))

    reply = await client.get("/api/v1/me", headers=manager.headers)

    assert reply.status_code == 200, reply.text
    me = reply.json()
    assert me["id"] == str(manager.id)
    assert me["organization_slug"] == host["slug"]
    assert me["roles"] == ["lab_manager"]
    assert me["managed_labs"] == [lab["slug"]]


async def test_no_token_or_unknown_token_is_401(client) -> None:
    assert (await client.get("/api/v1/me")).status_code == 401
    reply = await client.get("/api/v1/me", headers={"Authorization": "Bearer lbk_nonsense"})
    assert reply.status_code == 401
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["type"] == "/problems/unauthorized"


async def test_created_token_is_shown_once_and_works(client, make, pool: asyncpg.Pool) -> None:
    director = await make.person("director")

    created = await client.post(
        "/api/v1/me/tokens", json={"name": "calendar laptop", "expires_in_days": 30}, headers=director.headers
    )

    assert created.status_code == 201, created.text
    token = created.json()
    assert token["token"].startswith("lbk_")
    assert token["prefix"] == token["token"][:8]
    assert token["expires_at"] is not None
    stored = await pool.fetchrow("select token_hash, prefix from access_tokens where id = $1", token["id"])
    assert stored["token_hash"] == hash_secret(token["token"])
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token['token']}"})
    assert me.json()["id"] == str(director.id)
    listed = (await client.get("/api/v1/me/tokens", headers=director.headers)).json()
    assert {t["name"] for t in listed} == {"test", "calendar laptop"}
    assert all("token" not in t and "token_hash" not in t for t in listed)


async def test_token_expiry_is_bounded(client, make) -> None:
    director = await make.person("director")
    for days in (0, 366):
        reply = await client.post(
            "/api/v1/me/tokens", json={"name": "x", "expires_in_days": days}, headers=director.headers
        )
        assert reply.status_code == 422, reply.text


async def test_revoked_token_stops_working(client, make) -> None:
    director = await make.person("director")
    created = (await client.post("/api/v1/me/tokens", json={"name": "old"}, headers=director.headers)).json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200

    revoked = await client.post(f"/api/v1/me/tokens/{created['id']}/revoke", headers=director.headers)

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401


async def test_someone_elses_token_cannot_be_revoked(client, make) -> None:
    owner = await make.person("director")
    other = await make.person("director")
    created = (await client.post("/api/v1/me/tokens", json={"name": "mine"}, headers=owner.headers)).json()

    reply = await client.post(f"/api/v1/me/tokens/{created['id']}/revoke", headers=other.headers)

    assert reply.status_code == 404
    still = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {created['token']}"})
    assert still.status_code == 200


async def test_expired_token_is_401(client, make, pool: asyncpg.Pool) -> None:
    director = await make.person("director")
    await pool.execute(
        "update access_tokens set expires_at = now() - interval '1 second' where person_id = $1", director.id
    )
    assert (await client.get("/api/v1/me", headers=director.headers)).status_code == 401


async def test_a_token_expires_counted_from_the_apps_clock(settings, make) -> None:
    """The expiry of a new token is the app's now plus the days asked, whatever the machine's clock."""
    director = await make.person("director")
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=400)
    async with AsyncTestClient(app=create_app(settings, clock=lambda: later)) as client:
        reply = await client.post(
            "/api/v1/me/tokens", json={"name": "next year", "expires_in_days": 30}, headers=director.headers
        )
    assert reply.status_code == 201, reply.text
    assert datetime.fromisoformat(reply.json()["expires_at"]) == later + timedelta(days=30)
