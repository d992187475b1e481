"""Acceptance 6: the demo without SMTP keeps real messages in the outbox, in kk, ru and en, and admins
read them on the outbox page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from labbook import db
from labbook.app import create_app
from labbook.demo import load_demo
from labbook.demo.story import DEMO_TOKENS
from labbook.settings import Settings
from tests.databases import throwaway_database
from tests.notifications.helpers import eventually, running_worker

ADMIN = {"Authorization": f"Bearer {DEMO_TOKENS['admin']}"}


@pytest.fixture(scope="module")
async def demo_url(server_url: str) -> AsyncIterator[str]:
    async with throwaway_database(server_url, "labbook_demo_mail", migrated=True) as url:
        conn = await db.connect(url)
        try:
            await load_demo(conn)
        finally:
            await conn.close()
        async with running_worker(Settings(database_url=url)):
            pool = await db.create_pool(url, min_size=1, max_size=2)
            try:

                async def settled() -> bool:
                    waiting = await pool.fetchval("select count(*) from pgqueuer")
                    written = await pool.fetchval("select count(*) from mail_messages")
                    return waiting == 0 and written > 0

                await eventually(settled, "the demo's jobs done")
            finally:
                await pool.close()
        yield url


async def test_the_demo_outbox_holds_real_messages_in_every_language(demo_url: str) -> None:
    conn = await asyncpg.connect(demo_url)
    try:
        rows = await conn.fetch("select language, status, kind, subject from mail_messages")
    finally:
        await conn.close()
    assert {r["language"] for r in rows} == {"kk", "ru", "en"}
    assert {r["status"] for r in rows} == {"outbox"}
    assert {"booking_confirmed", "booking_requested"} <= {r["kind"] for r in rows}


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
async def test_admins_read_the_outbox_and_each_message(demo_url: str, lang: str) -> None:
    app = create_app(Settings(database_url=demo_url, pool_min_size=1, pool_max_size=4))
    async with AsyncTestClient(app=app, base_url="http://labbook.test") as client:
        listing = await client.get(f"/{lang}/admin/outbox/", headers=ADMIN)
        assert listing.status_code == 200, listing.text
        heading = {"kk": "Хаттар қоймасы", "ru": "Исходящие письма", "en": "E-mail outbox"}[lang]
        assert f"<h1>{heading}</h1>" in listing.text
        conn = await asyncpg.connect(demo_url)
        try:
            newest = await conn.fetchrow(
                "select id, subject, recipient from mail_messages"
                " where kind = 'booking_confirmed' order by created_at desc, id limit 1"
            )
        finally:
            await conn.close()
        one = await client.get(f"/{lang}/admin/outbox/{newest['id']}", headers=ADMIN)
        assert one.status_code == 200, one.text
        assert newest["recipient"] in one.text
        assert "METHOD:REQUEST" in one.text
        assert newest["subject"] in one.text
        only_kept = await client.get(f"/{lang}/admin/outbox/?status=outbox", headers=ADMIN)
        assert only_kept.status_code == 200
        director = await client.get(
            f"/{lang}/admin/outbox/", headers={"Authorization": f"Bearer {DEMO_TOKENS['director']}"}
        )
        assert director.status_code == 403
