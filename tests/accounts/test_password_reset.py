"""Password resets through the API: the same answer for every address, a one-time link by e-mail
that expires by the app's clock, one request a minute per address, and every session ending."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.notifications import mail
from labbook.settings import Settings
from tests.catalog.conftest import assert_problem
from tests.factories import Factory, Person
from tests.notifications.helpers import eventually, running_worker
from tests.web.conftest import browser_for, sign_in

RESET_LINK = re.compile(r"http://127\.0\.0\.1:8000/(kk|ru|en)/password-reset/(lbi_[A-Za-z0-9_-]+)")


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def move(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def api(settings: Settings, clock: Clock) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with browser_for(settings, clock=clock) as client:
        yield client


async def reset_mails(pool: asyncpg.Pool, email: str, count: int) -> list[mail.Readable]:
    """The reset messages to ``email``, oldest link first, once the worker has written ``count``."""

    async def written() -> list[asyncpg.Record] | None:
        # the worker may write two messages in either order: they are sorted by their links' age
        rows = await pool.fetch(
            """select m.raw from mail_messages m
               join one_time_links l on m.dedupe_key = 'password_reset:' || l.id
               where m.kind = 'password_reset' and m.recipient = $1
               order by l.created_at, l.id""",
            email,
        )
        return rows if len(rows) >= count else None

    return [mail.read(row["raw"]) for row in await eventually(written, f"{count} reset mail(s) to {email}")]


def link_in(message: mail.Readable) -> tuple[str, str]:
    found = RESET_LINK.search(message.text)
    assert found, message.text
    return found.group(1), found.group(2)


async def test_a_reset_link_comes_by_mail_sets_a_new_password_once_and_ends_every_session(
    api: AsyncTestClient[Litestar], settings: Settings, pool: asyncpg.Pool, make: Factory
) -> None:
    person: Person = await make.person("director")
    await pool.execute("update people set language = 'ru' where id = $1", person.id)
    async with browser_for(settings) as phone:
        await sign_in(phone, pool, person)
        async with running_worker(settings):
            asked = await api.post("/api/v1/password-resets", json={"email": person.email.upper()})
            assert asked.status_code == 202, asked.text
            assert asked.json()["expires_in_minutes"] == 60
            [message] = await reset_mails(pool, person.email, 1)
        lang, token = link_in(message)
        assert lang == "ru"
        assert message.subject == "Новый пароль для labbook"
        assert "Ссылка работает один раз, до" in message.text
        stored = await pool.fetchval(
            "select token_hash from one_time_links where person_id = $1 and purpose = 'password_reset'",
            person.id,
        )
        assert stored == hashlib.sha256(token.encode()).digest(), "only a hash of the secret is kept"

        short = await api.post(f"/api/v1/password-resets/{token}", json={"password": "short"})
        assert_problem(short, 422, "validation")
        done = await api.post(f"/api/v1/password-resets/{token}", json={"password": "a brand new passphrase"})
        assert done.status_code == 204, done.text
        again = await api.post(f"/api/v1/password-resets/{token}", json={"password": "another passphrase!"})
        assert_problem(again, 404, "link-invalid")

        signed_out = await phone.get("/en/account")
        assert signed_out.status_code == 303, "the session from before the reset has ended"
    login = await api.get("/en/login")
    assert login.status_code == 200
    async with browser_for(settings) as laptop:
        page = await laptop.get("/en/login")
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text)
        assert csrf
        signed_in = await laptop.post(
            "/en/login",
            data={"email": person.email, "password": "a brand new passphrase", "_csrf": csrf.group(1)},
        )
        assert signed_in.status_code == 303, "the new password signs in"


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    api: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    person = await make.person("director")
    known = await api.post("/api/v1/password-resets", json={"email": person.email})
    unknown = await api.post("/api/v1/password-resets", json={"email": f"nobody-{person.id}@example.kz"})

    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.status_code == 202
    assert await pool.fetchval("select count(*) from one_time_links where person_id = $1", person.id) == 1
    for_unknown = await pool.fetchval(
        "select count(*) from pgqueuer where convert_from(payload, 'UTF8') like $1", f"%nobody-{person.id}%"
    )
    assert for_unknown == 0, "nothing is written for an address without an account"
    assert_problem(
        await api.post("/api/v1/password-resets", json={"email": "not an address"}), 422, "validation"
    )


async def test_an_address_may_ask_once_a_minute_and_a_newer_link_spends_the_older(
    api: AsyncTestClient[Litestar], settings: Settings, clock: Clock, pool: asyncpg.Pool, make: Factory
) -> None:
    person = await make.person("director")
    unknown = f"nobody-{person.id}@example.kz"
    async with running_worker(settings):
        assert (await api.post("/api/v1/password-resets", json={"email": person.email})).status_code == 202
        assert (await api.post("/api/v1/password-resets", json={"email": unknown})).status_code == 202
        clock.move(seconds=30)
        for email in (person.email, unknown):
            refused = assert_problem(
                await api.post("/api/v1/password-resets", json={"email": email}),
                429,
                "password-reset-throttled",
            )
            assert refused["status"] == 429
        clock.move(seconds=31)
        assert (await api.post("/api/v1/password-resets", json={"email": person.email})).status_code == 202
        first, second = await reset_mails(pool, person.email, 2)

    older = await api.post(
        f"/api/v1/password-resets/{link_in(first)[1]}", json={"password": "older passphrase"}
    )
    assert_problem(older, 404, "link-invalid")
    newer = await api.post(
        f"/api/v1/password-resets/{link_in(second)[1]}", json={"password": "newer passphrase"}
    )
    assert newer.status_code == 204


async def test_a_reset_link_expires_after_an_hour_by_the_apps_clock(
    api: AsyncTestClient[Litestar], settings: Settings, clock: Clock, pool: asyncpg.Pool, make: Factory
) -> None:
    person = await make.person("director")
    async with running_worker(settings):
        assert (await api.post("/api/v1/password-resets", json={"email": person.email})).status_code == 202
        [message] = await reset_mails(pool, person.email, 1)
    lang, token = link_in(message)

    clock.move(minutes=59)
    assert (await api.get(f"/{lang}/password-reset/{token}")).status_code == 200
    clock.move(minutes=2)
    assert (await api.get(f"/{lang}/password-reset/{token}")).status_code == 404
    late = await api.post(f"/api/v1/password-resets/{token}", json={"password": "too late passphrase"})
    assert_problem(late, 404, "link-invalid")
    assert await pool.fetchval("select password_hash from people where id = $1", person.id) is None


async def test_a_deactivated_person_gets_no_reset_link(
    api: AsyncTestClient[Litestar], pool: asyncpg.Pool, make: Factory
) -> None:
    person = await make.person("director")
    await pool.execute("update people set is_active = false where id = $1", person.id)

    asked = await api.post("/api/v1/password-resets", json={"email": person.email})

    assert asked.status_code == 202
    assert await pool.fetchval("select count(*) from one_time_links where person_id = $1", person.id) == 0
