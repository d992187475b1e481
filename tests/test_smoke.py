from __future__ import annotations


async def test_health_and_ready(client) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["pending_migrations"] == []
