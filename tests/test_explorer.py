"""The API explorer at /schema works without the internet: every asset comes from labbook itself."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append((tag, found["src"] or ""))
        if tag == "link" and found.get("href"):
            self.urls.append((tag, found["href"] or ""))


async def _asset_urls(client) -> list[tuple[str, str]]:
    page = await client.get("/schema")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    parser = _Assets()
    parser.feed(page.text)
    return parser.urls


async def test_explorer_page_loads_nothing_from_other_hosts(client) -> None:
    urls = await _asset_urls(client)
    tags = {tag for tag, _ in urls}
    assert tags == {"script", "link"}, urls
    foreign = [url for _, url in urls if urlsplit(url).scheme or urlsplit(url).netloc]
    assert foreign == [], f"the explorer would need the internet for {foreign}"


_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".ico": "image/"}


async def test_explorer_assets_are_served_with_their_types(client) -> None:
    urls = [url for _, url in await _asset_urls(client)]
    suffixes = {"." + urlsplit(url).path.rsplit(".", 1)[-1] for url in urls}
    assert {".js", ".css"} <= suffixes, urls
    for url in urls:
        asset = await client.get(urljoin("http://labbook.test/schema", url))
        assert asset.status_code == 200, url
        expected = _TYPES["." + urlsplit(url).path.rsplit(".", 1)[-1]]
        assert expected in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 100, url


async def test_swagger_bundle_is_the_real_script(client) -> None:
    bundle = await client.get("/schema/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert "SwaggerUIBundle" in bundle.text


async def test_openapi_document_lists_the_api(client) -> None:
    reply = await client.get("/schema/openapi.json")
    assert reply.status_code == 200
    document = json.loads(reply.content)
    assert document["openapi"].startswith("3.")
    api_paths = [path for path in document["paths"] if path.startswith("/api/v1/")]
    assert "/api/v1/labs" in api_paths
    assert len(api_paths) >= 5, api_paths
    assert "BearerToken" in document["components"]["securitySchemes"]


async def test_explorer_script_can_read_the_openapi_version_we_serve(client) -> None:
    version = (await client.get("/schema/openapi.json")).json()["openapi"]
    bundle = (await client.get("/schema/assets/swagger-ui-bundle.js")).text
    # Swagger UI before 5 shows "Unable to render this definition" for an OpenAPI 3.1 document.
    reads_31 = "isOAS31" in bundle
    assert version.startswith("3.0.") or reads_31, f"the bundled Swagger UI cannot render OpenAPI {version}"
