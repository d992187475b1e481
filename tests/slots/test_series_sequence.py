"""A series' SEQUENCE goes up whenever its set of exceptions or overrides changes, and never down."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from tests.dates import ahead
from tests.slots.conftest import LabSetup
from tests.slots.test_series import series_body


async def _version(client, setup: LabSetup, series_id: str) -> tuple[int, datetime]:
    reply = await client.get(f"/api/v1/series/{series_id}", headers=setup.manager.headers)
    assert reply.status_code == 200, reply.text
    series: dict[str, Any] = reply.json()
    return series["sequence"], datetime.fromisoformat(series["updated_at"])


async def test_cancelling_or_moving_an_occurrence_raises_the_series_sequence(client, setup: LabSetup) -> None:
    created = await client.post(
        "/api/v1/series",
        json=series_body(setup, ahead("2028-12-04T10:00:00+05:00"), ahead("2028-12-04T12:00:00+05:00")),
        headers=setup.manager.headers,
    )
    assert created.status_code == 201, created.text
    series_id = created.json()["series"]["id"]
    occurrences = created.json()["created"]
    versions = [await _version(client, setup, series_id)]

    cancelled = await client.post(
        f"/api/v1/slots/{occurrences[1]['id']}/cancel",
        json={"reason": "Boiler repair"},
        headers=setup.manager.headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    versions.append(await _version(client, setup, series_id))

    moved = await client.patch(
        f"/api/v1/slots/{occurrences[2]['id']}",
        json={"starts_at": ahead("2028-12-18T14:00:00+05:00"), "ends_at": ahead("2028-12-18T16:00:00+05:00")},
        headers=setup.manager.headers,
    )
    assert moved.status_code == 200, moved.text
    versions.append(await _version(client, setup, series_id))

    # Splitting re-points the last occurrences (the moved one among them) to a new series.
    split = await client.patch(
        f"/api/v1/series/{series_id}",
        json={"scope": "following", "from_occurrence": ahead("2028-12-18T10:00:00+05:00"), "capacity": 3},
        headers=setup.manager.headers,
    )
    assert split.status_code == 200, split.text
    versions.append(await _version(client, setup, series_id))

    sequences = [sequence for sequence, _ in versions]
    stamps = [stamp for _, stamp in versions]
    assert all(a < b for a, b in itertools.pairwise(sequences)), sequences
    assert all(a < b for a, b in itertools.pairwise(stamps)), stamps

    new_series = split.json()["series"]
    before = await _version(client, setup, new_series["id"])
    recancelled = await client.post(
        f"/api/v1/slots/{occurrences[3]['id']}/cancel", json={}, headers=setup.manager.headers
    )
    assert recancelled.status_code == 200, recancelled.text
    after = await _version(client, setup, new_series["id"])
    assert after[0] > before[0]
    assert after[1] > before[1]
    # The old series no longer holds that occurrence: its version stays.
    assert await _version(client, setup, series_id) == versions[-1]
