"""The demo lab manager's week, in kk, ru and en, on a demo of its own per language: confirm a pending
booking and decline another with a message; publish a one-off training on two TIG stations after
checking which are free; publish an eight-week series on all six stations, whose preview shows the
collision with the demo's maintenance, with that session skipped; cancel one session after seeing the
bookings it reaches; accept the Zerde school's training request on four stations, and find them held
in the station grid.

Kazakh runs with JavaScript off (every step is a plain form), Russian and English with it on, and
axe checks the pages each step produces. Pages are driven through form field names and actions,
never through translated text; what happened is checked through the API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page

from labbook import db
from labbook.demo import load_demo
from labbook.demo.story import DEMO_TOKENS, demo_id
from labbook.settings import Settings
from tests.databases import throwaway_database
from tests.live import serve
from tests.web.browser.conftest import (
    DESKTOP,
    LAB,
    LANGS,
    MANAGER,
    Site,
    assert_accessible,
    sign_in,
    submit,
    visit,
)

ALMATY = ZoneInfo("Asia/Almaty")
WEEKS = 8
TIG = "argon-tig"
TRAINING_REQUEST = demo_id("visit-request/zerde-welding")
TITLES = {
    "kk": ("TIG: бір реттік практика", "TIG: апта сайынғы практика", "Дәнекерлеу газы жеткізілмеді"),
    "ru": ("TIG: разовая практика", "TIG: еженедельная практика", "Не привезли сварочный газ"),
    "en": ("TIG: one-off practice", "TIG: weekly practice", "The welding gas was not delivered"),
}
DECLINED = {
    "kk": "Бұл күні зертхана толы, басқа күнді таңдаңыз.",
    "ru": "В этот день лаборатория занята, выберите другой день.",
    "en": "The lab is full that day; please choose another.",
}


@pytest.fixture
async def own_site(server_url: str) -> AsyncIterator[Site]:
    """The demo in a database of its own, served: each language's week starts from the same demo."""
    async with throwaway_database(server_url, "labbook_journey", migrated=True) as url:
        conn = await db.connect(url)
        try:
            await load_demo(conn)
        finally:
            await conn.close()
        settings = Settings(database_url=url, pool_min_size=1, pool_max_size=10, log_level="WARNING")
        async with serve(settings) as http:
            yield Site(base=str(http.base_url).rstrip("/"), http=http)


async def _api(site: Site, path: str, **params: Any) -> Any:
    reply = await site.http.get(
        f"/api/v1{path}", params=params, headers={"Authorization": f"Bearer {DEMO_TOKENS['manager']}"}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


async def _fill(page: Page, action: str, fields: dict[str, str]) -> None:
    for name, value in fields.items():
        await page.fill(f'form[action="{action}"] [name="{name}"]', value)


async def _press(page: Page, action: str, name: str, value: str = "1") -> None:
    """Press the button ``name=value`` of the form posting to ``action``; wait for the next page."""
    async with page.expect_navigation():
        await page.locator(f'form[action="{action}"] button[name="{name}"][value="{value}"]').click()


async def _audit(page: Page, javascript: bool, what: str) -> None:
    # axe is a script: it checks the pages of the runs where scripts run.
    if javascript:
        await assert_accessible(page, what)


async def _answer_the_queue(page: Page, site: Site, lang: str, javascript: bool) -> None:
    pending = (await _api(site, "/bookings", status="pending", limit=100))["items"]
    ours = [b for b in pending if b["slot"]["lab"] == LAB]
    assert len(ours) >= 2, "the demo should have two bookings waiting for the welding institute"
    confirmed, declined = ours[0]["id"], ours[1]["id"]
    queue = f"/{lang}/manage/bookings"
    await visit(page, f"/{lang}/manage/")
    await _audit(page, javascript, f"the lab desk in {lang}")
    await _press(page, queue, "confirm_one", confirmed)
    await page.fill(f'form[action="{queue}"] [name="message"]', DECLINED[lang])
    await _press(page, queue, "decline_one", declined)
    assert (await _api(site, f"/bookings/{confirmed}"))["status"] == "confirmed"
    answer = await _api(site, f"/bookings/{declined}")
    assert (answer["status"], answer["status_message"]) == ("declined", DECLINED[lang])


async def _publish_one_off(page: Page, site: Site, lang: str, javascript: bool) -> None:
    form = f"/{lang}/manage/slots/"
    await visit(page, f"/{lang}/manage/slots/new?lab={LAB}")
    today = datetime.now(ALMATY).date()
    friday = today + timedelta(days=7 - today.weekday() + 4, weeks=5)
    await page.select_option(f'form[action="{form}"] [name="kind"]', "training")
    await _fill(
        page,
        form,
        {
            f"title.{lang}": TITLES[lang][0],
            "date": friday.isoformat(),
            "starts_at": "14:00",
            "ends_at": "16:00",
            "capacity": "4",
            f"units.{TIG}": "2",
        },
    )
    await _press(page, form, "check")
    assert await page.locator(f"#free-{TIG}").count() == 1
    await _audit(page, javascript, f"the session form with its free stations in {lang}")
    async with page.expect_navigation():
        await page.locator(f'form[action="{form}"] button[type="submit"]:not([name])').click()
    assert "/manage/" not in page.url, await page.locator("main").inner_text()
    slot = await _api(site, f"/slots/{page.url.rsplit('/', 1)[1]}")
    assert (slot["kind"], slot["title"][lang]) == ("training", TITLES[lang][0])
    assert [u["equipment"] for u in slot["units"]] == [TIG, TIG]


async def _maintenance_day(site: Site) -> date:
    """The day of the demo's maintenance of TIG stations within the coming weeks."""
    found = await _api(site, "/slots", lab=LAB, kind="maintenance", limit=50)
    horizon = datetime.now(ALMATY) + timedelta(weeks=WEEKS - 1)
    held = [
        datetime.fromisoformat(s["starts_at"]).astimezone(ALMATY).date()
        for s in found["items"]
        if datetime.fromisoformat(s["starts_at"]) < horizon and any(u["equipment"] == TIG for u in s["units"])
    ]
    assert held, "the demo should hold TIG stations for maintenance within the next weeks"
    return held[0]


async def _publish_series_and_cancel_one(page: Page, site: Site, lang: str, javascript: bool) -> None:
    collided = await _maintenance_day(site)
    first = collided - timedelta(weeks=1)
    preview = f"/{lang}/manage/series/preview"
    await visit(page, f"/{lang}/manage/series/new?lab={LAB}")
    await _fill(
        page,
        preview,
        {
            f"title.{lang}": TITLES[lang][1],
            "date": first.isoformat(),
            "starts_at": "10:00",
            "ends_at": "12:00",
            "recurrence.count": str(WEEKS),
            "capacity": "12",
            f"units.{TIG}": "6",
        },
    )
    await page.check(f'form[action="{preview}"] [name="recurrence.weekdays"][value="{first.isoweekday()}"]')
    await submit(page, preview)
    assert await page.locator("table.preview tbody tr").count() == WEEKS
    collides = page.locator("table.preview tbody tr.collides")
    assert await collides.count() == 1
    assert collided.isoformat() in (await collides.locator("time").first.get_attribute("datetime") or "")
    await _audit(page, javascript, f"the series preview in {lang}")
    await _press(page, f"/{lang}/manage/series/", "skip_conflicts")
    series_id = page.url.split("/manage/series/", 1)[1].split("?", 1)[0]
    series = await _api(site, f"/series/{series_id}")
    statuses = [o["status"] for o in series["occurrences"]]
    assert statuses.count("active") == WEEKS - 1
    skipped = series["occurrences"][statuses.index("cancelled")]
    assert datetime.fromisoformat(skipped["starts_at"]).astimezone(ALMATY).date() == collided

    # one session: the confirm step first, then that session alone is cancelled
    last = series["occurrences"][-1]["id"]
    await visit(page, f"/{lang}/manage/slots/{last}")
    cancel = f"/{lang}/manage/slots/{last}/cancel"
    await page.check(f'form[action="{cancel}"] [name="scope"][value="one"]')
    await page.fill(f'form[action="{cancel}"] [name="reason"]', TITLES[lang][2])
    await submit(page, cancel)
    assert (await _api(site, f"/slots/{last}"))["status"] == "active"
    await _audit(page, javascript, f"the cancel confirmation in {lang}")
    await submit(page, cancel)
    assert page.url.endswith("?cancelled=1")
    after = await _api(site, f"/series/{series_id}")
    assert [o["status"] for o in after["occurrences"]].count("active") == WEEKS - 2
    assert after["occurrences"][-1]["status"] == "cancelled"


async def _accept_training_on_four_stations(page: Page, site: Site, lang: str, javascript: bool) -> None:
    detail = f"/{lang}/manage/visits/{TRAINING_REQUEST}"
    before = await _api(site, f"/visit-requests/{TRAINING_REQUEST}")
    assert (before["status"], before["kind"], before["lab"]) == ("pending", "training", LAB)
    await visit(page, f"/{lang}/manage/visits/?status=pending")
    async with page.expect_navigation():
        await page.locator(f'a[href="{detail}"]').first.click()
    await _audit(page, javascript, f"a visit request's page in {lang}")
    accept = f"{detail}/accept"
    form = page.locator(f'form[action="{accept}"]')
    await form.locator('[name="window_number"][value="1"]').check()
    await form.locator(f'[name="units.{TIG}"]').fill("4")
    await submit(page, accept)
    assert page.url.endswith(f"{detail}?done=accepted"), page.url
    accepted = await _api(site, f"/visit-requests/{TRAINING_REQUEST}")
    assert (accepted["status"], accepted["accepted_window_number"]) == ("accepted", 1)
    slot = await _api(site, f"/slots/{accepted['slot_id']}")
    assert sorted(u["equipment"] for u in slot["units"]) == [TIG] * 4
    assert (slot["visibility"], slot["organization"]) == ("private", "zerde-boarding-school")
    assert slot["starts_at"] == before["windows"][0]["starts_at"]
    booking = await _api(site, f"/bookings/{accepted['booking_id']}")
    assert (booking["status"], booking["headcount"]) == ("confirmed", before["headcount"])

    # the station grid of that day shows the four stations held by the new session
    day = datetime.fromisoformat(slot["starts_at"]).astimezone(ALMATY).date()
    await visit(page, f"/{lang}/manage/labs/{LAB}/stations?day={day.isoformat()}")
    held = page.locator(f'table.grid td.held a[href="/{lang}/manage/slots/{slot["id"]}"]')
    assert await held.count() == 4
    await _audit(page, javascript, f"the station grid in {lang}")


@pytest.mark.parametrize("lang", LANGS)
async def test_a_lab_managers_week(browser: Browser, own_site: Site, lang: str) -> None:
    javascript = lang != "kk"
    context = await browser.new_context(
        base_url=own_site.base, viewport=DESKTOP, java_script_enabled=javascript
    )
    try:
        page = await context.new_page()
        await sign_in(page, lang, MANAGER)
        await _answer_the_queue(page, own_site, lang, javascript)
        await _publish_one_off(page, own_site, lang, javascript)
        await _publish_series_and_cancel_one(page, own_site, lang, javascript)
        await _accept_training_on_four_stations(page, own_site, lang, javascript)
    finally:
        await context.close()
