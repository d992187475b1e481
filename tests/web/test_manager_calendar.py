"""A lab manager's calendars: the week, the month and the station grid of the labs they run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
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
COLLEGE = {"kk": "Тау-кен колледжі", "ru": "Горный колледж", "en": "Mining College"}
AWAITING = {"kk": "жауабыңызды күтуде", "ru": "ждёт вашего ответа", "en": "awaiting your answer"}
MAINTENANCE = {"kk": "Техникалық қызмет", "ru": "Техобслуживание", "en": "Maintenance"}
PEOPLE = {"kk": "7 адам", "ru": "7 человек", "en": "7 people"}
GROUPS = {"kk": "1 топ", "ru": "1 группа", "en": "1 group"}

Client = AsyncTestClient[Litestar]


@dataclass
class Lab:
    row: asyncpg.Record
    equipment: asyncpg.Record
    manager: Person
    director: Person
    day: date

    @property
    def slug(self) -> str:
        slug: str = self.row["slug"]
        return slug

    @property
    def week(self) -> str:
        year, week, _ = self.day.isocalendar()
        return f"{year}-W{week:02d}"

    def at(self, hour: int, days: int = 0) -> str:
        return datetime.combine(self.day + timedelta(days=days), time(hour), tzinfo=ALMATY).isoformat()


@pytest.fixture
async def lab(make: Factory) -> Lab:
    row = await make.lab(capacity=40)
    await make.opening_hours(lab_id=row["id"], opens="08:00", closes="20:00")
    equipment = await make.equipment(
        lab_id=row["id"], units=6, name={"en": "TIG station", "kk": "TIG бекеті"}
    )
    manager = await make.person("lab_manager", organization_id=row["organization_id"], lab_ids=(row["id"],))
    college = await make.organization(kind="college", name=COLLEGE)
    director = await make.person("director", organization_id=college["id"])
    # The Wednesday of the week after next: a later week than today's, whatever today is, and the day
    # after it in the same week (nine days on from a Friday was a Sunday, its next day a week later).
    today = datetime.now(ALMATY).date()
    day = today + timedelta(days=7 - today.weekday() + 2, weeks=1)
    return Lab(row, equipment, manager, director, day)


async def _publish(client: Client, lab: Lab, **body: Any) -> dict[str, Any]:
    reply = await client.post(
        "/api/v1/slots",
        json={"lab": lab.slug, "title": {"en": "TIG practice"}, **body},
        headers=lab.manager.headers,
    )
    assert reply.status_code == 201, reply.text
    slot: dict[str, Any] = reply.json()
    return slot


async def _training(client: Client, lab: Lab, stations: int = 2, hour: int = 10) -> dict[str, Any]:
    return await _publish(
        client,
        lab,
        kind="training",
        starts_at=lab.at(hour),
        ends_at=lab.at(hour + 2),
        capacity=12,
        requires_approval=True,
        equipment=[{"equipment": lab.equipment["slug"], "units": stations}],
    )


async def _book(client: Client, lab: Lab, slot_id: str, headcount: int) -> None:
    reply = await client.post(
        f"/api/v1/slots/{slot_id}/bookings",
        json={"headcount": headcount, "contact_name": "Aigerim", "language": "kk"},
        headers=lab.director.headers,
    )
    assert reply.status_code == 201, reply.text


@pytest.mark.parametrize("lang", LANGS)
async def test_the_week_shows_sessions_with_their_groups_and_the_maintenance(
    settings: Settings, client: Client, pool: asyncpg.Pool, lab: Lab, lang: str
) -> None:
    training = await _training(client, lab)
    await _book(client, lab, training["id"], 7)
    maintenance = await _publish(
        client,
        lab,
        kind="maintenance",
        title={"en": "Gas line check"},
        starts_at=lab.at(8, 1),
        ends_at=lab.at(12, 1),
    )
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        page = await web.get(f"/{lang}/manage/labs/{lab.slug}/calendar?week={lab.week}")
    assert page.status_code == 200, page.text
    assert f'<html lang="{lang}"' in page.text
    text = page.text
    assert f'href="/{lang}/manage/slots/{training["id"]}"' in text
    assert f'href="/{lang}/manage/slots/{maintenance["id"]}"' in text
    assert COLLEGE[lang] in text
    assert PEOPLE[lang] in text
    assert AWAITING[lang] in text
    assert MAINTENANCE[lang] in text
    # the day of the training lists it, and the next day lists the maintenance
    day = text.split(f'id="d-{lab.day.isoformat()}"')[1].split('<li class="day')[0]
    assert training["id"] in day
    assert maintenance["id"] not in day
    # the weeks around it are a link away
    previous_monday = lab.day - timedelta(days=lab.day.isoweekday() - 1 + 7)
    year, week, _ = previous_monday.isocalendar()
    assert f'href="?week={year}-W{week:02d}" rel="prev"' in text
    assert 'rel="next"' in text


@pytest.mark.parametrize("lang", LANGS)
async def test_the_month_lists_each_day_and_counts_the_groups(
    settings: Settings, client: Client, pool: asyncpg.Pool, lab: Lab, lang: str
) -> None:
    training = await _training(client, lab)
    await _book(client, lab, training["id"], 7)
    month = f"{lab.day.year}-{lab.day.month:02d}"
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang=lang)
        page = await web.get(f"/{lang}/manage/labs/{lab.slug}/calendar/month?month={month}")
        elsewhere = await web.get(f"/{lang}/manage/labs/{lab.slug}/calendar/month?month=2001-01")
        bad = await web.get(f"/{lang}/manage/labs/{lab.slug}/calendar/month?month=2027-13")
    assert page.status_code == 200, page.text
    assert f'href="/{lang}/manage/slots/{training["id"]}"' in page.text
    assert GROUPS[lang] in page.text
    assert PEOPLE[lang] in page.text
    assert 'rel="prev"' in page.text
    assert 'rel="next"' in page.text
    assert elsewhere.status_code == 200
    assert training["id"] not in elsewhere.text
    assert bad.status_code == 404


def _station_rows(html: str, equipment_slug: str) -> dict[int, str]:
    """The station grid of one piece of equipment: each station's row of cells, by station number."""
    section = html.split(f'id="eq-{equipment_slug}"')[1].split("</table>")[0]
    rows = {}
    for row in section.split("<tr>")[1:]:
        found = re.search(r'<th scope="row">(\d+)', row)
        if found:
            rows[int(found.group(1))] = row
    return rows


async def test_the_station_grid_shows_which_session_holds_which_station(
    settings: Settings, client: Client, pool: asyncpg.Pool, lab: Lab
) -> None:
    morning = await _training(client, lab, stations=2, hour=9)
    afternoon = await _training(client, lab, stations=4, hour=14)
    held = {
        slot["id"]: {u["unit"] for u in slot["units"] if u["equipment"] == lab.equipment["slug"]}
        for slot in (morning, afternoon)
    }
    assert len(held[morning["id"]]) == 2
    assert len(held[afternoon["id"]]) == 4
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="en")
        by_day = await web.get(f"/en/manage/labs/{lab.slug}/stations?day={lab.day.isoformat()}")
        by_week = await web.get(f"/en/manage/labs/{lab.slug}/stations?week={lab.week}")
    for page in (by_day, by_week):
        assert page.status_code == 200, page.text
        rows = _station_rows(page.text, lab.equipment["slug"])
        assert sorted(rows) == [1, 2, 3, 4, 5, 6]
        for number, row in rows.items():
            for slot_id, stations in held.items():
                assert (slot_id in row) == (number in stations), (number, slot_id)
    # hour by hour, the morning session spans its two hours in one cell
    day_rows = _station_rows(by_day.text, lab.equipment["slug"])
    first = min(held[morning["id"]])
    assert re.search(r'colspan="2">\s*<a href="/en/manage/slots/' + morning["id"], day_rows[first])
    assert "09:00–11:00" in day_rows[first]
    # a phone reads the same as a list, session by session
    listed = by_day.text.split('class="held-list"')[1].split("</ul>")[0]
    for slot_id, stations in held.items():
        assert f"{slot_id}" in listed
        assert "stations " + ", ".join(map(str, sorted(stations))) in listed


async def test_a_cancelled_session_frees_its_stations_on_the_grid_and_shows_as_cancelled(
    settings: Settings, client: Client, pool: asyncpg.Pool, lab: Lab
) -> None:
    training = await _training(client, lab)
    cancelled = await client.post(
        f"/api/v1/slots/{training['id']}/cancel", json={}, headers=lab.manager.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="ru")
        grid = await web.get(f"/ru/manage/labs/{lab.slug}/stations?week={lab.week}")
        week = await web.get(f"/ru/manage/labs/{lab.slug}/calendar?week={lab.week}")
    assert training["id"] not in grid.text
    assert training["id"] in week.text
    assert "Отменена" in week.text


PAGES = ("calendar", "calendar/month", "stations")


@pytest.mark.parametrize("path", PAGES)
async def test_a_manager_gets_403_for_another_labs_calendars(
    settings: Settings, make: Factory, pool: asyncpg.Pool, lab: Lab, path: str
) -> None:
    other = await make.lab()
    other_manager = await make.person(
        "lab_manager", organization_id=other["organization_id"], lab_ids=(other["id"],)
    )
    async with browser_for(settings) as web:
        await sign_in(web, pool, other_manager, lang="kk")
        theirs = await web.get(f"/kk/manage/labs/{other['slug']}/{path}")
        refused = await web.get(f"/kk/manage/labs/{lab.slug}/{path}")
        unknown = await web.get(f"/kk/manage/labs/no-such-lab/{path}")
    assert theirs.status_code == 200
    assert refused.status_code == 403
    assert unknown.status_code == 404


@pytest.mark.parametrize("role", ["director", "instructor"])
@pytest.mark.parametrize("path", PAGES)
async def test_directors_and_instructors_get_403_on_the_calendars(
    settings: Settings, make: Factory, pool: asyncpg.Pool, lab: Lab, role: str, path: str
) -> None:
    someone = await make.person(
        role, organization_id=lab.row["organization_id"] if role == "instructor" else None
    )
    async with browser_for(settings) as web:
        await sign_in(web, pool, someone, lang="en")
        page = await web.get(f"/en/manage/labs/{lab.slug}/{path}")
    assert page.status_code == 403


async def test_an_admin_sees_every_lab_and_a_bad_week_is_not_found(
    settings: Settings, make: Factory, client: Client, pool: asyncpg.Pool, lab: Lab
) -> None:
    training = await _training(client, lab)
    admin = await make.person("admin")
    async with browser_for(settings) as web:
        await sign_in(web, pool, admin, lang="en")
        page = await web.get(f"/en/manage/labs/{lab.slug}/calendar?week={lab.week}")
        bad_week = await web.get(f"/en/manage/labs/{lab.slug}/calendar?week=2027-W60")
        bad_day = await web.get(f"/en/manage/labs/{lab.slug}/stations?day=2027-02-30")
    assert page.status_code == 200
    assert training["id"] in page.text
    assert bad_week.status_code == 404
    assert bad_day.status_code == 404


async def test_the_desk_links_to_each_labs_calendars_and_settings(
    settings: Settings, pool: asyncpg.Pool, lab: Lab
) -> None:
    async with browser_for(settings) as web:
        await sign_in(web, pool, lab.manager, lang="kk")
        desk = await web.get("/kk/manage/")
    for path in ("calendar", "calendar/month", "stations", "settings/"):
        assert f'href="/kk/manage/labs/{lab.slug}/{path}"' in desk.text
