"""A director's pages in a browser: booking seats and courses, our bookings, visit requests, the account."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.settings import Settings
from tests.factories import Factory, Person
from tests.web.conftest import PASSWORD, browser_for, csrf_in, sign_in, submit

ALMATY = ZoneInfo("Asia/Almaty")
LANGS = ("kk", "ru", "en")
# What a director reads on the pages, per language: status words and the notices after each step.
WORDS = {
    "kk": {
        "confirmed": "Расталды",
        "cancelled": "Күші жойылды",
        "pending_request": "Жауап күтілуде",
        "booked": "Дайын: орындарыңыз брондалды.",
        "cancelled_notice": "Бронь күші жойылды.",
        "request_sent": "Өтінім жіберілді.",
    },
    "ru": {
        "confirmed": "Подтверждена",
        "cancelled": "Отменена",
        "pending_request": "Ожидает ответа",
        "booked": "Готово: места забронированы.",
        "cancelled_notice": "Бронь отменена.",
        "request_sent": "Заявка отправлена.",
    },
    "en": {
        "confirmed": "Confirmed",
        "cancelled": "Cancelled",
        "pending_request": "Awaiting reply",
        "booked": "Done: your seats are booked.",
        "cancelled_notice": "The booking is cancelled.",
        "request_sent": "The request is sent.",
    },
}


@dataclass
class World:
    lab: asyncpg.Record
    director: Person
    other_director: Person


@pytest.fixture
async def world(make: Factory) -> World:
    lab = await make.lab(capacity=30, address="Satpaev St 22, Almaty")
    await make.opening_hours(lab_id=lab["id"], weekdays=range(1, 6), opens="09:00", closes="18:00")
    college = await make.organization(kind="college", name={"en": "Mining College", "kk": "Тау-кен колледжі"})
    director = await make.person("director", organization_id=college["id"], full_name="Aigerim Director")
    other = await make.person("director", full_name="Other Director")
    return World(lab, director, other)


def in_a_week() -> datetime:
    """A week from now, to the second."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)


def booking_body(lang: str, **fields: object) -> dict[str, object]:
    return {
        "headcount": "2",
        "contact_name": "Aigerim Director",
        "contact_email": "aigerim@college.kz",
        "contact_phone": "+7 701 123 45 67",
        "language": lang,
        "age_group": "14-16",
        "notes": "",
        **fields,
    }


def field_value(page: str, name: str) -> str | None:
    """The value a text-like input shows (as the browser would read it), or ``None`` without one."""
    found = re.search(rf'<input id="f-{name}" name="{name}" type="[a-z]+" value="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else None


def error_of(page: str, name: str) -> str | None:
    found = re.search(rf'<p class="error" id="f-{name}-error">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


async def seats_taken(pool: asyncpg.Pool, slot_id: object) -> int:
    taken: int = await pool.fetchval("select seats_taken from slots where id = $1", slot_id)
    return taken


@pytest.mark.parametrize("lang", LANGS)
async def test_director_books_cancels_and_requests_a_visit(
    web: AsyncTestClient[Litestar], pool: asyncpg.Pool, world: World, make: Factory, lang: str
) -> None:
    words = WORDS[lang]
    slot = await make.slot(world.lab, in_a_week(), capacity=20)
    await sign_in(web, pool, world.director, lang=lang)
    book_url = f"/{lang}/slots/{slot['id']}/book"

    form = await web.get(book_url)
    assert form.status_code == 200
    assert f'action="{book_url}"' in form.text
    assert field_value(form.text, "contact_name") == "Aigerim Director"
    assert field_value(form.text, "contact_email") == world.director.email
    assert f'<option value="{lang}" selected>' in form.text
    assert 'name="waitlist"' not in form.text  # the session has room: no waiting list to offer

    booked = await submit(web, book_url, book_url, booking_body(lang))
    assert booked.status_code == 303, booked.text
    location = booked.headers["location"]
    booking_id = re.fullmatch(rf"/{lang}/bookings/([0-9a-f-]+)\?created=1", location)
    assert booking_id, location
    row = await pool.fetchrow("select * from bookings where id = $1", booking_id.group(1))
    assert (row["headcount"], row["status"], row["organization_id"]) == (
        2,
        "confirmed",
        world.director.organization_id,
    )
    assert await seats_taken(pool, slot["id"]) == 2

    confirmation = await web.get(location)
    assert confirmation.status_code == 200
    assert words["booked"] in confirmation.text
    assert "Satpaev St 22, Almaty" in confirmation.text
    assert row["id"].hex[:8].upper() in confirmation.text
    cancel_url = f"/{lang}/bookings/{row['id']}/cancel"
    assert f'href="{cancel_url}"' in confirmation.text

    listing = await web.get(f"/{lang}/bookings")
    assert listing.status_code == 200
    assert f'href="/{lang}/bookings/{row["id"]}"' in listing.text
    assert f'<span class="badge confirmed">{words["confirmed"]}</span>' in listing.text

    cancelled = await submit(web, cancel_url, cancel_url, {"reason": "Автобус жоқ"})
    assert cancelled.status_code == 303, cancelled.text
    assert cancelled.headers["location"] == f"/{lang}/bookings?cancelled=1"
    row = await pool.fetchrow("select status, status_message from bookings where id = $1", row["id"])
    assert (row["status"], row["status_message"]) == ("cancelled", "Автобус жоқ")
    assert await seats_taken(pool, slot["id"]) == 0
    after = await web.get(cancelled.headers["location"])
    assert words["cancelled_notice"] in after.text
    assert f'<span class="badge cancelled">{words["cancelled"]}</span>' in after.text
    gone = await web.get(f"/{lang}/bookings/{booking_id.group(1)}")
    assert f'href="{cancel_url}"' not in gone.text  # a cancelled booking offers no second cancel

    new_url = f"/{lang}/visit-requests/new?lab={world.lab['slug']}"
    day = (datetime.now(ALMATY) + timedelta(days=10)).date()
    sent = await submit(
        web,
        new_url,
        f"/{lang}/visit-requests",
        {
            "lab": world.lab["slug"],
            "kind": "tour",
            "headcount": "20",
            "language": lang,
            "purpose": "Welding for grade 10",
            "contact_name": "Aigerim Director",
            "date": [day.isoformat(), "", ""],
            "starts_at": ["10:00", "", ""],
            "ends_at": ["12:00", "", ""],
        },
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"/{lang}/visit-requests?created=1"
    request = await pool.fetchrow(
        "select * from visit_requests where organization_id = $1", world.director.organization_id
    )
    assert (request["headcount"], request["status"], request["language"]) == (20, "pending", lang)
    [window] = request["windows"]
    assert datetime.fromisoformat(window["starts_at"]) == datetime.combine(day, time(10), ALMATY)
    assert datetime.fromisoformat(window["ends_at"]) == datetime.combine(day, time(12), ALMATY)
    requests = await web.get(sent.headers["location"])
    assert words["request_sent"] in requests.text
    assert f'<span class="badge pending">{words["pending_request"]}</span>' in requests.text


async def test_bad_input_comes_back_with_the_values_and_a_message_at_each_field(
    web: AsyncTestClient[Litestar], pool: asyncpg.Pool, world: World, make: Factory
) -> None:
    slot = await make.slot(world.lab, in_a_week(), capacity=20)
    await sign_in(web, pool, world.director)
    url = f"/en/slots/{slot['id']}/book"
    page = await submit(
        web, url, url, booking_body("en", headcount="0", contact_name="", contact_email="aigerim@college.kz")
    )
    assert page.status_code == 200
    assert error_of(page.text, "headcount") == "Enter how many people come: a whole number from 1."
    assert error_of(page.text, "contact_name") == "Fill in this field."
    assert field_value(page.text, "headcount") == "0"
    assert field_value(page.text, "contact_email") == "aigerim@college.kz"
    assert field_value(page.text, "age_group") == "14-16"
    assert 'aria-invalid="true"' in page.text
    assert await seats_taken(pool, slot["id"]) == 0
    assert await pool.fetchval("select count(*) from bookings where slot_id = $1", slot["id"]) == 0

    # A language the lab does not offer is refused by the service and said next to the field.
    lab = await make.lab(languages=("kk", "ru"))
    russian_only = await make.slot(lab, in_a_week())
    url = f"/en/slots/{russian_only['id']}/book"
    form = await web.get(url)
    assert '<option value="en"' not in form.text
    assert '<option value="kk" selected>' in form.text
    refused = await submit(web, url, url, booking_body("en"))
    assert refused.status_code == 200
    assert error_of(refused.text, "language") == "Choose one of the languages offered."
    assert await seats_taken(pool, russian_only["id"]) == 0


async def test_a_group_bigger_than_the_session_is_offered_a_visit_request_filled_in(
    web: AsyncTestClient[Litestar], pool: asyncpg.Pool, world: World, make: Factory
) -> None:
    slot = await make.slot(world.lab, in_a_week(), capacity=10, kind="training")
    await sign_in(web, pool, world.director, lang="ru")
    url = f"/ru/slots/{slot['id']}/book"
    page = await submit(web, url, url, booking_body("ru", headcount="25", age_group="колледж, 2 курс"))
    assert page.status_code == 200
    assert "На это занятие осталось мест: 10, а вы запросили 25." in page.text
    assert 'name="waitlist"' not in page.text  # 25 people never fit in a session for 10
    link = re.search(r'href="(/ru/visit-requests/new\?[^"]+)"', page.text)
    assert link, page.text
    target = html.unescape(link.group(1))
    params = parse_qs(urlsplit(target).query)
    local_date = slot["starts_at"].astimezone(ALMATY).date().isoformat()
    assert params == {
        "lab": [world.lab["slug"]],
        "headcount": ["25"],
        "language": ["ru"],
        "kind": ["training"],
        "contact_name": ["Aigerim Director"],
        "contact_email": ["aigerim@college.kz"],
        "contact_phone": ["+7 701 123 45 67"],
        "age_group": ["колледж, 2 курс"],
        "date": [local_date],
    }
    assert await seats_taken(pool, slot["id"]) == 0

    request_form = await web.get(target)
    assert request_form.status_code == 200
    assert field_value(request_form.text, "headcount") == "25"
    assert field_value(request_form.text, "age_group") == "колледж, 2 курс"
    assert 'id="f-date-0" name="date" type="date" min="' in request_form.text
    assert f'value="{local_date}"' in request_form.text
    assert '<option value="training" selected>' in request_form.text
    assert '<option value="ru" selected>' in request_form.text


async def test_a_full_session_offers_the_waiting_list(
    web: AsyncTestClient[Litestar], pool: asyncpg.Pool, world: World, make: Factory
) -> None:
    full = await make.slot(world.lab, in_a_week(), capacity=10, seats_taken=10)
    await sign_in(web, pool, world.director)
    url = f"/en/slots/{full['id']}/book"
    form = await web.get(url)
    # someone opening a full session's form has come for its waiting list: the box is ticked
    assert 'type="checkbox" id="f-waitlist" name="waitlist" value="1" checked' in form.text
    assert "None: the session is full." in form.text

    queued = await submit(web, url, url, booking_body("en", headcount="4", waitlist="1"))
    assert queued.status_code == 303, queued.text
    row = await pool.fetchrow("select status, headcount from bookings where slot_id = $1", full["id"])
    assert (row["status"], row["headcount"]) == ("waitlisted", 4)
    assert await seats_taken(pool, full["id"]) == 10
    page = await web.get(queued.headers["location"])
    assert "You are on the waiting list." in page.text
    assert '<span class="badge waitlisted">On the waiting list</span>' in page.text

    # Too few seats left for the group: the refusal offers the waiting list as well as a visit request.
    almost = await make.slot(world.lab, in_a_week(), capacity=10, seats_taken=7)
    url = f"/en/slots/{almost['id']}/book"
    refused = await submit(web, url, url, booking_body("en", headcount="5"))
    assert refused.status_code == 200
    assert "Only 3 seats are left in this session, and you asked for 5." in refused.text
    assert error_of(refused.text, "headcount") == "Only 3 seats are left."
    assert 'name="waitlist"' in refused.text
    assert "/en/visit-requests/new?" in refused.text
    assert await seats_taken(pool, almost["id"]) == 7


async def test_another_organizations_booking_is_not_found(
    web: AsyncTestClient[Litestar],
    client: AsyncTestClient[Litestar],
    pool: asyncpg.Pool,
    world: World,
    make: Factory,
) -> None:
    slot = await make.slot(world.lab, in_a_week())
    theirs = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json={"headcount": 3, "contact_name": "Other", "language": "ru"},
        headers=world.other_director.headers,
    )
    assert theirs.status_code == 201, theirs.text
    booking_id = theirs.json()["id"]
    await sign_in(web, pool, world.director)
    assert (await web.get(f"/en/bookings/{booking_id}")).status_code == 404
    assert (await web.get(f"/en/bookings/{booking_id}/cancel")).status_code == 404
    listing = await web.get("/en/bookings")
    assert booking_id not in listing.text
    own_page = await web.get("/en/bookings")
    posted = await web.post(f"/en/bookings/{booking_id}/cancel", data={"_csrf": csrf_in(own_page.text)})
    assert posted.status_code == 404
    assert await pool.fetchval("select status from bookings where id = $1", booking_id) == "confirmed"
    assert await seats_taken(pool, slot["id"]) == 3


async def test_signed_out_people_are_sent_to_sign_in(web: AsyncTestClient[Litestar]) -> None:
    for lang, path in (("en", "/en/bookings"), ("kk", "/kk/visit-requests"), ("ru", "/ru/account")):
        response = await web.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/{lang}/login?{urlencode({'next': path})}"


async def test_a_lab_manager_has_no_bookings_pages(
    web: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory, world: World
) -> None:
    manager = await make.person(
        "lab_manager", organization_id=world.lab["organization_id"], lab_ids=(world.lab["id"],)
    )
    await sign_in(web, pool, manager)
    assert (await web.get("/en/bookings")).status_code == 403
    account = await web.get("/en/account")
    assert account.status_code == 200
    assert 'action="/en/account/feed"' not in account.text  # the organization feed is for directors
    refused = await web.post("/en/account/feed", data={"_csrf": csrf_in(account.text)})
    assert refused.status_code == 403
    assert await pool.fetchval("select count(*) from feed_tokens where person_id = $1", manager.id) == 0


async def test_profile_and_password(
    web: AsyncTestClient[Litestar], pool: asyncpg.Pool, settings: Settings, world: World
) -> None:
    await sign_in(web, pool, world.director)
    page = await web.get("/en/account")
    assert page.status_code == 200
    assert field_value(page.text, "full_name") == "Aigerim Director"
    assert 'action="/en/logout/everywhere"' in page.text

    saved = await submit(
        web,
        "/en/account",
        "/en/account",
        {"full_name": "Айгерім Сейтқали", "phone": "+7 701 000 00 01", "language": "kk"},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/kk/account?saved=1"
    person = await pool.fetchrow(
        "select full_name, phone, language from people where id = $1", world.director.id
    )
    assert tuple(person) == ("Айгерім Сейтқали", "+7 701 000 00 01", "kk")
    greeted = await web.get(saved.headers["location"])
    assert "Айгерім Сейтқали" in greeted.text
    assert "Профиліңіз сақталды." in greeted.text

    empty = await submit(
        web, "/en/account", "/en/account", {"full_name": "", "phone": "call me", "language": "en"}
    )
    assert empty.status_code == 200
    assert error_of(empty.text, "full_name") == "Fill in this field."
    assert error_of(empty.text, "phone") == "Enter a phone number such as +7 701 123 45 67."

    wrong = await submit(
        web,
        "/en/account",
        "/en/account/password",
        {"current_password": "not it", "password": "a new long phrase"},
    )
    assert wrong.status_code == 200
    assert error_of(wrong.text, "current_password") == "This is not your current password."

    changed = await submit(
        web,
        "/en/account",
        "/en/account/password",
        {"current_password": PASSWORD, "password": "a new long phrase"},
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == "/en/account?password=1"
    still_in = await web.get(changed.headers["location"])
    assert still_in.status_code == 200
    assert "Your password is changed." in still_in.text

    async with browser_for(settings) as other:
        login = await other.get("/en/login")
        old = await other.post(
            "/en/login",
            data={"email": world.director.email, "password": PASSWORD, "_csrf": csrf_in(login.text)},
        )
        assert old.status_code == 200
        assert not other.cookies.get("lb_session")
        new = await other.post(
            "/en/login",
            data={
                "email": world.director.email,
                "password": "a new long phrase",
                "_csrf": csrf_in(login.text),
            },
        )
        assert new.status_code == 303
        assert other.cookies.get("lb_session")


async def test_series_booking_all_or_nothing(
    web: AsyncTestClient[Litestar],
    client: AsyncTestClient[Litestar],
    pool: asyncpg.Pool,
    world: World,
    make: Factory,
) -> None:
    series, occurrences = await make.series(world.lab, in_a_week().astimezone(ALMATY), count=3, capacity=12)
    await sign_in(web, pool, world.director)
    url = f"/en/series/{series['id']}/book"
    form = await web.get(url)
    assert form.status_code == 200
    assert 'name="waitlist"' not in form.text
    assert "Book all 3 sessions" in form.text
    booked = await submit(web, url, url, booking_body("en", headcount="6"))
    assert booked.status_code == 303, booked.text
    assert booked.headers["location"] == "/en/bookings?created=3"
    taken = [await seats_taken(pool, slot["id"]) for slot in occurrences]
    assert taken == [6, 6, 6]
    listing = await web.get(booked.headers["location"])
    assert "3 sessions are booked." in listing.text

    other_series, other_slots = await make.series(
        world.lab, in_a_week().astimezone(ALMATY), count=3, capacity=12
    )
    crowded = other_slots[1]
    theirs = await client.post(
        f"/api/v1/slots/{crowded['id']}/bookings",
        json={"headcount": 10, "contact_name": "Other", "language": "ru"},
        headers=world.other_director.headers,
    )
    assert theirs.status_code == 201
    url = f"/en/series/{other_series['id']}/book"
    refused = await submit(web, url, url, booking_body("en", headcount="6"))
    assert refused.status_code == 200
    assert "nothing was booked" in refused.text
    failures = re.findall(r'<li><a href="/en/slots/([0-9a-f-]+)">[^<]+</a>: ([^<]+)</li>', refused.text)
    assert failures == [(str(crowded["id"]), "Only 2 seats are left.")]
    assert [await seats_taken(pool, slot["id"]) for slot in other_slots] == [0, 10, 0]
    ours = await pool.fetchval(
        """select count(*) from bookings b join slots s on s.id = b.slot_id
           where s.series_id = $1 and b.organization_id = $2""",
        other_series["id"],
        world.director.organization_id,
    )
    assert ours == 0


async def test_visit_request_windows_are_checked_and_requests_can_be_withdrawn(
    web: AsyncTestClient[Litestar], pool: asyncpg.Pool, world: World
) -> None:
    await sign_in(web, pool, world.director)
    new_url = f"/en/visit-requests/new?lab={world.lab['slug']}"
    form = await web.get(new_url)
    assert form.status_code == 200
    # the opening hours beside the windows
    assert '<th scope="row">Monday</th>' in form.text
    assert "09:00–18:00" in form.text
    day = (datetime.now(ALMATY) + timedelta(days=5)).date().isoformat()
    body = {
        "lab": world.lab["slug"],
        "kind": "training",
        "headcount": "40",
        "language": "en",
        "purpose": "",
        "contact_name": "Aigerim Director",
        "date": [day, day, ""],
        "starts_at": ["14:00", "10:00", ""],
        "ends_at": ["12:00", "", ""],
    }
    page = await submit(web, new_url, "/en/visit-requests", body)
    assert page.status_code == 200
    assert '<p class="error" id="window-0-error">The end must be after the start.</p>' in page.text
    assert "Give the date, the start and the end, or leave all three empty." in page.text
    assert error_of(page.text, "purpose") == "Fill in this field."
    assert field_value(page.text, "headcount") == "40"
    assert await pool.fetchval("select count(*) from visit_requests where lab_id = $1", world.lab["id"]) == 0

    nothing = await submit(
        web,
        new_url,
        "/en/visit-requests",
        {
            **body,
            "purpose": "Practice",
            "date": ["", "", ""],
            "starts_at": ["", "", ""],
            "ends_at": ["", "", ""],
        },
    )
    assert "Give at least one time that suits you" in nothing.text

    too_many = await submit(
        web,
        new_url,
        "/en/visit-requests",
        {
            **body,
            "purpose": "Practice",
            "starts_at": ["10:00", "", ""],
            "ends_at": ["12:00", "", ""],
            "date": [day, "", ""],
        },
    )
    assert too_many.status_code == 200
    assert error_of(too_many.text, "headcount") == "The lab holds at most 30 people at a time."

    sent = await submit(
        web,
        new_url,
        "/en/visit-requests",
        {
            **body,
            "headcount": "25",
            "purpose": "Practice",
            "starts_at": ["10:00", "", ""],
            "ends_at": ["12:00", "", ""],
            "date": [day, "", ""],
        },
    )
    assert sent.status_code == 303, sent.text
    request_id = await pool.fetchval("select id from visit_requests where lab_id = $1", world.lab["id"])
    listing = await web.get("/en/visit-requests")
    cancel_action = f'action="/en/visit-requests/{request_id}/cancel"'
    assert cancel_action in listing.text
    withdrawn = await web.post(
        f"/en/visit-requests/{request_id}/cancel", data={"_csrf": csrf_in(listing.text)}
    )
    assert withdrawn.status_code == 303
    assert await pool.fetchval("select status from visit_requests where id = $1", request_id) == "cancelled"
    after = await web.get(withdrawn.headers["location"])
    assert "The request is withdrawn." in after.text
    assert cancel_action not in after.text


async def test_choosing_a_lab_first(web: AsyncTestClient[Litestar], pool: asyncpg.Pool, world: World) -> None:
    await sign_in(web, pool, world.director)
    page = await web.get("/en/visit-requests/new?headcount=12")
    assert page.status_code == 200
    assert 'method="get" action="/en/visit-requests/new"' in page.text
    assert '<select id="f-lab" name="lab" required' in page.text
    assert page.text.count("<option value=") >= 1
    chosen = await web.get(f"/en/visit-requests/new?headcount=12&lab={world.lab['slug']}")
    assert chosen.status_code == 200
    assert chosen.text.count('name="date" type="date"') == 3, "three windows to choose from"
    assert 'name="headcount"' in chosen.text
    assert 'value="12"' in chosen.text
    assert '<input type="hidden" name="headcount" value="12">' in page.text


async def test_organization_feed_is_shown_once_and_can_be_turned_off(
    web: AsyncTestClient[Litestar], pool: asyncpg.Pool, settings: Settings, world: World
) -> None:
    await sign_in(web, pool, world.director, lang="kk")
    page = await submit(web, "/kk/account", "/kk/account/feed", {"name": "office"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    found = re.search(r'value="(http[^"]+/feeds/private/([^"/.]+)\.ics\?lang=kk)"', page.text)
    assert found, page.text
    feed_path = urlsplit(html.unescape(found.group(1)))
    feed = await web.get(f"{feed_path.path}?{feed_path.query}")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")

    account = await web.get("/kk/account")
    assert found.group(2) not in account.text  # the secret is never shown again
    token_id = await pool.fetchval("select id from feed_tokens where person_id = $1", world.director.id)
    revoke = f"/kk/account/feed/{token_id}/revoke"
    assert f'action="{revoke}"' in account.text
    revoked = await web.post(revoke, data={"_csrf": csrf_in(account.text)})
    assert revoked.status_code == 303
    assert (await web.get(f"{feed_path.path}?{feed_path.query}")).status_code == 404


async def test_an_admin_books_on_behalf_of_an_organization(
    web: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory, world: World
) -> None:
    admin = await make.person("admin")
    slot = await make.slot(world.lab, in_a_week(), capacity=20)
    college = await pool.fetchval(
        "select slug from organizations where id = $1", world.director.organization_id
    )
    await sign_in(web, pool, admin)
    url = f"/en/slots/{slot['id']}/book"
    form = await web.get(url)
    assert f'<option value="{college}">Mining College</option>' in form.text
    unnamed = await submit(web, url, url, booking_body("en"))
    assert unnamed.status_code == 200
    assert error_of(unnamed.text, "organization") == "Choose the organization this is for."
    booked = await submit(web, url, url, booking_body("en", organization=college, headcount="3"))
    assert booked.status_code == 303, booked.text
    row = await pool.fetchrow(
        "select organization_id, headcount from bookings where slot_id = $1", slot["id"]
    )
    assert tuple(row) == (world.director.organization_id, 3)
    assert await seats_taken(pool, slot["id"]) == 3


async def test_a_declined_request_shows_the_labs_reply(
    web: AsyncTestClient[Litestar],
    client: AsyncTestClient[Litestar],
    make: Factory,
    pool: asyncpg.Pool,
    world: World,
) -> None:
    manager = await make.person(
        "lab_manager", organization_id=world.lab["organization_id"], lab_ids=(world.lab["id"],)
    )
    begin = (datetime.now(ALMATY) + timedelta(days=9)).replace(hour=10, minute=0, second=0, microsecond=0)
    asked = await client.post(
        "/api/v1/visit-requests",
        headers=world.director.headers,
        json={
            "lab": world.lab["slug"],
            "windows": [
                {"starts_at": begin.isoformat(), "ends_at": (begin + timedelta(hours=2)).isoformat()}
            ],
            "headcount": 12,
            "language": "ru",
            "purpose": "Экскурсия",
            "contact_name": "Aigerim Director",
        },
    )
    assert asked.status_code == 201, asked.text
    declined = await client.post(
        f"/api/v1/visit-requests/{asked.json()['id']}/decline",
        headers=manager.headers,
        json={"message": "The lab is booked for exams that week."},
    )
    assert declined.status_code == 200, declined.text

    await sign_in(web, pool, world.director)
    listing = await web.get("/en/visit-requests")
    assert listing.status_code == 200
    assert "The lab says: The lab is booked for exams that week." in listing.text
