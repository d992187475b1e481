"""Marking attendance: who may, when, late changes audited, and the no-show rates managers see."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import httpx

from tests.attendance.world import Lab
from tests.factories import Factory

HOURS_AGO = timedelta(hours=-3)


async def test_the_manager_marks_arrived_then_changes_it_to_a_no_show_and_both_are_audited(
    tig: Lab, pool: asyncpg.Pool
) -> None:
    booking = await tig.booking(await tig.session(HOURS_AGO, induction=True), headcount=3)
    roster = await tig.roster(booking["id"], ["Asel", "Berik", "Chingiz"], who=tig.manager)
    ids = {t["full_name"]: t["id"] for t in roster.json()["trainees"]}
    arrived = await tig.mark(
        booking["id"], {"outcome": "arrived", "headcount": 2, "absent": [ids["Chingiz"]]}
    )
    assert arrived.status_code == 200, arrived.text
    reply = arrived.json()
    assert (reply["outcome"], reply["headcount"], reply["inductions_granted"]) == ("arrived", 2, 2)
    assert {t["full_name"]: t["attended"] for t in reply["trainees"]} == {
        "Asel": True,
        "Berik": True,
        "Chingiz": False,
    }

    changed = await tig.mark(booking["id"], {"outcome": "no_show"})
    assert changed.status_code == 200
    assert changed.json()["inductions_revoked"] == 2
    assert (
        await pool.fetchval(
            "select count(*) from inductions where booking_id = $1 and revoked_at is null", booking["id"]
        )
        == 0
    )
    events = await pool.fetch(
        "select action, actor_id, before, after from audit_events"
        " where object_type = 'booking' and object_id = $1 and action like 'attendance.%' order by id",
        str(booking["id"]),
    )
    assert [e["action"] for e in events] == ["attendance.mark", "attendance.change"]
    assert events[1]["before"]["outcome"] == "arrived"
    assert events[1]["after"]["outcome"] == "no_show"
    assert {e["actor_id"] for e in events} == {tig.manager.id}


async def test_attendance_is_marked_from_the_session_day_until_seven_days_after(tig: Lab) -> None:
    tomorrow = await tig.booking(await tig.session(timedelta(days=1, hours=2)))
    too_early = await tig.mark(tomorrow["id"], {"outcome": "no_show"})
    assert too_early.status_code == 409
    assert too_early.json()["type"] == "/problems/attendance-closed"

    six_days = await tig.booking(await tig.session(timedelta(days=-6)))
    assert (await tig.mark(six_days["id"], {"outcome": "arrived", "headcount": 4})).status_code == 200
    eight_days = await tig.booking(await tig.session(timedelta(days=-8)))
    too_late = await tig.mark(eight_days["id"], {"outcome": "arrived", "headcount": 4})
    assert too_late.status_code == 409
    assert "closes_at" in too_late.json()


async def test_the_session_instructor_marks_attendance_and_nobody_else_outside_the_lab(
    tig: Lab, make: Factory
) -> None:
    booking = await tig.booking(await tig.session(HOURS_AGO))
    other = await make.person("instructor", organization_id=tig.instructor.organization_id)
    assert (await tig.mark(booking["id"], {"outcome": "no_show"}, who=other)).status_code == 404
    assert (await tig.mark(booking["id"], {"outcome": "no_show"}, who=tig.director)).status_code == 403
    by_instructor = await tig.mark(booking["id"], {"outcome": "arrived", "headcount": 4}, who=tig.instructor)
    assert by_instructor.status_code == 200


async def test_a_headcount_goes_with_arrived_and_only_roster_trainees_can_be_absent(tig: Lab) -> None:
    booking = await tig.booking(await tig.session(HOURS_AGO))
    missing = await tig.mark(booking["id"], {"outcome": "arrived"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "headcount"
    stranger = await tig.mark(
        booking["id"],
        {"outcome": "arrived", "headcount": 1, "absent": ["00000000-0000-0000-0000-000000000001"]},
    )
    assert stranger.status_code == 422
    assert stranger.json()["errors"][0]["field"] == "absent"


async def test_two_marks_at_once_grant_each_induction_once(
    tig: Lab, pool: asyncpg.Pool, live: httpx.AsyncClient
) -> None:
    booking = await tig.booking(await tig.session(HOURS_AGO, induction=True), headcount=2)
    assert (await tig.roster(booking["id"], ["Gulnar", "Yerlan"], who=tig.manager)).status_code == 200
    replies = await asyncio.gather(
        *(
            live.put(
                f"/api/v1/bookings/{booking['id']}/attendance",
                json={"outcome": "arrived", "headcount": 2},
                headers=tig.manager.headers,
            )
            for _ in range(4)
        )
    )
    assert [r.status_code for r in replies] == [200] * 4
    assert sum(r.json()["inductions_granted"] for r in replies) == 2
    assert await pool.fetchval("select count(*) from inductions where booking_id = $1", booking["id"]) == 2


async def test_managers_see_each_organizations_no_show_rate_in_their_labs(tig: Lab, make: Factory) -> None:
    for days, outcome in ((-1, "no_show"), (-2, "arrived"), (-3, "arrived"), (-4, "no_show")):
        booking = await tig.booking(await tig.session(timedelta(days=days)))
        body = {"outcome": outcome, **({"headcount": 3} if outcome == "arrived" else {})}
        assert (await tig.mark(booking["id"], body)).status_code == 200
    school = await make.organization(kind="school")
    late = await make.booking(await tig.session(timedelta(days=-5)), school["id"])
    assert (await tig.mark(late["id"], {"outcome": "no_show"})).status_code == 200

    rates = await tig.client.get("/api/v1/no-show-rates", headers=tig.manager.headers)
    assert rates.status_code == 200
    college = await make.pool.fetchval(
        "select slug from organizations where id = $1", tig.director.organization_id
    )
    assert rates.json() == [
        {"organization": school["slug"], "marked": 1, "no_shows": 1, "rate": 1.0},
        {"organization": college, "marked": 4, "no_shows": 2, "rate": 0.5},
    ]
    assert (await tig.client.get("/api/v1/no-show-rates", headers=tig.director.headers)).status_code == 403
