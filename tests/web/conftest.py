"""Fixtures for pages: a browser-like client with its own cookie jar, and signing people in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.app import create_app
from labbook.clock import Clock, system_clock
from labbook.settings import Settings
from tests.apps import shared_apps
from tests.factories import Person

PASSWORD = "correct horse battery"
# Cheap parameters keep the suite fast; labbook verifies any argon2id hash by the parameters it carries
# (and upgrades it to its own on the next sign-in).
_cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD_HASH = _cheap.hash(PASSWORD)

_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


@asynccontextmanager
async def browser_for(
    settings: Settings, base_url: str = "http://labbook.test", clock: Clock = system_clock
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client with a cookie jar of its own, like one person's browser; it shows redirects, not follows.

    On the session's settings and the system clock, browsers share the session's app
    (``tests/apps.py``); other settings or another clock get an app of their own.
    """
    if clock is system_clock and shared_apps.shares(settings):
        browser = await shared_apps.browser(settings, base_url)
        browser.follow_redirects = False
        yield browser
        return
    async with AsyncTestClient(app=create_app(settings, clock=clock), base_url=base_url) as browser:
        browser.follow_redirects = False
        yield browser


@pytest.fixture
async def web(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with browser_for(settings) as browser:
        yield browser


def csrf_in(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def set_password(pool: asyncpg.Pool, person: Person) -> None:
    await pool.execute("update people set password_hash = $2 where id = $1", person.id, PASSWORD_HASH)


async def sign_in(
    web: AsyncTestClient[Litestar], pool: asyncpg.Pool, person: Person, *, lang: str = "en"
) -> None:
    """Sign ``person`` in through the login form, as a browser would."""
    await set_password(pool, person)
    page = await web.get(f"/{lang}/login")
    response = await web.post(
        f"/{lang}/login",
        data={"email": person.email, "password": PASSWORD, "_csrf": csrf_in(page.text)},
    )
    assert response.status_code == 303, response.text
    assert web.cookies.get("lb_session")


async def submit(
    web: AsyncTestClient[Litestar], form_page: str, action: str, data: dict[str, Any]
) -> httpx.Response:
    """Open ``form_page``, then post ``data`` to ``action`` with the page's CSRF token."""
    page = await web.get(form_page)
    assert page.status_code == 200, page.text
    return await web.post(action, data={**data, "_csrf": csrf_in(page.text)})
