"""Invitation mail: the person an admin invites gets the one-time link by e-mail, in their
language, over real SMTP, and the link in the mail lets them in."""

from __future__ import annotations

import re

import asyncpg

from labbook.settings import Settings
from tests.factories import Factory
from tests.notifications.helpers import eventually, running_worker, smtp_server
from tests.web.conftest import browser_for, csrf_in


async def test_an_invited_person_gets_the_link_by_mail_in_their_language_and_it_works(
    client, pool: asyncpg.Pool, settings: Settings, make: Factory
) -> None:
    admin = await make.person("admin")
    person = await make.person("director", full_name="Динара Әбенова")
    await pool.execute("update people set language = 'en' where id = $1", person.id)
    with smtp_server() as (inbox, controller):
        smtp_settings = settings.with_changes(
            smtp_url=f"smtp://127.0.0.1:{controller.port}", mail_from="office@labbook.test"
        )
        async with running_worker(smtp_settings):
            invited = await client.post(
                f"/api/v1/people/{person.id}/invitations", json={"days": 3}, headers=admin.headers
            )
            assert invited.status_code == 201, invited.text
            [message] = await eventually(lambda: _async(inbox.to(person.email)), "the invitation mail")

    assert message["Subject"] == "Your invitation to labbook"
    assert message["List-Unsubscribe"] is None, "an invitation is not a mailing"
    text = message.get_body(("plain",)).get_content()
    assert "Hello, Динара Әбенова." in text
    assert f"sign in as {person.email}" in text
    assert invited.json()["url"] in text, "the mail carries the link the admin was shown"
    html = message.get_body(("html",)).get_content()
    assert f'href="{invited.json()["url"]}"' in html
    found = re.search(r"http://127\.0\.0\.1:8000(/en/invitations/lbi_[A-Za-z0-9_-]+)", text)
    assert found, text

    async with browser_for(settings) as web:
        page = await web.get(found.group(1))
        assert page.status_code == 200
        accepted = await web.post(
            found.group(1), data={"password": "my first passphrase", "_csrf": csrf_in(page.text)}
        )
        assert accepted.status_code == 303
        assert (await web.get("/en/account")).status_code == 200, "the link signed the person in"


async def _async(value):  # type: ignore[no-untyped-def]
    return value
