"""A group bigger than a session: ``min_seats`` lists only the slots it fits in."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Factory
from tests.slots.conftest import LabSetup

ALMATY = ZoneInfo("Asia/Almaty")


def _at(days: int, hour: int) -> str:
    start = datetime.combine(datetime.now(ALMATY).date() + timedelta(days=days), time(hour), tzinfo=ALMATY)
    return start.isoformat()


async def _publish(
    client: AsyncTestClient[Litestar], setup: LabSetup, hour: int, **fields: Any
) -> dict[str, Any]:
    body = setup.slot(_at(5, hour), _at(5, hour + 1), **{"kind": "tour", "capacity": 20, **fields})
    reply = await client.post("/api/v1/slots", json=body, headers=setup.manager.headers)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def test_min_seats_keeps_the_slots_a_group_fits_in(
    client: AsyncTestClient[Litestar], make: Factory, setup: LabSetup
) -> None:
    roomy = await _publish(client, setup, 9, capacity=20)
    exact = await _publish(client, setup, 11, capacity=12)
    crowded = await _publish(client, setup, 13, capacity=20)
    cancelled = await _publish(client, setup, 15, capacity=30)
    await _publish(client, setup, 17, kind="maintenance", capacity=0)
    director = await make.person("director")
    booked = await client.post(
        f"/api/v1/slots/{crowded['id']}/bookings",
        json={"headcount": 15, "contact_name": "Dana", "language": "ru"},
        headers=director.headers,
    )
    assert booked.status_code == 201, booked.text
    cancel = await client.post(
        f"/api/v1/slots/{cancelled['id']}/cancel", json={}, headers=setup.manager.headers
    )
    assert cancel.status_code == 200

    async def listed(**params: Any) -> tuple[list[str], int]:
        reply = await client.get(
            "/api/v1/slots", params={"lab": setup.slug, "include_cancelled": "true", **params}
        )
        assert reply.status_code == 200, reply.text
        page = reply.json()
        return [item["id"] for item in page["items"]], page["total"]

    assert (await listed())[1] == 5
    # a group of 12 fits where exactly 12 seats are left, not where 5 are; a cancelled slot and
    # maintenance have no seats to offer
    assert await listed(min_seats=12) == ([roomy["id"], exact["id"]], 2)
    assert await listed(min_seats=5) == ([roomy["id"], exact["id"], crowded["id"]], 3)
    assert await listed(min_seats=21) == ([], 0)
    assert await listed(min_seats=1, limit=1) == ([roomy["id"]], 3)

    for wrong in ("0", "-3", "many"):
        reply = await client.get("/api/v1/slots", params={"lab": setup.slug, "min_seats": wrong})
        assert reply.status_code == 422, wrong
        assert reply.json()["type"] == "/problems/validation"
