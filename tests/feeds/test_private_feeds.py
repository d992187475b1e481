from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.feeds import ics, service
from labbook.feeds.cache import FeedCaches
from labbook.settings import Settings
from tests.factories import Factory, Person
from tests.feeds.conftest import ALMATY, PLACE, expand, parse


def _day(days: int, hour: int = 10) -> datetime:
    return datetime.combine(datetime.now(ALMATY).date() + timedelta(days=days), time(hour), tzinfo=ALMATY)


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(days=29), now + timedelta(days=360)


async def _token(client: AsyncTestClient[Litestar], person: Person, kind: str) -> dict[str, str]:
    reply = await client.post(
        "/api/v1/me/feed-tokens", json={"kind": kind, "name": "office"}, headers=person.headers
    )
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def _path(created: dict[str, str]) -> str:
    return created["feed_url"].removeprefix("http://127.0.0.1:8000")


async def test_feed_token_api(client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory) -> None:
    director = await make.person("director")
    instructor = await make.person("instructor")
    created = await _token(client, director, "organization")
    secret = created["token"]
    assert secret.startswith("lbf_")
    assert created["feed_url"] == f"http://127.0.0.1:8000/feeds/private/{secret}.ics"
    assert created["subscribe_url"] == f"webcal://127.0.0.1:8000/feeds/private/{secret}.ics"
    stored = await pool.fetchval("select token_hash from feed_tokens where id = $1", created["id"])
    assert secret.encode() not in stored

    listed = (await client.get("/api/v1/me/feed-tokens", headers=director.headers)).json()
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0]
    assert listed[0]["prefix"] == secret[:8]
    assert (await client.get("/api/v1/me/feed-tokens", headers=instructor.headers)).json() == []

    for person, kind in ((instructor, "organization"), (director, "lab_manager")):
        refused = await client.post("/api/v1/me/feed-tokens", json={"kind": kind}, headers=person.headers)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.post("/api/v1/me/feed-tokens", json={"kind": "person"})).status_code == 401
    assert (
        await client.post("/api/v1/me/feed-tokens", json={"kind": "all"}, headers=director.headers)
    ).status_code == 422
    await _token(client, instructor, "person")

    assert (await client.get(_path(created))).status_code == 200
    other = await client.post(f"/api/v1/me/feed-tokens/{created['id']}/revoke", headers=instructor.headers)
    assert other.status_code == 404
    revoked = await client.post(f"/api/v1/me/feed-tokens/{created['id']}/revoke", headers=director.headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert (await client.get(_path(created))).status_code == 404
    assert (
        await pool.fetchval(
            "select count(*) from audit_events where object_type = 'feed_token' and object_id = $1",
            created["id"],
        )
        == 2
    )


async def test_organization_feed_lists_its_bookings_with_status_and_address(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    lab = await make.lab(**PLACE)
    college, other = await make.organization(), await make.organization()
    director = await make.person("director", organization_id=college["id"])
    slots = [await make.slot(lab, _day(2, hour)) for hour in (9, 11, 13, 15)]
    confirmed = await make.booking(slots[0], college["id"], status="confirmed", language="kk")
    pending = await make.booking(slots[1], college["id"], status="pending")
    cancelled = await make.booking(slots[2], college["id"], status="confirmed")
    await make.change("bookings", cancelled["id"], status="cancelled")
    await make.booking(slots[3], other["id"])
    created = await _token(client, director, "organization")

    reply = await client.get(_path(created))
    assert reply.status_code == 200
    assert reply.headers["cache-control"].startswith("private")
    again = await client.get(_path(created), headers={"If-None-Match": reply.headers["etag"]})
    assert again.status_code == 304
    head = await client.head(_path(created))
    assert head.status_code == 200
    assert head.headers["etag"] == reply.headers["etag"]
    calendar = parse(reply.content)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert {uid: str(e["STATUS"]) for uid, e in events.items()} == {
        f"booking-{confirmed['id']}@labbook": "CONFIRMED",
        f"booking-{pending['id']}@labbook": "TENTATIVE",
        f"booking-{cancelled['id']}@labbook": "CANCELLED",
    }
    # the seats taken moved the slot once, the cancellation moved the booking once; the lab's building
    # and room were set by an edit
    assert events[f"booking-{cancelled['id']}@labbook"]["SEQUENCE"] == 2 + lab["revision"]
    assert "Satpaev St 22, Almaty" in str(events[f"booking-{confirmed['id']}@labbook"]["LOCATION"])
    assert "Күйі: расталды" in str(events[f"booking-{confirmed['id']}@labbook"]["DESCRIPTION"])
    start, end = _window()
    expanded = [(o.uid, o.starts_at, o.ends_at) for o in expand(reply.content, start, end)]
    assert expanded == [
        (f"booking-{b['id']}@labbook", s["starts_at"], s["ends_at"])
        for b, s in zip((confirmed, pending, cancelled), slots, strict=False)
    ]


async def test_lab_manager_feed_shows_visitors_of_managed_labs_only(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    lab, elsewhere = await make.lab(**PLACE, languages=("en",)), await make.lab(**PLACE)
    manager = await make.person("lab_manager", lab_ids=(lab["id"],))
    college = await make.organization(name={"en": "Karaganda Technical College"})
    slot = await make.slot(lab, _day(2))
    await make.booking(
        slot, college["id"], headcount=7, contact_name="Dana Director", contact_email="dana@ktc.kz"
    )
    _series, occurrences = await make.series(lab, _day(3).replace(tzinfo=None), count=3)
    await make.booking(occurrences[1], college["id"], headcount=4)
    hidden = await make.slot(elsewhere, _day(2))
    created = await _token(client, manager, "lab_manager")

    reply = await client.get(_path(created))
    text = reply.content.replace(b"\r\n ", b"").decode()
    parse(reply.content)
    assert "Karaganda Technical College · 7 people · confirmed · Dana Director · dana@ktc.kz" in text.replace(
        "\\,", ","
    )
    assert str(hidden["id"]) not in text
    start, end = _window()
    expanded = expand(reply.content, start, end)
    assert [o.starts_at for o in expanded] == [slot["starts_at"], *(o["starts_at"] for o in occurrences)]
    # the booked occurrence is an override that names its visitors; the others follow the rule
    assert [o.summary for o in expanded][1:] == [
        "Argon TIG training (0/12)",
        "Argon TIG training (4/12)",
        "Argon TIG training (0/12)",
    ]


async def test_person_feed_shows_own_sessions(client: AsyncTestClient[Litestar], make: Factory) -> None:
    lab = await make.lab(**PLACE, languages=("en",))
    instructor, colleague = await make.person("instructor"), await make.person("instructor")
    mine = await make.slot(lab, _day(2), kind="training", instructor_id=instructor.id)
    await make.slot(lab, _day(2, 14), kind="training", instructor_id=colleague.id)
    _series, occurrences = await make.series(
        lab, _day(4).replace(tzinfo=None), count=4, instructor_id=instructor.id
    )
    await make.change("slots", occurrences[2]["id"], instructor_id=colleague.id)
    created = await _token(client, instructor, "person")

    reply = await client.get(_path(created))
    parse(reply.content)
    start, end = _window()
    expanded = expand(reply.content, start, end)
    expected = [mine["starts_at"], *(o["starts_at"] for i, o in enumerate(occurrences) if i != 2)]
    assert [o.starts_at for o in expanded] == expected
    colleague_feed = await client.get(_path(await _token(client, colleague, "person")))
    assert [o.starts_at for o in expand(colleague_feed.content, start, end)][-1] == occurrences[2][
        "starts_at"
    ]


async def test_repeated_misses_are_rate_limited_across_concurrent_requests(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, settings: Settings
) -> None:
    try:
        await pool.execute("delete from rate_limits where bucket like 'feed-miss:%'")
        await pool.execute(
            "insert into rate_limits (bucket, window_start, hits) values ('feed-miss:203.0.113.9', $1, 99)",
            datetime.now(UTC) - timedelta(days=2),
        )
        urls = [f"/feeds/private/lbf_unknown{n}.ics" for n in range(settings.feed_miss_limit + 10)]
        replies = await asyncio.gather(*(client.get(url) for url in urls))
        codes = sorted(r.status_code for r in replies)
        assert codes == [404] * settings.feed_miss_limit + [429] * 10
        limited = next(r for r in replies if r.status_code == 429)
        assert limited.headers["content-type"] == "application/problem+json"
        assert limited.json()["type"] == "/problems/rate-limited"
        assert int(limited.headers["retry-after"]) > 0
        # counters of clients long gone are cleaned up along the way
        assert (
            await pool.fetchval("select count(*) from rate_limits where bucket = 'feed-miss:203.0.113.9'")
            == 0
        )
    finally:
        await pool.execute("delete from rate_limits where bucket like 'feed-miss:%'")


async def test_every_feed_renders_exactly_what_icalendar_renders(
    pool: asyncpg.Pool, make: Factory, settings: Settings
) -> None:
    lab = await make.lab(**PLACE)
    college = await make.organization()
    instructor = await make.person("instructor")
    tig = await make.equipment(lab_id=lab["id"])
    slot = await make.slot(lab, _day(2), unit_ids=await make.units(tig["id"], 1), instructor_id=instructor.id)
    await make.booking(slot, college["id"])
    _series, occurrences = await make.series(
        lab, _day(3).replace(tzinfo=None), count=5, instructor_id=instructor.id
    )
    await make.change("slots", occurrences[1]["id"], status="cancelled")
    await make.change(
        "slots", occurrences[2]["id"], starts_at=occurrences[2]["starts_at"] + timedelta(hours=1)
    )
    await make.booking(occurrences[3], college["id"])
    now = datetime.now(UTC)
    candidates = [
        service.Feed("t:lab", "lab", lab["id"], "Lab", "Asia/Almaty", True, ""),
        service.Feed("t:eq", "equipment", lab["id"], "Eq", "Asia/Almaty", True, "", tig["id"], {"en": "TIG"}),
        service.Feed("t:org", "organization", college["id"], "Org", "Asia/Almaty", False, ""),
        service.Feed("t:mgr", "lab_manager", [lab["id"]], "Mgr", "Asia/Almaty", False, ""),
        service.Feed("t:me", "person", instructor.id, "Me", "Asia/Almaty", False, ""),
    ]
    caches = FeedCaches()
    async with pool.acquire() as conn:
        for feed in candidates:
            spec, events = await service.build_feed(conn, feed, settings, now)
            assert events, feed.view
            reference = ics.to_calendar(spec, events).to_ical()
            assert ics.render(spec, events) == reference, feed.view
            # twice: once rendering every event, once from the per-version cache
            assert await service.render_feed(conn, feed, settings, now, caches) == reference, feed.view
            assert await service.render_feed(conn, feed, settings, now, caches) == reference, feed.view
            parse(reference)


async def test_events_either_side_of_almatys_2024_change(
    pool: asyncpg.Pool, make: Factory, settings: Settings
) -> None:
    """Rendered as of February 2024, the VTIMEZONE carries the +06 → +05 change the events straddle."""
    lab = await make.lab(**PLACE)
    before = await make.slot(lab, datetime(2024, 2, 28, 10, tzinfo=ALMATY))
    after = await make.slot(lab, datetime(2024, 3, 2, 10, tzinfo=ALMATY))
    feed = service.Feed("t:2024", "lab", lab["id"], "Lab", "Asia/Almaty", True, "")
    async with pool.acquire() as conn:
        spec, events = await service.build_feed(conn, feed, settings, datetime(2024, 2, 20, tzinfo=UTC))
    data = ics.render(spec, events)
    parse(data)
    text = data.decode()
    assert "DTSTART;TZID=Asia/Almaty:20240228T100000" in text
    assert "DTSTART;TZID=Asia/Almaty:20240302T100000" in text
    assert "DTSTART:20240301T000000\r\nTZNAME:+05\r\nTZOFFSETFROM:+0600\r\nTZOFFSETTO:+0500" in text
    expanded = expand(data, datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
    assert [o.starts_at.astimezone(UTC) for o in expanded] == [before["starts_at"], after["starts_at"]]
    assert [o.starts_at.astimezone(UTC).hour for o in expanded] == [4, 5]
