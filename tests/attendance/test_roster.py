"""Rosters: who fills them and when, how names match, and who may read them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import httpx

from tests.attendance.world import Lab

NEXT_WEEK = timedelta(days=7)


async def test_the_director_fills_the_roster_and_only_the_parties_read_it(
    tig: Lab, pool: asyncpg.Pool
) -> None:
    booking = await tig.booking(await tig.session(NEXT_WEEK, induction=True), headcount=2)
    saved = await tig.client.put(
        f"/api/v1/bookings/{booking['id']}/roster",
        json={"trainees": [{"full_name": "Асель Нұрова", "study_group": "СВ-21"}, {"full_name": "Bekzat"}]},
        headers=tig.director.headers,
    )
    assert saved.status_code == 200, saved.text
    assert {(t["full_name"], t["study_group"]) for t in saved.json()["trainees"]} == {
        ("Асель Нұрова", "СВ-21"),
        ("Bekzat", None),
    }
    for reader in (tig.director, tig.manager, tig.instructor):
        got = await tig.client.get(f"/api/v1/bookings/{booking['id']}/roster", headers=reader.headers)
        assert got.status_code == 200
        assert len(got.json()["trainees"]) == 2
    other = await tig.client.get(
        f"/api/v1/bookings/{booking['id']}/roster", headers=tig.other_director.headers
    )
    assert other.status_code == 404
    # no name reaches the append-only audit log
    audited = await pool.fetchval(
        "select after::text from audit_events where action = 'roster.update' and object_id = $1",
        str(booking["id"]),
    )
    assert "Асель" not in audited
    assert "Bekzat" not in audited


async def test_a_roster_names_no_more_people_than_booked_and_nobody_twice(tig: Lab) -> None:
    booking = await tig.booking(await tig.session(NEXT_WEEK, induction=True), headcount=2)
    too_many = await tig.roster(booking["id"], ["A One", "B Two", "C Three"])
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "trainees"
    twice = await tig.roster(booking["id"], ["Dana Li", "dana  LI"])
    assert twice.status_code == 422
    assert "Dana Li" in twice.json()["detail"]


async def test_after_the_start_only_the_manager_corrects_the_roster(tig: Lab) -> None:
    booking = await tig.booking(await tig.session(timedelta(hours=-1), induction=True), headcount=2)
    late = await tig.roster(booking["id"], ["Late Name"])
    assert late.status_code == 409
    assert late.json()["type"] == "/problems/attendance-closed"
    assert (await tig.roster(booking["id"], ["Late Name"], who=tig.manager)).status_code == 200
    replaced = await tig.roster(booking["id"], ["Other Name"], who=tig.manager)
    assert [t["full_name"] for t in replaced.json()["trainees"]] == ["Other Name"]


async def test_two_rosters_naming_a_new_trainee_at_once_make_one_trainee(
    tig: Lab, pool: asyncpg.Pool, live: httpx.AsyncClient
) -> None:
    bookings = [
        await tig.booking(await tig.session(NEXT_WEEK + timedelta(hours=3 * n), induction=True), headcount=1)
        for n in range(4)
    ]
    replies = await asyncio.gather(
        *(
            live.put(
                f"/api/v1/bookings/{b['id']}/roster",
                json={"trainees": [{"full_name": "Same Person"}]},
                headers=tig.director.headers,
            )
            for b in bookings
        )
    )
    assert [r.status_code for r in replies] == [200] * 4
    ids = {r.json()["trainees"][0]["id"] for r in replies}
    assert len(ids) == 1
    assert (
        await pool.fetchval(
            "select count(*) from trainees where organization_id = $1 and name_key = 'same person'",
            tig.director.organization_id,
        )
        == 1
    )


async def test_a_manager_merges_a_misspelt_trainee_and_their_induction_counts(
    tig: Lab, pool: asyncpg.Pool
) -> None:
    induction = await tig.booking(await tig.session(NEXT_WEEK, induction=True), headcount=2)
    saved = await tig.roster(induction["id"], ["Aigerim Sadykova", "Aigerim Sadykva"])
    ids = {t["full_name"]: t["id"] for t in saved.json()["trainees"]}
    await pool.execute(
        """insert into inductions (trainee_id, equipment_id, granted_at, expires_at, reason)
           values ($1, $2, now(), now() + interval '1 year', 'by hand')""",
        ids["Aigerim Sadykva"],
        tig.tig["id"],
    )
    path = f"/api/v1/trainees/{ids['Aigerim Sadykva']}/merge"
    by_director = await tig.client.post(
        path, json={"into": ids["Aigerim Sadykova"]}, headers=tig.director.headers
    )
    assert by_director.status_code == 403
    merged = await tig.client.post(path, json={"into": ids["Aigerim Sadykova"]}, headers=tig.manager.headers)
    assert merged.status_code == 200, merged.text
    roster = await tig.client.get(f"/api/v1/bookings/{induction['id']}/roster", headers=tig.director.headers)
    assert [t["full_name"] for t in roster.json()["trainees"]] == ["Aigerim Sadykova"]
    # the induction held under the misspelt name now admits her to a training
    training = await tig.booking(await tig.session(NEXT_WEEK + timedelta(days=1)), headcount=1)
    assert (await tig.roster(training["id"], ["aigerim sadykova"])).status_code == 200
    assert await pool.fetchval("select count(*) from trainees where id = $1", ids["Aigerim Sadykva"]) == 0


async def _twins(tig: Lab, n: int = 0) -> tuple[str, str, str]:
    """A booking in the TIG lab listing one trainee under two spellings; both trainee ids."""
    session = await tig.session(NEXT_WEEK + timedelta(hours=3 * n), induction=True)
    booking = await tig.booking(session, headcount=2)
    saved = await tig.roster(booking["id"], [f"Nurlan Abenov {n}", f"Nurlan Abeno {n}"])
    assert saved.status_code == 200, saved.text
    ids = {t["full_name"]: t["id"] for t in saved.json()["trainees"]}
    return str(booking["id"]), ids[f"Nurlan Abeno {n}"], ids[f"Nurlan Abenov {n}"]


async def test_only_the_managers_of_a_lab_the_organization_booked_merge_its_trainees(
    tig: Lab, pool: asyncpg.Pool
) -> None:
    booking_id, duplicate, kept = await _twins(tig)
    # a manager of another host's lab, and of another lab of the same host, that the college never booked
    elsewhere = await tig.make.lab()
    strangers = [
        await tig.make.person(
            "lab_manager", organization_id=elsewhere["organization_id"], lab_ids=(elsewhere["id"],)
        ),
    ]
    next_door = await tig.make.lab(organization_id=tig.lab["organization_id"])
    strangers.append(
        await tig.make.person(
            "lab_manager", organization_id=tig.lab["organization_id"], lab_ids=(next_door["id"],)
        )
    )
    path = f"/api/v1/trainees/{duplicate}/merge"
    for stranger in strangers:
        refused = await tig.client.post(path, json={"into": kept}, headers=stranger.headers)
        assert refused.status_code == 404, refused.text
    assert (
        await pool.fetchval("select count(*) from trainees where id = any($1::uuid[])", [duplicate, kept])
        == 2
    )
    merged = await tig.client.post(path, json={"into": kept}, headers=tig.manager.headers)
    assert merged.status_code == 200, merged.text
    roster = await tig.client.get(f"/api/v1/bookings/{booking_id}/roster", headers=tig.manager.headers)
    assert [t["full_name"] for t in roster.json()["trainees"]] == ["Nurlan Abenov 0"]


async def test_two_managers_merging_a_pair_each_way_at_once_leave_one_trainee(
    tig: Lab, pool: asyncpg.Pool, live: httpx.AsyncClient
) -> None:
    admin = await tig.make.person("admin")
    for n in range(5):
        booking_id, one, other = await _twins(tig, n)
        replies = await asyncio.gather(
            live.post(f"/api/v1/trainees/{one}/merge", json={"into": other}, headers=tig.manager.headers),
            live.post(f"/api/v1/trainees/{other}/merge", json={"into": one}, headers=admin.headers),
        )
        assert sorted(r.status_code for r in replies) == [200, 404], [r.text for r in replies]
        left = await pool.fetch("select id from trainees where id = any($1::uuid[])", [one, other])
        assert len(left) == 1
        entries = await pool.fetch("select trainee_id from roster_entries where booking_id = $1", booking_id)
        assert [e["trainee_id"] for e in entries] == [left[0]["id"]]
