"""Feed, subscribe and invitation links name an address that works: the configured one, or else the
host and port that ``labbook serve`` actually listens on."""

from __future__ import annotations

import httpx
import pytest

from labbook.cli import served_base_url
from tests.databases import free_port, labbook_server
from tests.factories import Factory


async def _links(client: httpx.AsyncClient, make: Factory) -> list[str]:
    """Every kind of link a reply can carry: a private feed, a lab's feeds, an invitation."""
    admin, someone = await make.person("admin"), await make.person("director")
    lab = await make.lab()
    private = await client.post(
        "/api/v1/me/feed-tokens", json={"kind": "organization"}, headers=someone.headers
    )
    assert private.status_code == 201, private.text
    public = await client.get(f"/api/v1/feeds/labs/{lab['slug']}")
    assert public.status_code == 200, public.text
    described = await client.get(f"/api/v1/labs/{lab['slug']}")
    assert described.status_code == 200, described.text
    invitation = await client.post(f"/api/v1/people/{someone.id}/invitations", json={}, headers=admin.headers)
    assert invitation.status_code == 201, invitation.text
    return [
        private.json()["feed_url"],
        private.json()["subscribe_url"],
        public.json()["feed_url"],
        public.json()["subscribe_url"],
        described.json()["feed_url"],
        invitation.json()["url"],
    ]


async def test_without_a_configured_address_links_name_the_served_port(
    database_url: str, make: Factory
) -> None:
    port = free_port()
    async with labbook_server(database_url, port) as client:
        links = await _links(client, make)
        served = f"127.0.0.1:{port}/"
        assert all(link.split("://", 1)[1].startswith(served) for link in links), links
        assert links[0].startswith("http://")
        assert links[1].startswith("webcal://")
        private_feed = await client.get(links[0])

    assert private_feed.status_code == 200
    assert private_feed.headers["content-type"].startswith("text/calendar")


async def test_a_configured_address_is_used_as_given(database_url: str, make: Factory) -> None:
    async with labbook_server(
        database_url, free_port(), LABBOOK_BASE_URL="https://labbook.example.kz/"
    ) as client:
        links = await _links(client, make)

    assert all(link.split("://", 1)[1].startswith("labbook.example.kz/") for link in links), links


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:9000"),
        ("0.0.0.0", "http://127.0.0.1:9000"),  # noqa: S104 - the address under test
        ("::", "http://[::1]:9000"),
        ("::1", "http://[::1]:9000"),
        ("labbook.local", "http://labbook.local:9000"),
    ],
)
def test_a_wildcard_listening_address_becomes_one_a_browser_can_open(host: str, expected: str) -> None:
    assert served_base_url(host, 9000) == expected
