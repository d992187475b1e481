"""A series' instructor hears of the series as a whole: one invitation for all its occurrences, kept
up to date as the series or one occurrence changes, and a cancel when taken off it or when it ends."""

from __future__ import annotations

from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import asyncpg
import icalendar
import pytest
import vobject

from labbook.notifications import series_notices
from labbook.settings import Settings
from tests.bookings.helpers import Cast, new_cast
from tests.dates import soon
from tests.factories import Factory
from tests.notifications.helpers import eventually, running_worker

TITLE = {"kk": "Аргонмен дәнекерлеу", "ru": "Аргонная сварка", "en": "Argon welding"}


def _series_body(cast: Cast, count: int, **fields: Any) -> dict[str, Any]:
    starts = soon()
    return {
        "lab": cast.lab["slug"],
        "kind": "training",
        "title": TITLE,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "capacity": 10,
        "outside_hours": True,
        "recurrence": {"freq": "weekly", "count": count},
        **fields,
    }


@pytest.fixture
async def cast(make: Factory) -> Cast:
    return await new_cast(make)


async def _settled(pool: asyncpg.Pool) -> None:
    """Every job the changes so far queued has run (a done job leaves the queue)."""

    async def empty() -> bool | None:
        left = await pool.fetchval("select count(*) from pgqueuer where status in ('queued', 'picked')")
        return True if left == 0 else None

    await eventually(empty, "an empty job queue")


async def _sent(pool: asyncpg.Pool, recipient: str) -> list[tuple[str, EmailMessage]]:
    rows = await pool.fetch(
        "select kind, raw from mail_messages where recipient = $1 order by created_at", recipient
    )
    return [(r["kind"], message_from_bytes(r["raw"], policy=policy.default)) for r in rows]  # type: ignore[misc]


def _calendar(message: EmailMessage) -> tuple[str, list[Any], bytes]:
    part = message.get_body(("calendar",))
    assert part is not None, "no invitation"
    ics = part.get_payload(decode=True)
    assert isinstance(ics, bytes)
    calendar = icalendar.Calendar.from_ical(ics)
    return str(calendar["METHOD"]), list(calendar.walk("VEVENT")), ics


def _master(events: list[Any]) -> Any:
    [master] = [e for e in events if "RECURRENCE-ID" not in e]
    return master


async def _person_feed(client: Any, headers: dict[str, str]) -> dict[tuple[str, datetime | None], int]:
    created = await client.post("/api/v1/me/feed-tokens", json={"kind": "person"}, headers=headers)
    assert created.status_code == 201, created.text
    feed = await client.get("/" + created.json()["feed_url"].split("://", 1)[1].split("/", 1)[1])
    assert feed.status_code == 200, feed.text
    return {
        (str(e["UID"]), e["RECURRENCE-ID"].dt if "RECURRENCE-ID" in e else None): int(e["SEQUENCE"])
        for e in icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
    }


async def test_the_instructor_of_a_series_gets_one_invitation_for_it_kept_up_to_date_and_cancelled(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    host = cast.lab["organization_id"]
    first = await make.person("instructor", organization_id=host, full_name="Арман Ержанов")
    second = await make.person("instructor", organization_id=host, full_name="Ольга Ким")
    await pool.execute("update people set language = 'en' where id = $1", first.id)
    await pool.execute("update people set language = 'ru' where id = $1", second.id)
    manager = cast.manager.headers
    async with running_worker(settings):
        published = await client.post(
            "/api/v1/series", json=_series_body(cast, 6, instructor_id=str(first.id)), headers=manager
        )
        assert published.status_code == 201, published.text
        series_id = published.json()["series"]["id"]
        occurrences = published.json()["created"]
        assert len(occurrences) == 6
        await _settled(pool)
        [(kind, assigned)] = await _sent(pool, first.email)
        assert kind == "series_assigned"
        feed = await _person_feed(client, first.headers)

        booked = await client.post(
            f"/api/v1/slots/{occurrences[1]['id']}/bookings", json=cast.body(), headers=cast.director.headers
        )
        assert booked.status_code == 201, booked.text
        await _settled(pool)
        second_start = datetime.fromisoformat(occurrences[1]["starts_at"])
        moved = await client.patch(
            f"/api/v1/slots/{occurrences[1]['id']}",
            json={
                "starts_at": (second_start + timedelta(hours=3)).isoformat(),
                "ends_at": (second_start + timedelta(hours=5)).isoformat(),
            },
            headers=manager,
        )
        assert moved.status_code == 200, moved.text
        await _settled(pool)
        [_, (kind, changed)] = await _sent(pool, first.email)
        assert kind == "series_changed"
        # the occurrence's visitors still hear of its new time
        assert [k for k, _ in await _sent(pool, cast.director.email)] == [
            "booking_confirmed",
            "booking_moved",
        ]
        moved_feed = await _person_feed(client, first.headers)

        handed_on = await client.patch(
            f"/api/v1/series/{series_id}", json={"instructor_id": str(second.id)}, headers=manager
        )
        assert handed_on.status_code == 200, handed_on.text
        await _settled(pool)
        [*_, (kind, taken_off)] = await _sent(pool, first.email)
        assert kind == "series_unassigned"
        [(kind, handed)] = await _sent(pool, second.email)
        assert kind == "series_assigned"

        # one edit rewrites every occurrence; the instructor gets one message for it
        renamed = await client.patch(
            f"/api/v1/series/{series_id}",
            json={"title": {**TITLE, "ru": "Мастер-класс по сварке"}},
            headers=manager,
        )
        assert renamed.status_code == 200, renamed.text
        await _settled(pool)
        [_, (kind, retitled)] = await _sent(pool, second.email)
        assert kind == "series_changed"

        cancelled = await client.post(f"/api/v1/series/{series_id}/cancel", json={}, headers=manager)
        assert cancelled.status_code == 200, cancelled.text
        await _settled(pool)
        [*_, (kind, gone)] = await _sent(pool, second.email)
        assert kind == "series_cancelled"

    uid = f"series-{series_id}@labbook"
    # Nothing per occurrence: the first instructor's three messages, the second's three, all for the series.
    assert [k for k, _ in await _sent(pool, first.email)] == [
        "series_assigned",
        "series_changed",
        "series_unassigned",
    ]
    assert [k for k, _ in await _sent(pool, second.email)] == [
        "series_assigned",
        "series_changed",
        "series_cancelled",
    ]

    method, events, ics = _calendar(assigned)
    master = _master(events)
    assert (method, str(master["UID"])) == ("REQUEST", uid)
    assert feed[(uid, None)] == int(master["SEQUENCE"]), (
        "the invitation is the event of the instructor's feed"
    )
    assert master["RRULE"]["FREQ"] == ["WEEKLY"]
    assert master["RRULE"]["COUNT"] == [6]
    assert str(master["SUMMARY"]).startswith("Argon welding")
    assert first.email in str(master["ATTENDEE"])
    assert assigned["Subject"].startswith("Your sessions: Argon welding, ")
    text = assigned.get_body(("plain",)).get_content()
    assert "every week (" in text
    assert f"/en/series/{series_id}" in text
    parsed = vobject.readOne(ics.decode())
    assert (parsed.method.value, parsed.vevent.uid.value) == ("REQUEST", uid)
    assert parsed.vevent.rrule.value.startswith("FREQ=WEEKLY")
    assert parsed.vevent.dtstart.value.utcoffset() is not None
    assert parsed.vtimezone is not None

    method, events, ics = _calendar(changed)
    master = _master(events)
    assert method == "REQUEST"
    assert int(master["SEQUENCE"]) > feed[(uid, None)]
    assert int(master["SEQUENCE"]) == moved_feed[(uid, None)]
    [override] = [e for e in events if "RECURRENCE-ID" in e]
    assert str(override["UID"]) == uid
    assert override["RECURRENCE-ID"].dt == second_start
    assert override["DTSTART"].dt == second_start + timedelta(hours=3)
    assert moved_feed[(uid, second_start)] == int(override["SEQUENCE"])
    assert len(vobject.readOne(ics.decode()).vevent_list) == 2

    sequences = [int(master["SEQUENCE"])]
    for message, expected in (
        (taken_off, "CANCEL"),
        (handed, "REQUEST"),
        (retitled, "REQUEST"),
        (gone, "CANCEL"),
    ):
        method, events, ics = _calendar(message)
        master = _master(events)
        assert (method, str(master["UID"])) == (expected, uid)
        assert vobject.readOne(ics.decode()).method.value == expected
        if expected == "CANCEL":
            assert [str(e["STATUS"]) for e in events] == ["CANCELLED"]
        sequences.append(int(master["SEQUENCE"]))
    assert sequences[0] < sequences[1] <= sequences[2] < sequences[3] < sequences[4]
    assert str(_master(_calendar(retitled)[1])["SUMMARY"]).startswith("Мастер-класс по сварке")
    assert handed["Subject"].startswith("Ваши занятия: Аргонная сварка")
    assert gone["Subject"].startswith("Занятия отменены: Мастер-класс по сварке")


async def test_a_series_without_an_instructor_queues_nothing_for_one(
    client, pool: asyncpg.Pool, cast: Cast
) -> None:
    published = await client.post("/api/v1/series", json=_series_body(cast, 3), headers=cast.manager.headers)
    assert published.status_code == 201, published.text
    series_id = published.json()["series"]["id"]
    renamed = await client.patch(
        f"/api/v1/series/{series_id}",
        json={"title": {**TITLE, "en": "TIG welding"}},
        headers=cast.manager.headers,
    )
    assert renamed.status_code == 200, renamed.text

    assert await _queued(pool, series_id) == []


async def _queued(pool: asyncpg.Pool, series_id: str) -> list[bytes]:
    rows = await pool.fetch(
        "select payload from pgqueuer where entrypoint = 'series_changed'"
        " and convert_from(payload, 'UTF8')::jsonb ->> 'series_id' = $1 order by id",
        series_id,
    )
    return [r["payload"] for r in rows]


async def test_jobs_a_later_change_overtook_and_jobs_run_twice_give_one_invitation(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    teacher = await make.person("instructor", organization_id=cast.lab["organization_id"])
    await pool.execute("update people set language = 'en' where id = $1", teacher.id)
    published = await client.post(
        "/api/v1/series",
        json=_series_body(cast, 4, instructor_id=str(teacher.id)),
        headers=cast.manager.headers,
    )
    assert published.status_code == 201, published.text
    series_id = published.json()["series"]["id"]
    renamed = await client.patch(
        f"/api/v1/series/{series_id}",
        json={"title": {**TITLE, "en": "TIG welding"}},
        headers=cast.manager.headers,
    )
    assert renamed.status_code == 200, renamed.text
    changes = [series_notices.decode_change(p) for p in await _queued(pool, series_id)]
    assert [(c.published, c.sequence) for c in changes] == [(True, 0), (False, 1)]

    written = [await series_notices.write_series_notices(pool, settings, c) for c in changes + changes]

    assert written == [1, 0, 0, 0]
    [(kind, message)] = await _sent(pool, teacher.email)
    assert kind == "series_assigned", "the instructor's first message is the one that names them"
    master = _master(_calendar(message)[1])
    assert str(master["SUMMARY"]).startswith("TIG welding")
    feed = await _person_feed(client, teacher.headers)
    assert feed[(f"series-{series_id}@labbook", None)] == int(master["SEQUENCE"])


async def test_handing_on_the_following_occurrences_ends_one_series_and_invites_to_the_other(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    host = cast.lab["organization_id"]
    first = await make.person("instructor", organization_id=host)
    second = await make.person("instructor", organization_id=host)
    manager = cast.manager.headers
    async with running_worker(settings):
        published = await client.post(
            "/api/v1/series", json=_series_body(cast, 5, instructor_id=str(first.id)), headers=manager
        )
        assert published.status_code == 201, published.text
        series_id = published.json()["series"]["id"]
        third = published.json()["created"][2]
        await _settled(pool)
        handed_on = await client.patch(
            f"/api/v1/series/{series_id}",
            json={
                "scope": "following",
                "from_occurrence": third["starts_at"],
                "instructor_id": str(second.id),
            },
            headers=manager,
        )
        assert handed_on.status_code == 200, handed_on.text
        following_id = handed_on.json()["series"]["id"]
        await _settled(pool)

    assert following_id != series_id
    [(kind, _), (kind_after, ended)] = await _sent(pool, first.email)
    assert (kind, kind_after) == ("series_assigned", "series_changed")
    method, events, _ = _calendar(ended)
    master = _master(events)
    assert (method, str(master["UID"])) == ("REQUEST", f"series-{series_id}@labbook")
    assert master["RRULE"]["UNTIL"][0] < datetime.fromisoformat(third["starts_at"])
    [(kind, invited)] = await _sent(pool, second.email)
    assert kind == "series_assigned"
    method, events, _ = _calendar(invited)
    master = _master(events)
    assert (method, str(master["UID"])) == ("REQUEST", f"series-{following_id}@labbook")
    assert master["DTSTART"].dt == datetime.fromisoformat(third["starts_at"])
