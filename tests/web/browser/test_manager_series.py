"""The demo lab manager publishes, in Kazakh, with JavaScript on and off: a one-off training on two
TIG stations after checking which are free; an eight-week series on all six stations whose preview
shows the collision with the demo's maintenance of two TIG stations, published with that session
skipped; then cancels one session after seeing the bookings it reaches.

Pages are driven through form field names and actions, never through translated text; what
happened is checked through the API.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page

from labbook.demo.story import DEMO_TOKENS
from tests.web.browser.conftest import DESKTOP, LAB, MANAGER, Site, assert_accessible, sign_in, submit, visit

ALMATY = ZoneInfo("Asia/Almaty")
LANG = "kk"
WEEKS = 8
# The two runs must not collide with each other, only with the maintenance (09:00-13:00):
# (JavaScript on, series time, one-off week)
RUNS = [(True, ("10:00", "12:00"), 6), (False, ("12:00", "13:00"), 7)]


async def _api(site: Site, path: str, **params: Any) -> Any:
    reply = await site.http.get(
        f"/api/v1{path}", params=params, headers={"Authorization": f"Bearer {DEMO_TOKENS['manager']}"}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


async def _maintenance(site: Site) -> dict[str, Any]:
    """The demo's maintenance of TIG stations in the welding institute, within the coming weeks."""
    found = await _api(site, "/slots", lab=LAB, kind="maintenance", limit=50)
    soon = datetime.now(ALMATY) + timedelta(weeks=WEEKS - 1)
    held = [
        s
        for s in found["items"]
        if datetime.fromisoformat(s["starts_at"]) < soon
        and any(u["equipment"] == "argon-tig" for u in s["units"])
    ]
    assert held, "the demo should hold TIG stations for maintenance within the next weeks"
    return dict(held[0])


async def _audit(page: Page, javascript: bool, what: str) -> None:
    if javascript:
        await assert_accessible(page, what)


async def _fill(page: Page, action: str, fields: dict[str, str]) -> None:
    for name, value in fields.items():
        await page.fill(f'form[action="{action}"] [name="{name}"]', value)


async def _press(page: Page, action: str, name: str, value: str = "1") -> None:
    async with page.expect_navigation():
        await page.locator(f'form[action="{action}"] button[name="{name}"][value="{value}"]').click()


def _friday(week: int) -> date:
    today = datetime.now(ALMATY).date()
    return today + timedelta(days=7 - today.weekday() + 4, weeks=week)


@pytest.mark.parametrize(("javascript", "hours", "week"), RUNS, ids=["js", "no-js"])
async def test_manager_publishes_a_session_and_a_series_and_cancels_one(
    browser: Browser, site: Site, javascript: bool, hours: tuple[str, str], week: int
) -> None:
    maintenance = await _maintenance(site)
    collided = datetime.fromisoformat(maintenance["starts_at"]).astimezone(ALMATY).date()
    first = collided - timedelta(weeks=1)
    context = await browser.new_context(base_url=site.base, viewport=DESKTOP, java_script_enabled=javascript)
    try:
        page = await context.new_page()
        await sign_in(page, LANG, MANAGER)

        # 1. a one-off training on two TIG stations, after checking which are free
        slot_form = f"/{LANG}/manage/slots/"
        await visit(page, f"/{LANG}/manage/slots/new?lab={LAB}")
        day = _friday(week)
        await page.select_option(f'form[action="{slot_form}"] [name="kind"]', "training")
        await _fill(
            page,
            slot_form,
            {
                "title.kk": "TIG: бір реттік практика",
                "date": day.isoformat(),
                "starts_at": "14:00",
                "ends_at": "16:00",
                "capacity": "4",
                "units.argon-tig": "2",
            },
        )
        await _press(page, slot_form, "check")
        assert await page.locator("#free-argon-tig").count() == 1
        await _audit(page, javascript, "the slot form with free stations")
        async with page.expect_navigation():
            await page.locator(f'form[action="{slot_form}"] button[type="submit"]:not([name])').click()
        assert "/manage/" not in page.url, await page.locator("main").inner_text()
        slot_id = page.url.rsplit("/", 1)[1]
        one_off = await _api(site, f"/slots/{slot_id}")
        assert [u["equipment"] for u in one_off["units"]] == ["argon-tig", "argon-tig"]

        # 2. an eight-week series on all six stations: the preview shows the maintenance
        new_series = f"/{LANG}/manage/series/preview"
        await visit(page, f"/{LANG}/manage/series/new?lab={LAB}")
        await _fill(
            page,
            new_series,
            {
                "title.kk": "TIG: дүйсенбілік практика",
                "date": first.isoformat(),
                "starts_at": hours[0],
                "ends_at": hours[1],
                "recurrence.count": str(WEEKS),
                "capacity": "12",
                "units.argon-tig": "6",
            },
        )
        await page.check(
            f'form[action="{new_series}"] [name="recurrence.weekdays"][value="{first.isoweekday()}"]'
        )
        await submit(page, new_series)
        rows = page.locator("table.preview tbody tr")
        assert await rows.count() == WEEKS
        collides = page.locator("table.preview tbody tr.collides")
        assert await collides.count() == 1
        assert collided.isoformat() in (await collides.locator("time").first.get_attribute("datetime") or "")
        await _audit(page, javascript, "the series preview")
        await _press(page, f"/{LANG}/manage/series/", "skip_conflicts")
        series_id = page.url.split("/manage/series/", 1)[1].split("?", 1)[0]
        series = await _api(site, f"/series/{series_id}")
        statuses = [o["status"] for o in series["occurrences"]]
        assert statuses.count("active") == WEEKS - 1
        cancelled = series["occurrences"][statuses.index("cancelled")]
        assert datetime.fromisoformat(cancelled["starts_at"]).astimezone(ALMATY).date() == collided
        await _audit(page, javascript, "the published series")

        # 3. cancel one session: the confirm step first, then the session alone is cancelled
        last = series["occurrences"][-1]["id"]
        await visit(page, f"/{LANG}/manage/slots/{last}")
        cancel = f"/{LANG}/manage/slots/{last}/cancel"
        await page.check(f'form[action="{cancel}"] [name="scope"][value="one"]')
        await page.fill(f'form[action="{cancel}"] [name="reason"]', "Дәнекерлеу газы жеткізілмеді")
        await submit(page, cancel)
        assert (await _api(site, f"/slots/{last}"))["status"] == "active"
        await _audit(page, javascript, "the cancel confirmation")
        await submit(page, cancel)
        assert page.url.endswith("?cancelled=1")
        after = await _api(site, f"/series/{series_id}")
        assert [o["status"] for o in after["occurrences"]].count("active") == WEEKS - 2
        assert after["occurrences"][-1]["status"] == "cancelled"
    finally:
        await context.close()
