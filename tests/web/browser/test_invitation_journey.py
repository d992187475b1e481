"""admin@labbook.demo invites a new director; the director opens the link, sets a password, signs in
and books, in each language, driven through Debian's Chromium."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from playwright.async_api import Browser

from tests.web.browser.conftest import (
    ADMIN,
    DESKTOP,
    LANGS,
    Site,
    assert_accessible,
    sign_in,
    submit,
    visit,
)

COLLEGE = "saryarka-mining-college"
NEW_PASSWORD = "Жаңа құпиясөз 2027"


@pytest.mark.parametrize("lang", LANGS)
async def test_admin_invites_a_director_who_signs_in_and_books(
    browser: Browser, site: Site, training: list[dict[str, Any]], lang: str
) -> None:
    email = f"director-{lang}-{secrets.token_hex(3)}@saryarka.kz"
    # the journeys of test_journeys book the first slots; this one books the middle of the term
    slot = training[-2 - LANGS.index(lang)]  # the director journeys take the first six, test_pages the last
    admin_context = await browser.new_context(base_url=site.base, viewport=DESKTOP)
    director_context = await browser.new_context(base_url=site.base, viewport=DESKTOP)
    try:
        # 1. the admin invites a director of a college from the console
        admin = await admin_context.new_page()
        await sign_in(admin, lang, ADMIN)
        await visit(admin, f"/{lang}/")
        async with admin.expect_navigation():
            await admin.locator(f'nav a[href="/{lang}/admin/"]').click()
        async with admin.expect_navigation():
            await admin.locator(f'main a[href="/{lang}/admin/people/"]').first.click()
        async with admin.expect_navigation():
            await admin.locator(f'a[href="/{lang}/admin/people/new"]').click()
        action = f"/{lang}/admin/people/"
        form = admin.locator(f'form[action="{action}"]')
        await form.locator('[name="organization"]').select_option(COLLEGE)
        await form.locator('[name="email"]').fill(email)
        await form.locator('[name="full_name"]').fill("Гүлнар Есенова")
        await form.locator('[name="phone"]').fill("+7 701 555 12 34")
        await form.locator('[name="roles"][value="director"]').check()
        await form.locator('[name="days"]').fill("3")
        await submit(admin, action)
        link = await admin.locator("#invitation-url").input_value()
        # the link opens in the invitee's own language (Kazakh until they choose), whatever the admin reads
        assert "/kk/invitations/" in link, f"no invitation link shown; at {admin.url}"
        await assert_accessible(admin, f"the invitation link page in {lang}")

        # 2. the director opens the link and sets a password
        director = await director_context.new_page()
        path = f"/{lang}/" + link.split("://", 1)[1].split("/", 2)[2]
        await visit(director, path)
        await assert_accessible(director, f"the invitation page in {lang}")
        await director.locator(f'form[action="{path}"] [name="password"]').fill(NEW_PASSWORD)
        await submit(director, path)
        assert await director.locator(f'form[action="/{lang}/logout"]').count() == 1, "not signed in"
        await submit(director, f"/{lang}/logout")
        await visit(director, path, status=404)  # the link is spent

        # 3. the director signs in with the new password
        login = f"/{lang}/login"
        await visit(director, login)
        await director.locator(f'form[action="{login}"] [name="email"]').fill(email)
        await director.locator(f'form[action="{login}"] [name="password"]').fill(NEW_PASSWORD)
        await submit(director, login)
        assert await director.locator(f'form[action="/{lang}/logout"]').count() == 1, "the new password fails"

        # 4. and books seats in a training session for the college
        book = f"/{lang}/slots/{slot['id']}/book"
        await visit(director, book)
        form = director.locator(f'form[action="{book}"]')
        await form.locator('[name="headcount"]').fill("2")
        if not await form.locator('[name="contact_name"]').input_value():
            await form.locator('[name="contact_name"]').fill("Гүлнар Есенова")
        await form.locator('[name="language"]').select_option(lang)
        await submit(director, book)
        await visit(director, f"/{lang}/bookings")
        assert await director.locator(f'a[href^="/{lang}/bookings/"]').count() >= 1, "no booking listed"

        # the admin sees the booking's author in the audit log, by person
        await visit(admin, f"/{lang}/admin/audit?actor={email}")
        assert await admin.locator("code", has_text="booking.create").count() >= 1, "no booking in the log"
    finally:
        await admin_context.close()
        await director_context.close()
