"""Paging parameters beyond what PostgreSQL can take are refused by name, not failed on."""

from __future__ import annotations

import pytest

from tests.bookings.helpers import Cast
from tests.dates import soon
from tests.factories import Factory


async def _one_booking(client, cast: Cast, make: Factory) -> None:
    slot = await make.slot(cast.lab, soon())
    reply = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
    )
    assert reply.status_code == 201, reply.text


@pytest.mark.parametrize("offset", [2**31, 2**63, 10**30])
async def test_huge_booking_list_offset_is_422(client, cast: Cast, make: Factory, offset: int) -> None:
    await _one_booking(client, cast, make)

    reply = await client.get("/api/v1/bookings", params={"offset": offset}, headers=cast.director.headers)

    assert reply.status_code == 422, reply.text
    problem = reply.json()
    assert problem["type"] == "/problems/validation"
    assert [e["field"] for e in problem["errors"]] == ["offset"]


async def test_largest_booking_list_offset_is_an_empty_page(client, cast: Cast, make: Factory) -> None:
    await _one_booking(client, cast, make)

    reply = await client.get("/api/v1/bookings", params={"offset": 2**31 - 1}, headers=cast.director.headers)

    assert reply.status_code == 200, reply.text
    assert reply.json()["items"] == []
    assert reply.json()["total"] == 1
