from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.feeds.events import LABELS
from tests.factories import Factory
from tests.feeds.conftest import ALMATY, PLACE, Occurrence, expand, parse

KAZAKH_TITLE = {
    "kk": "Аргонмен доғалық дәнекерлеу бойынша практикалық сабақ: "
    "қауіпсіздік техникасы және станциялармен жұмыс",
    "ru": "Практическое занятие по аргонодуговой сварке",
    "en": "Argon arc welding practice",
}
KAZAKH_DESCRIPTION = {
    "kk": "Қатысушылар қорғаныс киімін киіп, нұсқаушының басшылығымен "
    "әр станцияда жиырма минут жұмыс істейді. "
    "Өзіңізбен жеке куәлік алып келіңіз; ғимаратқа кіру үшін алдын ала тіркелу қажет.",
}


def _day(days: int, hour: int = 10) -> datetime:
    today = datetime.now(ALMATY).date()
    return datetime.combine(today + timedelta(days=days), time(hour), tzinfo=ALMATY)


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(days=29), now + timedelta(days=360)


async def _expected(pool: asyncpg.Pool, lab_id: int, *, equipment_id: int | None = None) -> list[Occurrence]:
    """What the database says the public feed shows, computed independently of the feed code."""
    rows = await pool.fetch(
        """select s.id, s.series_id, s.starts_at, s.ends_at, s.status, s.title, s.visibility, l.languages,
                  array(select eu.number from slot_units su join equipment_units eu on eu.id = su.unit_id
                        where su.slot_id = s.id and eu.equipment_id = $2 order by eu.number) as units
           from slots s join labs l on l.id = s.lab_id
           where s.lab_id = $1 and (s.series_id is null or s.status = 'active')""",
        lab_id,
        equipment_id,
    )
    start, end = _window()
    found = []
    for row in rows:
        if not (start <= row["starts_at"] < end):
            continue
        if equipment_id is not None and not row["units"]:
            continue
        first = row["languages"][0]
        summary = LABELS["reserved"][first] if row["visibility"] == "private" else row["title"][first]
        uid = f"series-{row['series_id']}@labbook" if row["series_id"] else f"slot-{row['id']}@labbook"
        status = "CANCELLED" if row["status"] == "cancelled" else "CONFIRMED"
        found.append(Occurrence(uid, row["starts_at"], row["ends_at"], status, summary))
    return sorted(found, key=lambda o: (o.starts_at, o.uid))


def _instants(occurrences: list[Occurrence], *, equipment: bool = False) -> list[tuple[object, ...]]:
    return [
        (
            o.uid,
            o.starts_at.astimezone(UTC),
            o.ends_at.astimezone(UTC),
            o.status,
            o.summary.split(" — ")[0] if equipment else o.summary,
        )
        for o in occurrences
    ]


async def test_lab_feed_matches_the_database(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    lab = await make.lab(**PLACE, name={"kk": "Дәнекерлеу институты", "ru": "Институт сварки"})
    visitor = await make.organization()
    tour = await make.slot(lab, _day(3), title=KAZAKH_TITLE, description=KAZAKH_DESCRIPTION, capacity=12)
    await make.booking(tour, visitor["id"], headcount=5)
    await make.slot(lab, _day(4), 24, kind="closure", title={"en": "Closed", "kk": "Жабық"})
    await make.slot(
        lab, _day(5), 3, kind="maintenance", title={"en": "Maintenance", "kk": "Техникалық қызмет"}
    )
    await make.slot(lab, _day(6), organization_id=visitor["id"])
    cancelled = await make.slot(lab, _day(7))
    await make.change("slots", cancelled["id"], status="cancelled")
    _series, occurrences = await make.series(lab, _day(1, 15).replace(tzinfo=None), count=6)
    await make.change("slots", occurrences[1]["id"], status="cancelled")
    moved = occurrences[3]
    await make.change(
        "slots",
        moved["id"],
        starts_at=moved["starts_at"] + timedelta(hours=1),
        ends_at=moved["ends_at"] + timedelta(hours=2),
    )

    reply = await client.get(f"/feeds/labs/{lab['slug']}.ics")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = parse(reply.content)
    assert calendar["METHOD"] == "PUBLISH"
    text = reply.content.decode()
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT3H\r\n" in text
    assert "X-PUBLISHED-TTL:PT3H\r\n" in text
    assert "X-WR-CALNAME:Дәнекерлеу институты — labbook\r\n" in text
    assert "RRULE:FREQ=WEEKLY;COUNT=6;BYDAY=" in text
    assert "EXDATE;TZID=Asia/Almaty:" in text
    assert "RECURRENCE-ID;TZID=Asia/Almaty:" in text
    assert "Бос орын: 7 / 12" in calendar.walk("VEVENT")[0]["DESCRIPTION"] or any(
        "Бос орын: 7 / 12" in str(e.get("DESCRIPTION")) for e in calendar.walk("VEVENT")
    )
    # the long Kazakh text was folded, and still reads back whole
    assert any(str(e["SUMMARY"]) == KAZAKH_TITLE["kk"] for e in calendar.walk("VEVENT"))
    assert max(len(line) for line in reply.content.split(b"\r\n")) == 75

    start, end = _window()
    got = _instants(expand(reply.content, start, end))
    assert len(got) == 10
    assert got == _instants(await _expected(pool, lab["id"]))


async def test_series_across_almatys_move_to_utc_plus_5(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    """A weekly series that began in February 2024 keeps 10:00 local on both sides of 2024-03-01."""
    lab = await make.lab(**PLACE)
    weeks = (datetime.now(UTC).date() - datetime(2024, 2, 20).date()).days // 7 + 4
    _series, occurrences = await make.series(lab, datetime(2024, 2, 20, 10), count=weeks, hours=2)
    reply = await client.get(f"/feeds/labs/{lab['slug']}.ics")
    parse(reply.content)
    text = reply.content.decode()
    assert "DTSTART;TZID=Asia/Almaty:20240220T100000" in text
    assert "TZOFFSETFROM:+0600\r\nTZOFFSETTO:+0500" in text
    expanded = expand(reply.content, datetime(2024, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(weeks=8))
    assert [o.starts_at.astimezone(UTC) for o in expanded] == [s["starts_at"] for s in occurrences]
    assert expanded[0].starts_at.astimezone(UTC) == datetime(2024, 2, 20, 4, tzinfo=UTC)
    assert expanded[2].starts_at.astimezone(UTC) == datetime(2024, 3, 5, 5, tzinfo=UTC)


async def test_equipment_feed_shows_what_holds_the_stations(
    client: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    lab = await make.lab(**PLACE)
    tig = await make.equipment(lab_id=lab["id"], units=6)
    other = await make.equipment(lab_id=lab["id"], units=2)
    held = await make.slot(lab, _day(2), kind="training", unit_ids=await make.units(tig["id"], 1, 2, 3))
    await make.slot(lab, _day(2, 14), kind="training", unit_ids=await make.units(other["id"], 1))
    await make.series(lab, _day(3, 9).replace(tzinfo=None), count=3, unit_ids=await make.units(tig["id"], 4))

    reply = await client.get(f"/feeds/labs/{lab['slug']}/equipment/{tig['slug']}.ics")
    assert reply.status_code == 200, reply.text
    calendar = parse(reply.content)
    summaries = {str(e["UID"]): str(e["SUMMARY"]) for e in calendar.walk("VEVENT")}
    assert summaries[f"slot-{held['id']}@labbook"].endswith(f"Station {tig['slug']} #1, #2, #3")
    start, end = _window()
    expected = await _expected(pool, lab["id"], equipment_id=tig["id"])
    assert len(expected) == 4
    assert _instants(expand(reply.content, start, end), equipment=True) == _instants(expected, equipment=True)


async def test_feed_addresses_must_end_in_ics(client: AsyncTestClient[Litestar], make: Factory) -> None:
    lab = await make.lab(**PLACE)
    assert (await client.get(f"/feeds/labs/{lab['slug']}")).status_code == 404
    assert (await client.get(f"/feeds/labs/{lab['slug']}.json")).status_code == 404
    assert (await client.get("/feeds/labs/no-such-lab.ics")).status_code == 404
    assert (await client.get(f"/feeds/labs/{lab['slug']}/equipment/nothing.ics")).status_code == 404
    empty = await client.get(f"/feeds/labs/{lab['slug']}.ics")
    assert empty.status_code == 200
    parse(empty.content)


async def test_feed_links_offer_https_and_webcal(client: AsyncTestClient[Litestar], make: Factory) -> None:
    lab = await make.lab(**PLACE)
    tig = await make.equipment(lab_id=lab["id"])
    links = (await client.get(f"/api/v1/feeds/labs/{lab['slug']}")).json()
    assert links["feed_url"] == f"http://127.0.0.1:8000/feeds/labs/{lab['slug']}.ics"
    assert links["subscribe_url"] == f"webcal://127.0.0.1:8000/feeds/labs/{lab['slug']}.ics"
    assert links["equipment"][0]["subscribe_url"].endswith(
        f"/feeds/labs/{lab['slug']}/equipment/{tig['slug']}.ics"
    )


async def test_a_series_ending_on_a_date_has_its_until_in_utc(
    client: AsyncTestClient[Litestar], make: Factory
) -> None:
    lab = await make.lab(**PLACE)
    _, occurrences = await make.series(
        lab, _day(2, 18).replace(tzinfo=None), count=5, freq="weekly", weekdays=(1, 3, 5), by_until=True
    )
    reply = await client.get(f"/feeds/labs/{lab['slug']}.ics")
    parse(reply.content)
    last = occurrences[-1]["starts_at"].astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    assert f"UNTIL={last}" in reply.text
    start, end = _window()
    assert [o.starts_at for o in expand(reply.content, start, end)] == [o["starts_at"] for o in occurrences]
