"""The manager's publishing pages over HTTP: a slot with its free stations, a series after its
preview, changes that show the bookings they reach before they are applied, closures and maintenance."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.settings import Settings
from tests.factories import Factory, Person
from tests.web.conftest import browser_for, csrf_in, sign_in, submit

ALMATY = ZoneInfo("Asia/Almaty")
LANGS = ("kk", "ru", "en")
Client = AsyncTestClient[Litestar]

PREVIEW = {
    "kk": "Топтаманың сабақтарын тексеріңіз",
    "ru": "Проверьте занятия серии",
    "en": "Check the sessions",
}
COLLIDES = {"kk": "Қабаттасады", "ru": "Пересекается", "en": "Collides"}
TAKEN = {
    "kk": "Бұл уақытта жабдық бос емес.",
    "ru": "В это время оборудование уже занято.",
    "en": "The equipment is already taken at that time.",
}
PUBLISHED = {
    "kk": "3 сабақ жарияланды.",
    "ru": "Опубликовано занятий: 3.",
    "en": "3 sessions are published.",
}
NO_END = {
    "kk": "Сабақтар санын немесе соңғы күнді көрсетіңіз.",
    "ru": "Укажите число занятий или последнюю дату.",
    "en": "Give the number of sessions or the last date.",
}
CONFIRM_CANCEL = {"kk": "Күшін жоюды растаңыз", "ru": "Подтвердите отмену", "en": "Confirm the cancellation"}
FREE = {"kk": "4 станция бос", "ru": "свободны 4 станции", "en": "4 stations free at that time"}
MET = {
    "kk": "Бұл уақытқа 1 сабақ түседі.",
    "ru": "На это время приходится занятий: 1.",
    "en": "1 session falls in this time.",
}


@dataclass
class Lab:
    lab: asyncpg.Record
    tig: str
    manager: Person
    director: Person
    college: asyncpg.Record


def monday_after(weeks: int) -> date:
    today = datetime.now(ALMATY).date()
    return today + timedelta(days=7 - today.weekday(), weeks=weeks)


def local(day: date, hhmm: str) -> str:
    return datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), tzinfo=ALMATY).isoformat()


@pytest.fixture
async def lab(make: Factory) -> Lab:
    row = await make.lab(capacity=40)
    await make.opening_hours(lab_id=row["id"], weekdays=range(1, 7), opens="09:00", closes="18:00")
    tig = await make.equipment(lab_id=row["id"], units=6)
    manager = await make.person("lab_manager", organization_id=row["organization_id"], lab_ids=(row["id"],))
    college = await make.organization(
        kind="college", name={"en": "Mining College", "ru": "Горный колледж", "kk": "Тау-кен колледжі"}
    )
    director = await make.person("director", organization_id=college["id"])
    return Lab(row, tig["slug"], manager, director, college)


async def _maintenance(client: Client, lab: Lab, day: date) -> str:
    reply = await client.post(
        "/api/v1/slots",
        json={
            "lab": lab.lab["slug"],
            "kind": "maintenance",
            "title": {"en": "Torch replacement"},
            "starts_at": local(day, "09:00"),
            "ends_at": local(day, "13:00"),
            "equipment": [{"equipment": lab.tig, "units": 2}],
        },
        headers=lab.manager.headers,
    )
    assert reply.status_code == 201, reply.text
    slot_id: str = reply.json()["id"]
    return slot_id


def _series_form(lab: Lab, first: date, **fields: Any) -> dict[str, Any]:
    form = {
        "lab": lab.lab["slug"],
        "kind": "training",
        "title.kk": "TIG практикасы",
        "title.en": "TIG practice",
        "date": first.isoformat(),
        "starts_at": "10:00",
        "ends_at": "12:00",
        "recurrence.weekdays": ["1"],
        "recurrence.interval": "1",
        "recurrence.count": "4",
        "capacity": "12",
        f"units.{lab.tig}": "6",
    }
    form.update(fields)
    return form


async def _slot_count(pool: asyncpg.Pool, lab: Lab) -> int:
    return int(await pool.fetchval("select count(*) from slots where lab_id = $1", lab.lab["id"]))


@pytest.mark.parametrize("lang", LANGS)
async def test_series_preview_shows_the_collision_then_publishes_the_rest(
    settings: Settings, pool: asyncpg.Pool, client: Client, lab: Lab, lang: str
) -> None:
    await _maintenance(client, lab, monday_after(2))
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        form = _series_form(lab, monday_after(1))
        preview = await submit(web, f"/{lang}/manage/series/new", f"/{lang}/manage/series/preview", form)
        assert preview.status_code == 200, preview.text
        assert PREVIEW[lang] in preview.text
        assert preview.text.count('class="collides"') == 1
        assert COLLIDES[lang] in preview.text
        assert TAKEN[lang] in preview.text
        assert await _slot_count(pool, lab) == 1  # the maintenance only: a preview writes nothing

        carried = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', preview.text))
        assert carried["recurrence.count"] == "4"
        assert carried[f"units.{lab.tig}"] == "6"
        published = await web.post(
            f"/{lang}/manage/series/",
            data={**form, "skip_conflicts": "1", "_csrf": csrf_in(preview.text)},
        )
        assert published.status_code == 303, published.text
        series_page = await web.get(published.headers["location"])
        assert PUBLISHED[lang] in series_page.text
    statuses = await pool.fetch(
        "select status from slots where lab_id = $1 and series_id is not null order by starts_at",
        lab.lab["id"],
    )
    assert [r["status"] for r in statuses] == ["active", "cancelled", "active", "active"]


@pytest.mark.parametrize("lang", LANGS)
async def test_publishing_all_refuses_and_keeps_the_preview(
    settings: Settings, pool: asyncpg.Pool, client: Client, lab: Lab, lang: str
) -> None:
    await _maintenance(client, lab, monday_after(2))
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        form = _series_form(lab, monday_after(1))
        refused = await submit(web, f"/{lang}/manage/series/new", f"/{lang}/manage/series/", form)
        assert refused.status_code == 200
        assert PREVIEW[lang] in refused.text
        assert 'role="alert"' in refused.text
    assert await _slot_count(pool, lab) == 1


@pytest.mark.parametrize("lang", LANGS)
async def test_series_form_rerenders_with_values_and_messages(
    settings: Settings, pool: asyncpg.Pool, lab: Lab, lang: str
) -> None:
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        form = _series_form(lab, monday_after(1), **{"recurrence.count": "", "title.kk": "Кешкі топ"})
        page = await submit(web, f"/{lang}/manage/series/new", f"/{lang}/manage/series/preview", form)
        assert page.status_code == 200
        assert NO_END[lang] in page.text
        assert 'value="Кешкі топ"' in page.text
        assert re.search(r'name="recurrence.weekdays" value="1" checked', page.text)
    assert await _slot_count(pool, lab) == 0


async def _booked_series(client: Client, lab: Lab) -> tuple[list[dict[str, Any]], str]:
    reply = await client.post(
        "/api/v1/series",
        json={
            "lab": lab.lab["slug"],
            "kind": "training",
            "title": {"en": "Weekly TIG", "kk": "Апта сайынғы TIG", "ru": "Еженедельная TIG"},
            "starts_at": local(monday_after(1), "10:00"),
            "ends_at": local(monday_after(1), "12:00"),
            "capacity": 12,
            "recurrence": {"freq": "weekly", "count": 4},
        },
        headers=lab.manager.headers,
    )
    assert reply.status_code == 201, reply.text
    created: list[dict[str, Any]] = reply.json()["created"]
    booking = await client.post(
        f"/api/v1/slots/{created[1]['id']}/bookings",
        json={"headcount": 7, "contact_name": "Aigerim", "language": "kk"},
        headers=lab.director.headers,
    )
    assert booking.status_code == 201, booking.text
    return created, str(booking.json()["id"])


@pytest.mark.parametrize("lang", LANGS)
async def test_cancelling_one_occurrence_shows_the_bookings_first(
    settings: Settings, pool: asyncpg.Pool, client: Client, lab: Lab, lang: str
) -> None:
    created, booking_id = await _booked_series(client, lab)
    second = created[1]["id"]
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        page = f"/{lang}/manage/slots/{second}"
        shown = await web.get(page)
        assert shown.status_code == 200
        assert lab.college["name"][lang] in shown.text
        ask = await submit(web, page, f"{page}/cancel", {"scope": "one", "reason": "Газ жеткізілмеді"})
        assert ask.status_code == 200
        assert CONFIRM_CANCEL[lang] in ask.text
        assert lab.college["name"][lang] in ask.text
        assert ">7<" in ask.text
        assert await pool.fetchval("select status from slots where id = $1", second) == "active"
        done = await web.post(
            f"{page}/cancel",
            data={"scope": "one", "reason": "Газ жеткізілмеді", "confirm": "1", "_csrf": csrf_in(ask.text)},
        )
        assert done.status_code == 303
        assert done.headers["location"] == f"{page}?cancelled=1"
    statuses = await pool.fetch(
        "select status from slots where series_id = $1 order by starts_at", created[0]["series_id"]
    )
    assert [r["status"] for r in statuses] == ["active", "cancelled", "active", "active"]
    assert await pool.fetchval("select status from bookings where id = $1", booking_id) == "cancelled"


async def test_moving_this_and_the_following_sessions_splits_the_series(
    settings: Settings, pool: asyncpg.Pool, client: Client, lab: Lab
) -> None:
    created, _ = await _booked_series(client, lab)
    third = created[2]["id"]
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="ru")
        page = f"/ru/manage/slots/{third}"
        form = {
            "scope": "following",
            "date": monday_after(3).isoformat(),
            "starts_at": "14:00",
            "ends_at": "16:00",
            "capacity": "12",
            "title.en": "Weekly TIG",
        }
        ask = await submit(web, page, f"{page}/edit", form)
        assert ask.status_code == 200
        assert "Подтвердите изменение" in ask.text
        assert await pool.fetchval("select count(*) from slot_series where lab_id = $1", lab.lab["id"]) == 1
        done = await web.post(f"{page}/edit", data={**form, "confirm": "1", "_csrf": csrf_in(ask.text)})
        assert done.status_code == 303, done.text
    rows = await pool.fetch(
        "select starts_at, series_id from slots where lab_id = $1 order by occurrence_start", lab.lab["id"]
    )
    hours = [r["starts_at"].astimezone(ALMATY).hour for r in rows]
    assert hours == [10, 10, 14, 14]
    assert rows[1]["series_id"] != rows[2]["series_id"]


@pytest.mark.parametrize("lang", LANGS)
async def test_slot_form_shows_free_stations_and_publishes_private_with_deadline(
    settings: Settings, pool: asyncpg.Pool, client: Client, lab: Lab, lang: str
) -> None:
    day = monday_after(2)
    await _maintenance(client, lab, day)
    form = {
        "lab": lab.lab["slug"],
        "kind": "training",
        "title.ru": "Практика TIG",
        "date": day.isoformat(),
        "starts_at": "10:00",
        "ends_at": "12:00",
        "capacity": "4",
        f"units.{lab.tig}": "2",
        "visibility": "private",
        "organization": lab.college["slug"],
        "booking_deadline": f"{(day - timedelta(days=2)).isoformat()}T18:00",
    }
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        checked = await submit(
            web, f"/{lang}/manage/slots/new", f"/{lang}/manage/slots/", {**form, "check": "1"}
        )
        assert checked.status_code == 200
        assert FREE[lang] in checked.text
        assert "3, 4, 5, 6" in checked.text
        assert 'value="Практика TIG"' in checked.text
        assert await _slot_count(pool, lab) == 1
        done = await web.post(f"/{lang}/manage/slots/", data={**form, "_csrf": csrf_in(checked.text)})
        assert done.status_code == 303, done.text
    slot_id = done.headers["location"].rsplit("/", 1)[1]
    slot = (await client.get(f"/api/v1/slots/{slot_id}", headers=lab.manager.headers)).json()
    assert slot["visibility"] == "private"
    assert slot["organization"] == lab.college["slug"]
    assert slot["booking_deadline"] == local(day - timedelta(days=2), "18:00")
    assert [u["unit"] for u in slot["units"]] == [3, 4]  # the maintenance holds 1 and 2


@pytest.mark.parametrize("lang", LANGS)
async def test_closure_shows_what_it_meets_before_saving(
    settings: Settings, pool: asyncpg.Pool, client: Client, lab: Lab, lang: str
) -> None:
    created, _ = await _booked_series(client, lab)
    day = datetime.fromisoformat(created[1]["starts_at"]).date()
    closure = {
        "lab": lab.lab["slug"],
        "kind": "closure",
        "title.kk": "Жөндеу",
        "date": day.isoformat(),
        "starts_at": "09:00",
        "ends_at": "18:00",
        "capacity": "0",
    }
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        ask = await submit(web, f"/{lang}/manage/slots/new", f"/{lang}/manage/slots/", closure)
        assert ask.status_code == 200
        assert MET[lang] in ask.text
        assert lab.college["name"][lang] in ask.text
        assert 'name="confirm" value="1"' in ask.text
        count = await _slot_count(pool, lab)
        refused = await web.post(
            f"/{lang}/manage/slots/", data={**closure, "confirm": "1", "_csrf": csrf_in(ask.text)}
        )
        assert refused.status_code == 200
        assert 'role="alert"' in refused.text
        assert await _slot_count(pool, lab) == count

        free_day = {**closure, "date": (day + timedelta(days=2)).isoformat()}
        ask = await submit(web, f"/{lang}/manage/slots/new", f"/{lang}/manage/slots/", free_day)
        assert 'name="confirm" value="1"' in ask.text
        done = await web.post(
            f"/{lang}/manage/slots/", data={**free_day, "confirm": "1", "_csrf": csrf_in(ask.text)}
        )
        assert done.status_code == 303, done.text
    assert await _slot_count(pool, lab) == count + 1


async def test_another_labs_manager_is_refused(
    settings: Settings, pool: asyncpg.Pool, client: Client, lab: Lab, make: Factory
) -> None:
    created, _ = await _booked_series(client, lab)
    other = await make.person("lab_manager", lab_ids=((await make.lab())["id"],))
    async with browser_for(settings) as web:
        await sign_in(web, pool, other)
        assert (await web.get(f"/en/manage/slots/{created[0]['id']}")).status_code == 403
        assert (await web.get(f"/en/manage/series/{created[0]['series_id']}")).status_code == 403


@pytest.mark.parametrize("lang", LANGS)
async def test_changing_one_session_keeps_the_series_and_refuses_a_bad_time(
    settings: Settings, pool: asyncpg.Pool, client: Client, lab: Lab, lang: str
) -> None:
    created, booking_id = await _booked_series(client, lab)
    second = created[1]["id"]
    day = datetime.fromisoformat(created[1]["starts_at"]).date() + timedelta(days=1)
    form = {
        "scope": "one",
        "date": day.isoformat(),
        "starts_at": "15:00",
        "ends_at": "17:00",
        "capacity": "12",
    }
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        page = f"/{lang}/manage/slots/{second}"
        wrong = await submit(
            web, page, f"{page}/edit", {**form, "ends_at": "14:00", "title.ru": "Вечерняя TIG"}
        )
        assert wrong.status_code == 200
        assert "f-when-error" in wrong.text
        assert 'value="Вечерняя TIG"' in wrong.text
        ask = await submit(web, page, f"{page}/edit", {**form, "title.en": "Weekly TIG"})
        assert ask.status_code == 200
        assert lab.college["name"][lang] in ask.text
        done = await web.post(
            f"{page}/edit",
            data={**form, "title.en": "Weekly TIG", "confirm": "1", "_csrf": csrf_in(ask.text)},
        )
        assert done.status_code == 303, done.text
    rows = await pool.fetch(
        "select id, starts_at, status from slots where series_id = $1 order by occurrence_start",
        created[0]["series_id"],
    )
    moved = next(r for r in rows if str(r["id"]) == second)
    assert moved["starts_at"].astimezone(ALMATY).date() == day
    assert moved["starts_at"].astimezone(ALMATY).hour == 15
    assert [r["starts_at"].astimezone(ALMATY).hour for r in rows if str(r["id"]) != second] == [10, 10, 10]
    assert await pool.fetchval("select status from bookings where id = $1", booking_id) == "confirmed"


async def test_cancelling_the_whole_series_after_confirming(
    settings: Settings, pool: asyncpg.Pool, client: Client, lab: Lab
) -> None:
    created, booking_id = await _booked_series(client, lab)
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="kk")
        page = f"/kk/manage/slots/{created[0]['id']}"
        ask = await submit(web, page, f"{page}/cancel", {"scope": "all"})
        assert "4 сабаққа" in ask.text
        done = await web.post(
            f"{page}/cancel", data={"scope": "all", "confirm": "1", "_csrf": csrf_in(ask.text)}
        )
        assert done.status_code == 303
    statuses = await pool.fetch("select status from slots where series_id = $1", created[0]["series_id"])
    assert {r["status"] for r in statuses} == {"cancelled"}
    assert await pool.fetchval("select status from bookings where id = $1", booking_id) == "cancelled"


async def test_series_ends_on_its_last_date_and_repeats_on_the_ticked_days(
    settings: Settings, pool: asyncpg.Pool, lab: Lab
) -> None:
    first = monday_after(1)
    form = _series_form(
        lab,
        first,
        **{
            "recurrence.count": "",
            "recurrence.until": (first + timedelta(weeks=2)).isoformat(),
            "recurrence.weekdays": ["1", "3"],
            f"units.{lab.tig}": "2",
        },
    )
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="en")
        preview = await submit(web, "/en/manage/series/new", "/en/manage/series/preview", form)
    shown = re.findall(r'<time datetime="(\d{4}-\d{2}-\d{2})T10:00', preview.text)
    days = [first + timedelta(days=offset) for offset in (0, 2, 7, 9, 14)]
    assert shown == [day.isoformat() for day in days]
    assert 'class="collides"' not in preview.text
