"""A public feed's ETag moves with every change a subscriber could see, on the cheap index version too.

The index version (the latest ``updated_at`` of the lab's slots and series, the lab's and equipment's
rows and the day) is only handed out once no write still in flight could slip in under it; tests reach
that state by backdating the lab's rows, as if the last change were an hour old.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.feeds import repository, service
from labbook.feeds.cache import FeedCaches
from labbook.settings import Settings
from tests.factories import Factory
from tests.feeds.conftest import PLACE, ApiLab, day, parse, settle

Client = AsyncTestClient[Litestar]


async def _settled_fetch(client: Client, url: str) -> httpx.Response:
    """A body under the index ETag, which then revalidates with a 304 by tag and by date."""
    reply = await client.get(url)
    assert reply.status_code == 200
    etag = reply.headers["etag"]
    assert not etag.startswith(service.EXACT_TAG)
    assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 304
    by_date = await client.get(url, headers={"If-Modified-Since": reply.headers["last-modified"]})
    assert by_date.status_code == 304
    return reply


async def _changed(client: Client, url: str, before: httpx.Response) -> httpx.Response:
    """The subscriber holding ``before`` gets the new body, whether it revalidates by tag or by date."""
    after = await client.get(url, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert after.content != before.content
    by_date = await client.get(url, headers={"If-Modified-Since": before.headers["last-modified"]})
    assert by_date.status_code == 200
    assert by_date.content == after.content
    return after


def _descriptions(reply: httpx.Response) -> list[str]:
    return [str(e.get("DESCRIPTION", "")) for e in parse(reply.content).walk("VEVENT")]


async def test_a_booking_made_and_cancelled_moves_the_seats_left(
    client: Client, pool: asyncpg.Pool, lab: ApiLab
) -> None:
    slot = await lab.publish(client, 3)
    await settle(pool, lab.row["id"])
    before = await _settled_fetch(client, lab.url)
    assert any("Seats left: 20 / 20" in d for d in _descriptions(before))

    booking = await lab.book(client, slot["id"], 4)
    booked = await _changed(client, lab.url, before)
    assert any("Seats left: 16 / 20" in d for d in _descriptions(booked))

    await settle(pool, lab.row["id"])
    before = await _settled_fetch(client, lab.url)
    cancel = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=lab.director.headers)
    assert cancel.status_code == 200, cancel.text
    after = await _changed(client, lab.url, before)
    assert any("Seats left: 20 / 20" in d for d in _descriptions(after))


async def test_an_edited_and_then_cancelled_slot(client: Client, pool: asyncpg.Pool, lab: ApiLab) -> None:
    slot = await lab.publish(client, 3)
    await settle(pool, lab.row["id"])
    before = await _settled_fetch(client, lab.url)
    edit = await client.patch(
        f"/api/v1/slots/{slot['id']}", json={"title": {"en": "Night tour"}}, headers=lab.manager.headers
    )
    assert edit.status_code == 200, edit.text
    after = await _changed(client, lab.url, before)
    assert [str(e["SUMMARY"]) for e in parse(after.content).walk("VEVENT")] == ["Night tour"]

    await settle(pool, lab.row["id"])
    before = await _settled_fetch(client, lab.url)
    cancel = await client.post(f"/api/v1/slots/{slot['id']}/cancel", headers=lab.manager.headers)
    assert cancel.status_code == 200, cancel.text
    after = await _changed(client, lab.url, before)
    assert [str(e["STATUS"]) for e in parse(after.content).walk("VEVENT")] == ["CANCELLED"]


async def test_a_split_series(client: Client, pool: asyncpg.Pool, lab: ApiLab) -> None:
    start = day(3, 15)
    created = await client.post(
        "/api/v1/series",
        json={
            "lab": lab.slug,
            "kind": "training",
            "title": {"en": "TIG practice"},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "capacity": 12,
            "recurrence": {"freq": "weekly", "count": 4},
        },
        headers=lab.manager.headers,
    )
    assert created.status_code == 201, created.text
    occurrences = created.json()["created"]
    await settle(pool, lab.row["id"])
    before = await _settled_fetch(client, lab.url)
    split = await client.patch(
        f"/api/v1/series/{created.json()['series']['id']}",
        json={
            "scope": "following",
            "from_occurrence": occurrences[2]["occurrence_start"],
            "start_time": "16:30",
        },
        headers=lab.manager.headers,
    )
    assert split.status_code == 200, split.text
    after = await _changed(client, lab.url, before)
    assert len({str(e["UID"]) for e in parse(after.content).walk("VEVENT")}) == 2


async def test_a_renamed_lab(client: Client, pool: asyncpg.Pool, lab: ApiLab) -> None:
    await lab.publish(client, 3)
    await settle(pool, lab.row["id"])
    before = await _settled_fetch(client, lab.url)
    rename = await client.patch(
        f"/api/v1/labs/{lab.slug}", json={"name": {"en": "Plasma Lab"}}, headers=lab.manager.headers
    )
    assert rename.status_code == 200, rename.text
    after = await _changed(client, lab.url, before)
    assert str(parse(after.content)["X-WR-CALNAME"]).startswith("Plasma Lab")


async def test_units_reassigned_and_equipment_renamed(
    client: Client, pool: asyncpg.Pool, lab: ApiLab
) -> None:
    tig = lab.equipment["slug"]
    url = f"/feeds/labs/{lab.slug}/equipment/{tig}.ics"
    slot = await lab.publish(client, 3, kind="training", equipment=[{"equipment": tig, "units": 1}])
    await settle(pool, lab.row["id"])
    before = await _settled_fetch(client, url)
    assert [str(e["SUMMARY"]).rsplit(" ", 1)[-1] for e in parse(before.content).walk("VEVENT")] == ["#1"]

    more = await client.patch(
        f"/api/v1/slots/{slot['id']}",
        json={"equipment": [{"equipment": tig, "units": 2}]},
        headers=lab.manager.headers,
    )
    assert more.status_code == 200, more.text
    after = await _changed(client, url, before)
    assert [str(e["SUMMARY"]).split(" — ")[-1] for e in parse(after.content).walk("VEVENT")] == [
        f"{lab.equipment['name']['en']} #1, #2"
    ]

    await settle(pool, lab.row["id"])
    before = await _settled_fetch(client, url)
    rename = await client.patch(
        f"/api/v1/labs/{lab.slug}/equipment/{tig}",
        json={"name": {"en": "Argon bench"}},
        headers=lab.manager.headers,
    )
    assert rename.status_code == 200, rename.text
    after = await _changed(client, url, before)
    assert "Argon bench #1, #2" in str(parse(after.content).walk("VEVENT")[0]["SUMMARY"])

    await settle(pool, lab.row["id"])
    before = await _settled_fetch(client, url)
    released = await client.patch(
        f"/api/v1/slots/{slot['id']}", json={"equipment": []}, headers=lab.manager.headers
    )
    assert released.status_code == 200, released.text
    after = await _changed(client, url, before)
    assert parse(after.content).walk("VEVENT") == []


async def test_the_window_and_the_grace_period_move_at_midnight(
    pool: asyncpg.Pool, make: Factory, settings: Settings
) -> None:
    lab = await make.lab(**PLACE)
    soon = await make.slot(lab, day(5))
    cancelled = await make.slot(lab, day(-10))
    await make.change("slots", cancelled["id"], status="cancelled")
    # cancelled half a day after today's grace cut-off (see service.window): shown today, gone tomorrow
    since, _ = service.window(datetime.now(UTC))
    await pool.execute(
        "update slots set updated_at = $2 where id = $1", cancelled["id"], since + timedelta(hours=12)
    )
    await settle(pool, lab["id"])
    today = datetime.now(UTC)
    caches = FeedCaches()

    async def fetch(now: datetime, etag: str | None = None) -> service.FeedReply:
        conditions = service.Conditions(if_none_match=[etag] if etag else None)
        return await service.fetch_public_feed(
            pool, settings, caches, conditions, view="lab", lab_slug=lab["slug"], now=now
        )

    first = await fetch(today)
    assert first.body is not None
    assert {str(e["UID"]) for e in parse(first.body).walk("VEVENT")} == {
        f"slot-{soon['id']}@labbook",
        f"slot-{cancelled['id']}@labbook",
    }
    assert (await fetch(today, first.etag)).not_modified
    tomorrow = await fetch(today + timedelta(days=1), first.etag)
    assert not tomorrow.not_modified
    assert tomorrow.body is not None
    assert [str(e["UID"]) for e in parse(tomorrow.body).walk("VEVENT")] == [f"slot-{soon['id']}@labbook"]


async def test_a_write_that_started_before_the_latest_change_is_never_hidden_under_a_304(
    client: Client, pool: asyncpg.Pool, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction stamps ``updated_at`` with its start: a slow one can commit an older stamp than
    the latest one already visible, so the latest stamp alone would not move. No margin here, so that
    only the running transaction can keep the version unsettled."""
    monkeypatch.setattr(service, "SETTLE_MARGIN", timedelta(0))
    lab = await make.lab(**PLACE)
    early = await make.slot(lab, day(2))
    late = await make.slot(lab, day(3))
    await settle(pool, lab["id"])
    url = f"/feeds/labs/{lab['slug']}.ics"
    slow = await pool.acquire()
    try:
        transaction = slow.transaction()
        await transaction.start()
        await slow.fetchval("select now()")
        await make.change("slots", late["id"], title={"en": "Changed late"})
        while_running = await client.get(url)
        # the change is visible, but the running transaction could still write under it
        assert while_running.headers["etag"].startswith(service.EXACT_TAG)
        assert (
            await client.get(url, headers={"If-None-Match": while_running.headers["etag"]})
        ).status_code == 304
        await slow.execute(
            "update slots set title = $2, updated_at = now(), sequence = sequence + 1 where id = $1",
            early["id"],
            {"en": "Changed early"},
        )
        await transaction.commit()
    finally:
        await pool.release(slow)
    assert await pool.fetchval(
        "select max(updated_at) = (select updated_at from slots where id = $1) from slots where lab_id = $2",
        late["id"],
        lab["id"],
    )
    after = await client.get(url, headers={"If-None-Match": while_running.headers["etag"]})
    assert after.status_code == 200
    assert "Changed early" in after.text


async def test_the_write_horizon_is_no_later_than_any_running_transaction(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as running, running.transaction():
        started = await running.fetchval("select now()")
        async with pool.acquire() as conn:
            horizon = await repository.write_horizon(conn)
        assert horizon is not None
        assert horizon <= started


async def test_an_exact_etag_still_revalidates_once_settled(
    client: Client, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = await make.lab(**PLACE)
    await make.slot(lab, day(2))
    url = f"/feeds/labs/{lab['slug']}.ics"
    # with a margin of years every change is recent, so the version handed out is the exact one
    monkeypatch.setattr(service, "SETTLE_MARGIN", timedelta(days=3650))
    fresh = await client.get(url)
    assert fresh.headers["etag"].startswith(service.EXACT_TAG)
    monkeypatch.setattr(service, "SETTLE_MARGIN", timedelta(0))
    by_tag = await client.get(url, headers={"If-None-Match": fresh.headers["etag"]})
    assert (by_tag.status_code, by_tag.headers["etag"]) == (304, fresh.headers["etag"])
    by_date = await client.get(url, headers={"If-Modified-Since": fresh.headers["last-modified"]})
    assert by_date.status_code == 304
    settled = await _settled_fetch(client, url)
    assert settled.content == fresh.content


async def test_date_revalidation_moves_from_an_exact_to_the_index_version_keeping_its_date(
    client: Client, pool: asyncpg.Pool, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = await make.lab(**PLACE)
    await make.slot(lab, day(2))
    url = f"/feeds/labs/{lab['slug']}.ics"
    monkeypatch.setattr(service, "SETTLE_MARGIN", timedelta(days=3650))
    fresh = await client.get(url)
    assert fresh.headers["etag"].startswith(service.EXACT_TAG)
    monkeypatch.setattr(service, "SETTLE_MARGIN", timedelta(0))
    since = {"If-Modified-Since": fresh.headers["last-modified"]}
    first = await client.get(url, headers=since)
    assert first.status_code == 304
    assert first.headers["last-modified"] == fresh.headers["last-modified"]
    assert not first.headers["etag"].startswith(service.EXACT_TAG)
    stored = await pool.fetchval("select etag from feed_versions where feed = $1", f"lab:{lab['slug']}")
    assert stored == first.headers["etag"]
    again = await client.get(url, headers=since)
    assert (again.status_code, again.headers["etag"]) == (304, first.headers["etag"])
    body = await client.get(url)
    assert (body.headers["etag"], body.headers["last-modified"]) == (stored, fresh.headers["last-modified"])
    assert body.content == fresh.content


async def test_without_activity_tracking_the_horizon_is_unknown(pool: asyncpg.Pool) -> None:
    """A session that hides its transactions leaves no safe horizon: only exact versions go out."""
    async with pool.acquire() as hidden, pool.acquire() as conn:
        await hidden.execute("set track_activities = off")
        try:
            assert await repository.write_horizon(conn) is None
        finally:
            await hidden.execute("reset track_activities")
