"""The lab manager's desk: the pending queue answered one by one or in bulk, and the week ahead."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.settings import Settings
from tests.factories import Factory, Person
from tests.web.conftest import browser_for, csrf_in, sign_in, submit

LANGS = ("kk", "ru", "en")
DESK = {"kk": "Зертхананы басқару", "ru": "Управление лабораторией", "en": "Lab desk"}
CONFIRMED = {"kk": "2 бронь расталды.", "ru": "2 брони подтверждены.", "en": "2 bookings are confirmed."}

Client = AsyncTestClient[Litestar]


@dataclass
class Desk:
    lab: asyncpg.Record
    manager: Person
    director: Person
    slot_id: str


async def _pending_slot(client: Client, lab_slug: str, manager: Person, *, days: int) -> str:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    reply = await client.post(
        "/api/v1/slots",
        json={
            "lab": lab_slug,
            "kind": "training",
            "title": {"en": "TIG practice", "kk": "TIG жаттығуы", "ru": "Практика TIG"},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "capacity": 20,
            "requires_approval": True,
            "outside_hours": True,
        },
        headers=manager.headers,
    )
    assert reply.status_code == 201, reply.text
    slot_id: str = reply.json()["id"]
    return slot_id


async def _book(client: Client, slot_id: str, director: Person, headcount: int) -> str:
    reply = await client.post(
        f"/api/v1/slots/{slot_id}/bookings",
        json={"headcount": headcount, "contact_name": "Aigerim", "language": "ru"},
        headers=director.headers,
    )
    assert reply.status_code in (200, 201), reply.text
    assert reply.json()["status"] == "pending"
    booking_id: str = reply.json()["id"]
    return booking_id


@pytest.fixture
async def desk(make: Factory, client: Client) -> Desk:
    lab = await make.lab(capacity=40)
    manager = await make.person("lab_manager", organization_id=lab["organization_id"], lab_ids=(lab["id"],))
    college = await make.organization(kind="college", name={"en": "Mining College", "kk": "Тау-кен колледжі"})
    director = await make.person("director", organization_id=college["id"])
    slot_id = await _pending_slot(client, lab["slug"], manager, days=2)
    return Desk(lab, manager, director, slot_id)


async def _status(pool: asyncpg.Pool, booking_id: str) -> tuple[str, str | None]:
    row = await pool.fetchrow("select status, status_message from bookings where id = $1", booking_id)
    return row["status"], row["status_message"]


@pytest.mark.parametrize("lang", LANGS)
async def test_a_manager_answers_the_queue_one_by_one_and_in_bulk(
    settings: Settings, client: Client, pool: asyncpg.Pool, desk: Desk, lang: str
) -> None:
    ids = [await _book(client, desk.slot_id, desk.director, n) for n in (3, 4, 5, 6)]
    wish = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=12)
    asked = await client.post(
        "/api/v1/visit-requests",
        json={
            "lab": desk.lab["slug"],
            "kind": "tour",
            "windows": [{"starts_at": wish.isoformat(), "ends_at": (wish + timedelta(hours=2)).isoformat()}],
            "headcount": 18,
            "language": "kk",
            "purpose": "Оқушыларға дәнекерлеуді көрсету",
            "contact_name": "Aigerim",
        },
        headers=desk.director.headers,
    )
    assert asked.status_code == 201, asked.text
    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang=lang)
        page = await web.get(f"/{lang}/manage/")
        assert page.status_code == 200, page.text
        assert f'<html lang="{lang}"' in page.text
        assert DESK[lang] in page.text
        assert all(f'value="{i}"' in page.text for i in ids)
        assert "Тау-кен колледжі" in page.text or "Mining College" in page.text
        assert "Оқушыларға дәнекерлеуді көрсету" in page.text  # the visit request waits too
        assert f'datetime="{wish.isoformat()}"' in page.text

        one = await submit(web, f"/{lang}/manage/", f"/{lang}/manage/bookings", {"confirm_one": ids[0]})
        assert one.status_code == 303, one.text
        assert await _status(pool, ids[0]) == ("confirmed", None)

        declined = await submit(
            web,
            f"/{lang}/manage/",
            f"/{lang}/manage/bookings",
            {"decline_one": ids[1], "message": "Бұл күні станциялар жөнделеді"},
        )
        assert declined.status_code == 303
        assert await _status(pool, ids[1]) == ("declined", "Бұл күні станциялар жөнделеді")

        page = await web.get(f"/{lang}/manage/")
        bulk = await web.post(
            f"/{lang}/manage/bookings",
            data={"booking": [ids[2], ids[3]], "action": "confirm", "_csrf": csrf_in(page.text)},
        )
        assert bulk.status_code == 303
        assert bulk.headers["location"] == f"/{lang}/manage/?confirmed=2"
        assert [await _status(pool, i) for i in ids[2:]] == [("confirmed", None)] * 2
        after = await web.get(bulk.headers["location"])
        assert CONFIRMED[lang] in after.text
        # The week ahead counts the confirmed groups (3 + 5 + 6), not the declined one
        assert re.search(r'class="expected">14\b', after.text), after.text


async def test_nothing_ticked_is_said_in_words_and_changes_nothing(
    settings: Settings, client: Client, pool: asyncpg.Pool, desk: Desk
) -> None:
    booking = await _book(client, desk.slot_id, desk.director, 2)
    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang="ru")
        reply = await submit(web, "/ru/manage/", "/ru/manage/bookings", {"action": "decline", "message": "x"})
    assert reply.status_code == 200
    assert "Отметьте хотя бы одну бронь" in reply.text
    assert ">x</textarea>" in reply.text  # what was typed stays
    assert await _status(pool, booking) == ("pending", None)


async def test_a_manager_sees_and_answers_only_their_own_labs(
    settings: Settings, make: Factory, client: Client, pool: asyncpg.Pool, desk: Desk
) -> None:
    theirs = await _book(client, desk.slot_id, desk.director, 2)
    other_lab = await make.lab()
    other_manager = await make.person(
        "lab_manager", organization_id=other_lab["organization_id"], lab_ids=(other_lab["id"],)
    )
    async with browser_for(settings) as web:
        await sign_in(web, pool, other_manager, lang="en")
        page = await web.get("/en/manage/")
        assert page.status_code == 200
        assert theirs not in page.text
        answer = await submit(web, "/en/manage/", "/en/manage/bookings", {"confirm_one": theirs})
    assert answer.status_code == 200
    assert await _status(pool, theirs) == ("pending", None)


@pytest.mark.parametrize("role", ["director", "instructor"])
async def test_the_desk_is_only_for_managers_and_admins(
    settings: Settings, make: Factory, pool: asyncpg.Pool, role: str
) -> None:
    someone = await make.person(role)
    async with browser_for(settings) as web:
        await sign_in(web, pool, someone, lang="kk")
        page = await web.get("/kk/manage/")
        assert page.status_code == 403
        assert "Зертхананы басқару" not in (await web.get("/kk/")).text  # no link to it either
        answer = await web.post("/kk/manage/bookings", data={"confirm_one": "x", "_csrf": "forged"})
        assert answer.status_code == 403


async def test_signed_out_people_are_sent_to_sign_in(web: Any) -> None:
    page = await web.get("/en/manage/")
    assert page.status_code in (302, 303)
    assert page.headers["location"].startswith("/en/login")


PUBLISHED_TITLE = {"kk": "TIG жаттығуы", "ru": "Практика TIG", "en": "TIG practice"}


def _session_form(lang: str, lab_slug: str, station: str, day: str, **fields: str) -> dict[str, str]:
    return {
        "lab": lab_slug,
        "kind": "training",
        f"title.{lang}": PUBLISHED_TITLE[lang],
        "date": day,
        "starts_at": "10:00",
        "ends_at": "12:00",
        "capacity": "4",
        f"units.{station}": "2",
        "outside_hours": "1",
        **fields,
    }


@pytest.mark.parametrize("lang", LANGS)
async def test_a_manager_publishes_a_training_on_two_stations(
    settings: Settings, make: Factory, pool: asyncpg.Pool, desk: Desk, lang: str
) -> None:
    tig = await make.equipment(lab_id=desk.lab["id"], units=6, name={"en": "Argon TIG station"})
    instructor = await make.person(
        "instructor", organization_id=desk.lab["organization_id"], full_name="Yerlan Tutor"
    )
    day = (datetime.now(UTC) + timedelta(days=9)).date().isoformat()
    new_form = f"/{lang}/manage/slots/new?lab={desk.lab['slug']}"
    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang=lang)
        form = await web.get(new_form)
        assert form.status_code == 200, form.text
        assert f'name="units.{tig["slug"]}"' in form.text
        assert "Yerlan Tutor" in form.text

        body = _session_form(lang, desk.lab["slug"], tig["slug"], day, instructor_id=str(instructor.id))
        published = await submit(web, new_form, f"/{lang}/manage/slots/", body)
        assert published.status_code == 303, published.text
        slot_id = published.headers["location"].rsplit("/", 1)[-1]
        slot = await pool.fetchrow("select * from slots where id = $1", slot_id)
        assert slot["title"] == {lang: PUBLISHED_TITLE[lang]}
        assert slot["instructor_id"] == instructor.id
        # 10:00 in the lab's zone, whatever the server's zone
        local = slot["starts_at"].astimezone(ZoneInfo(desk.lab["timezone"]))
        assert (local.date().isoformat(), local.hour) == (day, 10)
        held = await pool.fetchval("select count(*) from slot_units where slot_id = $1", slot["id"])
        assert held == 2

        # The same hour again on 5 stations: only 4 are free, so it is refused in words, nothing written
        again = await submit(web, new_form, f"/{lang}/manage/slots/", {**body, f"units.{tig['slug']}": "5"})
        assert again.status_code == 200
        assert 'class="problem"' in again.text
        assert 'value="5"' in again.text  # what was typed stays
        assert await pool.fetchval("select count(*) from slots where lab_id = $1", desk.lab["id"]) == 2


async def test_a_session_form_names_every_field_at_fault(
    settings: Settings, pool: asyncpg.Pool, desk: Desk
) -> None:
    new_form = f"/kk/manage/slots/new?lab={desk.lab['slug']}"
    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang="kk")
        reply = await submit(
            web,
            new_form,
            "/kk/manage/slots/",
            {
                "lab": desk.lab["slug"],
                "kind": "training",
                "date": "2030-01-01",
                "starts_at": "12:00",
                "ends_at": "10:00",
            },
        )
    assert reply.status_code == 200
    assert "Сабақ атауын кемінде бір тілде жазыңыз." in reply.text
    assert "The end must be after the start." not in reply.text
    assert 'id="f-when-error"' in reply.text
    assert 'value="12:00"' in reply.text


async def test_a_manager_cannot_publish_in_another_lab(
    settings: Settings, make: Factory, pool: asyncpg.Pool, desk: Desk
) -> None:
    other_lab = await make.lab()
    day = (datetime.now(UTC) + timedelta(days=9)).date().isoformat()
    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang="en")
        reply = await submit(
            web,
            "/en/manage/slots/new",
            "/en/manage/slots/",
            {
                "lab": other_lab["slug"],
                "kind": "tour",
                "title.en": "Sneaky",
                "date": day,
                "starts_at": "10:00",
                "ends_at": "11:00",
            },
        )
    assert reply.status_code == 200
    assert "Choose one of your labs." in reply.text
    assert await pool.fetchval("select count(*) from slots where lab_id = $1", other_lab["id"]) == 0


async def test_a_manager_declines_a_visit_request_with_a_message(
    settings: Settings, client: Client, pool: asyncpg.Pool, desk: Desk
) -> None:
    wish = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=15)
    asked = await client.post(
        "/api/v1/visit-requests",
        json={
            "lab": desk.lab["slug"],
            "kind": "tour",
            "windows": [{"starts_at": wish.isoformat(), "ends_at": (wish + timedelta(hours=1)).isoformat()}],
            "headcount": 12,
            "language": "ru",
            "purpose": "Экскурсия для 9 класса",
            "contact_name": "Aigerim",
        },
        headers=desk.director.headers,
    )
    request_id = asked.json()["id"]
    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang="ru")
        reply = await submit(
            web,
            "/ru/manage/",
            f"/ru/manage/visit-requests/{request_id}/decline",
            {"message": "В эти дни лаборатория на ремонте"},
        )
        assert reply.status_code == 303
        assert "Заявка на визит отклонена." in (await web.get(reply.headers["location"])).text
    row = await pool.fetchrow("select status, response_message from visit_requests where id = $1", request_id)
    assert (row["status"], row["response_message"]) == ("declined", "В эти дни лаборатория на ремонте")


async def test_the_desk_shows_maintenance_and_closures_of_the_week(
    settings: Settings, make: Factory, pool: asyncpg.Pool, desk: Desk
) -> None:
    """Downtime in the manager's labs over the next 7 days is on the desk; later or elsewhere is not."""
    soon = datetime.now(UTC).replace(microsecond=0)
    service = await make.slot(
        desk.lab, soon + timedelta(days=3), kind="maintenance", capacity=0, title={"en": "Gas lines checked"}
    )
    closed = await make.slot(desk.lab, soon + timedelta(days=5), kind="closure", capacity=0, title={})
    later = await make.slot(
        desk.lab, soon + timedelta(days=9), kind="maintenance", capacity=0, title={"en": "Later service"}
    )
    elsewhere = await make.slot(
        await make.lab(), soon + timedelta(days=2), kind="closure", capacity=0, title={"en": "Other lab"}
    )
    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang="en")
        page = (await web.get("/en/manage/")).text
    section = page.split('id="downtime"', 1)[1].split("</section>", 1)[0]
    assert f'href="/en/manage/slots/{service["id"]}"' in section
    assert "Gas lines checked" in section
    assert f'href="/en/manage/slots/{closed["id"]}"' in section
    assert section.index(str(service["id"])) < section.index(str(closed["id"]))
    assert str(later["id"]) not in section
    assert str(elsewhere["id"]) not in section


NO_SHOWS = {
    "kk": "2 реттің 1 келмеді (50%)",
    "ru": "Не пришли 1 раз из 2 (50%)",
    "en": "Did not come 1 of 2 times (50%)",
}


@pytest.mark.parametrize("lang", LANGS)
async def test_the_queue_shows_how_often_the_asking_organization_did_not_come(
    lang: str, desk: Desk, make: Factory, pool: asyncpg.Pool, settings: Settings, client: Client
) -> None:
    # two earlier visits of the college to this lab: one came, one did not
    for outcome, hours in (("arrived", -30), ("no_show", -54)):
        past = await make.slot(desk.lab, datetime.now(UTC) + timedelta(hours=hours))
        booking = await make.booking(past, desk.director.organization_id, headcount=3)
        marked = await client.put(
            f"/api/v1/bookings/{booking['id']}/attendance",
            json={"outcome": outcome, **({"headcount": 3} if outcome == "arrived" else {})},
            headers=desk.manager.headers,
        )
        assert marked.status_code == 200, marked.text
    await _book(client, desk.slot_id, desk.director, 4)
    # a college that always came shows nothing
    other = await make.person("director", organization_id=(await make.organization(kind="school"))["id"])
    await _book(client, desk.slot_id, other, 2)
    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang=lang)
        page = await web.get(f"/{lang}/manage/")
    assert page.status_code == 200
    assert NO_SHOWS[lang] in page.text
    assert page.text.count(NO_SHOWS[lang]) == 1
