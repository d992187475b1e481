from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.feeds import ics
from labbook.settings import Settings
from tests.factories import Factory
from tests.feeds.conftest import ALMATY, PLACE, parse, settle
from tests.live import cached_worker, caught_up, serve


def _day(days: int, hour: int = 10) -> datetime:
    return datetime.combine(datetime.now(ALMATY).date() + timedelta(days=days), time(hour), tzinfo=ALMATY)


async def test_unchanged_feed_is_byte_identical_and_revalidates_with_304(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    lab = await make.lab(**PLACE)
    await make.slot(lab, _day(2))
    await make.series(lab, _day(3).replace(tzinfo=None), count=4)
    url = f"/feeds/labs/{lab['slug']}.ics"

    first = await client.get(url)
    second = await client.get(url)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert second.headers["etag"] == etag
    assert second.headers["last-modified"] == last_modified
    assert first.headers["cache-control"].startswith("public")

    by_etag = await client.get(url, headers={"If-None-Match": etag})
    assert by_etag.status_code == 304
    assert by_etag.content == b""
    assert by_etag.headers["etag"] == etag
    assert (await client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})).status_code == 304
    by_date = await client.get(url, headers={"If-Modified-Since": last_modified})
    assert by_date.status_code == 304
    # a wrong ETag wins over a matching date (RFC 9110 §13.2.2)
    both = await client.get(url, headers={"If-None-Match": '"stale"', "If-Modified-Since": last_modified})
    assert both.status_code == 200
    assert both.content == first.content
    earlier = format_datetime(parsedate_to_datetime(last_modified) - timedelta(seconds=1), usegmt=True)
    assert (await client.get(url, headers={"If-Modified-Since": earlier})).status_code == 200

    head = await client.head(url)
    assert head.headers["content-length"] == str(len(first.content))
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == etag
    assert head.headers["last-modified"] == last_modified
    assert (await client.head(url, headers={"If-None-Match": etag})).status_code == 304


async def test_editing_an_event_raises_its_sequence_and_changes_etag_and_date(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    lab = await make.lab(**PLACE)
    lab = await pool.fetchrow("update labs set room = '105' where id = $1 returning *", lab["id"])
    slot = await make.slot(lab, _day(2))
    url = f"/feeds/labs/{lab['slug']}.ics"
    before = await client.get(url)
    (event,) = parse(before.content).walk("VEVENT")
    # the lab's own edit (its room) counts towards every one of its events
    assert lab["revision"] == 1
    assert event["SEQUENCE"] == lab["revision"]

    await make.change("slots", slot["id"], ends_at=slot["ends_at"] + timedelta(minutes=30))
    after = await client.get(url, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    (event,) = parse(after.content).walk("VEVENT")
    assert event["SEQUENCE"] == 1 + lab["revision"]
    assert event.decoded("DTEND") == slot["ends_at"] + timedelta(minutes=30)
    assert after.headers["etag"] != before.headers["etag"]
    assert parsedate_to_datetime(after.headers["last-modified"]) > parsedate_to_datetime(
        before.headers["last-modified"]
    )
    by_date = await client.get(url, headers={"If-Modified-Since": before.headers["last-modified"]})
    assert by_date.status_code == 200

    await make.change("slots", slot["id"], status="cancelled")
    cancelled = await client.get(url)
    (event,) = parse(cancelled.content).walk("VEVENT")
    assert (event["STATUS"], event["SEQUENCE"]) == ("CANCELLED", 2 + lab["revision"])
    assert cancelled.headers["etag"] != after.headers["etag"]


async def test_an_event_leaving_the_feed_changes_etag_and_last_modified(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    """Moving a slot to another lab leaves no row behind in this feed, yet the feed must change.

    The API never moves a slot between labs (the index version relies on that); right after a change
    the exact version is in force, and it sees the slot leave.
    """
    lab, other = await make.lab(**PLACE), await make.lab(**PLACE)
    staying = await make.slot(lab, _day(2))
    leaving = await make.slot(lab, _day(3))
    url = f"/feeds/labs/{lab['slug']}.ics"
    before = await client.get(url)
    await make.change("slots", leaving["id"], lab_id=other["id"])
    after = await client.get(url, headers={"If-Modified-Since": before.headers["last-modified"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert [str(e["UID"]) for e in parse(after.content).walk("VEVENT")] == [f"slot-{staying['id']}@labbook"]


async def test_a_changed_feed_renders_only_the_changed_event(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    lab = await make.lab(**PLACE)
    slots = [await make.slot(lab, _day(2, hour)) for hour in range(8, 18)]
    url = f"/feeds/labs/{lab['slug']}.ics"
    await client.get(url)
    await make.change("slots", slots[4]["id"], title={"en": "Renamed tour"})
    serialized = ics.serialized_events()
    reply = await client.get(url)
    assert ics.serialized_events() == serialized + 1
    assert "Renamed tour" in reply.text


async def test_cancelled_events_stay_for_a_grace_period_then_leave(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    lab = await make.lab(**PLACE)
    recent = await make.slot(lab, _day(-3))
    old = await make.slot(lab, _day(-2))
    for slot in (recent, old):
        await make.change("slots", slot["id"], status="cancelled")
    await pool.execute("update slots set updated_at = now() - interval '40 days' where id = $1", old["id"])
    reply = await client.get(f"/feeds/labs/{lab['slug']}.ics")
    events = parse(reply.content).walk("VEVENT")
    assert [(str(e["UID"]), str(e["STATUS"])) for e in events] == [
        (f"slot-{recent['id']}@labbook", "CANCELLED")
    ]


async def test_a_cancelled_series_is_one_cancelled_master(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    lab = await make.lab(**PLACE)
    series, _ = await make.series(lab, _day(2).replace(tzinfo=None), count=3)
    url = f"/feeds/labs/{lab['slug']}.ics"
    before = parse((await client.get(url)).content).walk("VEVENT")
    await make.change("slot_series", series["id"], status="cancelled")
    await pool.execute(
        """update slots set status = 'cancelled', updated_at = now(), sequence = sequence + 1
           where series_id = $1""",
        series["id"],
    )
    (master,) = parse((await client.get(url)).content).walk("VEVENT")
    assert str(master["STATUS"]) == "CANCELLED"
    assert "EXDATE" not in master
    assert master["SEQUENCE"] > before[0]["SEQUENCE"]


async def test_concurrent_fetches_during_edits_never_pair_a_body_with_another_etag(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    lab = await make.lab(**PLACE)
    slots = [await make.slot(lab, _day(2, hour)) for hour in range(8, 20)]
    url = f"/feeds/labs/{lab['slug']}.ics"

    async def edit(n: int) -> None:
        await make.change(
            "slots", slots[n % len(slots)]["id"], title={"en": f"Edit {n}", "kk": f"Өзгеріс {n}"}
        )

    replies = []
    for n in range(12):
        # each round races eight fetches against one edit
        results = await asyncio.gather(
            *(client.get(url) for _ in range(4)), edit(n), *(client.get(url) for _ in range(4))
        )
        replies += [r for r in results if r is not None]
    bodies: dict[str, bytes] = {}
    for reply in replies:
        assert reply.status_code == 200
        assert bodies.setdefault(reply.headers["etag"], reply.content) == reply.content
    assert len(bodies) > 1
    final = await client.get(url)
    assert final.content == bodies.get(final.headers["etag"], final.content)
    for etag in bodies:
        expected = 304 if etag == final.headers["etag"] else 200
        assert (await client.get(url, headers={"If-None-Match": etag})).status_code == expected


async def test_a_revalidation_the_cache_answers_in_front_of_the_router_is_the_routes_reply(
    settings: Settings, make: Factory, pool: asyncpg.Pool
) -> None:
    """A worker whose cache knows the version answers a 304 before routing: the same reply, field by
    field, as the route gives in a worker without the cache."""
    lab = await make.lab(**PLACE)
    equipment = await make.equipment(lab_id=lab["id"])
    await make.slot(lab, _day(2))
    await settle(pool, lab["id"])
    urls = [
        f"/feeds/labs/{lab['slug']}.ics",
        f"/feeds/labs/{lab['slug']}.ics?lang=kk",
        f"/feeds/labs/{lab['slug']}/equipment/{equipment['slug']}.ics",
    ]
    assert not settings.read_cache
    async with cached_worker(settings) as (http, app), serve(settings) as plain:
        for url in urls:
            first = await http.get(url)
            assert first.status_code == 200, first.text
            await caught_up(pool, app.state.changes)
            for conditions in (
                {"If-None-Match": first.headers["etag"]},
                {"If-Modified-Since": first.headers["last-modified"]},
            ):
                routed = await plain.get(url, headers=conditions)
                for method in ("GET", "HEAD"):
                    cached = await http.request(method, url, headers=conditions)
                    assert cached.status_code == routed.status_code == 304, url
                    assert cached.content == b""
                    assert sorted(cached.headers) == sorted(routed.headers)
                    for name in ("etag", "last-modified", "cache-control", "x-content-type-options"):
                        assert cached.headers[name] == routed.headers[name], name

            # what the cache cannot answer goes on to the route
            stale = await http.get(url, headers={"If-None-Match": '"stale"'})
            assert stale.status_code == 200
            assert stale.content == first.content
        unknown = await http.get(f"/feeds/labs/{lab['slug']}.ics?lang=de", headers={"If-None-Match": "*"})
        assert unknown.status_code == 422
        assert unknown.headers["content-type"] == "application/problem+json"
