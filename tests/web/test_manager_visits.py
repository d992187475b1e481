"""Visit requests in the lab desk: each window against the lab's calendar, accept on stations,
decline with a message, propose another time; and the director answering that proposal."""

from __future__ import annotations

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
from tests.web.conftest import browser_for, sign_in, submit

Client = AsyncTestClient[Litestar]
LANGS = ("kk", "ru", "en")
TIMES = {"kk": "Ұсынылған уақыттар", "ru": "Предложенное время", "en": "Times they suggest"}
EXPECTED = {
    "kk": "Бұл уақытта келушілер саны: {num}, зертхана сыйымдылығы — 40",
    "ru": "В это время уже ждут посетителей: {num} из 40",
    "en": "Visitors already expected then: {num} of 40",
}
TOO_FEW = {
    "kk": "Топ таңдалған станцияларға сыймайды: 9 оқушы бар, ал 4 станцияда 8 орын ғана.",
    "ru": "Группа не помещается на выбранных станциях: учащихся 9, а мест на 4 станциях — 8.",
    "en": "The group does not fit on the stations chosen: 9 trainees, 8 places on 4 stations.",
}


@dataclass
class Desk:
    lab: asyncpg.Record
    tig: asyncpg.Record
    manager: Person
    director: Person


@pytest.fixture
async def desk(make: Factory) -> Desk:
    lab = await make.lab(capacity=40)
    await make.opening_hours(lab_id=lab["id"], opens="08:00", closes="20:00")
    tig = await make.equipment(lab_id=lab["id"], units=6, seats_per_unit=2, name={"en": "TIG station"})
    manager = await make.person("lab_manager", organization_id=lab["organization_id"], lab_ids=(lab["id"],))
    return Desk(lab=lab, tig=tig, manager=manager, director=await make.person("director"))


def _local(days: int, hour: int, tz: str) -> datetime:
    day = (datetime.now(UTC) + timedelta(days=days)).astimezone(ZoneInfo(tz)).date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(tz))


async def _ask(client: Client, desk: Desk, headcount: int = 8) -> dict[str, Any]:
    tz = desk.lab["timezone"]
    windows = [
        {"starts_at": _local(d, 10, tz).isoformat(), "ends_at": _local(d, 13, tz).isoformat()}
        for d in (20, 22)
    ]
    reply = await client.post(
        "/api/v1/visit-requests",
        json={
            "lab": desk.lab["slug"],
            "kind": "training",
            "windows": windows,
            "headcount": headcount,
            "language": "kk",
            "purpose": "Дәнекерлеу практикасы",
            "contact_name": "Гүлнар Омарова",
        },
        headers=desk.director.headers,
    )
    assert reply.status_code == 201, reply.text
    asked: dict[str, Any] = reply.json()
    return asked


async def _units(pool: asyncpg.Pool, slot_id: Any) -> int:
    count: int = await pool.fetchval(
        "select count(*) from slot_units where slot_id = $1 and is_active", slot_id
    )
    return count


@pytest.mark.parametrize("lang", LANGS)
async def test_the_detail_shows_each_window_against_the_lab_calendar(
    client, pool: asyncpg.Pool, settings: Settings, desk: Desk, lang: str
) -> None:
    asked = await _ask(client, desk)
    tz = desk.lab["timezone"]
    busy = await client.post(
        "/api/v1/slots",
        json={
            "lab": desk.lab["slug"],
            "kind": "tour",
            "title": {"en": "Morning tour", "kk": "Таңғы экскурсия", "ru": "Утренняя экскурсия"},
            "starts_at": _local(20, 11, tz).isoformat(),
            "ends_at": _local(20, 12, tz).isoformat(),
            "capacity": 15,
            "equipment": [{"equipment": desk.tig["slug"], "units": 2}],
        },
        headers=desk.manager.headers,
    )
    assert busy.status_code == 201, busy.text

    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang=lang)
        listed = await web.get(f"/{lang}/manage/visits/")
        page = await web.get(f"/{lang}/manage/visits/{asked['id']}")

    assert listed.status_code == 200
    assert f"/{lang}/manage/visits/{asked['id']}" in listed.text
    assert page.status_code == 200, page.text
    assert TIMES[lang] in page.text
    assert busy.json()["title"][lang] in page.text
    # the first window shares the lab with the tour (15 visitors, 2 stations), the second has it free
    first, second = page.text.split('id="window-2"')
    assert EXPECTED[lang].format(num=15) in first
    assert EXPECTED[lang].format(num=0) in second.split('id="accept"')[0]
    assert "4 / 6" in first.split('id="window-1"')[1]
    assert "6 / 6" in second.split('id="accept"')[0]
    assert 'name="window_number" value="1"' in page.text
    assert 'name="units.' + desk.tig["slug"] + '"' in page.text


async def test_accepting_on_4_stations_through_the_page_holds_them(
    client, pool: asyncpg.Pool, settings: Settings, desk: Desk
) -> None:
    asked = await _ask(client, desk)
    detail = f"/ru/manage/visits/{asked['id']}"

    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang="ru")
        done = await submit(
            web,
            detail,
            f"{detail}/accept",
            {"window_number": "2", f"units.{desk.tig['slug']}": "4", "message": "Ждём вас"},
        )
        assert done.status_code == 303, done.text
        after = await web.get(done.headers["location"])

    row = await pool.fetchrow(
        "select status, slot_id, accepted_window from visit_requests where id = $1", asked["id"]
    )
    assert (row["status"], row["accepted_window"]) == ("accepted", 1)
    assert await _units(pool, row["slot_id"]) == 4
    assert "Визит принят" in after.text


@pytest.mark.parametrize("lang", LANGS)
async def test_a_group_too_big_for_its_stations_re_renders_with_the_numbers_and_the_values(
    client, pool: asyncpg.Pool, settings: Settings, desk: Desk, lang: str
) -> None:
    asked = await _ask(client, desk, headcount=9)
    detail = f"/{lang}/manage/visits/{asked['id']}"

    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang=lang)
        refused = await submit(
            web,
            detail,
            f"{detail}/accept",
            {"window_number": "1", f"units.{desk.tig['slug']}": "4", "title.en": "Practice"},
        )

    assert refused.status_code == 200
    assert TOO_FEW[lang] in refused.text
    assert 'value="Practice"' in refused.text
    assert (
        f'id="accept-units.{desk.tig["slug"]}" name="units.{desk.tig["slug"]}" type="number" value="4"'
        in (refused.text)
    )
    assert 'id="accept-window-1" name="window_number" value="1" checked' in refused.text
    assert await pool.fetchval("select status from visit_requests where id = $1", asked["id"]) == "pending"
    assert await pool.fetchval("select count(*) from slots where lab_id = $1", desk.lab["id"]) == 0


async def test_no_window_chosen_and_a_bad_station_count_are_said_next_to_the_fields(
    client, pool: asyncpg.Pool, settings: Settings, desk: Desk
) -> None:
    asked = await _ask(client, desk)
    detail = f"/kk/manage/visits/{asked['id']}"

    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang="kk")
        refused = await submit(web, detail, f"{detail}/accept", {f"units.{desk.tig['slug']}": "four"})

    assert refused.status_code == 200
    assert "Олар ұсынған уақыттың бірін таңдаңыз." in refused.text
    assert "Станция санын жазыңыз: 0-ден бастап бүтін сан." in refused.text
    assert 'value="four"' in refused.text


async def test_declining_with_a_message_through_the_page(
    client, pool: asyncpg.Pool, settings: Settings, desk: Desk
) -> None:
    asked = await _ask(client, desk)
    detail = f"/en/manage/visits/{asked['id']}"

    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager)
        done = await submit(web, detail, f"{detail}/decline", {"message": "The stations are being repaired"})

    assert done.status_code == 303
    row = await pool.fetchrow(
        "select status, response_message from visit_requests where id = $1", asked["id"]
    )
    assert (row["status"], row["response_message"]) == ("declined", "The stations are being repaired")


async def test_proposing_another_time_and_the_director_accepting_it(
    client, pool: asyncpg.Pool, settings: Settings, desk: Desk
) -> None:
    asked = await _ask(client, desk)
    detail = f"/kk/manage/visits/{asked['id']}"
    day = _local(25, 10, desk.lab["timezone"]).date().isoformat()

    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.manager, lang="kk")
        backwards = await submit(
            web, detail, f"{detail}/propose", {"date": day, "starts_at": "14:00", "ends_at": "11:00"}
        )
        assert backwards.status_code == 200
        assert "Аяқталу уақыты басталу уақытынан кейін болуы керек." in backwards.text
        assert f'value="{day}"' in backwards.text
        done = await submit(
            web,
            detail,
            f"{detail}/propose",
            {
                "date": day,
                "starts_at": "11:00",
                "ends_at": "14:00",
                f"units.{desk.tig['slug']}": "4",
                "message": "Сейсенбі бос емес",
            },
        )
        assert done.status_code == 303, done.text
        shown = await web.get(done.headers["location"])
    assert "Сіз ұсынған уақыт" in shown.text
    assert await pool.fetchval("select status from visit_requests where id = $1", asked["id"]) == "proposed"
    assert await pool.fetchval("select count(*) from slots where lab_id = $1", desk.lab["id"]) == 0

    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.director, lang="kk")
        page = await web.get("/kk/visit-requests")
        assert "Басқа уақыт ұсынылды" in page.text
        answered = await submit(
            web, "/kk/visit-requests", f"/kk/visit-requests/{asked['id']}/proposal", {"answer": "accept"}
        )
        assert answered.status_code == 303, answered.text
        after = await web.get(answered.headers["location"])
        assert "Зертхана ұсынған уақытты қабылдадыңыз. Броныңыз расталды." in after.text
        again = await submit(
            web, "/kk/visit-requests", f"/kk/visit-requests/{asked['id']}/proposal", {"answer": "decline"}
        )
        assert again.status_code == 200
        assert "Мұны енді орындау мүмкін емес" in again.text

    row = await pool.fetchrow(
        "select status, slot_id, booking_id from visit_requests where id = $1", asked["id"]
    )
    assert row["status"] == "accepted"
    assert await _units(pool, row["slot_id"]) == 4
    assert await pool.fetchval("select status from bookings where id = $1", row["booking_id"]) == "confirmed"


async def test_the_director_declining_a_proposal_leaves_no_slot(
    client, pool: asyncpg.Pool, settings: Settings, desk: Desk
) -> None:
    asked = await _ask(client, desk)
    tz = desk.lab["timezone"]
    proposed = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/propose",
        json={"starts_at": _local(26, 10, tz).isoformat(), "ends_at": _local(26, 12, tz).isoformat()},
        headers=desk.manager.headers,
    )
    assert proposed.status_code == 200, proposed.text

    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.director, lang="ru")
        answered = await submit(
            web,
            "/ru/visit-requests",
            f"/ru/visit-requests/{asked['id']}/proposal",
            {"answer": "decline", "message": "Не можем в этот день"},
        )
        assert answered.status_code == 303, answered.text

    assert await pool.fetchval("select status from visit_requests where id = $1", asked["id"]) == "pending"
    assert await pool.fetchval("select count(*) from slots where lab_id = $1", desk.lab["id"]) == 0
    assert (
        await pool.fetchval(
            "select answer_message from visit_proposals where visit_request_id = $1", asked["id"]
        )
        == "Не можем в этот день"
    )


async def test_another_labs_manager_and_a_director_cannot_open_the_pages(
    client, pool: asyncpg.Pool, settings: Settings, make: Factory, desk: Desk
) -> None:
    asked = await _ask(client, desk)
    other = await make.person("lab_manager", lab_ids=((await make.lab())["id"],))

    async with browser_for(settings) as web:
        await sign_in(web, pool, other)
        assert (await web.get(f"/en/manage/visits/{asked['id']}")).status_code == 404
        listed = await web.get("/en/manage/visits/")
        assert asked["id"] not in listed.text
    async with browser_for(settings) as web:
        await sign_in(web, pool, desk.director)
        assert (await web.get(f"/en/manage/visits/{asked['id']}")).status_code == 403
        assert (await web.get("/en/manage/visits/")).status_code == 403
