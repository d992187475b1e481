"""A feed's Last-Modified is never later than the reply's own Date, and an empty feed is a calendar.

Calendar apps and caches compare the two: a Last-Modified in the future is a broken reply
(RFC 9110 §8.8.2.1), and RFC 5545 §3.6 wants at least one component in every calendar.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import parsedate_to_datetime

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Factory
from tests.feeds.conftest import PLACE, day, parse


def _dates(reply: httpx.Response) -> tuple[str, str]:
    dates = reply.headers.get_list("date")
    assert len(dates) == 1, reply.headers
    return dates[0], reply.headers["last-modified"]


async def test_a_first_fetch_is_never_modified_after_its_own_date(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    lab = await make.lab(**PLACE)
    await make.slot(lab, day(2))
    url = f"/feeds/labs/{lab['slug']}.ics"

    first = await client.get(url)

    assert first.status_code == 200
    date, last_modified = _dates(first)
    assert parsedate_to_datetime(last_modified) <= parsedate_to_datetime(date)
    again = await client.get(url, headers={"If-Modified-Since": last_modified})
    assert again.status_code == 304


async def test_several_changes_within_a_second_keep_dates_in_order_and_304s_exact(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    # Each version gets a second of its own so that If-Modified-Since can tell them apart.
    lab = await make.lab(**PLACE)
    slot = await make.slot(lab, day(2))
    url = f"/feeds/labs/{lab['slug']}.ics"
    replies = [await client.get(url)]
    for minutes in (30, 60, 90):
        await make.change("slots", slot["id"], ends_at=slot["ends_at"] + timedelta(minutes=minutes))
        replies.append(await client.get(url))

    stamps = []
    for reply in replies:
        assert reply.status_code == 200
        date, last_modified = _dates(reply)
        assert parsedate_to_datetime(last_modified) <= parsedate_to_datetime(date)
        stamps.append(parsedate_to_datetime(last_modified))
    assert stamps == sorted(set(stamps))
    for older in replies[:-1]:
        since = {"If-Modified-Since": older.headers["last-modified"]}
        assert (await client.get(url, headers=since)).status_code == 200
    since = {"If-Modified-Since": replies[-1].headers["last-modified"]}
    assert (await client.get(url, headers=since)).status_code == 304


async def test_behind_a_real_server_each_first_fetch_has_one_date_not_before_last_modified(
    live: httpx.AsyncClient, make: Factory
) -> None:
    for _ in range(6):
        lab = await make.lab(**PLACE)
        await make.slot(lab, day(2))

        reply = await live.get(f"/feeds/labs/{lab['slug']}.ics")

        assert reply.status_code == 200
        date, last_modified = _dates(reply)
        assert parsedate_to_datetime(last_modified) <= parsedate_to_datetime(date)


async def test_a_feed_with_no_events_still_names_its_time_zone(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    lab = await make.lab(**PLACE)

    reply = await client.get(f"/feeds/labs/{lab['slug']}.ics")

    assert reply.status_code == 200
    calendar = parse(reply.content)
    assert calendar.events == []
    zones = [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")]
    assert zones == [str(calendar["X-WR-TIMEZONE"])] == [lab["timezone"]]
    assert reply.content == (await client.get(f"/feeds/labs/{lab['slug']}.ics")).content


async def test_an_empty_private_feed_still_names_its_time_zone(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    director = await make.person("director")
    created = await client.post(
        "/api/v1/me/feed-tokens", json={"kind": "organization"}, headers=director.headers
    )
    assert created.status_code == 201, created.text

    reply = await client.get(f"/feeds/private/{created.json()['token']}.ics")

    assert reply.status_code == 200
    calendar = parse(reply.content)
    assert calendar.events == []
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == [str(calendar["X-WR-TIMEZONE"])]
