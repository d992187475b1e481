"""Browser tests: Debian's Chromium, driven by Playwright, against labbook on a loopback port.

The demo data gets a database of its own: the demo creates organizations and labs with fixed slugs,
and these tests book and cancel seats in it, so sharing the session's database would disturb other
tests (and be disturbed by them). Chromium starts once per session; every test opens its own browser
context (its own cookies), which costs milliseconds.

Chromium is Debian's (``/usr/bin/chromium``, installed by CI with apt-get), never a downloaded one;
when it is missing the tests fail and say so.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, Response, async_playwright

from labbook import db
from labbook.demo import load_demo
from labbook.demo.service import DEMO_PASSWORD
from labbook.demo.story import DEMO_TOKENS
from labbook.settings import Settings
from tests.databases import throwaway_database
from tests.live import serve

CHROMIUM = Path("/usr/bin/chromium")
LANGS = ("kk", "ru", "en")
LAB = "welding-institute"
DIRECTOR = "director@labbook.demo"
MANAGER = "manager@labbook.demo"
ADMIN = "admin@labbook.demo"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
# axe impacts that fail a page; "moderate" and "minor" findings are left to review.
BLOCKING = ("serious", "critical")

_axe = Axe()


@dataclass(frozen=True)
class Site:
    """The served demo: its address, and the JSON API as the demo director sees it."""

    base: str
    http: httpx.AsyncClient

    async def api(self, path: str, **params: Any) -> Any:
        reply = await self.http.get(
            f"/api/v1{path}",
            params={k: v for k, v in params.items() if v is not None},
            headers={"Authorization": f"Bearer {DEMO_TOKENS['director']}"},
        )
        assert reply.status_code == 200, reply.text
        return reply.json()

    async def bookable_training(self) -> list[dict[str, Any]]:
        """Open argon TIG training slots with two seats or more, soonest first."""
        page = await self.api("/slots", lab=LAB, kind="training", has_seats="true", limit=100)
        # An hour's margin keeps a slot from closing for bookings while a test runs.
        soon = datetime.now(UTC) + timedelta(hours=1)
        return sorted(
            (
                s
                for s in page["items"]
                if s["seats_left"] >= 2
                and (s["booking_deadline"] is None or datetime.fromisoformat(s["booking_deadline"]) > soon)
            ),
            key=lambda s: s["starts_at"],
        )


@pytest.fixture(scope="session")
async def demo_url(server_url: str) -> AsyncIterator[str]:
    async with throwaway_database(server_url, "labbook_browser", migrated=True) as url:
        conn = await db.connect(url)
        try:
            await load_demo(conn)
        finally:
            await conn.close()
        yield url


@pytest.fixture(scope="session")
async def site(demo_url: str) -> AsyncIterator[Site]:
    settings = Settings(database_url=demo_url, pool_min_size=1, pool_max_size=10, log_level="WARNING")
    async with serve(settings) as http:
        yield Site(base=str(http.base_url).rstrip("/"), http=http)


@pytest.fixture(scope="session")
async def training(site: Site) -> list[dict[str, Any]]:
    """The bookable training slots as the session began: each journey books its own one."""
    slots = await site.bookable_training()
    # six director journeys take the first six, three invitation journeys and the page checks the last four
    assert len(slots) >= 10, "the demo should have a term of weekly training with seats left"
    return slots


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is missing: the browser tests need Debian's {CHROMIUM} "
            "(apt-get install chromium); they never download a browser",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture(scope="session")
async def director_state(browser: Browser, site: Site) -> dict[str, Any]:
    """Cookies of a signed-in demo director, for tests that are not about signing in."""
    return await _signed_in_state(browser, site, DIRECTOR)


@pytest.fixture(scope="module")
async def manager_state(browser: Browser, site: Site) -> dict[str, Any]:
    """Cookies of the signed-in demo lab manager."""
    return await _signed_in_state(browser, site, MANAGER)


@pytest.fixture(scope="module")
async def admin_state(browser: Browser, site: Site) -> dict[str, Any]:
    """Cookies of the signed-in demo admin."""
    return await _signed_in_state(browser, site, ADMIN)


async def _signed_in_state(browser: Browser, site: Site, email: str) -> dict[str, Any]:
    context = await browser.new_context(base_url=site.base)
    try:
        page = await context.new_page()
        await sign_in(page, "en", email)
        return dict(await context.storage_state())
    finally:
        await context.close()


async def visit(page: Page, url: str, status: int = 200) -> Response:
    """Open ``url`` and insist on its HTTP status (after redirects)."""
    response = await page.goto(url)
    assert response is not None, url
    if response.status != status:
        text = (await page.locator("body").inner_text())[:500]
        raise AssertionError(f"GET {url} answered {response.status}, expected {status}: {text}")
    return response


async def submit(page: Page, action: str) -> Response | None:
    """Press the submit button of the form posting to ``action``; wait for the page it leads to."""
    form = page.locator(f'form[action="{action}"]')
    assert await form.count() == 1, f"{page.url} has {await form.count()} forms posting to {action}"
    async with page.expect_navigation() as navigation:
        await form.locator('[type="submit"]').first.click()
    return await navigation.value


async def sign_in(page: Page, lang: str, email: str = DIRECTOR) -> None:
    """Sign a demo person (the director unless told) in through the login form, as a person would."""
    action = f"/{lang}/login"
    await visit(page, action)
    await page.fill(f'form[action="{action}"] [name="email"]', email)
    await page.fill(f'form[action="{action}"] [name="password"]', DEMO_PASSWORD)
    await submit(page, action)
    assert await page.locator(f'form[action="/{lang}/logout"]').count() == 1, (
        f"not signed in after the login form; at {page.url}"
    )


async def assert_accessible(page: Page, what: str) -> None:
    """axe-core finds nothing serious or critical on the page as it is now."""
    results = await _axe.run(page)
    found = [v for v in results.response["violations"] if v["impact"] in BLOCKING]
    report = "\n".join(
        f"  {v['id']} ({v['impact']}): {v['help']}\n"
        + "\n".join(f"      at {' '.join(map(str, n['target']))}: {n['html'][:160]}" for n in v["nodes"][:6])
        for v in found
    )
    assert not found, f"axe on {what} ({page.url}):\n{report}"


# Elements reaching past the right edge, to say what to fix when a page scrolls sideways.
_OVERFLOWING = """
(width) => [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > width + 0.5)
  .slice(0, 8)
  .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}`
       + `${e.classList.length ? '.' + [...e.classList].join('.') : ''}`
       + ` (right edge ${Math.round(e.getBoundingClientRect().right)}px)`)
"""


async def assert_fits_phone(page: Page, what: str) -> None:
    """At 360 px wide the page needs no horizontal scrolling."""
    await page.set_viewport_size(PHONE)
    width = await page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        culprits = await page.evaluate(_OVERFLOWING, PHONE["width"])
        raise AssertionError(
            f"{what} ({page.url}) is {width}px wide at {PHONE['width']}px: " + "; ".join(culprits)
        )
