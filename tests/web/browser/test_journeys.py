"""A college director's errands, in kk, ru and en, with JavaScript on and off: sign in, book two seats
of an argon TIG training, find the booking, cancel it, and ask for a visit for twenty students.

Each run has its own browser context and its own training slot, so the six runs do not depend on one
another. Pages are driven through form field names and form actions, never through translated text;
what happened is checked through the API as well.
"""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page

from tests.web.browser.conftest import (
    DESKTOP,
    LAB,
    LANGS,
    Site,
    assert_accessible,
    sign_in,
    submit,
    visit,
)

ALMATY = ZoneInfo("Asia/Almaty")
RUNS = [(lang, javascript) for lang in LANGS for javascript in (True, False)]


async def audit(page: Page, javascript: bool, what: str) -> None:
    """axe-core on the page as the errand left it, where scripts run (axe is a script itself).

    test_pages.py checks every page as the demo has it; here the pages that only an errand produces:
    a new booking in our list, a cancelled booking, a new visit request.
    """
    if javascript:
        await assert_accessible(page, what)


async def _seats_left(site: Site, slot_id: str) -> int:
    slot = await site.api(f"/slots/{slot_id}")
    return int(slot["seats_left"])


async def _ours(site: Site, slot_id: str) -> dict[str, dict[str, Any]]:
    page = await site.api("/bookings", slot=slot_id, limit=200)
    return {b["id"]: b for b in page["items"]}


@pytest.mark.parametrize(
    ("lang", "javascript"), RUNS, ids=[f"{lang}-{'js' if js else 'no-js'}" for lang, js in RUNS]
)
async def test_director_books_cancels_and_requests_a_visit(
    browser: Browser, site: Site, training: list[dict[str, Any]], lang: str, javascript: bool
) -> None:
    slot = training[RUNS.index((lang, javascript))]
    slot_id = slot["id"]
    context = await browser.new_context(base_url=site.base, viewport=DESKTOP, java_script_enabled=javascript)
    try:
        page = await context.new_page()

        # 1. sign in
        await sign_in(page, lang)

        # 2. the slot page, its book link, the booking form
        seats_before = await _seats_left(site, slot_id)
        bookings_before = await _ours(site, slot_id)
        await visit(page, f"/{lang}/slots/{slot_id}")
        book_path = f"/{lang}/slots/{slot_id}/book"
        async with page.expect_navigation():
            await page.locator(f'a[href="{book_path}"]').first.click()
        assert page.url == f"{site.base}{book_path}"
        form = page.locator(f'form[action="{book_path}"]')
        assert await form.locator('[name="contact_name"]').input_value(), "contact name is not prefilled"
        await form.locator('[name="headcount"]').fill("2")
        await form.locator('[name="language"]').select_option(lang)
        await submit(page, book_path)

        new = {k: v for k, v in (await _ours(site, slot_id)).items() if k not in bookings_before}
        assert len(new) == 1, f"expected one new booking, found {list(new.values())}; now at {page.url}"
        booking = next(iter(new.values()))
        assert (booking["headcount"], booking["language"]) == (2, lang)
        assert booking["status"] == ("pending" if slot["requires_approval"] else "confirmed")
        assert await _seats_left(site, slot_id) == seats_before - 2

        # 3. the booking is listed under our bookings
        booking_path = f"/{lang}/bookings/{booking['id']}"
        await visit(page, f"/{lang}/bookings")
        await audit(page, javascript, f"our bookings with a new one, in {lang}")
        assert await page.locator(f'a[href="{booking_path}"]').count() >= 1, "the booking is not listed"

        # 4. open it and cancel it
        async with page.expect_navigation():
            await page.locator(f'a[href="{booking_path}"]').first.click()
        cancel_path = f"{booking_path}/cancel"
        async with page.expect_navigation():
            await page.locator(f'a[href="{cancel_path}"]').first.click()
        await page.locator(f'form[action="{cancel_path}"] [name="reason"]').fill("Сабақ кестесі өзгерді")
        await submit(page, cancel_path)
        await visit(page, booking_path)
        shown = page.locator(".badge.cancelled")
        assert await shown.count() >= 1, "the booking page does not show the booking as cancelled"
        await audit(page, javascript, f"a cancelled booking, in {lang}")
        cancelled = await site.api(f"/bookings/{booking['id']}")
        assert cancelled["status"] == "cancelled"
        assert await _seats_left(site, slot_id) == seats_before

        # 5. ask for a visit for twenty students
        purpose = f"Argon welding for second-year students ({lang}, {secrets.token_hex(3)})"
        day = (datetime.now(ALMATY) + timedelta(days=30 + RUNS.index((lang, javascript)))).date()
        while day.isoweekday() > 5:  # a weekday, inside the lab's opening hours
            day += timedelta(days=1)
        await visit(page, f"/{lang}/visit-requests/new?lab={LAB}")
        action = await page.locator('form:has([name="purpose"])').get_attribute("action")
        assert action is not None
        form = page.locator(f'form[action="{action}"]')
        await form.locator('[name="date"]').first.fill(day.isoformat())
        await form.locator('[name="starts_at"]').first.fill("10:00")
        await form.locator('[name="ends_at"]').first.fill("12:00")
        await form.locator('[name="headcount"]').fill("20")
        await form.locator('[name="language"]').select_option(lang)
        await form.locator('[name="kind"]').select_option("tour")
        await form.locator('[name="purpose"]').fill(purpose)
        if not await form.locator('[name="contact_name"]').input_value():
            await form.locator('[name="contact_name"]').fill("Марина Ковалёва")
        await submit(page, action)

        requests = await site.api("/visit-requests", status="pending", lab=LAB, limit=200)
        mine = [r for r in requests["items"] if r["purpose"] == purpose]
        assert len(mine) == 1, f"the visit request was not created; now at {page.url}"
        request = mine[0]
        assert request["headcount"] == 20
        assert request["language"] == lang
        starts = datetime.fromisoformat(request["windows"][0]["starts_at"]).astimezone(ALMATY)
        assert (starts.date(), starts.time()) == (day, time(10))

        await visit(page, f"/{lang}/visit-requests")
        await audit(page, javascript, f"our visit requests with a new one, in {lang}")
        # A pending request's row carries the form that withdraws it.
        row = page.locator(f'tr:has(form[action="/{lang}/visit-requests/{request["id"]}/cancel"])')
        assert await row.count() == 1, "the visit request is not listed"
        assert await row.locator(".badge.pending").count() == 1, "the visit request is not shown as pending"
    finally:
        await context.close()
