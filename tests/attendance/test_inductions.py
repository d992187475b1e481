"""Inductions: granted by attending an induction session, required on the roster of a later training."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.attendance.world import Lab

ALMATY = ZoneInfo("Asia/Almaty")
HOURS_AGO = timedelta(hours=-3)
NEXT_WEEK = timedelta(days=7)


async def _inducted(tig: Lab, names: list[str]) -> asyncpg.Record:
    """An induction session this morning, its roster, and the manager marking it as attended."""
    session = await tig.session(HOURS_AGO, induction=True)
    booking = await tig.booking(session, headcount=len(names))
    assert (await tig.roster(booking["id"], names, who=tig.manager)).status_code == 200
    marked = await tig.mark(booking["id"], {"outcome": "arrived", "headcount": len(names)})
    assert marked.status_code == 200, marked.text
    assert marked.json()["inductions_granted"] == len(names)
    return booking


async def test_attending_an_induction_session_grants_the_induction_and_admits_a_later_training(
    tig: Lab, pool: asyncpg.Pool
) -> None:
    booking = await _inducted(tig, ["Айдос Серіков", "Dana Li"])
    held = await pool.fetch(
        """select t.full_name, i.expires_at, s.ends_at
           from inductions i join trainees t on t.id = i.trainee_id
           join bookings b on b.id = i.booking_id join slots s on s.id = b.slot_id
           where i.booking_id = $1 and i.equipment_id = $2 and i.revoked_at is null order by t.full_name""",
        booking["id"],
        tig.tig["id"],
    )
    assert [r["full_name"] for r in held] == ["Dana Li", "Айдос Серіков"]
    # valid for the equipment's default 12 months from the session's end
    for row in held:
        ends = row["ends_at"]
        assert row["expires_at"] == ends.replace(year=ends.year + 1)

    training = await tig.session(NEXT_WEEK)
    booked = await tig.client.post(
        f"/api/v1/slots/{training['id']}/bookings",
        json={"headcount": 2, "contact_name": "Aliya", "language": "kk"},
        headers=tig.director.headers,
    )
    assert booked.status_code == 201, booked.text
    # the same people, written with other letter case and spacing
    accepted = await tig.roster(booked.json()["id"], ["  айдос   СЕРІКОВ ", "dana li"])
    assert accepted.status_code == 200, accepted.text
    assert sorted(t["full_name"] for t in accepted.json()["trainees"]) == ["Dana Li", "Айдос Серіков"]


async def test_the_induction_lasts_as_long_as_the_equipment_says(tig: Lab, pool: asyncpg.Pool) -> None:
    url = f"/api/v1/labs/{tig.lab['slug']}/equipment/{tig.tig['slug']}"
    for months in (0, 121, "6"):
        refused = await tig.client.patch(
            url, json={"induction_valid_months": months}, headers=tig.manager.headers
        )
        assert refused.status_code == 422, refused.text
    changed = await tig.client.patch(url, json={"induction_valid_months": 6}, headers=tig.manager.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["induction_valid_months"] == 6
    read = await tig.client.get(url)
    assert read.json()["induction_valid_months"] == 6

    booking = await _inducted(tig, ["Dana Li"])

    row = await pool.fetchrow(
        """select i.expires_at, s.ends_at from inductions i
           join bookings b on b.id = i.booking_id join slots s on s.id = b.slot_id
           where i.booking_id = $1""",
        booking["id"],
    )
    # six months from the session's end, not the default twelve
    assert row["expires_at"] == await pool.fetchval(
        "select $1::timestamptz + interval '6 months'", row["ends_at"]
    )


async def test_another_labs_manager_cannot_change_how_long_an_induction_lasts(
    tig: Lab, pool: asyncpg.Pool
) -> None:
    other_lab = await tig.make.lab(organization_id=tig.lab["organization_id"])
    other = await tig.make.person(
        "lab_manager", organization_id=tig.lab["organization_id"], lab_ids=(other_lab["id"],)
    )
    url = f"/api/v1/labs/{tig.lab['slug']}/equipment/{tig.tig['slug']}"
    refused = await tig.client.patch(url, json={"induction_valid_months": 24}, headers=other.headers)
    assert refused.status_code in (403, 404), refused.text
    assert (
        await pool.fetchval("select induction_valid_months from equipment where id = $1", tig.tig["id"]) == 12
    )


async def test_a_trainee_without_the_induction_is_refused_by_name_with_the_next_induction_session(
    tig: Lab, pool: asyncpg.Pool
) -> None:
    await _inducted(tig, ["Dana Li"])
    offered = await tig.session(timedelta(days=3), induction=True)
    training = await tig.session(NEXT_WEEK)
    booking = await tig.booking(training, headcount=3)
    # Erlan's induction ran out last month, half an hour after midnight in the lab: the day before in UTC
    expired_at = datetime.combine(datetime.now(ALMATY).date() - timedelta(days=30), time(0, 30), ALMATY)
    erlan = await pool.fetchval(
        "insert into trainees (organization_id, full_name) values ($1, 'Erlan Bek') returning id",
        tig.director.organization_id,
    )
    await pool.execute(
        """insert into inductions (trainee_id, equipment_id, granted_at, expires_at, reason)
           values ($1, $2, $3, $4, 'before labbook')""",
        erlan,
        tig.tig["id"],
        expired_at - timedelta(days=365),
        expired_at,
    )
    refused = await tig.roster(booking["id"], ["Dana Li", "Bolat Nur", "Erlan Bek"])
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"] == "/problems/induction-required"
    assert "Bolat Nur" in problem["detail"]
    assert f"Erlan Bek (induction on argon-tig expired {expired_at.date()})" in problem["detail"]
    assert "Dana Li" not in problem["detail"]
    by_name = {t["full_name"]: t for t in problem["trainees"]}
    assert set(by_name) == {"Bolat Nur", "Erlan Bek"}
    assert by_name["Bolat Nur"]["expired_at"] is None
    assert datetime.fromisoformat(by_name["Erlan Bek"]["expired_at"]) == expired_at
    assert by_name["Erlan Bek"]["equipment"] == "argon-tig"
    assert [s["slot_id"] for s in problem["induction_sessions"]] == [str(offered["id"])]
    # refused whole: nothing of the roster was saved
    assert (
        await pool.fetchval("select count(*) from roster_entries where booking_id = $1", booking["id"]) == 0
    )


async def test_an_induction_session_needs_no_induction_and_a_tour_has_no_roster(tig: Lab) -> None:
    induction = await tig.booking(await tig.session(NEXT_WEEK, induction=True))
    assert (await tig.roster(induction["id"], ["New Person"])).status_code == 200
    tour = await tig.booking(await tig.session(NEXT_WEEK + timedelta(days=1), kind="tour"))
    refused = await tig.roster(tour["id"], ["New Person"])
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/not-a-training"


async def test_the_database_refuses_a_roster_entry_without_the_induction(
    tig: Lab, pool: asyncpg.Pool
) -> None:
    booking = await tig.booking(await tig.session(NEXT_WEEK))
    trainee = await pool.fetchval(
        "insert into trainees (organization_id, full_name) values ($1, 'Direct Insert') returning id",
        tig.director.organization_id,
    )
    with pytest.raises(asyncpg.CheckViolationError) as caught:
        await pool.execute(
            "insert into roster_entries (booking_id, trainee_id) values ($1, $2)", booking["id"], trainee
        )
    assert caught.value.constraint_name == "ck_roster_entries_inducted"


async def test_a_manager_grants_and_revokes_by_hand_with_a_reason_and_both_are_audited(
    tig: Lab, pool: asyncpg.Pool
) -> None:
    training = await tig.booking(await tig.session(NEXT_WEEK), headcount=2)
    trainee = await pool.fetchval(
        "insert into trainees (organization_id, full_name) values ($1, 'Saule K') returning id",
        tig.director.organization_id,
    )
    body = {"trainee_id": str(trainee), "lab": tig.lab["slug"], "equipment": "argon-tig"}
    no_reason = await tig.client.post("/api/v1/inductions", json=body, headers=tig.manager.headers)
    assert no_reason.status_code == 422
    by_director = await tig.client.post(
        "/api/v1/inductions", json={**body, "reason": "x"}, headers=tig.director.headers
    )
    assert by_director.status_code == 403
    granted = await tig.client.post(
        "/api/v1/inductions", json={**body, "reason": "inducted at the plant"}, headers=tig.manager.headers
    )
    assert granted.status_code == 201, granted.text
    induction = granted.json()
    assert (await tig.roster(training["id"], ["Saule K"])).status_code == 200

    revoked = await tig.client.post(
        f"/api/v1/inductions/{induction['id']}/revoke",
        json={"reason": "unsafe work on the station"},
        headers=tig.manager.headers,
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoke_reason"] == "unsafe work on the station"
    again = await tig.client.post(
        f"/api/v1/inductions/{induction['id']}/revoke", json={"reason": "twice"}, headers=tig.manager.headers
    )
    assert again.status_code == 409
    # a roster saved after the revocation refuses her
    refused = await tig.roster(training["id"], ["Saule K"])
    assert refused.status_code == 409
    events = await pool.fetch(
        "select action, actor_id, after from audit_events where object_type = 'induction' and object_id = $1"
        " order by id",
        induction["id"],
    )
    assert [(e["action"], e["actor_id"]) for e in events] == [
        ("induction.grant", tig.manager.id),
        ("induction.revoke", tig.manager.id),
    ]
    assert events[0]["after"]["reason"] == "inducted at the plant"
    assert "full_name" not in events[0]["after"]


async def test_a_manager_grants_only_to_trainees_of_organizations_that_booked_the_lab(
    tig: Lab, pool: asyncpg.Pool
) -> None:
    """Another organization's trainee does not exist to this lab's manager: no grant, no name."""
    stranger = await tig.make.organization()
    trainee = await pool.fetchval(
        "insert into trainees (organization_id, full_name) values ($1, 'Dana Private') returning id",
        stranger["id"],
    )
    body = {"trainee_id": str(trainee), "lab": tig.lab["slug"], "equipment": "argon-tig", "reason": "x"}
    refused = await tig.client.post("/api/v1/inductions", json=body, headers=tig.manager.headers)
    assert refused.status_code == 422, refused.text
    assert "Dana Private" not in refused.text
    assert await pool.fetchval("select count(*) from inductions where trainee_id = $1", trainee) == 0


async def test_a_revocation_racing_a_roster_never_lets_the_roster_pass_it(
    tig: Lab, pool: asyncpg.Pool, live: httpx.AsyncClient
) -> None:
    """Whichever commits first, a roster saved with the induction was saved before it was revoked."""
    for attempt in range(5):
        booking = await tig.booking(await tig.session(NEXT_WEEK + timedelta(hours=3 * attempt)), headcount=1)
        name = f"Racer {booking['id'].hex[:6]}"
        trainee = await pool.fetchval(
            "insert into trainees (organization_id, full_name) values ($1, $2) returning id",
            tig.director.organization_id,
            name,
        )
        granted = await tig.client.post(
            "/api/v1/inductions",
            json={
                "trainee_id": str(trainee),
                "lab": tig.lab["slug"],
                "equipment": "argon-tig",
                "reason": "race",
            },
            headers=tig.manager.headers,
        )
        saved, revoked = await asyncio.gather(
            live.put(
                f"/api/v1/bookings/{booking['id']}/roster",
                json={"trainees": [{"full_name": name}]},
                headers=tig.director.headers,
            ),
            live.post(
                f"/api/v1/inductions/{granted.json()['id']}/revoke",
                json={"reason": "race"},
                headers=tig.manager.headers,
            ),
        )
        assert revoked.status_code == 200
        assert saved.status_code in (200, 409), saved.text
        entries = await pool.fetchval(
            "select count(*) from roster_entries where booking_id = $1", booking["id"]
        )
        assert entries == (1 if saved.status_code == 200 else 0)
        if saved.status_code == 200:
            # the roster's transaction held the trainee's row until it committed; the revocation
            # that waited for it committed later
            order = await pool.fetchval(
                """select max(occurred_at) filter (where action = 'roster.update')
                          < max(occurred_at) filter (where action = 'induction.revoke')
                   from audit_events where object_id = any($1::text[])""",
                [str(booking["id"]), granted.json()["id"]],
            )
            assert order is True


async def test_a_manager_makes_a_training_an_induction_session_and_attending_it_inducts(
    tig: Lab, pool: asyncpg.Pool
) -> None:
    session = await tig.session(HOURS_AGO)
    path = f"/api/v1/slots/{session['id']}/induction"
    by_director = await tig.client.put(path, json={"is_induction": True}, headers=tig.director.headers)
    assert by_director.status_code == 403
    made = await tig.client.put(path, json={"is_induction": True}, headers=tig.manager.headers)
    assert made.status_code == 200
    assert made.json() == {"slot_id": str(session["id"]), "is_induction": True}
    booking = await tig.booking(session, headcount=1)
    assert (await tig.roster(booking["id"], ["Kairat"], who=tig.manager)).status_code == 200
    marked = await tig.mark(booking["id"], {"outcome": "arrived", "headcount": 1})
    assert marked.json()["inductions_granted"] == 1
    audited = await pool.fetchval(
        "select after->>'is_induction' from audit_events where action = 'slot.induction' and object_id = $1",
        str(session["id"]),
    )
    assert audited == "true"
    tour = await tig.session(NEXT_WEEK, kind="tour")
    refused = await tig.client.put(
        f"/api/v1/slots/{tour['id']}/induction", json={"is_induction": True}, headers=tig.manager.headers
    )
    assert refused.status_code == 409
