"""Every error is RFC 9457 problem+json with a stable type, and a 500 tells nothing about the inside."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from labbook import db
from labbook.app import create_app
from labbook.settings import Settings
from tests.databases import throwaway_database
from tests.factories import unique

PROBLEM = "application/problem+json"


def _problem(reply, status: int, type_: str) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    body = reply.json()
    assert body["type"] == type_
    assert body["status"] == status
    assert body["title"]
    return body


async def test_unknown_route_is_404(client) -> None:
    _problem(await client.get("/api/v1/no-such-thing"), 404, "/problems/not-found")


async def test_wrong_method_is_405(client) -> None:
    _problem(await client.delete("/api/v1/me"), 405, "/problems/method-not-allowed")


async def test_malformed_json_is_400(client, make) -> None:
    person = await make.person("director")
    reply = await client.post(
        "/api/v1/me/tokens",
        content=b'{"name": "unterminated',
        headers={**person.headers, "Content-Type": "application/json"},
    )
    _problem(reply, 400, "/problems/bad-request")


async def test_unknown_field_is_422_naming_the_field(client, make) -> None:
    person = await make.person("director")
    reply = await client.post(
        "/api/v1/me/tokens", json={"name": "x", "scopes": ["all"]}, headers=person.headers
    )
    body = _problem(reply, 422, "/problems/validation")
    assert any("scopes" in e["message"] or "scopes" in e["field"] for e in body["errors"]), body


async def test_wrong_type_is_422_with_field_errors(client, make) -> None:
    person = await make.person("director")
    reply = await client.post(
        "/api/v1/me/tokens", json={"name": "x", "expires_in_days": "soon"}, headers=person.headers
    )
    body = _problem(reply, 422, "/problems/validation")
    assert body["errors"], body


@pytest.mark.parametrize("with_key", [False, True])
async def test_body_over_the_limit_is_413(client, make, with_key: bool) -> None:
    person = await make.person("director")
    headers = {**person.headers, "Content-Type": "application/json"}
    if with_key:
        headers["Idempotency-Key"] = secrets.token_hex(8)
    big = b'{"name": "' + b"x" * (256 * 1024) + b'"}'

    reply = await client.post("/api/v1/me/tokens", content=big, headers=headers)

    _problem(reply, 413, "/problems/payload-too-large")


async def test_forbidden_is_403(client, make) -> None:
    director = await make.person("director")
    _problem(await client.get("/api/v1/audit", headers=director.headers), 403, "/problems/forbidden")


@pytest.fixture
async def broken_app_client(server_url: str) -> AsyncIterator[tuple[AsyncTestClient, str]]:
    """The app on a database whose access_tokens table has gone missing: every token check fails."""
    async with throwaway_database(server_url, "labbook_broken", migrated=True) as url:
        conn = await db.connect(url)
        try:
            await conn.execute("alter table access_tokens rename to access_tokens_gone")
        finally:
            await conn.close()
        app = create_app(Settings(database_url=url, pool_min_size=1, pool_max_size=2, log_level="WARNING"))
        async with AsyncTestClient(app=app, base_url="http://labbook.test") as test_client:
            yield test_client, url


async def test_a_500_leaks_nothing(broken_app_client) -> None:
    client, _ = broken_app_client
    reply = await client.get(
        "/api/v1/me", headers={"Authorization": "Bearer lbk_whatever", "X-Request-ID": "req-500-test"}
    )

    body = _problem(reply, 500, "/problems/internal")
    assert body["request_id"] == "req-500-test"
    assert reply.headers["x-request-id"] == "req-500-test"
    text = reply.text.lower()
    for leak in ("access_tokens", "traceback", "asyncpg", "select", "relation", ".py"):
        assert leak not in text, body


async def test_a_nul_character_is_422_and_writes_nothing(client, make, pool) -> None:
    admin = await make.person("admin")
    before = await pool.fetchval("select count(*) from organizations")
    reply = await client.post(
        "/api/v1/organizations",
        json={"slug": unique("nul"), "kind": "college", "name": {"ru": "Колледж\u0000"}},
        headers=admin.headers,
    )
    _problem(reply, 422, "/problems/validation")
    assert await pool.fetchval("select count(*) from organizations") == before


@pytest.mark.parametrize("path", ["/api/v1/labs", "/api/v1/organizations", "/api/v1/slots"])
async def test_an_offset_beyond_any_row_count_is_a_4xx(client, path: str) -> None:
    reply = await client.get(path, params={"offset": str(10**20)})
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
