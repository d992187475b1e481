"""Bad input on every write route: a 4xx problem+json, and not one row written anywhere.

The write routes and valid bodies come from the route × role table, so a new write route is covered
as soon as it has a decision there.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Factory
from tests.test_route_roles import CASES, Case, build_world

# JSON bodies; pages take forms, and tests/web checks how each form answers bad input.
WRITES = [c for c in CASES if c.method in {"POST", "PUT", "PATCH"} and c.body is not None and not c.is_page]

ROW_COUNTS = """
select string_agg(format('select %L as t, count(*) as n from %I', tablename, tablename), ' union all ')
from pg_tables where schemaname = 'public' and tablename <> 'schema_migrations'
"""


async def row_counts(pool: asyncpg.Pool) -> dict[str, int]:
    query = await pool.fetchval(ROW_COUNTS)
    return {r["t"]: r["n"] for r in await pool.fetch(query)}


def caller(checked: Case) -> str:
    return "admin" if "admin" in checked.allowed else sorted(checked.allowed - {"anonymous"})[0]


def with_unknown_field(body: Any) -> Any:
    if isinstance(body, list):
        return [*body[:-1], {**body[-1], "colour": "red"}] if body else [{"colour": "red"}]
    return {**body, "colour": "red"}


def with_wrong_types(body: Any) -> Any:
    """Every value replaced by a JSON type no field accepts here: an object where text or numbers go."""
    if isinstance(body, list):
        return [with_wrong_types(item) for item in body] or [{"weekday": {"x": 1}}]
    return {key: {"unexpected": ["nested"]} for key in body} or {"name": {"x": ["y"]}}


BAD_BODIES = {
    "unknown field": lambda body: with_unknown_field(body),
    "wrong types": lambda body: with_wrong_types(body),
}


def test_every_write_route_is_covered() -> None:
    assert len(WRITES) >= 20


@pytest.mark.parametrize("checked", WRITES, ids=lambda c: f"{c.method} {c.route}")
async def test_bad_bodies_are_4xx_problems_and_write_nothing(
    checked: Case, client: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool
) -> None:
    world = await build_world(make, client)
    headers = world.people[caller(checked)].headers
    assert checked.body is not None
    for label, spoil in BAD_BODIES.items():
        before = await row_counts(pool)
        body = spoil(checked.body(world))
        reply = await client.request(checked.method, checked.url(world), headers=headers, json=body)
        assert 400 <= reply.status_code < 500, (label, reply.status_code, reply.text)
        assert reply.headers["content-type"].startswith("application/problem+json"), label
        assert reply.json()["type"].startswith("/problems/"), label
        assert await row_counts(pool) == before, label

    before = await row_counts(pool)
    reply = await client.request(
        checked.method,
        checked.url(world),
        headers={**headers, "Content-Type": "application/json"},
        content=b'{"name": ',
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["type"] == "/problems/bad-request"
    assert await row_counts(pool) == before
