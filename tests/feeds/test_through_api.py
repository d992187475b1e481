"""Feeds follow what the slots and bookings APIs report, edits and splits included."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Factory
from tests.feeds.conftest import ALMATY, PLACE, expand, parse


def _day(days: int, hour: int = 10) -> datetime:
    return datetime.combine(datetime.now(ALMATY).date() + timedelta(days=days), time(hour), tzinfo=ALMATY)


async def test_public_feed_matches_the_slots_api_after_edits_and_a_split(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    lab = await make.lab(**PLACE, languages=("en",))
    await make.opening_hours(lab_id=lab["id"])
    manager = await make.person("lab_manager", lab_ids=(lab["id"],))
    director = await make.person("director")
    start = _day(3, 15)
    created = await client.post(
        "/api/v1/series",
        json={
            "lab": lab["slug"],
            "kind": "training",
            "title": {"en": "TIG practice"},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "capacity": 12,
            "recurrence": {"freq": "weekly", "count": 6},
        },
        headers=manager.headers,
    )
    assert created.status_code == 201, created.text
    series_id = created.json()["series"]["id"]
    occurrences = created.json()["created"]
    url = f"/feeds/labs/{lab['slug']}.ics"
    first = await client.get(url)

    moved = occurrences[1]
    reply = await client.patch(
        f"/api/v1/slots/{moved['id']}",
        json={
            "starts_at": (datetime.fromisoformat(moved["starts_at"]) + timedelta(hours=1)).isoformat(),
            "ends_at": (datetime.fromisoformat(moved["ends_at"]) + timedelta(hours=1)).isoformat(),
        },
        headers=manager.headers,
    )
    assert reply.status_code == 200, reply.text
    cancel = await client.post(f"/api/v1/slots/{occurrences[2]['id']}/cancel", headers=manager.headers)
    assert cancel.status_code == 200, cancel.text
    booked = await client.post(
        f"/api/v1/slots/{occurrences[0]['id']}/bookings",
        json={"headcount": 4, "contact_name": "Dana", "language": "en"},
        headers=director.headers,
    )
    assert booked.status_code in (200, 201), booked.text
    split = await client.patch(
        f"/api/v1/series/{series_id}",
        json={
            "scope": "following",
            "from_occurrence": occurrences[4]["occurrence_start"],
            "start_time": "16:30",
        },
        headers=manager.headers,
    )
    assert split.status_code == 200, split.text

    after = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200
    parse(after.content)
    listed = await client.get("/api/v1/slots", params={"lab": lab["slug"], "limit": 200})
    active = [s for s in listed.json()["items"] if s["status"] == "active"]
    now = datetime.now(UTC)
    expanded = expand(after.content, now - timedelta(days=29), now + timedelta(days=360))
    assert [(o.starts_at, o.ends_at) for o in expanded] == [
        (datetime.fromisoformat(s["starts_at"]), datetime.fromisoformat(s["ends_at"])) for s in active
    ]
    assert len(expanded) == 5
    uids = {o.uid for o in expanded}
    assert len(uids) == 2
    assert f"series-{series_id}@labbook" in uids
    assert any("Seats left: 8 / 12" in str(e.get("DESCRIPTION")) for e in parse(after.content).walk("VEVENT"))
