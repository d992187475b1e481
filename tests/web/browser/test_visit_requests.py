"""The demo lab manager accepts the Zerde school's training request on 4 TIG stations from its page,
with JavaScript off; the slot it makes holds those 4 stations, as a published slot would."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser

from labbook.demo.story import DEMO_TOKENS, demo_id
from tests.web.browser.conftest import DESKTOP, LAB, Site, assert_accessible, submit, visit

TRAINING_REQUEST = demo_id("visit-request/zerde-welding")
STATIONS = "argon-tig"


async def _as_manager(site: Site, path: str) -> Any:
    reply = await site.http.get(
        f"/api/v1{path}", headers={"Authorization": f"Bearer {DEMO_TOKENS['manager']}"}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_manager_accepts_a_training_request_on_4_stations_with_javascript_off(
    browser: Browser, site: Site, manager_state: dict[str, Any]
) -> None:
    detail = f"/kk/manage/visits/{TRAINING_REQUEST}"
    before = await _as_manager(site, f"/visit-requests/{TRAINING_REQUEST}")
    assert (before["status"], before["kind"], before["lab"]) == ("pending", "training", LAB)

    # axe needs scripts: the page with its three forms is checked in a tab that runs them.
    checking = await browser.new_context(base_url=site.base, viewport=DESKTOP, storage_state=manager_state)
    try:
        page = await checking.new_page()
        await visit(page, detail)
        await assert_accessible(page, "a visit request's page in kk")
    finally:
        await checking.close()

    context = await browser.new_context(
        base_url=site.base, viewport=DESKTOP, storage_state=manager_state, java_script_enabled=False
    )
    try:
        page = await context.new_page()
        await visit(page, "/kk/manage/visits/?status=pending")
        await page.locator(f'a[href="{detail}"]').click()
        assert page.url.endswith(detail)
        action = f"{detail}/accept"
        form = page.locator(f'form[action="{action}"]')
        await form.locator('[name="window_number"][value="1"]').check()
        await form.locator(f'[name="units.{STATIONS}"]').fill("4")
        await form.locator('[name="message"]').fill("Күтеміз! Қорғаныш көзілдірігін алмаңыз, бізде бар.")
        response = await submit(page, action)
        assert response is not None
        assert response.status == 200
        assert page.url.endswith(f"{detail}?done=accepted"), page.url
        assert await page.locator(f'form[action="{action}"]').count() == 0
    finally:
        await context.close()

    accepted = await _as_manager(site, f"/visit-requests/{TRAINING_REQUEST}")
    assert (accepted["status"], accepted["accepted_window_number"]) == ("accepted", 1)
    slot = await _as_manager(site, f"/slots/{accepted['slot_id']}")
    assert (slot["visibility"], slot["organization"]) == ("private", "zerde-boarding-school")
    assert slot["starts_at"] == before["windows"][0]["starts_at"]
    assert len(slot["units"]) == 4
    assert {u["equipment"] for u in slot["units"]} == {STATIONS}
    booking = await _as_manager(site, f"/bookings/{accepted['booking_id']}")
    assert (booking["status"], booking["headcount"]) == ("confirmed", before["headcount"])
