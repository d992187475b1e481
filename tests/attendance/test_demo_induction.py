"""The demo's induction story: the TIG introduction inducts its trainees, who may then train at the
weekly practice; someone who never attended the introduction is refused by name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from labbook import db
from labbook.app import create_app
from labbook.demo import load_demo
from labbook.demo.story import DEMO_TOKENS
from labbook.settings import Settings
from tests.databases import throwaway_database

MANAGER = {"Authorization": f"Bearer {DEMO_TOKENS['manager']}"}
ADMIN = {"Authorization": f"Bearer {DEMO_TOKENS['admin']}"}


@pytest.fixture
async def demo_url(server_url: str) -> AsyncIterator[str]:
    async with throwaway_database(server_url, "labbook_induction", migrated=True) as url:
        conn = await db.connect(url)
        try:
            await load_demo(conn)
        finally:
            await conn.close()
        yield url


async def test_marking_the_tig_introduction_inducts_its_trainees_for_the_weekly_practice(
    demo_url: str, settings: Settings
) -> None:
    conn = await db.connect(demo_url)
    try:
        intro = await conn.fetchrow("select id, starts_at, ends_at from slots where is_induction")
        booking = await conn.fetchrow(
            "select b.id, o.slug from bookings b join organizations o on o.id = b.organization_id"
            " where b.slot_id = $1",
            intro["id"],
        )
        roster = await conn.fetch(
            "select t.full_name from roster_entries r join trainees t on t.id = r.trainee_id"
            " where r.booking_id = $1",
            booking["id"],
        )
    finally:
        await conn.close()
    assert len(roster) == 4
    # the afternoon of the introduction
    after_intro = intro["ends_at"] + timedelta(hours=1)
    app = create_app(settings.with_changes(database_url=demo_url), clock=lambda: after_intro)
    async with AsyncTestClient(app=app) as client:
        confirmed = await client.post(f"/api/v1/bookings/{booking['id']}/confirm", json={}, headers=MANAGER)
        assert confirmed.status_code == 200, confirmed.text
        marked = await client.put(
            f"/api/v1/bookings/{booking['id']}/attendance",
            json={"outcome": "arrived", "headcount": 4},
            headers=MANAGER,
        )
        assert marked.status_code == 200, marked.text
        assert marked.json()["inductions_granted"] == 4

        practice = await client.get(
            "/api/v1/slots",
            params={"lab": "welding-institute", "kind": "training", "limit": 100},
            headers=ADMIN,
        )
        later = [
            s
            for s in practice.json()["items"]
            if s["series_id"] is not None
            and s["status"] == "active"
            and datetime.fromisoformat(s["starts_at"]) > after_intro + timedelta(days=2)
            and s["seats_left"] >= 2
        ]
        assert later, "the demo has weekly TIG practice after the introduction"
        booked = await client.post(
            f"/api/v1/slots/{later[0]['id']}/bookings",
            json={
                "headcount": 2,
                "contact_name": "Нұрлан Әбенов",
                "language": "kk",
                "organization": booking["slug"],
            },
            headers=ADMIN,
        )
        assert booked.status_code == 201, booked.text
        names = [row["full_name"] for row in roster]
        accepted = await client.put(
            f"/api/v1/bookings/{booked.json()['id']}/roster",
            json={"trainees": [{"full_name": f" {names[0].upper()} "}, {"full_name": names[1]}]},
            headers=ADMIN,
        )
        assert accepted.status_code == 200, accepted.text
        refused = await client.put(
            f"/api/v1/bookings/{booked.json()['id']}/roster",
            json={"trainees": [{"full_name": names[0]}, {"full_name": "Болат Нұрланұлы"}]},
            headers=ADMIN,
        )
        assert refused.status_code == 409
        assert [t["full_name"] for t in refused.json()["trainees"]] == ["Болат Нұрланұлы"]
        assert "Болат Нұрланұлы" in refused.json()["detail"]
