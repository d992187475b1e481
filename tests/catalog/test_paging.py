"""Paging bounds on the catalog's lists: an offset past what PostgreSQL can skip is a 422 naming it."""

from __future__ import annotations

import pytest

from tests.catalog.conftest import assert_problem

LISTS = ("/api/v1/organizations", "/api/v1/labs")


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"offset": "99999999999999999999"}, "offset"),
        ({"offset": str(2**63)}, "offset"),
        ({"offset": str(2**31)}, "offset"),
        ({"offset": "-1"}, "offset"),
        ({"limit": "99999999999999999999"}, "limit"),
        ({"limit": "0"}, "limit"),
    ],
)
async def test_out_of_range_paging_is_a_422_naming_the_parameter(client, url, params, field) -> None:
    problem = assert_problem(await client.get(url, params=params), 422, "validation")

    assert [error["field"] for error in problem["errors"]] == [field]


@pytest.mark.parametrize("url", LISTS)
async def test_the_largest_offset_answers_an_empty_page_with_the_true_total(client, make, url) -> None:
    await make.lab()

    reply = await client.get(url, params={"offset": 2**31 - 1, "limit": 200})

    assert reply.status_code == 200, reply.text
    page = reply.json()
    assert page["items"] == []
    assert (page["offset"], page["limit"]) == (2**31 - 1, 200)
    assert page["total"] >= 1
