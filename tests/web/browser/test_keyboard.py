"""Signing in with the keyboard alone, seeing where the focus is at every step."""

from __future__ import annotations

from playwright.async_api import Browser, Page

from labbook.demo.service import DEMO_PASSWORD
from tests.web.browser.conftest import DESKTOP, DIRECTOR, Site, visit

# What has the focus, and whether it is drawn: an outline, or a box-shadow ring instead.
_FOCUSED = """
() => {
  const e = document.activeElement;
  const style = getComputedStyle(e);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  return {
    tag: e.tagName.toLowerCase(),
    name: e.getAttribute('name'),
    type: e.getAttribute('type'),
    text: (e.innerText || '').trim().slice(0, 40),
    visible: outline || style.boxShadow !== 'none',
  };
}
"""
# Links in the header come before the form; a page with more than this many is a page to rethink.
MAX_TABS = 40


async def _tab_to(page: Page, is_target: dict[str, str]) -> None:
    """Press Tab until the focus reaches the element described; every stop must show the focus."""
    for _ in range(MAX_TABS):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(_FOCUSED)
        assert focused["visible"], f"the focus on {focused} is not visible"
        if all(focused.get(k) == v for k, v in is_target.items()):
            return
    raise AssertionError(f"Tab never reached {is_target} on {page.url}")


async def test_director_signs_in_with_the_keyboard_alone(browser: Browser, site: Site) -> None:
    context = await browser.new_context(base_url=site.base, viewport=DESKTOP)
    try:
        page = await context.new_page()
        await visit(page, "/en/login")
        await _tab_to(page, {"name": "email"})
        await page.keyboard.type(DIRECTOR)
        await _tab_to(page, {"name": "password"})
        await page.keyboard.type(DEMO_PASSWORD)
        await _tab_to(page, {"tag": "button", "type": "submit"})
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert page.url == f"{site.base}/en/"
        assert await page.locator('form[action="/en/logout"]').count() == 1
    finally:
        await context.close()
