"""Slot and visit-request events reach a real local HTTP receiver, signed like booking events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from standardwebhooks.webhooks import Webhook

from labbook.settings import Settings
from tests.bookings.helpers import Cast, new_cast
from tests.dates import soon
from tests.factories import Factory
from tests.notifications.helpers import eventually, running_worker
from tests.notifications.test_webhooks import Receiver, _signed_by, receiver

EVENTS = ["slot.changed", "slot.cancelled", "visit_request.created", "visit_request.answered"]


@pytest.fixture
async def cast(make: Factory) -> Cast:
    cast = await new_cast(make)
    await make.opening_hours(lab_id=cast.lab["id"], opens="08:00", closes="20:00")
    return cast


def _window(days: int) -> dict[str, str]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(hour=5, minute=0, second=0, microsecond=0)
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()}


async def test_slot_and_visit_request_events_arrive_signed(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    with receiver() as (got, url):
        made = await client.post(
            "/api/v1/webhooks", json={"url": url, "events": EVENTS}, headers=cast.admin.headers
        )
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        assert sorted(made.json()["events"]) == sorted(EVENTS)

        try:
            async with running_worker(settings):
                asked = await client.post(
                    "/api/v1/visit-requests",
                    json={
                        "lab": cast.lab["slug"],
                        "kind": "tour",
                        "windows": [_window(20)],
                        "headcount": 12,
                        "language": "ru",
                        "purpose": "Экскурсия для выпускников",
                        "contact_name": "Ержан Сейткали",
                    },
                    headers=cast.director.headers,
                )
                assert asked.status_code == 201, asked.text
                request_id = asked.json()["id"]
                offered = _window(24)
                proposed = await client.post(
                    f"/api/v1/visit-requests/{request_id}/propose",
                    json={**offered, "message": "Вторник занят"},
                    headers=cast.manager.headers,
                )
                assert proposed.status_code == 200, proposed.text
                declined = await client.post(
                    f"/api/v1/visit-requests/{request_id}/decline",
                    json={"message": "Лаборатория закрыта"},
                    headers=cast.manager.headers,
                )
                assert declined.status_code == 200, declined.text

                slot = await make.slot(cast.lab, soon(), capacity=10)
                renamed = await client.patch(
                    f"/api/v1/slots/{slot['id']}",
                    json={"title": {"ru": "Открытый урок"}, "outside_hours": True},
                    headers=cast.manager.headers,
                )
                assert renamed.status_code == 200, renamed.text
                cancelled = await client.post(
                    f"/api/v1/slots/{slot['id']}/cancel", json={}, headers=cast.manager.headers
                )
                assert cancelled.status_code == 200, cancelled.text

                def events(of: Receiver) -> list[dict[str, Any]]:
                    return [json.loads(body) for _, body in of.accepted()]

                async def all_five() -> list[dict[str, Any]] | None:
                    found = events(got)
                    return found if len(found) == 5 else None

                received = await eventually(all_five, "five events at the receiver")
        finally:
            # The database outlives this test: later tests must not keep sending to a receiver that is gone.
            await pool.execute(
                "update webhook_endpoints set is_active = false where id = $1", UUID(made.json()["id"])
            )

    for headers, body in got.accepted():
        assert _signed_by(secret, headers, body)
        Webhook(secret).verify(body, headers)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in received:
        by_type.setdefault(event["type"], []).append(event)
    [created] = by_type["visit_request.created"]
    assert created["data"]["visit_request_id"] == request_id
    assert created["data"]["lab"] == cast.lab["slug"]
    answers = sorted(by_type["visit_request.answered"], key=lambda e: e["data"]["answer"])
    assert [a["data"]["answer"] for a in answers] == ["declined", "proposed"]
    assert answers[0]["data"]["message"] == "Лаборатория закрыта"
    assert answers[1]["data"]["message"] == "Вторник занят"
    proposal_start = datetime.fromisoformat(answers[1]["data"]["proposal"]["starts_at"])
    assert proposal_start == datetime.fromisoformat(offered["starts_at"])
    [changed] = by_type["slot.changed"]
    assert changed["data"]["slot_id"] == str(slot["id"])
    assert changed["data"]["changes"] == ["title"]
    assert changed["data"]["title"] == {"ru": "Открытый урок"}
    [gone] = by_type["slot.cancelled"]
    assert gone["data"]["status"] == "cancelled"
    assert gone["data"]["sequence"] > changed["data"]["sequence"]
