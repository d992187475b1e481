"""Feeds in the subscriber's language: ``?lang=kk|ru|en`` for titles, descriptions and places."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import asyncpg
from icalendar import Calendar
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Factory, Person
from tests.feeds.conftest import ALMATY, PLACE, parse, settle

NAME = {"kk": "Дәнекерлеу институты", "ru": "Институт сварки", "en": "Welding Institute"}
TITLE = {"kk": "Институтқа экскурсия", "ru": "Экскурсия по институту", "en": "Institute tour"}
ABOUT = {"kk": "Станцияларды көресіз.", "ru": "Вы увидите посты сварки.", "en": "You see the stations."}


def _day(days: int, hour: int = 10) -> datetime:
    return datetime.combine(datetime.now(ALMATY).date() + timedelta(days=days), time(hour), tzinfo=ALMATY)


def _events(data: bytes) -> list[dict[str, str]]:
    calendar: Calendar = parse(data)
    return [
        {key: str(event.get(key, "")) for key in ("SUMMARY", "DESCRIPTION", "LOCATION")}
        for event in calendar.walk("VEVENT")
    ]


def _name(data: bytes) -> str:
    return str(parse(data)["X-WR-CALNAME"])


async def test_lang_puts_titles_descriptions_and_places_in_that_language(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    lab = await make.lab(**PLACE, name=NAME, languages=("kk", "ru", "en"))
    await make.slot(lab, _day(2), title=TITLE, description=ABOUT, capacity=20)
    url = f"/feeds/labs/{lab['slug']}.ics"
    for lang, seats in (("kk", "Бос орын"), ("ru", "Свободных мест"), ("en", "Seats left")):
        reply = await client.get(f"{url}?lang={lang}")
        assert reply.status_code == 200
        (event,) = _events(reply.content)
        assert event["SUMMARY"] == TITLE[lang]
        assert event["LOCATION"] == f"{NAME[lang]}, Block G, 104, Satpaev St 22, Almaty"
        assert event["DESCRIPTION"] == f"{TITLE[lang]}\n{ABOUT[lang]}\n{seats}: 20 / 20"
        assert _name(reply.content) == f"{NAME[lang]} — labbook"

    # without the parameter: as before, titled in the lab's first language, described in all of them
    (event,) = _events((await client.get(url)).content)
    assert event["SUMMARY"] == TITLE["kk"]
    assert event["LOCATION"] == f"{NAME['kk']}, Block G, 104, Satpaev St 22, Almaty"
    for lang in ("kk", "ru", "en"):
        assert ABOUT[lang] in event["DESCRIPTION"]


async def test_missing_text_falls_back_to_russian_then_kazakh_then_english(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    lab = await make.lab(**PLACE, name={"kk": NAME["kk"], "ru": NAME["ru"]}, languages=("kk",))
    await make.slot(lab, _day(2, 9), title={"kk": TITLE["kk"], "ru": TITLE["ru"]})
    await make.slot(lab, _day(2, 12), title={"kk": "Тек қазақша"})
    await make.slot(lab, _day(2, 15), title={"en": "English only"})
    url = f"/feeds/labs/{lab['slug']}.ics"

    english = _events((await client.get(f"{url}?lang=en")).content)
    assert [e["SUMMARY"] for e in english] == [TITLE["ru"], "Тек қазақша", "English only"]
    assert english[0]["LOCATION"].startswith(f"{NAME['ru']}, ")
    assert "Seats left: 20 / 20" in english[0]["DESCRIPTION"]
    kazakh = _events((await client.get(f"{url}?lang=kk")).content)
    assert [e["SUMMARY"] for e in kazakh] == [TITLE["kk"], "Тек қазақша", "English only"]
    russian = _events((await client.get(f"{url}?lang=ru")).content)
    assert [e["SUMMARY"] for e in russian] == [TITLE["ru"], "Тек қазақша", "English only"]


async def test_each_language_is_its_own_representation_with_its_own_etag(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    lab = await make.lab(**PLACE, name=NAME)
    slot = await make.slot(lab, _day(3), title=TITLE)
    await make.series(lab, _day(4).replace(tzinfo=None), count=3, title=TITLE)
    # settled, so that every reply below names one version whatever the time between them
    await settle(pool, lab["id"])
    url = f"/feeds/labs/{lab['slug']}.ics"
    plain = await client.get(url)

    replies = {lang: await client.get(f"{url}?lang={lang}") for lang in ("kk", "ru", "en")}
    etags = {lang: r.headers["etag"] for lang, r in replies.items()}
    assert len({plain.headers["etag"], *etags.values()}) == 4
    assert len({plain.content, *(r.content for r in replies.values())}) == 4
    for lang, reply in replies.items():
        again = await client.get(f"{url}?lang={lang}", headers={"If-None-Match": etags[lang]})
        assert again.status_code == 304
        assert again.headers["etag"] == etags[lang]
        dated = await client.get(
            f"{url}?lang={lang}", headers={"If-Modified-Since": reply.headers["last-modified"]}
        )
        assert dated.status_code == 304
        head = await client.head(f"{url}?lang={lang}")
        assert head.headers["etag"] == etags[lang]
        assert head.headers["content-length"] == str(len(reply.content))
        # another language's ETag names another body
        other = "en" if lang != "en" else "ru"
        assert (
            await client.get(f"{url}?lang={lang}", headers={"If-None-Match": etags[other]})
        ).status_code == 200
    # asking in other languages changed nothing for subscribers without one
    unchanged = await client.get(url, headers={"If-None-Match": plain.headers["etag"]})
    assert unchanged.status_code == 304
    assert (await client.get(url)).content == plain.content

    await make.change("slots", slot["id"], title={**TITLE, "ru": "Экскурсия перенесена"})
    moved = await client.get(f"{url}?lang=ru", headers={"If-None-Match": etags["ru"]})
    assert moved.status_code == 200
    assert moved.headers["etag"] != etags["ru"]
    assert "Экскурсия перенесена" in [e["SUMMARY"] for e in _events(moved.content)]
    english = await client.get(f"{url}?lang=en", headers={"If-None-Match": etags["en"]})
    assert english.status_code == 200
    assert "Экскурсия перенесена" not in english.text


async def test_an_unknown_language_is_refused_with_a_problem(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    lab = await make.lab(**PLACE)
    equipment = await make.equipment(lab_id=lab["id"])
    for url in (
        f"/feeds/labs/{lab['slug']}.ics?lang=de",
        f"/feeds/labs/{lab['slug']}/equipment/{equipment['slug']}.ics?lang=RU",
        "/feeds/private/lbf_unknown.ics?lang=",
    ):
        reply = await client.get(url)
        assert reply.status_code == 422, url
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json()["type"] == "/problems/validation"


async def test_equipment_feed_and_reserved_blocks_in_the_language(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    lab = await make.lab(**PLACE, name=NAME)
    tig = await make.equipment(lab_id=lab["id"], name={"ru": "Пост TIG", "en": "TIG station"})
    college = await make.organization()
    units = await make.units(tig["id"], 1, 2)
    await make.slot(lab, _day(2), title=TITLE, unit_ids=units)
    await make.slot(lab, _day(3), organization_id=college["id"])

    base = f"/feeds/labs/{lab['slug']}/equipment/{tig['slug']}.ics"
    (event,) = _events((await client.get(f"{base}?lang=ru")).content)
    assert event["SUMMARY"] == f"{TITLE['ru']} — Пост TIG #1, #2"
    (event,) = _events((await client.get(f"{base}?lang=kk")).content)
    # no Kazakh name for the equipment: Russian comes next
    assert event["SUMMARY"] == f"{TITLE['kk']} — Пост TIG #1, #2"

    lab_feed = f"/feeds/labs/{lab['slug']}.ics"
    assert [e["SUMMARY"] for e in _events((await client.get(f"{lab_feed}?lang=en")).content)] == [
        TITLE["en"],
        "Reserved",
    ]
    assert _events((await client.get(f"{lab_feed}?lang=ru")).content)[1]["SUMMARY"] == "Забронировано"


async def _organization_feed(client: AsyncTestClient[Litestar], director: Person) -> str:
    reply = await client.post(
        "/api/v1/me/feed-tokens", json={"kind": "organization"}, headers=director.headers
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["feed_url"]).removeprefix("http://127.0.0.1:8000")


async def test_private_feed_speaks_the_language_asked_for(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    lab = await make.lab(**PLACE, name=NAME)
    college = await make.organization(
        name={"kk": "Алатау колледжі", "ru": "Колледж Алатау", "en": "Alatau College"}
    )
    director = await make.person("director", organization_id=college["id"])
    slot = await make.slot(lab, _day(2), title=TITLE)
    # booked in Russian: without ?lang= the feed speaks the booking's language, as it always has
    await make.booking(slot, college["id"], status="confirmed", language="ru")
    url = await _organization_feed(client, director)

    plain = await client.get(url)
    (event,) = _events(plain.content)
    assert event["SUMMARY"] == TITLE["ru"]
    assert event["LOCATION"].startswith(NAME["ru"])

    english = await client.get(f"{url}?lang=en")
    assert english.status_code == 200
    assert english.headers["cache-control"].startswith("private")
    (event,) = _events(english.content)
    assert event["SUMMARY"] == TITLE["en"]
    assert event["LOCATION"].startswith(NAME["en"])
    assert "Status: confirmed" in event["DESCRIPTION"]
    assert _name(english.content) == "Alatau College — bookings — labbook"

    kazakh = await client.get(f"{url}?lang=kk")
    (event,) = _events(kazakh.content)
    assert event["SUMMARY"] == TITLE["kk"]
    assert "Күйі: расталды" in event["DESCRIPTION"]
    assert _name(kazakh.content) == "Алатау колледжі — брондаулар — labbook"
    assert kazakh.headers["etag"] not in (english.headers["etag"], plain.headers["etag"])
    assert (
        await client.get(f"{url}?lang=kk", headers={"If-None-Match": kazakh.headers["etag"]})
    ).status_code == 304
    assert (await client.get(url, headers={"If-None-Match": plain.headers["etag"]})).status_code == 304
