"""The pages anyone may open: a lab, its week calendar, a slot and a series, in kk, ru and en."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.settings import Settings
from tests.factories import Factory, Person
from tests.web.conftest import browser_for, sign_in

ALMATY = ZoneInfo("Asia/Almaty")
LANGS = ("kk", "ru", "en")
NAME = {"kk": "Дәнекерлеу институты", "ru": "Институт сварки", "en": "Welding Institute"}
# The lab wrote its safety notes in Russian only: other pages show them marked as Russian.
SAFETY = {"ru": "Работайте только в защитных очках."}
TOUR = {"kk": "Институтқа экскурсия", "ru": "Экскурсия по институту", "en": "Institute tour"}


def local(days: int, hour: int = 10) -> datetime:
    """``hour`` o'clock in Almaty, ``days`` from today."""
    return datetime.combine(datetime.now(ALMATY).date() + timedelta(days=days), time(hour), tzinfo=ALMATY)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def text_of(html: str) -> str:
    """What a reader sees: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@dataclass
class World:
    lab: asyncpg.Record
    manager: Person
    director: Person
    equipment: asyncpg.Record

    @property
    def slug(self) -> str:
        return str(self.lab["slug"])

    async def publish(self, client: AsyncTestClient[Litestar], starts_at: datetime, **fields: Any) -> Any:
        body = {
            "lab": self.slug,
            "kind": "tour",
            "title": TOUR,
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(hours=2)).isoformat(),
            "capacity": 20,
            # the lab is closed on Sundays, and a date counted from today may fall on one
            "outside_hours": True,
            **fields,
        }
        reply = await client.post("/api/v1/slots", json=body, headers=self.manager.headers)
        assert reply.status_code == 201, reply.text
        return reply.json()

    async def book(self, client: AsyncTestClient[Litestar], slot_id: str, headcount: int) -> None:
        reply = await client.post(
            f"/api/v1/slots/{slot_id}/bookings",
            json={"headcount": headcount, "contact_name": "Dana", "language": "ru"},
            headers=self.director.headers,
        )
        assert reply.status_code == 201, reply.text


@pytest.fixture
async def world(pool: asyncpg.Pool, make: Factory) -> World:
    lab = await make.lab(name=NAME, capacity=40)
    lab = await pool.fetchrow(
        """update labs set description = $2, safety_notes = $3, building = 'Block G', room = '104',
                  accessibility = 'Step-free entrance', min_visitor_age = 14
           where id = $1 returning *""",
        lab["id"],
        {
            "kk": "Алты аргонды TIG бекеті.",
            "ru": "Шесть постов аргонодуговой сварки.",
            "en": "Six TIG stations.",
        },
        SAFETY,
    )
    await make.opening_hours(lab_id=lab["id"], weekdays=range(1, 7), opens="09:00", closes="18:00")
    equipment = await make.equipment(
        lab_id=lab["id"],
        units=6,
        seats_per_unit=2,
        name={"kk": "Аргонды TIG бекеті", "ru": "Пост TIG", "en": "TIG station"},
    )
    await pool.execute("update equipment set requires_induction = true where id = $1", equipment["id"])
    manager = await make.person("lab_manager", lab_ids=(lab["id"],), organization_id=lab["organization_id"])
    director = await make.person("director")
    return World(lab, manager, director, equipment)


async def test_lab_page_speaks_each_language_and_marks_fallback_text(
    web: AsyncTestClient[Litestar], client: AsyncTestClient[Litestar], world: World
) -> None:
    await world.publish(client, local(3))
    for lang in LANGS:
        page = await web.get(f"/{lang}/labs/{world.slug}")
        assert page.status_code == 200, page.text
        assert f'<html lang="{lang}">' in page.text
        assert f"<h1>{NAME[lang]}</h1>" in page.text
        assert TOUR[lang] in page.text
        if lang == "ru":
            assert SAFETY["ru"] in page.text
            assert f'<span lang="ru">{SAFETY["ru"]}' not in page.text
        else:
            # the notes exist only in Russian: shown, and marked so a screen reader reads them as Russian
            assert f'<span lang="ru">{SAFETY["ru"]}</span>' in page.text
        assert f'href="/{lang}/visit-requests/new?lab={world.slug}"' in page.text
        assert "https://www.openstreetmap.org/search?query=" in page.text
        assert "<script" not in page.text
        assert "style=" not in page.text
    english = text_of((await web.get(f"/en/labs/{world.slug}")).text)
    assert "6 stations × 2 trainees each = 12 trainees at once" in english
    assert "Needs a safety induction" in english
    assert "Monday 09:00–18:00" in english
    assert "Sunday closed" in english
    assert "from 14 years old" in english


async def test_unknown_lab_slot_and_series_answer_404_pages(web: AsyncTestClient[Litestar]) -> None:
    for url in (
        "/ru/labs/no-such-lab",
        "/ru/labs/no-such-lab/calendar",
        f"/ru/slots/{uuid4()}",
        "/ru/slots/not-a-slot",
        f"/ru/series/{uuid4()}",
    ):
        page = await web.get(url)
        assert page.status_code == 404, url
        assert page.headers["content-type"].startswith("text/html")
        assert '<html lang="ru">' in page.text


async def test_archived_lab_is_not_shown(
    web: AsyncTestClient[Litestar], pool: asyncpg.Pool, world: World
) -> None:
    await pool.execute("update labs set is_archived = true where id = $1", world.lab["id"])
    assert (await web.get(f"/en/labs/{world.slug}")).status_code == 404


async def test_slot_page_shows_seats_left_and_the_way_to_book(
    web: AsyncTestClient[Litestar], client: AsyncTestClient[Litestar], world: World
) -> None:
    starts = local(4, 11)
    slot = await world.publish(client, starts, capacity=20)
    await world.book(client, slot["id"], 7)
    for lang in LANGS:
        page = await web.get(f"/{lang}/slots/{slot['id']}")
        assert page.status_code == 200
        assert f'<html lang="{lang}">' in page.text
        assert TOUR[lang] in page.text
        assert NAME[lang] in page.text
        assert f'href="/{lang}/slots/{slot["id"]}/book"' in page.text
    english = text_of((await web.get(f"/en/slots/{slot['id']}")).text)
    assert "13 seats left of 20" in english
    assert "11:00–13:00" in english
    assert starts.strftime("%A") in english
    russian = text_of((await web.get(f"/ru/slots/{slot['id']}")).text)
    assert "Осталось 13 мест из 20" in russian
    # the anonymous visitor is told that booking starts with signing in
    assert "Сначала нужно будет войти." in russian


async def test_pages_go_by_the_apps_clock(
    client: AsyncTestClient[Litestar], settings: Settings, world: World
) -> None:
    """Ten days on, a session four days from today is over: no way to book it, and the calendar
    opens on the week that holds the clock's today."""
    slot = await world.publish(client, local(4, 11), capacity=20)
    later = datetime.now(UTC) + timedelta(days=10)
    async with browser_for(settings, clock=lambda: later) as web:
        page = await web.get(f"/en/slots/{slot['id']}")
        assert page.status_code == 200
        assert f'href="/en/slots/{slot["id"]}/book"' not in page.text
        calendar = await web.get(f"/en/labs/{world.slug}/calendar")
        today = later.astimezone(ALMATY).date()
        monday = today - timedelta(days=today.isoweekday() - 1)
        assert f'id="d-{monday.isoformat()}"' in calendar.text
    async with browser_for(settings) as web:
        page = await web.get(f"/en/slots/{slot['id']}")
        assert f'href="/en/slots/{slot["id"]}/book"' in page.text


async def test_cancelled_and_full_slots_say_so(
    web: AsyncTestClient[Litestar], client: AsyncTestClient[Litestar], world: World
) -> None:
    full = await world.publish(client, local(5), capacity=5)
    await world.book(client, full["id"], 5)
    page = text_of((await web.get(f"/en/slots/{full['id']}")).text)
    assert "Full" in page
    assert "Join the waiting list" in page

    cancelled = await world.publish(client, local(6))
    reply = await client.post(
        f"/api/v1/slots/{cancelled['id']}/cancel", json={}, headers=world.manager.headers
    )
    assert reply.status_code == 200
    page_html = (await web.get(f"/en/slots/{cancelled['id']}")).text
    assert "This session is cancelled." in page_html
    assert f"/slots/{cancelled['id']}/book" not in page_html


async def test_private_slot_is_hidden_from_anonymous_visitors(
    web: AsyncTestClient[Litestar], client: AsyncTestClient[Litestar], pool: asyncpg.Pool, world: World
) -> None:
    organization = await pool.fetchval(
        "select slug from organizations where id = $1", world.director.organization_id
    )
    private = await world.publish(
        client, local(2), visibility="private", organization=organization, title={"en": "Closed training"}
    )
    week = iso_week(local(2).date())
    assert (await web.get(f"/en/slots/{private['id']}")).status_code == 404
    calendar = await web.get(f"/en/labs/{world.slug}/calendar?week={week}")
    assert "Closed training" not in calendar.text
    assert "Closed training" not in (await web.get(f"/en/labs/{world.slug}")).text

    await sign_in(web, pool, world.director)
    assert (await web.get(f"/en/slots/{private['id']}")).status_code == 200
    calendar = await web.get(f"/en/labs/{world.slug}/calendar?week={week}")
    assert "Closed training" in calendar.text


async def test_calendar_shows_a_week_and_moves_between_weeks(
    web: AsyncTestClient[Litestar], client: AsyncTestClient[Litestar], world: World
) -> None:
    next_week_day = local(7, 14)
    slot = await world.publish(client, next_week_day, capacity=12)
    await world.book(client, slot["id"], 4)
    closure = local(7, 18)
    reply = await client.post(
        "/api/v1/slots",
        json={
            "lab": world.slug,
            "kind": "closure",
            "title": {"en": "Floor repairs", "ru": "Ремонт пола"},
            "starts_at": closure.isoformat(),
            "ends_at": (closure + timedelta(hours=4)).isoformat(),
            "capacity": 0,
            "outside_hours": True,
        },
        headers=world.manager.headers,
    )
    assert reply.status_code == 201, reply.text

    today = datetime.now(ALMATY).date()
    this_week = await web.get(f"/en/labs/{world.slug}/calendar")
    assert this_week.status_code == 200
    monday = today - timedelta(days=today.isoweekday() - 1)
    assert f'id="d-{monday.isoformat()}"' in this_week.text
    assert '<span class="badge">today</span>' in this_week.text
    found = re.search(r'href="\?week=(\d{4}-W\d{2})" rel="next"', this_week.text)
    assert found, "no link to the next week"
    assert found.group(1) == iso_week(monday + timedelta(days=7))

    following = await web.get(f"/ru/labs/{world.slug}/calendar?week={found.group(1)}")
    assert following.status_code == 200
    shown = text_of(following.text)
    # a week from today always falls in next week
    assert "Осталось 8 мест из 12" in shown
    assert TOUR["ru"] in shown
    assert f'href="/ru/slots/{slot["id"]}"' in following.text
    assert f'href="?week={iso_week(monday)}" rel="prev"' in following.text

    week = await web.get(f"/ru/labs/{world.slug}/calendar?week={iso_week(next_week_day.date())}")
    shown = text_of(week.text)
    assert "Осталось 8 мест из 12" in shown
    assert "Ремонт пола" in shown
    assert "Закрыто" in shown

    for bad in ("2027-W99", "last-week", "1999-W10"):
        assert (await web.get(f"/en/labs/{world.slug}/calendar?week={bad}")).status_code == 404


async def test_seats_for_a_group_filter_sessions_in_pages(
    web: AsyncTestClient[Litestar], client: AsyncTestClient[Litestar], world: World
) -> None:
    roomy = await world.publish(client, local(3, 9), capacity=30, title={"en": "Roomy tour"})
    small = await world.publish(client, local(3, 12), capacity=30, title={"en": "Nearly full tour"})
    await world.book(client, small["id"], 25)
    week = iso_week(local(3).date())

    everything = await web.get(f"/en/labs/{world.slug}/calendar?week={week}")
    assert "Roomy tour" in everything.text
    assert "Nearly full tour" in everything.text
    for url in (
        f"/en/labs/{world.slug}/calendar?week={week}&min_seats=10",
        f"/en/labs/{world.slug}?min_seats=10",
    ):
        page = await web.get(url)
        assert page.status_code == 200
        assert f'href="/en/slots/{roomy["id"]}"' in page.text
        assert "Nearly full tour" not in page.text
        assert "Showing sessions with at least 10 seats left." in page.text
        assert 'name="min_seats"' in page.text
        assert 'value="10"' in page.text

    for bad in ("lots", "0", "²"):
        wrong = await web.get(f"/en/labs/{world.slug}", params={"min_seats": bad})
        assert wrong.status_code == 200
        assert "Enter the size of your group: a whole number from 1." in wrong.text
        assert 'aria-invalid="true"' in wrong.text
        # the filter is not applied: every session is still listed
        assert "Nearly full tour" in wrong.text


async def test_series_page_tells_the_rule_and_each_session(
    web: AsyncTestClient[Litestar], client: AsyncTestClient[Litestar], world: World
) -> None:
    start = local(9, 15)
    created = await client.post(
        "/api/v1/series",
        json={
            "lab": world.slug,
            "kind": "training",
            "title": {"en": "TIG practice", "ru": "Практика TIG"},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=3)).isoformat(),
            "capacity": 12,
            "recurrence": {"freq": "weekly", "count": 4},
            "outside_hours": True,
        },
        headers=world.manager.headers,
    )
    assert created.status_code == 201, created.text
    series = created.json()["series"]
    occurrences = series["occurrences"]
    cancel = await client.post(
        f"/api/v1/slots/{occurrences[1]['id']}/cancel", json={}, headers=world.manager.headers
    )
    assert cancel.status_code == 200

    page = await web.get(f"/en/series/{series['id']}")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert f"Every week: {start.strftime('%A')}, 15:00–18:00, 4 sessions" in shown
    assert shown.count("12 seats left of 12") == 3
    assert "Cancelled" in shown
    assert f'href="/en/series/{series["id"]}/book"' in page.text
    for occurrence in occurrences:
        assert f'href="/en/slots/{occurrence["id"]}"' in page.text

    russian = text_of((await web.get(f"/ru/series/{series['id']}")).text)
    assert "Практика TIG" in russian
    assert "Каждую неделю" in russian
    assert "4 занятия" in russian
    kazakh = await web.get(f"/kk/series/{series['id']}")
    assert '<span lang="ru">Практика TIG</span>' in kazakh.text

    slot_page = await web.get(f"/en/slots/{occurrences[0]['id']}")
    assert f'href="/en/series/{series["id"]}"' in slot_page.text


async def test_subscribe_block_hands_out_the_feed_in_the_page_language(
    web: AsyncTestClient[Litestar], world: World
) -> None:
    for lang in LANGS:
        page = (await web.get(f"/{lang}/labs/{world.slug}")).text
        feed = f"/feeds/labs/{world.slug}.ics?lang={lang}"
        assert re.search(rf'<input id="subscribe-url"[^>]* value="https?://[^"]+{re.escape(feed)}"', page)
        assert re.search(rf'href="webcal://[^"]+{re.escape(feed)}"', page)
        assert '<label for="subscribe-url">' in page
        assert 'src="data:image/svg+xml' in page
        equipment_feed = f"/feeds/labs/{world.slug}/equipment/{world.equipment['slug']}.ics?lang={lang}"
        assert equipment_feed in page
        for app in ("Google Calendar", "Outlook", "Thunderbird", "iPhone"):
            assert app in page


async def test_subscribed_address_gives_a_feed_in_that_language(
    web: AsyncTestClient[Litestar], client: AsyncTestClient[Litestar], world: World
) -> None:
    await world.publish(client, local(3))
    for lang in LANGS:
        page = (await web.get(f"/{lang}/labs/{world.slug}")).text
        found = re.search(r'<input id="subscribe-url"[^>]* value="https?://[^/]+([^"]+)"', page)
        assert found
        feed = await client.get(unescape(found.group(1)))
        assert feed.status_code == 200
        assert f"SUMMARY:{TOUR[lang]}" in feed.text
