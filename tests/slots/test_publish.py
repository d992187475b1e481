from __future__ import annotations

from tests.slots.conftest import LabSetup, count_slots, held_units


async def test_publish_picks_free_units_and_reports_them(client, pool, setup: LabSetup) -> None:
    body = setup.slot(
        "2026-09-07T10:00:00+05:00", "2026-09-07T12:00:00+05:00", equipment=[{"equipment": setup.tig, "units": 2}]
    )
    reply = await client.post("/api/v1/slots", json=body, headers=setup.manager.headers)
    assert reply.status_code == 201, reply.text
    slot = reply.json()
    assert slot["lab"] == setup.slug
    assert slot["timezone"] == "Asia/Almaty"
    assert slot["starts_at"] == "2026-09-07T10:00:00+05:00"
    assert slot["units"] == [{"equipment": setup.tig, "unit": 1}, {"equipment": setup.tig, "unit": 2}]
    assert slot["seats_left"] == 4
    assert slot["sequence"] == 0
    second = await client.post("/api/v1/slots", json=body, headers=setup.manager.headers)
    assert second.status_code == 201, second.text
    assert [u["unit"] for u in second.json()["units"]] == [3, 4]
    assert await held_units(pool, setup.lab["id"]) == 4
    assert await count_slots(pool, setup.lab["id"]) == 2
