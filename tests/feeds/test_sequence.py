"""SEQUENCE and LAST-MODIFIED of every event only ever go up, so calendar clients take each change.

Google Calendar ignores an edit whose event keeps its SEQUENCE and LAST-MODIFIED, and RFC 5545
(§3.8.7.4) never lets SEQUENCE go down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook import migrate
from tests.factories import Factory
from tests.feeds.conftest import PLACE, ApiLab, day, parse

Client = AsyncTestClient[Litestar]


@dataclass(frozen=True)
class Seen:
    sequence: int
    last_modified: datetime
    exdates: tuple[datetime, ...]


def _events(reply: httpx.Response) -> dict[tuple[str, datetime | None], Seen]:
    """Each event by (UID, RECURRENCE-ID): its SEQUENCE, LAST-MODIFIED and EXDATEs."""
    assert reply.status_code == 200, reply.text
    found: dict[tuple[str, datetime | None], Seen] = {}
    for event in parse(reply.content).walk("VEVENT"):
        recurrence_id = event.decoded("RECURRENCE-ID") if "RECURRENCE-ID" in event else None
        exdates = event.get("EXDATE", [])
        exdates = exdates if isinstance(exdates, list) else [exdates]
        found[(str(event["UID"]), recurrence_id)] = Seen(
            sequence=int(event["SEQUENCE"]),
            last_modified=event.decoded("LAST-MODIFIED"),
            exdates=tuple(sorted(d.dt for e in exdates for d in e.dts)),
        )
        assert event.decoded("DTSTAMP") == event.decoded("LAST-MODIFIED")
    return found


_BACKDATE = (
    "update labs set updated_at = updated_at - interval '1 hour' where id = $1",
    "update equipment set updated_at = updated_at - interval '1 hour' where lab_id = $1",
    "update slots set updated_at = updated_at - interval '1 hour' where lab_id = $1",
    "update slot_series set updated_at = updated_at - interval '1 hour' where lab_id = $1",
    "update bookings set updated_at = updated_at - interval '1 hour'"
    " where slot_id in (select id from slots where lab_id = $1)",
)


async def _backdate(pool: asyncpg.Pool, lab_id: int) -> None:
    """Age the lab's rows by an hour, so that a change now shows a later LAST-MODIFIED (whole seconds)."""
    for statement in _BACKDATE:
        await pool.execute(statement, lab_id)


@pytest.mark.parametrize("split", ["edit", "cancel"])
async def test_splitting_a_series_never_lowers_its_sequence(client: Client, lab: ApiLab, split: str) -> None:
    created = await lab.series(client, 3, 6)
    series_id = created["series"]["id"]
    occurrences = created["created"]
    await lab.cancel(client, occurrences[4]["id"])
    await lab.cancel(client, occurrences[5]["id"])
    uid = f"series-{series_id}@labbook"
    before = _events(await client.get(lab.url))[(uid, None)]
    cancelled = tuple(datetime.fromisoformat(o["occurrence_start"]) for o in occurrences[4:])
    assert before.exdates == cancelled

    # The cancelled occurrences follow the split point, so they move to the new series.
    body: dict[str, Any] = {"scope": "following", "from_occurrence": occurrences[3]["occurrence_start"]}
    if split == "edit":
        reply = await client.patch(
            f"/api/v1/series/{series_id}", json={**body, "capacity": 10}, headers=lab.manager.headers
        )
    else:
        reply = await client.post(
            f"/api/v1/series/{series_id}/cancel", json=body, headers=lab.manager.headers
        )
    assert reply.status_code == 200, reply.text
    rest_uid = f"series-{reply.json()['series']['id']}@labbook"
    assert rest_uid != uid

    after = _events(await client.get(lab.url))
    assert after[(uid, None)].exdates == ()
    assert after[(uid, None)].sequence > before.sequence
    assert (rest_uid, None) in after
    if split == "edit":
        assert after[(rest_uid, None)].exdates == cancelled
        # and the new series' own SEQUENCE rises with its next change, too
        await lab.cancel(client, occurrences[3]["id"])
        later = _events(await client.get(lab.url))
        assert later[(rest_uid, None)].sequence > after[(rest_uid, None)].sequence
        assert later[(uid, None)] == after[(uid, None)]


async def test_the_sequence_floor_migration_keeps_every_series_above_what_feeds_showed(
    pool: asyncpg.Pool, make: Factory
) -> None:
    """Feeds used to add the occurrences they left out of a series' rule; the migration adds them all."""
    row = await make.lab(**PLACE, languages=("en",))
    series, slots = await make.series(row, day(3, 15).replace(tzinfo=None), count=5)
    await make.change("slots", slots[1]["id"], status="cancelled")
    before = await pool.fetchrow("select sequence, updated_at from slot_series where id = $1", series["id"])
    (floor,) = [m for m in migrate.load() if m.version == 53]
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute(floor.sql)
            after = await conn.fetchrow(
                "select sequence, updated_at from slot_series where id = $1", series["id"]
            )
        finally:
            await transaction.rollback()
    # the old feeds showed at most sequence + 5 (every occurrence left out, in some equipment view)
    assert after["sequence"] == before["sequence"] + len(slots)
    assert after["updated_at"] > before["updated_at"]


def _risen(before: httpx.Response, after: httpx.Response) -> dict[tuple[str, datetime | None], Seen]:
    """Every event of ``before`` is still there with a higher SEQUENCE and a later LAST-MODIFIED."""
    assert after.headers["etag"] != before.headers["etag"]
    old, new = _events(before), _events(after)
    assert new.keys() == old.keys()
    for key, seen in old.items():
        assert new[key].sequence > seen.sequence, key
        assert new[key].last_modified > seen.last_modified, key
    return new


async def test_renaming_a_lab_or_its_equipment_raises_every_event_it_shows_in(
    client: Client, pool: asyncpg.Pool, lab: ApiLab
) -> None:
    tig = lab.equipment["slug"]
    tour = await lab.publish(client, 3)
    await lab.publish(client, 4, kind="training", equipment=[{"equipment": tig, "units": 1}])
    created = await lab.series(client, 5, 3, equipment=[{"equipment": tig, "units": 2}])
    # a booked occurrence differs from the rule (its seats left): an override of the series
    await lab.book(client, created["created"][1]["id"])
    await lab.book(client, tour["id"])
    token = await client.post(
        "/api/v1/me/feed-tokens",
        json={"kind": "organization", "name": "office"},
        headers=lab.director.headers,
    )
    assert token.status_code == 201, token.text
    urls = {
        "lab": lab.url,
        "equipment": f"/feeds/labs/{lab.slug}/equipment/{tig}.ics",
        "organization": httpx.URL(token.json()["feed_url"]).path,
    }
    await _backdate(pool, lab.row["id"])
    before = {view: await client.get(url) for view, url in urls.items()}
    assert [len(_events(reply)) for reply in before.values()] == [4, 3, 2]

    rename = await client.patch(
        f"/api/v1/labs/{lab.slug}", json={"name": {"en": "Plasma Lab"}}, headers=lab.manager.headers
    )
    assert rename.status_code == 200, rename.text
    after = {view: await client.get(url) for view, url in urls.items()}
    for view in urls:
        _risen(before[view], after[view])
        locations = {str(e["LOCATION"]) for e in parse(after[view].content).walk("VEVENT")}
        assert locations == {"Plasma Lab, Block G, 104, Satpaev St 22, Almaty"}, view

    # an edit events do not show (the lab's capacity) moves LAST-MODIFIED only
    await _backdate(pool, lab.row["id"])
    before = {view: await client.get(url) for view, url in urls.items()}
    capacity = await client.patch(
        f"/api/v1/labs/{lab.slug}", json={"capacity": 40}, headers=lab.manager.headers
    )
    assert capacity.status_code == 200, capacity.text
    for view, url in urls.items():
        old, new = _events(before[view]), _events(await client.get(url))
        assert {k: e.sequence for k, e in new.items()} == {k: e.sequence for k, e in old.items()}
        assert all(new[k].last_modified > e.last_modified for k, e in old.items())

    await _backdate(pool, lab.row["id"])
    before = {view: await client.get(url) for view, url in urls.items()}
    equipment = await client.patch(
        f"/api/v1/labs/{lab.slug}/equipment/{tig}",
        json={"name": {"en": "Argon bench"}},
        headers=lab.manager.headers,
    )
    assert equipment.status_code == 200, equipment.text
    _risen(before["equipment"], await client.get(urls["equipment"]))
    # feeds that do not show the equipment stay byte for byte the same
    for view in ("lab", "organization"):
        unchanged = await client.get(urls[view])
        assert unchanged.content == before[view].content
        assert unchanged.headers["etag"] == before[view].headers["etag"]
