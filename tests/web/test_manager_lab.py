"""A lab's settings page: details, opening hours, equipment, booking rules and the manager's feed."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.settings import Settings
from tests.factories import Factory, Person
from tests.web.conftest import browser_for, csrf_in, sign_in

ALMATY = ZoneInfo("Asia/Almaty")
LANGS = ("kk", "ru", "en")
SAVED_DETAILS = {
    "kk": "Зертхана туралы мәлімет сақталды.",
    "ru": "Сведения о лаборатории сохранены.",
    "en": "The lab's details are saved.",
}
NO_NAME = {
    "kk": "Зертхананың атауын кемінде бір тілде жазыңыз.",
    "ru": "Укажите название лаборатории хотя бы на одном языке.",
    "en": "Give the lab's name in at least one language.",
}
OUTSIDE = {
    "kk": "Алдағы 1 сабақ жаңа кестеден тыс қалады, сондықтан ештеңе сақталмады:",
    "ru": "1 предстоящее занятие окажется вне этих часов, поэтому ничего не сохранено:",
    "en": "1 session to come would fall outside these hours, so nothing was saved:",
}

Client = AsyncTestClient[Litestar]


@dataclass
class Lab:
    row: asyncpg.Record
    equipment: asyncpg.Record
    manager: Person
    day: date

    @property
    def slug(self) -> str:
        slug: str = self.row["slug"]
        return slug

    @property
    def settings_page(self) -> str:
        return f"/manage/labs/{self.slug}/settings/"

    def at(self, hour: int) -> str:
        return datetime.combine(self.day, time(hour), tzinfo=ALMATY).isoformat()


@pytest.fixture
async def lab(make: Factory) -> Lab:
    row = await make.lab(capacity=40, name={"en": "Welding lab", "kk": "Дәнекерлеу зертханасы"})
    await make.opening_hours(lab_id=row["id"], opens="08:00", closes="20:00")
    equipment = await make.equipment(lab_id=row["id"], units=6, seats_per_unit=2, name={"en": "TIG station"})
    manager = await make.person("lab_manager", organization_id=row["organization_id"], lab_ids=(row["id"],))
    return Lab(row, equipment, manager, datetime.now(ALMATY).date() + timedelta(days=9))


async def _training(client: Client, lab: Lab, *, capacity: int = 12, stations: int = 0) -> dict[str, Any]:
    reply = await client.post(
        "/api/v1/slots",
        json={
            "lab": lab.slug,
            "kind": "training",
            "title": {"en": "TIG practice", "kk": "TIG жаттығуы", "ru": "Практика TIG"},
            "starts_at": lab.at(10),
            "ends_at": lab.at(12),
            "capacity": capacity,
            "equipment": [{"equipment": lab.equipment["slug"], "units": stations}] if stations else [],
        },
        headers=lab.manager.headers,
    )
    assert reply.status_code == 201, reply.text
    slot: dict[str, Any] = reply.json()
    return slot


async def _post(web: Client, lang: str, lab: Lab, action: str, data: dict[str, Any]) -> httpx.Response:
    page = await web.get(f"/{lang}{lab.settings_page}")
    assert page.status_code == 200, page.text
    return await web.post(f"/{lang}{lab.settings_page}{action}", data={**data, "_csrf": csrf_in(page.text)})


def _details(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name.kk": "Дәнекерлеу институты",
        "name.ru": "Институт сварки",
        "name.en": "Welding Institute",
        "description.kk": "Алты TIG бекеті",
        "description.ru": "",
        "description.en": "Six TIG stations",
        "safety_notes.ru": "Закрытая обувь",
        "building": "",
        "room": "B-104",
        "address": "Satbayev St 22",
        "capacity": "36",
        "min_visitor_age": "14",
        "languages": ["kk", "ru"],
        "accessibility": "",
    }
    form.update(changes)
    return form


@pytest.mark.parametrize("lang", LANGS)
async def test_the_details_are_saved_in_three_languages(
    settings: Settings, pool: asyncpg.Pool, lab: Lab, lang: str
) -> None:
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        saved = await _post(web, lang, lab, "details", _details())
        assert saved.status_code == 303, saved.text
        page = await web.get(saved.headers["location"])
    assert SAVED_DETAILS[lang] in page.text
    row = await pool.fetchrow("select * from labs where id = $1", lab.row["id"])
    assert row["name"] == {"kk": "Дәнекерлеу институты", "ru": "Институт сварки", "en": "Welding Institute"}
    assert row["description"] == {"kk": "Алты TIG бекеті", "en": "Six TIG stations"}
    assert row["safety_notes"] == {"ru": "Закрытая обувь"}
    assert (row["building"], row["room"], row["capacity"], row["min_visitor_age"]) == (None, "B-104", 36, 14)
    assert row["languages"] == ["kk", "ru"]
    assert 'value="Welding Institute"' in page.text


@pytest.mark.parametrize("lang", LANGS)
async def test_a_refused_details_form_comes_back_with_the_values_and_messages_in_the_page_language(
    settings: Settings, pool: asyncpg.Pool, lab: Lab, lang: str
) -> None:
    form = _details(**{"name.kk": "", "name.ru": "", "name.en": "", "capacity": "many", "languages": []})
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        reply = await _post(web, lang, lab, "details", form)
    assert reply.status_code == 200
    assert NO_NAME[lang] in html.unescape(reply.text)
    assert 'id="f-capacity" name="capacity" type="number" value="many"' in reply.text
    assert 'aria-invalid="true"' in reply.text
    assert ">Алты TIG бекеті</textarea>" in reply.text
    assert 'id="f-languages-kk" name="languages" value="kk">' in reply.text  # unticked, as sent
    row = await pool.fetchrow("select name, capacity from labs where id = $1", lab.row["id"])
    assert (row["name"], row["capacity"]) == (lab.row["name"], 40)


async def test_a_capacity_below_the_people_already_booked_is_refused_with_the_numbers(
    settings: Settings, client: Client, pool: asyncpg.Pool, lab: Lab
) -> None:
    await _training(client, lab, capacity=30)
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="en")
        reply = await _post(web, "en", lab, "details", _details(capacity="10"))
    assert reply.status_code == 200
    assert "hold 30 people, so the capacity cannot be lower" in reply.text
    assert "10:00" in reply.text
    assert await pool.fetchval("select capacity from labs where id = $1", lab.row["id"]) == 40


async def test_the_opening_hours_grid_replaces_the_week(
    settings: Settings, client: Client, pool: asyncpg.Pool, lab: Lab
) -> None:
    grid = {
        "opens_at.1.0": "09:00",
        "closes_at.1.0": "13:00",
        "opens_at.1.1": "14:00",
        "closes_at.1.1": "18:00",
        "opens_at.6.0": "10:00",
        "closes_at.6.0": "14:00",
    }
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="kk")
        saved = await _post(web, "kk", lab, "opening-hours", grid)
        assert saved.status_code == 303, saved.text
        page = await web.get(saved.headers["location"])
    hours = (await client.get(f"/api/v1/labs/{lab.slug}/opening-hours")).json()
    assert hours == [
        {"weekday": 1, "opens_at": "09:00", "closes_at": "13:00"},
        {"weekday": 1, "opens_at": "14:00", "closes_at": "18:00"},
        {"weekday": 6, "opens_at": "10:00", "closes_at": "14:00"},
    ]
    assert "Жұмыс уақыты сақталды." in page.text
    assert 'name="opens_at.1.1" value="14:00"' in page.text
    assert 'name="opens_at.2.0" value=""' in page.text
    assert 'name="opens_at.1.2" value=""' in page.text  # Monday has two windows: room for a third


@pytest.mark.parametrize("lang", LANGS)
async def test_hours_that_would_leave_a_session_outside_are_refused_naming_it(
    settings: Settings, client: Client, pool: asyncpg.Pool, lab: Lab, lang: str
) -> None:
    slot = await _training(client, lab)
    weekday = lab.day.isoweekday()
    # Every day 08:00-20:00 but the session's, which now opens at 13:00: the 10:00 session is left out.
    grid = {f"opens_at.{d}.0": "08:00" for d in range(1, 8)} | {
        f"closes_at.{d}.0": "20:00" for d in range(1, 8)
    }
    grid[f"opens_at.{weekday}.0"] = "13:00"
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        reply = await _post(web, lang, lab, "opening-hours", grid)
    assert reply.status_code == 200
    assert OUTSIDE[lang] in reply.text
    listed = reply.text.split('class="conflicts"')[1].split("</ul>")[0]
    assert f'href="/{lang}/manage/slots/{slot["id"]}"' in listed
    assert "10:00–12:00" in listed
    assert {"kk": "TIG жаттығуы", "ru": "Практика TIG", "en": "TIG practice"}[lang] in listed
    assert f'name="opens_at.{weekday}.0" value="13:00"' in reply.text  # what was entered stays
    assert (
        await pool.fetchval(
            "select count(*) from opening_hours where lab_id = $1 and opens_at = '08:00'", lab.row["id"]
        )
        == 7
    )


async def test_a_half_filled_or_overlapping_window_is_shown_next_to_its_cell(
    settings: Settings, pool: asyncpg.Pool, lab: Lab
) -> None:
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="ru")
        half = await _post(web, "ru", lab, "opening-hours", {"opens_at.2.0": "09:00"})
        overlap = await _post(
            web,
            "ru",
            lab,
            "opening-hours",
            {
                "opens_at.1.0": "09:00",
                "closes_at.1.0": "13:00",
                "opens_at.1.1": "12:00",
                "closes_at.1.1": "15:00",
            },
        )
        backwards = await _post(
            web, "ru", lab, "opening-hours", {"opens_at.3.0": "18:00", "closes_at.3.0": "09:00"}
        )
    assert half.status_code == overlap.status_code == backwards.status_code == 200
    assert re.search(r'id="h-2\.0-error">Укажите и время открытия, и время закрытия', half.text)
    assert re.search(r'id="h-1\.1-error">Пересекается с другим', overlap.text)
    assert re.search(r'id="h-3\.0-error">Закрываться нужно позже', backwards.text)
    assert await pool.fetchval("select count(*) from opening_hours where lab_id = $1", lab.row["id"]) == 7


async def test_equipment_stations_trainees_induction_and_service_are_saved(
    settings: Settings, pool: asyncpg.Pool, lab: Lab
) -> None:
    slug = lab.equipment["slug"]
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="en")
        grown = await _post(
            web,
            "en",
            lab,
            f"equipment/{slug}",
            {"units": "8", "seats_per_unit": "3", "requires_induction": "true", "is_out_of_service": "true"},
        )
        assert grown.status_code == 303, grown.text
        row = await pool.fetchrow("select * from equipment where id = $1", lab.equipment["id"])
        assert (row["units"], row["seats_per_unit"], row["requires_induction"], row["is_out_of_service"]) == (
            8,
            3,
            True,
            True,
        )
        # unticking a box posts nothing for it: the equipment is back in service
        back = await _post(web, "en", lab, f"equipment/{slug}", {"units": "8", "seats_per_unit": "3"})
        assert back.status_code == 303
        bad = await _post(web, "en", lab, f"equipment/{slug}", {"units": "0", "seats_per_unit": "two"})
    row = await pool.fetchrow("select * from equipment where id = $1", lab.equipment["id"])
    assert (row["requires_induction"], row["is_out_of_service"]) == (False, False)
    usable = "select count(*) from equipment_units where equipment_id = $1 and not is_retired"
    assert await pool.fetchval(usable, lab.equipment["id"]) == 8
    assert bad.status_code == 200
    assert "Enter how many stations: a whole number from 1 to 1000." in bad.text
    assert "Enter how many trainees share a station" in bad.text
    assert f'id="f-{slug}-seats_per_unit" name="seats_per_unit" value="two"' in bad.text


MONTHS_REFUSED = {
    "kk": "Нұсқама неше ай жарамды екенін жазыңыз: 1-ден 120-ға дейінгі бүтін сан.",
    "ru": "Укажите, сколько месяцев действует инструктаж: целое число от 1 до 120.",
    "en": "Enter how many months an induction lasts: a whole number from 1 to 120.",
}


@pytest.mark.parametrize("lang", LANGS)
async def test_how_long_an_induction_lasts_is_set_on_the_equipment_form(
    settings: Settings, pool: asyncpg.Pool, lab: Lab, lang: str
) -> None:
    slug = lab.equipment["slug"]
    form = {"units": "6", "seats_per_unit": "2", "requires_induction": "true"}
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        page = await web.get(f"/{lang}{lab.settings_page}")
        assert f'id="f-{slug}-induction_valid_months" name="induction_valid_months" value="12"' in page.text
        saved = await _post(web, lang, lab, f"equipment/{slug}", {**form, "induction_valid_months": "18"})
        assert saved.status_code == 303, saved.text
        refused = await _post(web, lang, lab, f"equipment/{slug}", {**form, "induction_valid_months": "121"})
    assert refused.status_code == 200
    assert html.escape(MONTHS_REFUSED[lang], quote=True) in refused.text
    assert 'name="induction_valid_months" value="121"' in refused.text
    months = "select induction_valid_months from equipment where id = $1"
    assert await pool.fetchval(months, lab.equipment["id"]) == 18


async def test_fewer_stations_than_a_session_holds_is_refused_naming_the_stations_and_session(
    settings: Settings, client: Client, pool: asyncpg.Pool, lab: Lab
) -> None:
    slot = await _training(client, lab, stations=4)
    held = sorted(u["unit"] for u in slot["units"])
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="kk")
        reply = await _post(
            web, "kk", lab, f"equipment/{lab.equipment['slug']}", {"units": "2", "seats_per_unit": "2"}
        )
    assert reply.status_code == 200
    listed = reply.text.split('class="conflicts"')[1].split("</ul>")[0]
    kept_out = ", ".join(str(n) for n in held if n > 2)
    assert f"{kept_out} станциялар:" in listed
    assert f'href="/kk/manage/slots/{slot["id"]}"' in listed
    assert "Бұл станцияларды алдағы сабақтар алып қойған" in reply.text
    assert f"Станция саны кемінде {max(held)} болуы керек." in reply.text
    assert await pool.fetchval("select units from equipment where id = $1", lab.equipment["id"]) == 6


async def test_minimum_notice_maximum_advance_and_reminder(
    settings: Settings, pool: asyncpg.Pool, lab: Lab
) -> None:
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="ru")
        saved = await _post(
            web,
            "ru",
            lab,
            "booking-rules",
            {"min_notice_hours": "48", "max_advance_days": "90", "reminder_hours": "72"},
        )
        bad = await _post(
            web,
            "ru",
            lab,
            "booking-rules",
            {"min_notice_hours": "-1", "max_advance_days": "", "reminder_hours": "169"},
        )
        page = await web.get(f"/kk{lab.settings_page}")
    assert saved.status_code == 303
    row = await pool.fetchrow(
        "select min_notice_hours, max_advance_days, reminder_hours from labs where id = $1", lab.row["id"]
    )
    assert (row["min_notice_hours"], row["max_advance_days"], row["reminder_hours"]) == (48, 90, 72)
    assert bad.status_code == 200
    assert "Укажите срок в часах: целое число от 0 до 8760." in bad.text
    assert "Укажите число дней: целое число от 1 до 3650." in bad.text
    assert "Укажите часы: целое число от 0 до 168." in bad.text
    assert 'name="min_notice_hours" type="number" value="-1"' in bad.text
    assert 'name="reminder_hours" type="number" value="72"' in page.text
    assert "Еске салу, сапардан неше сағат бұрын" in page.text


async def test_the_managers_feed_address_is_shown_once_and_works(
    settings: Settings, client: Client, pool: asyncpg.Pool, lab: Lab
) -> None:
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="en")
        created = await _post(web, "en", lab, "feed", {"name": "office"})
        again = await web.get(f"/en{lab.settings_page}")
    assert created.status_code == 200
    found = re.search(r'value="(https?://[^"]+/feeds/private/[^"?]+\.ics)\?lang=en"', created.text)
    assert found, created.text
    assert "/feeds/private/" not in again.text
    assert "You have 1 calendar address in use." in again.text
    feed = await client.get(urlsplit(found.group(1)).path)
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    kind = await pool.fetchval("select kind from feed_tokens where person_id = $1", lab.manager.id)
    assert kind == "lab_manager"


ACTIONS = ("details", "booking-rules", "opening-hours", "equipment/{equipment}", "feed")


async def test_a_manager_gets_403_for_another_labs_settings(
    settings: Settings, make: Factory, pool: asyncpg.Pool, lab: Lab
) -> None:
    other = await make.lab()
    other_manager = await make.person(
        "lab_manager", organization_id=other["organization_id"], lab_ids=(other["id"],)
    )
    async with browser_for(settings) as web:
        await sign_in(web, pool, other_manager, lang="en")
        own = await web.get(f"/en/manage/labs/{other['slug']}/settings/")
        assert own.status_code == 200
        token = csrf_in(own.text)
        assert (await web.get(f"/en{lab.settings_page}")).status_code == 403
        for action in ACTIONS:
            path = action.format(equipment=lab.equipment["slug"])
            posted = await web.post(f"/en{lab.settings_page}{path}", data={"_csrf": token, "capacity": "1"})
            assert posted.status_code == 403, action
    assert await pool.fetchval("select capacity from labs where id = $1", lab.row["id"]) == 40


@pytest.mark.parametrize("role", ["director", "instructor"])
async def test_directors_and_instructors_get_403_on_the_settings(
    settings: Settings, make: Factory, pool: asyncpg.Pool, lab: Lab, role: str
) -> None:
    someone = await make.person(
        role, organization_id=lab.row["organization_id"] if role == "instructor" else None
    )
    async with browser_for(settings) as web:
        await sign_in(web, pool, someone, lang="kk")
        page = await web.get(f"/kk{lab.settings_page}")
        token = csrf_in((await web.get("/kk/account")).text)
        posted = await web.post(f"/kk{lab.settings_page}feed", data={"_csrf": token})
    assert page.status_code == 403
    assert posted.status_code == 403
