"""Every page, in every language: no serious or critical axe-core finding, and no sideways scrolling
on a 360 px phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.web.browser.conftest import (
    DESKTOP,
    LAB,
    LANGS,
    Site,
    assert_accessible,
    assert_fits_phone,
    visit,
)


@dataclass(frozen=True)
class World:
    slot: dict[str, Any]
    booking: dict[str, Any]

    @property
    def week(self) -> str:
        year, week, _ = datetime.fromisoformat(self.slot["starts_at"]).isocalendar()
        return f"{year}-W{week:02d}"


@pytest.fixture(scope="module")
async def world(site: Site, training: list[dict[str, Any]]) -> World:
    # The journeys book the first slots; the last one stays as the demo left it.
    bookings = await site.api("/bookings", status="confirmed", limit=200)
    now = datetime.now(UTC)
    upcoming = [b for b in bookings["items"] if datetime.fromisoformat(b["slot"]["starts_at"]) > now]
    assert upcoming, "the demo director should have a confirmed booking to come"
    return World(slot=training[-1], booking=upcoming[0])


# name: (path in the page's language, HTTP status, signed in as the demo director)
PAGES: dict[str, tuple[str, int, bool]] = {
    "home": ("/", 200, False),
    "lab": (f"/labs/{LAB}", 200, False),
    "calendar": (f"/labs/{LAB}/calendar?week={{week}}", 200, False),
    "slot": ("/slots/{slot}", 200, False),
    "series": ("/series/{series}", 200, False),
    "login": ("/login", 200, False),
    "book": ("/slots/{slot}/book", 200, True),
    "bookings": ("/bookings", 200, True),
    "booking": ("/bookings/{booking}", 200, True),
    "cancel": ("/bookings/{booking}/cancel", 200, True),
    "visit-request-form": (f"/visit-requests/new?lab={LAB}", 200, True),
    "visit-requests": ("/visit-requests", 200, True),
    "account": ("/account", 200, True),
    "no-such-lab": ("/labs/no-such-lab", 404, False),
    "no-such-page": ("/no-such-page", 404, True),
}


@pytest.fixture(scope="module")
async def tabs(
    browser: Browser, site: Site, director_state: dict[str, Any]
) -> AsyncIterator[dict[bool, Page]]:
    """One page signed out and one signed in as the demo director, shared by the checks below."""
    anonymous = await browser.new_context(base_url=site.base, viewport=DESKTOP)
    director = await browser.new_context(base_url=site.base, viewport=DESKTOP, storage_state=director_state)
    try:
        yield {False: await anonymous.new_page(), True: await director.new_page()}
    finally:
        await anonymous.close()
        await director.close()


@pytest.mark.parametrize("name", list(PAGES))
@pytest.mark.parametrize("lang", LANGS)
async def test_page_is_accessible_and_fits_a_phone(
    tabs: dict[bool, Page], world: World, lang: str, name: str
) -> None:
    path, status, signed_in = PAGES[name]
    url = f"/{lang}" + path.format(
        week=world.week,
        slot=world.slot["id"],
        series=world.slot["series_id"],
        booking=world.booking["id"],
    )
    page = tabs[signed_in]
    await page.set_viewport_size(DESKTOP)
    await visit(page, url, status)
    assert await page.get_attribute("html", "lang") == lang
    await assert_accessible(page, f"the {name} page in {lang}")
    await assert_fits_phone(page, f"the {name} page in {lang}")
