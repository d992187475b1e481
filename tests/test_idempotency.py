from __future__ import annotations

import asyncio
import hashlib

import asyncpg

from tests.factories import unique
from tests.live import serve


async def _token_names(pool: asyncpg.Pool, person_id: object) -> list[str]:
    rows = await pool.fetch(
        "select name from access_tokens where person_id = $1 and name <> 'test'", person_id
    )
    return [r["name"] for r in rows]


async def test_concurrent_retries_create_one_row_and_get_one_answer(settings, make, pool) -> None:
    person = await make.person("director")
    headers = {**person.headers, "Idempotency-Key": unique("key")}

    async with serve(settings) as live:
        replies = await asyncio.gather(
            *(live.post("/api/v1/me/tokens", json={"name": "phone"}, headers=headers) for _ in range(10))
        )

    assert {r.status_code for r in replies} == {201}
    assert len({r.content for r in replies}) == 1
    assert await _token_names(pool, person.id) == ["phone"]
    replayed = [r for r in replies if r.headers.get("idempotent-replayed") == "true"]
    assert len(replayed) == 9
    assert all(r.headers["content-type"] == "application/json" for r in replies)


async def test_retry_later_replays_the_first_answer(client, make, pool) -> None:
    person = await make.person("director")
    headers = {**person.headers, "Idempotency-Key": "retry-1"}
    first = await client.post("/api/v1/me/tokens", json={"name": "tablet"}, headers=headers)

    again = await client.post("/api/v1/me/tokens", json={"name": "tablet"}, headers=headers)

    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _token_names(pool, person.id) == ["tablet"]


async def test_same_key_with_another_body_is_422(client, make, pool) -> None:
    person = await make.person("director")
    headers = {**person.headers, "Idempotency-Key": "reused"}
    assert (await client.post("/api/v1/me/tokens", json={"name": "a"}, headers=headers)).status_code == 201

    reply = await client.post("/api/v1/me/tokens", json={"name": "b"}, headers=headers)

    assert reply.status_code == 422
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["type"] == "/problems/idempotency-key-reused"
    assert await _token_names(pool, person.id) == ["a"]


async def test_keys_belong_to_the_caller(client, make, pool) -> None:
    first = await make.person("director")
    second = await make.person("director")
    for person in (first, second):
        reply = await client.post(
            "/api/v1/me/tokens",
            json={"name": "shared key"},
            headers={**person.headers, "Idempotency-Key": "k"},
        )
        assert reply.status_code == 201
        assert "idempotent-replayed" not in reply.headers
    assert await _token_names(pool, first.id) == ["shared key"]
    assert await _token_names(pool, second.id) == ["shared key"]


async def test_without_a_key_every_post_creates(client, make, pool) -> None:
    person = await make.person("director")
    for _ in range(2):
        assert (
            await client.post("/api/v1/me/tokens", json={"name": "x"}, headers=person.headers)
        ).status_code == 201
    assert await _token_names(pool, person.id) == ["x", "x"]


async def test_errors_are_remembered_too(client, make, pool) -> None:
    person = await make.person("director")
    headers = {**person.headers, "Idempotency-Key": unique("bad")}
    first = await client.post(
        "/api/v1/me/tokens", json={"name": "x", "expires_in_days": 999}, headers=headers
    )
    again = await client.post(
        "/api/v1/me/tokens", json={"name": "x", "expires_in_days": 999}, headers=headers
    )
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_malformed_key_is_400(client, make) -> None:
    person = await make.person("director")
    for key in ("", "x" * 256, "tab\there", "ключ"):
        reply = await client.post(
            "/api/v1/me/tokens",
            json={"name": "x"},
            headers={**person.headers, "Idempotency-Key": key.encode()},
        )
        assert reply.status_code == 400, (key, reply.text)
        assert reply.json()["type"] == "/problems/bad-request"


async def test_secret_in_a_remembered_reply_is_not_stored_readable(client, make, pool) -> None:
    person = await make.person("director")
    key = unique("secret")
    reply = await client.post(
        "/api/v1/me/tokens", json={"name": "x"}, headers={**person.headers, "Idempotency-Key": key}
    )
    secret = reply.json()["token"]

    stored = await pool.fetchrow(
        "select response_headers, response_body from idempotency_keys where key = $1", key
    )

    assert stored is not None
    assert secret.encode() not in stored["response_body"]
    assert b"lbk_" not in stored["response_body"]
    assert stored["response_headers"] is None


async def test_one_token_however_its_header_is_spelled(client, make, pool) -> None:
    person = await make.person("director")
    key = unique("spelling")
    replies = [
        await client.post(
            "/api/v1/me/tokens",
            json={"name": "spelled"},
            headers={"Authorization": authorization, "Idempotency-Key": key},
        )
        for authorization in (f"bearer {person.token}", f"Bearer  {person.token}")
    ]

    assert [r.status_code for r in replies] == [201, 201]
    assert replies[1].headers["idempotent-replayed"] == "true"
    assert replies[1].json() == replies[0].json()
    assert await _token_names(pool, person.id) == ["spelled"]


async def test_replay_after_the_role_is_removed_is_403(client, make, pool) -> None:
    admin, other_admin = await make.person("admin"), await make.person("admin")
    someone = await make.person("director")
    headers = {**admin.headers, "Idempotency-Key": unique("role")}
    first = await client.post(
        f"/api/v1/people/{someone.id}/tokens", json={"name": "field laptop"}, headers=headers
    )
    assert first.status_code == 201, first.text
    demoted = await client.patch(
        f"/api/v1/people/{admin.id}", json={"roles": ["instructor"]}, headers=other_admin.headers
    )
    assert demoted.status_code == 200, demoted.text

    replay = await client.post(
        f"/api/v1/people/{someone.id}/tokens", json={"name": "field laptop"}, headers=headers
    )

    assert replay.status_code == 403
    assert replay.json()["type"] == "/problems/forbidden"
    assert "idempotent-replayed" not in replay.headers
    assert first.json()["token"] not in replay.text
    assert await _token_names(pool, someone.id) == ["field laptop"]


async def test_a_changed_stored_reply_is_refused_not_replayed(client, make, pool) -> None:
    person = await make.person("director")
    headers = {**person.headers, "Idempotency-Key": unique("tampered")}
    first = await client.post("/api/v1/me/tokens", json={"name": "kiosk"}, headers=headers)
    assert first.status_code == 201
    await pool.execute(
        """update idempotency_keys
           set response_body = overlay(response_body placing '\\x00'::bytea from 40 for 1)
           where key = $1""",
        headers["Idempotency-Key"],
    )

    again = await client.post("/api/v1/me/tokens", json={"name": "kiosk"}, headers=headers)

    assert again.status_code == 409
    assert again.json()["type"] == "/problems/conflict"
    assert await _token_names(pool, person.id) == ["kiosk"]


async def test_a_reply_remembered_before_token_scoping_is_409_and_runs_nothing(client, make, pool) -> None:
    """Rows kept under a hash of the raw header, sealed without authentication, are not replayed."""
    person = await make.person("director")
    key = unique("legacy")
    await pool.execute(
        """insert into idempotency_keys (scope, key, method, path, request_hash, status_code,
                                         response_headers, response_body)
           values ($1, $2, 'POST', '/api/v1/me/tokens', $3, 201, '[]', $4)""",
        hashlib.sha256(f"Bearer {person.token}".encode()).digest(),
        key,
        b"\x00" * 32,
        b"\x00" * 48,
    )

    reply = await client.post(
        "/api/v1/me/tokens", json={"name": "old"}, headers={**person.headers, "Idempotency-Key": key}
    )

    assert reply.status_code == 409
    assert reply.json()["type"] == "/problems/conflict"
    assert await _token_names(pool, person.id) == []


async def test_old_keys_expire(client, make, pool) -> None:
    person = await make.person("director")
    headers = {**person.headers, "Idempotency-Key": unique("old")}
    assert (
        await client.post("/api/v1/me/tokens", json={"name": "day one"}, headers=headers)
    ).status_code == 201
    await pool.execute(
        "update idempotency_keys set created_at = now() - interval '25 hours' where key = $1",
        headers["Idempotency-Key"],
    )

    reply = await client.post("/api/v1/me/tokens", json={"name": "day two"}, headers=headers)

    assert reply.status_code == 201
    assert "idempotent-replayed" not in reply.headers
    assert sorted(await _token_names(pool, person.id)) == ["day one", "day two"]


async def test_keyed_requests_do_not_starve_a_small_pool(settings, make, pool) -> None:
    """Each keyed request holds a connection for its lock and needs another to do its work."""
    person = await make.person("director")
    async with serve(settings.with_changes(pool_max_size=2)) as live:
        replies = await asyncio.wait_for(
            asyncio.gather(
                *(
                    live.post(
                        "/api/v1/me/tokens",
                        json={"name": f"n{i}"},
                        headers={**person.headers, "Idempotency-Key": f"small-pool-{i}"},
                    )
                    for i in range(8)
                )
            ),
            timeout=60,
        )
    assert [r.status_code for r in replies] == [201] * 8
    assert len(await _token_names(pool, person.id)) == 8


async def _replay_after(client, make, pool, cut_off) -> None:
    """A keyed token creation, then ``cut_off(person)``, then the same request again."""
    person = await make.person("director")
    headers = {**person.headers, "Idempotency-Key": unique("key")}
    first = await client.post("/api/v1/me/tokens", json={"name": "laptop"}, headers=headers)
    assert first.status_code == 201, first.text
    child = first.json()["token"]

    await cut_off(person)

    guard = await client.post("/api/v1/me/tokens", json={"name": "laptop"}, headers=person.headers)
    assert guard.status_code == 401
    replay = await client.post("/api/v1/me/tokens", json={"name": "laptop"}, headers=headers)
    assert replay.status_code == 401
    assert replay.headers["content-type"].startswith("application/problem+json")
    assert "idempotent-replayed" not in replay.headers
    assert replay.json() == guard.json()
    assert replay.json()["type"] == "/problems/unauthorized"
    assert child not in replay.text


async def test_replay_after_the_token_is_revoked_is_401(client, make, pool) -> None:
    async def revoke(person) -> None:
        token_id = await pool.fetchval(
            "select id from access_tokens where person_id = $1 and name = 'test'", person.id
        )
        reply = await client.post(f"/api/v1/me/tokens/{token_id}/revoke", headers=person.headers)
        assert reply.status_code == 200, reply.text

    await _replay_after(client, make, pool, revoke)


async def test_replay_after_the_person_is_deactivated_is_401(client, make, pool) -> None:
    admin = await make.person("admin")

    async def deactivate(person) -> None:
        reply = await client.post(f"/api/v1/people/{person.id}/deactivate", headers=admin.headers)
        assert reply.status_code == 200, reply.text

    await _replay_after(client, make, pool, deactivate)
