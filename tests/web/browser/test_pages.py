"""Every page, in every language: no serious or critical axe-core finding, and no sideways scrolling
on a 360 px phone."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from playwright.async_api import Browser, Page

from labbook import db
from labbook.accounts.security import hash_secret, new_secret
from labbook.demo.story import demo_id
from labbook.notifications import outbox
from labbook.notifications import service as notifications
from labbook.settings import Settings
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
    person_id: str
    message_id: str
    reset_token: str
    unsubscribe_token: str

    @property
    def week(self) -> str:
        year, week, _ = datetime.fromisoformat(self.slot["starts_at"]).isocalendar()
        return f"{year}-W{week:02d}"


@pytest.fixture(scope="module")
async def world(site: Site, training: list[dict[str, Any]], demo_url: str) -> World:
    # The journeys book the first slots; the last one stays as the demo left it.
    bookings = await site.api("/bookings", status="confirmed", limit=200)
    now = datetime.now(UTC)
    upcoming = [b for b in bookings["items"] if datetime.fromisoformat(b["slot"]["starts_at"]) > now]
    assert upcoming, "the demo director should have a confirmed booking to come"
    me = await site.api("/me")
    # No job worker runs beside the browser tests: the booking's e-mail is written as the worker would.
    pool = await db.create_pool(demo_url, min_size=1, max_size=2)
    try:
        booking_id = UUID(upcoming[0]["id"])
        sequence = await pool.fetchval("select sequence from bookings where id = $1", booking_id)
        change = notifications.BookingChange(
            booking_id=booking_id, status="confirmed", previous_status=None, sequence=sequence
        )
        await notifications.write_booking_notices(pool, Settings(), change)
        message_id = await pool.fetchval(
            "select id::text from mail_messages where booking_id = $1 order by created_at limit 1", booking_id
        )
        # a reset link and an optional message's unsubscribe link, stored as labbook stores them
        reset_token, unsubscribe_token = new_secret("lbi_"), secrets.token_urlsafe(32)
        await pool.execute(
            """insert into one_time_links (token_hash, person_id, purpose, expires_at)
               values ($1, $2, 'password_reset', now() + interval '1 hour')""",
            hash_secret(reset_token),
            UUID(me["id"]),
        )
        await pool.execute(
            """insert into mail_messages (dedupe_key, message_id, kind, recipient, language, subject, raw,
                                          unsubscribe_hash)
               values ($1, $2, 'booking_reminder', $3, 'kk', 'Reminder', '', $4)""",
            f"browser:{unsubscribe_token}",
            f"<{unsubscribe_token}@labbook.test>",
            me["email"],
            outbox.unsubscribe_hash(unsubscribe_token),
        )
    finally:
        await pool.close()
    assert message_id, "the confirmed booking should have its e-mail in the outbox"
    return World(
        slot=training[-1],
        booking=upcoming[0],
        person_id=me["id"],
        message_id=message_id,
        reset_token=reset_token,
        unsubscribe_token=unsubscribe_token,
    )


# name: (path in the page's language, HTTP status, who is signed in: nobody, the demo director,
# manager or admin)
PAGES: dict[str, tuple[str, int, str]] = {
    "home": ("/", 200, "nobody"),
    "lab": (f"/labs/{LAB}", 200, "nobody"),
    "calendar": (f"/labs/{LAB}/calendar?week={{week}}", 200, "nobody"),
    "slot": ("/slots/{slot}", 200, "nobody"),
    "series": ("/series/{series}", 200, "nobody"),
    "login": ("/login", 200, "nobody"),
    "book": ("/slots/{slot}/book", 200, "director"),
    "bookings": ("/bookings", 200, "director"),
    "booking": ("/bookings/{booking}", 200, "director"),
    "cancel": ("/bookings/{booking}/cancel", 200, "director"),
    "visit-request-form": (f"/visit-requests/new?lab={LAB}", 200, "director"),
    "visit-requests": ("/visit-requests", 200, "director"),
    "account": ("/account", 200, "director"),
    "roster": ("/bookings/{booking}/roster", 200, "director"),
    "lab-desk": ("/manage/", 200, "manager"),
    "attendance": ("/manage/attendance/", 200, "manager"),
    "attendance-week": ("/manage/attendance/week?week={week}", 200, "manager"),
    "attendance-session": ("/manage/attendance/sessions/{slot}", 200, "manager"),
    "inductions": ("/manage/inductions/", 200, "manager"),
    "outreach-report": ("/manage/reports/outreach", 200, "manager"),
    "utilization-report": ("/manage/reports/utilization/", 200, "manager"),
    "publish": ("/manage/slots/new", 200, "manager"),
    "admin-console": ("/admin/", 200, "admin"),
    "admin-organizations": ("/admin/organizations/", 200, "admin"),
    "admin-organization-new": ("/admin/organizations/new", 200, "admin"),
    "admin-organization": ("/admin/organizations/alatau-technical-college", 200, "admin"),
    "admin-people": ("/admin/people/", 200, "admin"),
    "admin-person-new": ("/admin/people/new", 200, "admin"),
    "admin-person": ("/admin/people/{person}", 200, "admin"),
    "admin-labs": ("/admin/labs/", 200, "admin"),
    "admin-lab-new": ("/admin/labs/new", 200, "admin"),
    "admin-lab": (f"/admin/labs/{LAB}", 200, "admin"),
    "admin-audit": ("/admin/audit", 200, "admin"),
    "lab-week": (f"/manage/labs/{LAB}/calendar?week={{week}}", 200, "manager"),
    "lab-month": (f"/manage/labs/{LAB}/calendar/month", 200, "manager"),
    "stations-week": (f"/manage/labs/{LAB}/stations?week={{week}}", 200, "manager"),
    "stations-day": (f"/manage/labs/{LAB}/stations?day={{day}}", 200, "manager"),
    "lab-settings": (f"/manage/labs/{LAB}/settings/", 200, "manager"),
    "publish-series": ("/manage/series/new", 200, "manager"),
    "manage-series": ("/manage/series/{series}", 200, "manager"),
    "manage-slot": ("/manage/slots/{slot}", 200, "manager"),
    "manage-visits": ("/manage/visits/", 200, "manager"),
    "manage-visit": ("/manage/visits/{visit}", 200, "manager"),
    "outbox": ("/admin/outbox/", 200, "admin"),
    "outbox-message": ("/admin/outbox/{message}", 200, "admin"),
    "password-reset": ("/password-reset", 200, "nobody"),
    "password-reset-sent": ("/password-reset?sent=1", 200, "nobody"),
    "password-reset-link": ("/password-reset/{reset}", 200, "nobody"),
    "unsubscribe": ("/unsubscribe/{unsubscribe}", 200, "nobody"),
    "no-such-lab": ("/labs/no-such-lab", 404, "nobody"),
    "no-such-page": ("/no-such-page", 404, "director"),
}


@pytest.fixture(scope="module")
async def tabs(
    browser: Browser,
    site: Site,
    director_state: dict[str, Any],
    manager_state: dict[str, Any],
    admin_state: dict[str, Any],
) -> AsyncIterator[dict[str, Page]]:
    """One page signed out, and one for each of the demo director, manager and admin, shared below."""
    states = {"nobody": None, "director": director_state, "manager": manager_state, "admin": admin_state}
    contexts = {
        who: await browser.new_context(base_url=site.base, viewport=DESKTOP, storage_state=state)
        for who, state in states.items()
    }
    try:
        yield {who: await context.new_page() for who, context in contexts.items()}
    finally:
        for context in contexts.values():
            await context.close()


@pytest.mark.parametrize("name", list(PAGES))
@pytest.mark.parametrize("lang", LANGS)
async def test_page_is_accessible_and_fits_a_phone(
    tabs: dict[str, Page], world: World, lang: str, name: str
) -> None:
    path, status, who = PAGES[name]
    url = f"/{lang}" + path.format(
        week=world.week,
        day=world.slot["starts_at"][:10],
        slot=world.slot["id"],
        series=world.slot["series_id"],
        booking=world.booking["id"],
        person=world.person_id,
        visit=demo_id("visit-request/alatau-tour"),
        message=world.message_id,
        reset=world.reset_token,
        unsubscribe=world.unsubscribe_token,
    )
    page = tabs[who]
    await page.set_viewport_size(DESKTOP)
    await visit(page, url, status)
    assert await page.get_attribute("html", "lang") == lang
    await assert_accessible(page, f"the {name} page in {lang}")
    await assert_fits_phone(page, f"the {name} page in {lang}")
