"""Signing in and out in a browser: sessions, cookies, CSRF, throttling, invitations."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.settings import Settings
from tests.databases import run_labbook
from tests.factories import Factory, Person
from tests.web.conftest import PASSWORD, browser_for, csrf_in, set_password, sign_in


def set_cookie(response, name: str) -> SimpleCookie:  # type: ignore[no-untyped-def]
    for header in response.headers.get_list("set-cookie"):
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        if name in parsed:
            return parsed
    raise AssertionError(f"no Set-Cookie for {name}")


async def director(make: Factory) -> Person:
    college = await make.organization(kind="college")
    return await make.person("director", organization_id=college["id"])


async def signed_in_name(web: AsyncTestClient[Litestar], person_name: str = "") -> bool:
    """Whether the page header greets someone (the sign-out button is there)."""
    page = await web.get("/en/")
    assert page.status_code == 200
    return 'action="/en/logout"' in page.text


async def test_root_sends_people_to_their_language(web: AsyncTestClient[Litestar]) -> None:
    plain = await web.get("/", follow_redirects=False)
    assert (plain.status_code, plain.headers["location"]) == (303, "/kk/")

    russian = await web.get(
        "/", headers={"Accept-Language": "de-DE,ru;q=0.8,en;q=0.5"}, follow_redirects=False
    )
    assert russian.headers["location"] == "/ru/"

    await web.get("/en/")  # visiting a page in English remembers the choice
    remembered = await web.get("/", headers={"Accept-Language": "ru"}, follow_redirects=False)
    assert remembered.headers["location"] == "/en/"


async def test_pages_set_html_lang_and_offer_every_language(web: AsyncTestClient[Litestar]) -> None:
    for lang, word in (("kk", "Зертханалар"), ("ru", "Лаборатории"), ("en", "Labs")):
        page = await web.get(f"/{lang}/login?next=/{lang}/")
        assert page.status_code == 200
        assert f'<html lang="{lang}">' in page.text
        assert word in page.text
        for other in ("kk", "ru", "en"):
            assert f'href="/{other}/login?next=/{lang}/"' in page.text


async def test_unknown_language_is_a_page_not_found(web: AsyncTestClient[Litestar]) -> None:
    page = await web.get("/de/login")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")


async def test_sign_in_sets_a_safe_session_cookie_and_greets_the_person(
    web: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool
) -> None:
    person = await director(make)
    await set_password(pool, person)
    form = await web.get("/en/login")
    response = await web.post(
        "/en/login",
        data={
            "email": person.email.upper(),
            "password": PASSWORD,
            "_csrf": csrf_in(form.text),
            "next": "/en/",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/en/"
    session = set_cookie(response, "lb_session")["lb_session"]
    assert session["httponly"] is True
    assert session["samesite"].lower() == "lax"
    assert session["path"] == "/"
    assert not session["secure"], "plain http: a Secure cookie would never come back"
    stored = await pool.fetchval("select count(*) from web_sessions where person_id = $1", person.id)
    assert stored == 1
    stored_hash = await pool.fetchval("select secret_hash from web_sessions where person_id = $1", person.id)
    assert stored_hash == hashlib.sha256(session.value.encode()).digest(), "only a hash of the secret is kept"
    assert session.value.encode() not in stored_hash
    assert await signed_in_name(web)


async def test_session_cookie_is_secure_when_served_over_https(
    settings: Settings, make: Factory, pool: asyncpg.Pool
) -> None:
    person = await director(make)
    await set_password(pool, person)
    https = settings.with_changes(base_url="https://labbook.example.kz")
    async with browser_for(https, "https://labbook.example.kz") as web:
        form = await web.get("/en/login")
        assert set_cookie(form, "lb_csrf")["lb_csrf"]["secure"] is True
        response = await web.post(
            "/en/login", data={"email": person.email, "password": PASSWORD, "_csrf": csrf_in(form.text)}
        )
        assert response.status_code == 303
        assert set_cookie(response, "lb_session")["lb_session"]["secure"] is True


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    web: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool
) -> None:
    person = await director(make)
    await set_password(pool, person)
    answers = []
    for email in (person.email, "nobody-here@example.kz"):
        form = await web.get("/en/login")
        response = await web.post(
            "/en/login", data={"email": email, "password": "not the password", "_csrf": csrf_in(form.text)}
        )
        answers.append((response.status_code, response.text.replace(email, "EMAIL")))
        assert "lb_session" not in web.cookies
    assert answers[0] == answers[1]
    assert answers[0][0] == 200
    assert "The email or the password is wrong." in answers[0][1]


async def test_a_form_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    web: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool
) -> None:
    person = await director(make)
    await set_password(pool, person)
    await web.get("/en/login")
    for token in (None, "forged-token-forged-token-forged-token"):
        data = {"email": person.email, "password": PASSWORD}
        if token:
            data["_csrf"] = token
        refused = await web.post("/en/login", data=data)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        assert await pool.fetchval("select count(*) from web_sessions where person_id = $1", person.id) == 0

    await sign_in(web, pool, person)
    forged = await web.post("/en/logout/everywhere", data={"_csrf": "x" * 64})
    assert forged.status_code == 403
    assert await pool.fetchval("select count(*) from web_sessions where person_id = $1", person.id) == 1
    assert await signed_in_name(web)


async def test_the_signed_in_form_token_is_bound_to_the_session(
    settings: Settings, make: Factory, pool: asyncpg.Pool
) -> None:
    first, second = await director(make), await director(make)
    async with browser_for(settings) as one, browser_for(settings) as other:
        await sign_in(one, pool, first)
        await sign_in(other, pool, second)
        foreign_token = csrf_in((await other.get("/en/")).text)
        refused = await one.post("/en/logout/everywhere", data={"_csrf": foreign_token})
        assert refused.status_code == 403
        assert await signed_in_name(one)


@pytest.fixture
async def clean_login_counters(pool: asyncpg.Pool) -> AsyncIterator[None]:
    # Failed sign-ins count per client address too, and every test shares the test client's address.
    await pool.execute("delete from rate_limits where bucket like 'login:%'")
    yield
    await pool.execute("delete from rate_limits where bucket like 'login:%'")


@pytest.mark.usefixtures("clean_login_counters")
async def test_throttled_sign_in_says_so_without_revealing_the_account(
    settings: Settings, make: Factory, pool: asyncpg.Pool
) -> None:
    person = await director(make)
    await set_password(pool, person)
    async with browser_for(settings.with_changes(login_failure_limit=3)) as web:
        answers = []
        for email in (person.email, "nobody-else@example.kz"):
            for _ in range(3):
                form = await web.get("/en/login")
                wrong = await web.post(
                    "/en/login", data={"email": email, "password": "wrong guess", "_csrf": csrf_in(form.text)}
                )
                assert wrong.status_code == 200
            form = await web.get("/en/login")
            # Even the right password is refused while the account is throttled.
            throttled = await web.post(
                "/en/login", data={"email": email, "password": PASSWORD, "_csrf": csrf_in(form.text)}
            )
            answers.append((throttled.status_code, throttled.text.replace(email, "EMAIL")))
        assert answers[0] == answers[1]
        assert answers[0][0] == 429
        assert "Too many failed sign-ins" in answers[0][1]
        assert "lb_session" not in web.cookies


async def test_sign_out_ends_the_session(
    web: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool
) -> None:
    person = await director(make)
    await sign_in(web, pool, person)
    stolen = web.cookies["lb_session"]
    page = await web.get("/en/")
    response = await web.post("/en/logout", data={"_csrf": csrf_in(page.text)})
    assert response.status_code == 303
    assert not await signed_in_name(web)
    web.cookies.set("lb_session", stolen)
    assert not await signed_in_name(web), "a signed-out session's cookie must not work again"


async def test_sign_out_everywhere_ends_every_session(
    settings: Settings, make: Factory, pool: asyncpg.Pool
) -> None:
    person = await director(make)
    async with browser_for(settings) as laptop, browser_for(settings) as phone:
        await sign_in(laptop, pool, person)
        await sign_in(phone, pool, person)
        page = await laptop.get("/en/")
        response = await laptop.post("/en/logout/everywhere", data={"_csrf": csrf_in(page.text)})
        assert response.status_code == 303
        assert not await signed_in_name(laptop)
        assert not await signed_in_name(phone)


async def test_a_deactivated_persons_session_stops_at_once(
    web: AsyncTestClient[Litestar], client: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool
) -> None:
    college = await make.organization(kind="college")
    host = await make.host()
    admin = await make.person("admin", organization_id=host["id"])
    person = await make.person("director", organization_id=college["id"])
    await sign_in(web, pool, person)
    assert await signed_in_name(web)

    off = await client.post(f"/api/v1/people/{person.id}/deactivate", headers=admin.headers)
    assert off.status_code == 200

    assert not await signed_in_name(web)
    assert await pool.fetchval("select count(*) from web_sessions where person_id = $1", person.id) == 0


async def test_an_idle_or_expired_session_stops(
    web: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool, settings: Settings
) -> None:
    person = await director(make)
    await sign_in(web, pool, person)
    idle = settings.session_idle_minutes + 1
    await pool.execute(
        "update web_sessions set last_seen_at = now() - make_interval(mins => $2) where person_id = $1",
        person.id,
        idle,
    )
    assert not await signed_in_name(web)

    await sign_in(web, pool, person)
    await pool.execute(
        "update web_sessions set expires_at = now() - interval '1 second' where person_id = $1", person.id
    )
    assert not await signed_in_name(web)


async def test_sign_in_goes_back_only_to_pages_of_this_site(
    web: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool
) -> None:
    person = await director(make)
    await set_password(pool, person)
    for target, expected in (
        ("/en/labs/x", "/en/labs/x"),
        ("//evil.example/", "/en/"),
        ("https://evil/", "/en/"),
    ):
        form = await web.get("/en/login")
        response = await web.post(
            "/en/login",
            data={"email": person.email, "password": PASSWORD, "_csrf": csrf_in(form.text), "next": target},
        )
        assert response.headers["location"] == expected


async def test_an_invitation_link_sets_a_password_once(
    web: AsyncTestClient[Litestar], client: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool
) -> None:
    host = await make.host()
    admin = await make.person("admin", organization_id=host["id"])
    person = await director(make)
    invited = await client.post(f"/api/v1/people/{person.id}/invitations", json={}, headers=admin.headers)
    assert invited.status_code == 201, invited.text
    url = invited.json()["url"]
    path = url.removeprefix("http://127.0.0.1:8000")
    assert path.startswith("/kk/invitations/lbi_")
    token = path.rsplit("/", 1)[1]
    stored = await pool.fetchval("select token_hash from one_time_links where person_id = $1", person.id)
    assert stored == hashlib.sha256(token.encode()).digest(), "only a hash of the link's secret is kept"

    page = await web.get(path)
    assert page.status_code == 200
    assert person.email in page.text
    short = await web.post(path, data={"password": "short", "_csrf": csrf_in(page.text)})
    assert short.status_code == 200
    assert "10" in short.text
    assert 'aria-invalid="true"' in short.text

    accepted = await web.post(path, data={"password": "a new long passphrase", "_csrf": csrf_in(page.text)})
    assert accepted.status_code == 303
    assert await signed_in_name(web)

    again = await web.get(path)
    assert again.status_code == 404
    assert "Бұл сілтеме бұрын қолданылған" in again.text, "the link's page speaks the person's language"
    in_english = await web.get(path.replace("/kk/", "/en/", 1))
    assert "already used or has expired" in in_english.text


async def test_only_an_admin_may_invite(client: AsyncTestClient[Litestar], make: Factory) -> None:
    person = await director(make)
    refused = await client.post(f"/api/v1/people/{person.id}/invitations", json={}, headers=person.headers)
    assert refused.status_code == 403


async def test_cli_invites_and_sets_passwords(
    web: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool, database_url: str
) -> None:
    person = await director(make)
    rc, out, err = await run_labbook(database_url, "user", "invite", "--email", person.email)
    assert rc == 0, err
    assert "/invitations/lbi_" in out
    assert "valid until" in err

    rc, out, err = await run_labbook(
        database_url,
        "user",
        "set-password",
        "--email",
        person.email,
        "--stdin",
        stdin="from the command line\n",
    )
    assert rc == 0, err
    form = await web.get("/en/login")
    response = await web.post(
        "/en/login",
        data={"email": person.email, "password": "from the command line", "_csrf": csrf_in(form.text)},
    )
    assert response.status_code == 303

    rc, _, err = await run_labbook(
        database_url, "user", "set-password", "--email", person.email, "--stdin", stdin="short\n"
    )
    assert rc != 0
    assert "10 characters" in err


async def test_password_hashes_never_reach_the_api_or_the_audit_log(
    client: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool
) -> None:
    host = await make.host()
    admin = await make.person("admin", organization_id=host["id"])
    person = await director(make)
    await set_password(pool, person)
    shown = await client.get(f"/api/v1/people/{person.id}", headers=admin.headers)
    assert "argon2" not in shown.text
    audit = await pool.fetchval(
        "select count(*) from audit_events "
        "where coalesce(before::text, '') || coalesce(after::text, '') like '%argon2%'"
    )
    assert audit == 0


async def test_a_missing_page_is_a_page_and_a_missing_api_route_stays_a_problem(
    web: AsyncTestClient[Litestar],
) -> None:
    page = await web.get("/ru/no-such-page/at-all")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="ru">' in page.text
    assert "Такой страницы нет" in page.text

    feed = await web.get("/feeds/no/such/feed.ics")
    assert feed.status_code == 404
    assert feed.headers["content-type"].startswith("application/problem+json")

    api = await web.get("/api/v1/no-such-route")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["type"] == "/problems/not-found"


async def test_a_missing_page_keeps_the_visitor_signed_in(
    web: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool
) -> None:
    await sign_in(web, pool, await director(make))
    page = await web.get("/en/no-such-thing/at/all")
    assert page.status_code == 404
    assert 'action="/en/logout"' in page.text


async def test_a_forgotten_password_is_reset_through_the_pages_in_the_persons_language(
    make: Factory, pool: asyncpg.Pool, settings: Settings
) -> None:
    person = await director(make)
    async with browser_for(settings) as old_device:
        await sign_in(old_device, pool, person, lang="kk")
        async with browser_for(settings) as web:
            login = await web.get("/kk/login")
            assert 'href="/kk/password-reset"' in login.text
            assert "Құпиясөзді ұмыттыңыз ба?" in login.text
            form = await web.get("/kk/password-reset")
            asked = await web.post(
                "/kk/password-reset", data={"email": person.email, "_csrf": csrf_in(form.text)}
            )
            assert (asked.status_code, asked.headers["location"]) == (303, "/kk/password-reset?sent=1")
            sent = await web.get(asked.headers["location"])
            assert "Бұл мекенжайда тіркелгі болса" in sent.text
            unknown = await web.post(
                "/kk/password-reset", data={"email": f"x{person.email}", "_csrf": csrf_in(form.text)}
            )
            assert (unknown.status_code, unknown.headers["location"]) == (303, "/kk/password-reset?sent=1")
            too_soon = await web.post(
                "/kk/password-reset", data={"email": person.email, "_csrf": csrf_in(form.text)}
            )
            assert too_soon.status_code == 429
            assert 'name="email" type="email" value="' + person.email in too_soon.text

            url = await pool.fetchval(
                """select convert_from(payload, 'UTF8')::json ->> 'url' from pgqueuer
                   where entrypoint = 'link_issued' and convert_from(payload, 'UTF8') like $1""",
                f"%{person.email}%",
            )
            path = url.removeprefix("http://127.0.0.1:8000")
            assert path.startswith("/kk/password-reset/lbi_")
            page = await web.get(path)
            assert page.status_code == 200
            assert "Жаңа құпиясөз таңдаңыз" in page.text
            short = await web.post(path, data={"password": "short", "_csrf": csrf_in(page.text)})
            assert 'aria-invalid="true"' in short.text
            done = await web.post(
                path, data={"password": "a new long passphrase", "_csrf": csrf_in(page.text)}
            )
            assert (done.status_code, done.headers["location"]) == (303, "/kk/")
            assert await signed_in_name(web)
            assert (await web.get(path)).status_code == 404
        assert not await signed_in_name(old_device), "the session from before the reset ended"


async def test_the_account_page_turns_optional_messages_off_and_on(
    web: AsyncTestClient[Litestar], make: Factory, pool: asyncpg.Pool
) -> None:
    person = await director(make)
    await sign_in(web, pool, person, lang="ru")
    page = await web.get("/ru/account")
    assert "Письма по почте" in page.text
    assert 'name="booking_received" value="true"' in page.text
    assert 'name="lab_digest"' not in page.text, "the evening list is for lab managers"

    saved = await web.post(
        "/ru/account/messages", data={"booking_received": "true", "_csrf": csrf_in(page.text)}
    )

    assert saved.status_code == 303
    again = await web.get(saved.headers["location"])
    assert "Выбор писем сохранён." in again.text
    boxes = dict(re.findall(r'<input type="checkbox" id="f-(\w+)"[^>]*?( checked)?>', again.text))
    assert boxes == {"booking_received": " checked", "booking_reminder": ""}
    off = await pool.fetch("select kind from mail_opt_outs where email = lower($1)", person.email)
    assert [r["kind"] for r in off] == ["booking_reminder"]
