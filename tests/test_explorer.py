"""The API explorer at /schema works without the internet: every asset comes from labbook itself."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import labbook.app  # noqa: F401  (imports every domain, and so every error class)
from labbook.errors import ConfigurationError, LabbookError


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


async def _document(client) -> dict:
    reply = await client.get("/schema/openapi.json")
    assert reply.status_code == 200
    return json.loads(reply.content)


def _operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


async def test_every_error_reply_is_documented_as_a_problem(client) -> None:
    document = await _document(client)
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert {"errors", "request_id", "conflicts", "current_status", "seats_left"} <= set(problem["properties"])
    assert problem["properties"]["errors"]["items"]["required"] == ["field", "message"]
    # Litestar's own error shape, which labbook never sends, is gone
    assert '"status_code"' not in json.dumps(document)
    for path, method, operation in _operations(document):
        # (a 5xx may have its own body: /ready's 503 says what is not ready)
        errors = {code: reply for code, reply in operation["responses"].items() if 400 <= int(code) < 500}
        assert "401" in errors, (method, path)
        for code, reply in errors.items():
            assert list(reply["content"]) == ["application/problem+json"], (method, path, code)
            assert reply["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }


async def test_each_operation_lists_the_errors_it_can_answer(client) -> None:
    paths = (await _document(client))["paths"]

    def statuses(path: str, method: str) -> set[str]:
        return {code for code in paths[path][method]["responses"] if int(code) >= 400}

    # a manager's write with a path and a body
    assert statuses("/api/v1/labs/{slug}", "patch") == {
        "400",
        "401",
        "403",
        "404",
        "409",
        "413",
        "415",
        "422",
        "503",
    }
    # a public read: no 403, no 409; a token, when sent, must be valid (401)
    assert statuses("/api/v1/labs", "get") == {"400", "401", "404", "422", "503"}
    assert statuses("/api/v1/me", "get") == {"401", "403", "422", "503"}
    # the probes say what is wrong in their own words, and /health never asks the database
    assert statuses("/health", "get") == {"401"}
    assert "database-unavailable" in paths["/api/v1/labs"]["get"]["responses"]["503"]["description"]
    assert "429" in statuses("/feeds/private/{token_file}", "get")
    assert "429" not in statuses("/feeds/labs/{lab_file}", "get")
    # an address may ask for a reset link once a minute
    reset_too_soon = paths["/api/v1/password-resets"]["post"]["responses"]["429"]["description"]
    assert "/problems/password-reset-throttled" in reset_too_soon
    slot_full = paths["/api/v1/slots/{slot_id}/bookings"]["post"]["responses"]["409"]["description"]
    assert "/problems/slot-full" in slot_full
    # the explorer's own pages are not part of the API
    assert not [path for path in paths if path.startswith("/schema")]


async def test_public_operations_take_a_token_but_do_not_need_one(client) -> None:
    paths = (await _document(client))["paths"]
    assert paths["/api/v1/labs"]["get"]["security"] == [{}, {"BearerToken": []}]
    assert "security" not in paths["/api/v1/people"]["get"]  # the document's default: a token


async def test_series_local_start_is_declared_as_what_it_is(client) -> None:
    document = await _document(client)
    local_start = document["components"]["schemas"]["Series"]["properties"]["local_start"]
    # a wall-clock time in the series' zone, without an offset: not an RFC 3339 date-time
    assert local_start.get("format") != "date-time"
    wall_clock = f"{date.today() + timedelta(days=30)}T10:00:00"
    assert re.fullmatch(local_start["pattern"], wall_clock)
    assert not re.fullmatch(local_start["pattern"], f"{wall_clock}+05:00")


def test_readme_lists_every_problem_type() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    todo: list[type[LabbookError]] = [LabbookError]
    missing = []
    while todo:
        error = todo.pop()
        todo.extend(error.__subclasses__())
        if error is not ConfigurationError and f"`/problems/{error.slug}` | {error.status} |" not in readme:
            missing.append((error.slug, error.status))
    assert missing == []


async def test_feeds_are_documented_as_calendars(client) -> None:  # type: ignore[no-untyped-def]
    document = (await client.get("/schema/openapi.json")).json()
    for path in ("/feeds/labs/{lab_file}", "/feeds/private/{token_file}"):
        content = document["paths"][path]["get"]["responses"]["200"]["content"]
        assert list(content) == ["text/calendar"], (path, content)


async def test_request_bodies_say_what_the_decoder_refuses(client) -> None:  # type: ignore[no-untyped-def]
    """The document and msgspec agree: the languages a name may take, its size, bounds of a change."""
    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]

    name = schemas["LabCreate"]["properties"]["name"]
    assert name["propertyNames"] == {"enum": ["en", "kk", "ru"]}
    assert name["minProperties"] == 1
    assert name["additionalProperties"]["minLength"] == 1
    capacity = schemas["LabUpdate"]["properties"]["capacity"]
    assert capacity["exclusiveMinimum"] == 0
    assert schemas["LabUpdate"]["additionalProperties"] is False


async def test_not_modified_and_not_ready_are_documented(client) -> None:  # type: ignore[no-untyped-def]
    paths = (await client.get("/schema/openapi.json")).json()["paths"]

    for feed in ("/feeds/labs/{lab_file}", "/feeds/private/{token_file}"):
        for method in ("get", "head"):
            assert "304" in paths[feed][method]["responses"], (feed, method)
    not_ready = paths["/ready"]["get"]["responses"]["503"]
    assert not_ready["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Readiness"}
