"""``labbook purge``: rosters of sessions older than the retention lose their names, keep their counts,
and the outreach report adds up as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from labbook.attendance import service as attendance
from labbook.settings import Settings
from tests.attendance.world import Lab
from tests.databases import run_labbook

YEARS_AGO = timedelta(days=-4 * 365)


async def _roster(pool: asyncpg.Pool, tig: Lab, starts_in: timedelta, names: dict[str, bool]) -> Any:
    booking = await tig.booking(await tig.session(starts_in, induction=True), headcount=len(names))
    for name, attended in names.items():
        trainee = await pool.fetchval(
            "insert into trainees (organization_id, full_name) values ($1, $2) returning id",
            tig.director.organization_id,
            name,
        )
        await pool.execute(
            "insert into roster_entries (booking_id, trainee_id, attended) values ($1, $2, $3)",
            booking["id"],
            trainee,
            attended,
        )
    return booking


async def _report(tig: Lab) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    reply = await tig.client.get(
        "/api/v1/reports/outreach",
        params={
            "from": (today - timedelta(days=5 * 365)).isoformat(),
            "to": today.isoformat(),
            "lab": tig.lab["slug"],
        },
        headers=tig.manager.headers,
    )
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


async def test_purge_removes_expired_rosters_keeps_the_counts_and_the_report_adds_up(
    tig: Lab, pool: asyncpg.Pool, database_url: str
) -> None:
    old = await _roster(pool, tig, YEARS_AGO, {"Old Asel": True, "Old Berik": True, "Old Chingiz": False})
    recent = await _roster(pool, tig, timedelta(days=-10), {"New Dana": True})
    before = await _report(tig)
    assert before["trainees_trained"] == 3

    rc, out, err = await run_labbook(database_url, "purge")
    assert rc == 0, err
    assert "roster entries" in out

    assert await pool.fetchval("select count(*) from roster_entries where booking_id = $1", old["id"]) == 0
    assert await pool.fetchval("select count(*) from roster_entries where booking_id = $1", recent["id"]) == 1
    kept = await pool.fetchrow(
        "select trainees, trained from purged_rosters where booking_id = $1", old["id"]
    )
    assert (kept["trainees"], kept["trained"]) == (3, 2)
    names = await pool.fetch(
        "select full_name from trainees where organization_id = $1", tig.director.organization_id
    )
    assert {r["full_name"] for r in names} & {"Old Asel", "Old Berik", "Old Chingiz"} == set()
    assert "New Dana" in {r["full_name"] for r in names}
    assert await _report(tig) == before
    audited = await pool.fetchval(
        "select after::text from audit_events where action = 'roster.purge' order by id desc limit 1"
    )
    assert "Old Asel" not in audited


async def test_the_retention_is_a_setting(tig: Lab, pool: asyncpg.Pool) -> None:
    booking = await _roster(pool, tig, timedelta(days=-40), {"Month Old": True})
    assert Settings().roster_retention_days == 3 * 365
    settings = Settings.from_env({"LABBOOK_ROSTER_RETENTION_DAYS": "30"})
    assert settings.roster_retention_days == 30
    await attendance.purge_rosters(pool, retention_days=365, now=datetime.now(UTC))
    assert (
        await pool.fetchval("select count(*) from roster_entries where booking_id = $1", booking["id"]) == 1
    )
    await attendance.purge_rosters(pool, retention_days=settings.roster_retention_days, now=datetime.now(UTC))
    assert (
        await pool.fetchval("select count(*) from roster_entries where booking_id = $1", booking["id"]) == 0
    )
