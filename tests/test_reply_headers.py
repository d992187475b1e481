"""Headers a caller can rely on in every reply: a request id to quote, nosniff, no caching of
personal data or secrets, a locked-down explorer page, and a 401 that says how to authenticate."""

from __future__ import annotations

import re

import pytest
from litestar.routes import HTTPRoute

EVERY_KIND_OF_REPLY = [
    ("GET", "/api/v1/no-such-thing", 404),  # no route: answered by the router itself
    ("DELETE", "/api/v1/me", 405),  # a route, but not for this method
    ("GET", "/no-such-page", 404),  # a page that does not exist
    ("GET", "/api/v1/labs", 200),  # API
    ("GET", "/api/v1/me", 401),
    ("GET", "/health", 200),
    ("GET", "/feeds/labs/no-such-lab.ics", 404),
    ("GET", "/static/no-such-file.css", 404),
    ("GET", "/schema", 200),  # the explorer
    ("GET", "/schema/openapi.json", 200),
    ("GET", "/schema/assets/swagger-ui.css", 200),
]


@pytest.mark.parametrize(("method", "path", "status"), EVERY_KIND_OF_REPLY)
async def test_every_reply_carries_a_request_id_and_nosniff(
    client, method: str, path: str, status: int
) -> None:
    reply = await client.request(method, path)

    assert reply.status_code == status, reply.text
    assert re.fullmatch(r"[0-9a-f]{16}", reply.headers.get("x-request-id", "")), reply.headers
    assert reply.headers.get_list("x-content-type-options") == ["nosniff"]


@pytest.mark.parametrize(("method", "path", "status"), EVERY_KIND_OF_REPLY[:3])
async def test_a_routing_error_echoes_the_callers_request_id(
    client, method: str, path: str, status: int
) -> None:
    reply = await client.request(method, path, headers={"X-Request-ID": "support-ticket-42"})

    assert reply.status_code == status
    assert reply.headers["x-request-id"] == "support-ticket-42"


async def test_replies_holding_a_secret_are_never_cached(client, make) -> None:
    admin = await make.person("admin")
    someone = await make.person("director")
    replies = [
        await client.post("/api/v1/me/tokens", json={"name": "laptop"}, headers=admin.headers),
        await client.post(
            f"/api/v1/people/{someone.id}/tokens", json={"name": "kiosk"}, headers=admin.headers
        ),
        await client.post("/api/v1/me/feed-tokens", json={"kind": "organization"}, headers=someone.headers),
        await client.post(f"/api/v1/people/{someone.id}/invitations", json={}, headers=admin.headers),
    ]

    for reply in replies:
        assert reply.status_code == 201, reply.text
        assert reply.headers.get_list("cache-control") == ["no-store"], reply.request.url


async def test_replies_holding_personal_data_are_never_cached(client, make) -> None:
    admin = await make.person("admin")
    for path in ("/api/v1/me", "/api/v1/people", f"/api/v1/people/{admin.id}", "/api/v1/bookings",
                 "/api/v1/visit-requests", "/api/v1/audit"):  # fmt: skip
        reply = await client.get(path, headers=admin.headers)
        assert reply.status_code == 200, (path, reply.text)
        assert reply.headers.get_list("cache-control") == ["no-store"], path


async def test_public_catalog_replies_may_still_be_cached(client) -> None:
    reply = await client.get("/api/v1/labs")

    assert reply.status_code == 200
    assert "no-store" not in reply.headers.get("cache-control", "")


async def test_the_explorer_cannot_be_framed_and_runs_only_its_own_code(client) -> None:
    page = await client.get("/schema")

    assert page.status_code == 200
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in page.headers["content-security-policy"].split(";")
        if directive.strip()
    }
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    # the page's scripts come from /schema/assets plus the one inline start-up script
    assert set(policy["script-src"]) == {"'self'", "'unsafe-inline'"}
    sources = re.findall(r"<script src=\"([^\"]+)\"", page.text)
    assert sources
    assert all(src.startswith("/schema/assets/") for src in sources), sources


async def test_other_pages_keep_their_strict_policy(client) -> None:
    page = await client.get("/en/")

    assert "'unsafe-inline'" not in page.headers.get("content-security-policy", "")


@pytest.mark.parametrize("authorization", [None, "Bearer lbk_not-a-real-token"])
async def test_an_api_401_names_the_bearer_scheme(client, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    reply = await client.get("/api/v1/me", headers=headers)

    assert reply.status_code == 401, reply.text
    assert reply.headers.get_list("www-authenticate") == ["Bearer"]


SAMPLE_PARAMETER = {"str": "x", "int": "1", "uuid": "00000000-0000-0000-0000-000000000001"}


async def test_options_lists_every_method_the_path_answers(client, app) -> None:
    """OPTIONS says the same as a 405 does, on every API and feed path the app routes."""
    checked = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith(("/api/", "/feeds/")):
            continue
        path = re.sub(r"\{[^}:]+:(\w+)\}", lambda m: SAMPLE_PARAMETER[m[1]], route.path)
        reply = await client.options(path)
        assert reply.status_code == 204, (path, reply.text)
        listed = {method.strip() for method in reply.headers["allow"].split(",")}
        assert listed == set(route.methods), path
        checked += 1
    assert checked > 40
