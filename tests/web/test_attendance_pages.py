"""Pages for rosters and attendance: the director's list of trainees, the manager's day of attendance."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.settings import Settings
from tests.attendance.world import Lab, tig_lab
from tests.factories import Factory
from tests.web.conftest import browser_for, sign_in, submit

ALMATY = ZoneInfo("Asia/Almaty")
LANGS = ("kk", "ru", "en")
LIST_LINK = {
    "kk": "Білім алушылар тізімін толтыру",
    "ru": "Заполнить список обучающихся",
    "en": "List the trainees",
}
SAVED = {
    "kk": "Білім алушылар тізімі сақталды.",
    "ru": "Список обучающихся сохранён.",
    "en": "The list of trainees is saved.",
}
NO_INDUCTION = {
    "kk": "Bolat Nur: «Station argon-tig» бойынша қауіпсіздік нұсқамасынан өтпеген.",
    "ru": "Bolat Nur: нет инструктажа по технике безопасности для «Station argon-tig».",
    "en": "Bolat Nur: no safety induction for “Station argon-tig”.",
}
SAVED_MARK = {"kk": "Қатысу сақталды.", "ru": "Посещаемость сохранена.", "en": "Attendance is saved."}


@pytest.fixture
async def tig(make: Factory, client: AsyncTestClient[Litestar]) -> Lab:
    return await tig_lab(make, client)


def _day_page(lang: str, slot: asyncpg.Record) -> str:
    """The attendance day of ``slot`` in the lab's zone: "two hours ago" is yesterday just after midnight."""
    return f"/{lang}/manage/attendance/?day={slot['starts_at'].astimezone(ALMATY).date().isoformat()}"


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.mark.parametrize("lang", LANGS)
async def test_a_director_fills_the_roster_from_the_booking_page(
    lang: str, tig: Lab, pool: asyncpg.Pool, settings: Settings
) -> None:
    booking = await tig.booking(await tig.session(timedelta(days=7), induction=True), headcount=3)
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.director, lang=lang)
        page = await web.get(f"/{lang}/bookings/{booking['id']}")
        assert page.status_code == 200
        assert LIST_LINK[lang] in page.text
        form_page = f"/{lang}/bookings/{booking['id']}/roster"
        saved = await submit(
            web,
            form_page,
            form_page,
            {
                "trainees.0.full_name": "Әлия Сәрсенова",
                "trainees.0.study_group": "ДС-22",
                "trainees.1.full_name": "Ivan Petrov",
                "trainees.2.full_name": "",
            },
        )
        assert saved.status_code == 303, saved.text
        after = await web.get(saved.headers["location"])
        assert SAVED[lang] in after.text
        assert 'value="Әлия Сәрсенова"' in after.text
        shown = _text((await web.get(f"/{lang}/bookings/{booking['id']}")).text)
        assert "Әлия Сәрсенова (ДС-22)" in shown
        assert "Ivan Petrov" in shown
    names = await pool.fetch(
        "select t.full_name from roster_entries r join trainees t on t.id = r.trainee_id"
        " where r.booking_id = $1 order by 1",
        booking["id"],
    )
    assert [r["full_name"] for r in names] == ["Ivan Petrov", "Әлия Сәрсенова"]


@pytest.mark.parametrize("lang", LANGS)
async def test_a_refused_roster_names_the_trainee_and_keeps_what_was_typed(
    lang: str, tig: Lab, pool: asyncpg.Pool, settings: Settings
) -> None:
    offered = await tig.session(timedelta(days=3), induction=True)
    booking = await tig.booking(await tig.session(timedelta(days=7)), headcount=2)
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.director, lang=lang)
        form_page = f"/{lang}/bookings/{booking['id']}/roster"
        refused = await submit(web, form_page, form_page, {"trainees.0.full_name": "Bolat Nur"})
    assert refused.status_code == 200
    assert NO_INDUCTION[lang] in unescape(refused.text)
    assert 'value="Bolat Nur"' in refused.text
    assert f"/{lang}/slots/{offered['id']}" in refused.text
    assert (
        await pool.fetchval("select count(*) from roster_entries where booking_id = $1", booking["id"]) == 0
    )


@pytest.mark.parametrize("lang", LANGS)
async def test_the_manager_marks_an_induction_session_and_its_trainees_are_inducted(
    lang: str, tig: Lab, pool: asyncpg.Pool, settings: Settings
) -> None:
    session = await tig.session(timedelta(hours=-2), induction=True)
    booking = await tig.booking(session, headcount=2)
    roster = await tig.roster(booking["id"], ["Madina", "Nurlan"], who=tig.manager)
    ids = {t["full_name"]: t["id"] for t in roster.json()["trainees"]}
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.manager, lang=lang)
        day = await web.get(_day_page(lang, session))
        assert day.status_code == 200
        assert "Madina" in day.text
        marked = await submit(
            web,
            _day_page(lang, session),
            f"/{lang}/manage/attendance/{booking['id']}",
            {"outcome": "arrived", "headcount": "1", "came": ids["Madina"]},
        )
        assert marked.status_code == 303, marked.text
        after = await web.get(marked.headers["location"])
        assert SAVED_MARK[lang] in after.text
    inducted = await pool.fetch(
        "select t.full_name from inductions i join trainees t on t.id = i.trainee_id"
        " where i.booking_id = $1 and i.revoked_at is null",
        booking["id"],
    )
    assert [r["full_name"] for r in inducted] == ["Madina"]
    row = await pool.fetchrow(
        "select outcome, headcount from attendance where booking_id = $1", booking["id"]
    )
    assert (row["outcome"], row["headcount"]) == ("arrived", 1)


async def test_a_missing_headcount_re_renders_the_day_with_the_message(
    tig: Lab, pool: asyncpg.Pool, settings: Settings
) -> None:
    booking = await tig.booking(await tig.session(timedelta(hours=-2)), headcount=2)
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.manager, lang="ru")
        refused = await submit(
            web,
            "/ru/manage/attendance/",
            f"/ru/manage/attendance/{booking['id']}",
            {"outcome": "arrived", "headcount": ""},
        )
    assert refused.status_code == 200
    assert "Укажите, сколько человек пришло: целое число от 1." in refused.text
    assert await pool.fetchval("select count(*) from attendance where booking_id = $1", booking["id"]) == 0


async def test_the_instructor_sees_the_sessions_they_teach_and_not_the_no_show_rates(
    tig: Lab, pool: asyncpg.Pool, settings: Settings, client: AsyncTestClient[Litestar]
) -> None:
    session = await tig.session(timedelta(hours=-2))
    booking = await tig.booking(session, headcount=2)
    await tig.mark(booking["id"], {"outcome": "no_show"})
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.instructor, lang="en")
        day = await web.get(_day_page("en", session))
    assert day.status_code == 200
    assert "Marked: did not come" in day.text
    assert "No-shows by organization" not in day.text
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.manager, lang="en")
        day = await web.get(_day_page("en", session))
    assert "No-shows by organization" in day.text
    assert "100%" in day.text


async def test_the_manager_makes_a_session_an_induction_from_the_attendance_page(
    tig: Lab, pool: asyncpg.Pool, settings: Settings
) -> None:
    session = await tig.session(timedelta(hours=-2))
    await tig.booking(session, headcount=2)
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.manager, lang="kk")
        day = await web.get(_day_page("kk", session))
        assert "Қауіпсіздік нұсқамасы сабағы деп белгілеу" in day.text
        made = await submit(
            web,
            _day_page("kk", session),
            f"/kk/manage/attendance/sessions/{session['id']}",
            {"is_induction": "1", "day": session["starts_at"].astimezone(ALMATY).date().isoformat()},
        )
        assert made.status_code == 303
        after = await web.get(made.headers["location"])
    assert "Бұл нұсқама сабағы емес" in after.text
    assert await pool.fetchval("select is_induction from slots where id = $1", session["id"]) is True


MY_SESSIONS = {"kk": "Менің сабақтарым", "ru": "Мои занятия", "en": "My sessions"}


def _week_of(slot: asyncpg.Record) -> str:
    year, week, _ = slot["starts_at"].astimezone(ALMATY).isocalendar()
    return f"{year}-W{week:02d}"


@pytest.mark.parametrize("lang", LANGS)
async def test_the_instructor_finds_their_session_in_the_week_and_marks_it_on_its_page(
    lang: str, tig: Lab, pool: asyncpg.Pool, settings: Settings
) -> None:
    session = await tig.session(timedelta(hours=-2), induction=True)
    booking = await tig.booking(session, headcount=3)
    ids = {
        t["full_name"]: t["id"]
        for t in (await tig.roster(booking["id"], ["Madina", "Nurlan"], who=tig.manager)).json()["trainees"]
    }
    # a session of the same lab that someone else teaches
    others = await tig.make.slot(
        tig.lab,
        session["starts_at"] + timedelta(hours=3),
        title={"en": "Not mine", "ru": "Not mine", "kk": "Not mine"},
    )
    await tig.booking(others, headcount=2)
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.instructor, lang=lang)
        home = await web.get(f"/{lang}/")
        assert f'href="/{lang}/manage/attendance/week"' in home.text
        assert MY_SESSIONS[lang] in home.text
        week = await web.get(f"/{lang}/manage/attendance/week?week={_week_of(session)}")
        assert week.status_code == 200
        page = f"/{lang}/manage/attendance/sessions/{session['id']}"
        assert f'href="{page}"' in week.text
        assert "Not mine" not in week.text
        opened = await web.get(page)
        assert opened.status_code == 200
        assert "Madina" in opened.text
        assert "Nurlan" in opened.text
        assert (await web.get(f"/{lang}/manage/attendance/sessions/{others['id']}")).status_code == 404
        marked = await submit(
            web,
            page,
            f"/{lang}/manage/attendance/{booking['id']}",
            {"outcome": "arrived", "headcount": "2", "came": ids["Nurlan"], "back": "session"},
        )
        assert marked.status_code == 303, marked.text
        assert marked.headers["location"] == f"{page}?marked=1"
        after = await web.get(marked.headers["location"])
        assert SAVED_MARK[lang] in after.text
    row = await pool.fetchrow(
        "select outcome, headcount, marked_by from attendance where booking_id = $1", booking["id"]
    )
    assert (row["outcome"], row["headcount"], row["marked_by"]) == ("arrived", 2, tig.instructor.id)
    attended = await pool.fetch(
        "select t.full_name, r.attended from roster_entries r join trainees t on t.id = r.trainee_id"
        " where r.booking_id = $1 order by 1",
        booking["id"],
    )
    assert [(r["full_name"], r["attended"]) for r in attended] == [("Madina", False), ("Nurlan", True)]
    audited = await pool.fetchval(
        "select actor_id from audit_events where action = 'attendance.mark' and object_id = $1",
        str(booking["id"]),
    )
    assert audited == tig.instructor.id


async def test_a_refused_mark_on_the_session_page_comes_back_to_that_page(
    tig: Lab, pool: asyncpg.Pool, settings: Settings
) -> None:
    session = await tig.session(timedelta(hours=-2))
    booking = await tig.booking(session, headcount=2)
    page = f"/en/manage/attendance/sessions/{session['id']}"
    async with browser_for(settings) as web:
        await sign_in(web, pool, tig.instructor, lang="en")
        refused = await submit(
            web,
            page,
            f"/en/manage/attendance/{booking['id']}",
            {"outcome": "arrived", "headcount": "", "back": "session"},
        )
    assert refused.status_code == 200
    assert "Enter how many people came: a whole number from 1." in refused.text
    assert "All sessions of this day" in refused.text
    assert await pool.fetchval("select count(*) from attendance where booking_id = $1", booking["id"]) == 0
