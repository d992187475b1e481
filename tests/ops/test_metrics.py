"""``/metrics``: Prometheus text for the holder of the metrics token, and nothing for anyone else."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar.testing import AsyncTestClient

from labbook.app import create_app
from labbook.settings import Settings
from tests.live import serve

TOKEN = "metrics-token-for-tests-only"


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings.with_changes(metrics_token=TOKEN, pool_max_size=4)) as client:
        yield client


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, matched on the given labels."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}")]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} {labels} in:\n{text}")


async def test_metrics_report_latency_by_route_template_and_the_pool(http: httpx.AsyncClient, make) -> None:
    host = await make.host()
    lab = await make.lab(organization_id=host["id"])
    for _ in range(3):
        assert (await http.get(f"/api/v1/labs/{lab['slug']}")).status_code == 200

    reply = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    text = reply.text
    count = _sample(text, "labbook_request_duration_seconds_count", path="/api/v1/labs/{slug}", method="GET")
    assert count >= 3
    assert lab["slug"] not in text
    assert _sample(text, "labbook_db_pool_connections", state="idle") >= 0
    assert _sample(text, "labbook_db_pool_connections", state="in_use") >= 0
    assert _sample(text, "labbook_db_pool_connections", state="waiting") == 0


async def test_metrics_need_the_token(http: httpx.AsyncClient) -> None:
    assert (await http.get("/metrics")).status_code == 401
    wrong = await http.get("/metrics", headers={"Authorization": "Bearer not-the-metrics-token"})
    assert wrong.status_code == 401
    assert "labbook_" not in wrong.text


async def test_no_metrics_without_a_token(settings: Settings) -> None:
    async with AsyncTestClient(app=create_app(settings), base_url="http://labbook.test") as client:
        reply = await client.get("/metrics")
    assert reply.status_code == 404
    assert "/metrics" not in (await _openapi(settings))


async def _openapi(settings: Settings) -> str:
    async with AsyncTestClient(
        app=create_app(settings.with_changes(metrics_token=TOKEN)), base_url="http://labbook.test"
    ) as client:
        return (await client.get("/schema/openapi.json")).text
