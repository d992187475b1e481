"""Accepting a training visit on stations, and the lab's counter-proposals the organization answers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.bookings.helpers import Cast, new_cast
from tests.factories import Factory


@pytest.fixture
async def cast(make: Factory) -> Cast:
    cast = await new_cast(make)
    await make.opening_hours(lab_id=cast.lab["id"], opens="08:00", closes="20:00")
    return cast


@pytest.fixture
async def tig(make: Factory, cast: Cast) -> asyncpg.Record:
    """Six TIG stations, two trainees at each."""
    return await make.equipment(lab_id=cast.lab["id"], units=6, seats_per_unit=2)


def _window(days: int, hour_utc: int = 5, hours: int = 2) -> dict[str, str]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour_utc, minute=0, second=0, microsecond=0
    )
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=hours)).isoformat()}


async def _ask(client: Any, cast: Cast, **fields: Any) -> dict[str, Any]:
    body = {
        "lab": cast.lab["slug"],
        "kind": "training",
        "windows": [_window(20), _window(21)],
        "headcount": 8,
        "language": "kk",
        "purpose": "Аргонмен дәнекерлеу практикасы",
        "contact_name": "Гүлнар Ахметова",
        **fields,
    }
    response = await client.post("/api/v1/visit-requests", json=body, headers=cast.director.headers)
    assert response.status_code == 201, response.text
    asked: dict[str, Any] = response.json()
    return asked


async def _held_units(pool: asyncpg.Pool, slot_id: str) -> list[int]:
    rows = await pool.fetch(
        """select u.number from slot_units su join equipment_units u on u.id = su.unit_id
           where su.slot_id = $1 and su.is_active order by u.number""",
        slot_id,
    )
    return [r["number"] for r in rows]


async def test_accepting_a_training_on_4_stations_holds_them_as_a_published_slot_does(
    client, pool: asyncpg.Pool, cast: Cast, tig: asyncpg.Record
) -> None:
    asked = await _ask(client, cast)

    accepted = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/accept",
        json={"window_number": 1, "equipment": [{"equipment": tig["slug"], "units": 4}]},
        headers=cast.manager.headers,
    )

    assert accepted.status_code == 200, accepted.text
    slot_id = accepted.json()["slot_id"]
    assert await _held_units(pool, slot_id) == [1, 2, 3, 4]
    slot = await client.get(f"/api/v1/slots/{slot_id}", headers=cast.manager.headers)
    assert sorted(u["unit"] for u in slot.json()["units"]) == [1, 2, 3, 4]
    assert {u["equipment"] for u in slot.json()["units"]} == {tig["slug"]}
    # The held stations are not free for anyone else: a session at the same time gets the other two.
    window = asked["windows"][0]
    publish = {
        "lab": cast.lab["slug"],
        "kind": "training",
        "title": {"en": "Open practice"},
        "starts_at": window["starts_at"],
        "ends_at": window["ends_at"],
        "capacity": 4,
    }
    too_many = await client.post(
        "/api/v1/slots",
        json={**publish, "equipment": [{"equipment": tig["slug"], "units": 3}]},
        headers=cast.manager.headers,
    )
    assert too_many.status_code == 409, too_many.text
    assert too_many.json()["type"] == "/problems/unit-taken"
    assert too_many.json()["free"] == 2
    assert {c["slot_id"] for c in too_many.json()["conflicts"]} == {slot_id}
    rest = await client.post(
        "/api/v1/slots",
        json={**publish, "equipment": [{"equipment": tig["slug"], "units": 2}]},
        headers=cast.manager.headers,
    )
    assert rest.status_code == 201, rest.text
    assert sorted(u["unit"] for u in rest.json()["units"]) == [5, 6]


async def test_a_training_group_larger_than_its_stations_is_refused_with_the_numbers(
    client, pool: asyncpg.Pool, cast: Cast, tig: asyncpg.Record
) -> None:
    asked = await _ask(client, cast, headcount=9)

    refused = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/accept",
        json={"window_number": 1, "equipment": [{"equipment": tig["slug"], "units": 4}]},
        headers=cast.manager.headers,
    )

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"] == "/problems/too-few-stations"
    assert (problem["headcount"], problem["stations"], problem["places"]) == (9, 4, 8)
    assert problem["equipment"] == [{"equipment": tig["slug"], "units": 4, "trainees_per_unit": 2}]
    assert problem["detail"] == (
        f"9 trainees do not fit on 4 {tig['slug']} × 2 trainees per station (8 places)"
    )
    assert await pool.fetchval("select count(*) from slots where lab_id = $1", cast.lab["id"]) == 0
    assert await pool.fetchval("select status from visit_requests where id = $1", asked["id"]) == "pending"
    unknown = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/accept",
        json={"window_number": 1, "equipment": [{"equipment": "no-such-station", "units": 4}]},
        headers=cast.manager.headers,
    )
    assert unknown.status_code == 422, unknown.text
    assert [e["field"] for e in unknown.json()["errors"]] == ["equipment"]
    fits = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/accept",
        json={"window_number": 2, "equipment": [{"equipment": tig["slug"], "units": 5}]},
        headers=cast.manager.headers,
    )
    assert fits.status_code == 200, fits.text
    assert fits.json()["accepted_window_number"] == 2


async def test_windows_are_numbered_from_1_and_the_old_0_based_field_is_refused(
    client, pool: asyncpg.Pool, cast: Cast
) -> None:
    asked = await _ask(client, cast)
    assert [w["number"] for w in asked["windows"]] == [1, 2]
    accept = f"/api/v1/visit-requests/{asked['id']}/accept"

    for body, field in (({"window_number": 0}, "window_number"), ({"window": 1}, "window")):
        response = await client.post(accept, json=body, headers=cast.manager.headers)
        assert response.status_code == 422, response.text
        assert field in response.text
    assert await pool.fetchval("select status from visit_requests where id = $1", asked["id"]) == "pending"

    second = await client.post(accept, json={"window_number": 2}, headers=cast.manager.headers)
    assert second.status_code == 200, second.text
    slot = await pool.fetchrow("select starts_at from slots where id = $1", second.json()["slot_id"])
    assert slot["starts_at"] == datetime.fromisoformat(asked["windows"][1]["starts_at"])
    schema = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    number = next(s for name, s in schema.items() if name.endswith("VisitAcceptance"))["properties"]
    assert number["window_number"]["minimum"] == 1
    assert "1" in number["window_number"]["description"]


async def _propose(client: Any, cast: Cast, request_id: str, **fields: Any) -> httpx.Response:
    body = {**_window(25), "message": "Сейсенбі бос емес, бейсенбіге келіңіздер", **fields}
    response: httpx.Response = await client.post(
        f"/api/v1/visit-requests/{request_id}/propose", json=body, headers=cast.manager.headers
    )
    return response


async def test_the_director_accepts_a_counter_proposal_which_gives_a_confirmed_booking(
    client, pool: asyncpg.Pool, cast: Cast, tig: asyncpg.Record
) -> None:
    asked = await _ask(client, cast)
    offered = _window(25)

    proposed = await _propose(
        client, cast, asked["id"], **offered, equipment=[{"equipment": tig["slug"], "units": 4}]
    )

    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["status"] == "proposed"
    proposal = proposed.json()["proposal"]
    assert proposal["status"] == "open"
    assert datetime.fromisoformat(proposal["starts_at"]) == datetime.fromisoformat(offered["starts_at"])
    assert proposal["equipment"] == [{"equipment": tig["slug"], "units": 4}]
    assert await pool.fetchval("select count(*) from slots where lab_id = $1", cast.lab["id"]) == 0
    seen = await client.get(f"/api/v1/visit-requests/{asked['id']}", headers=cast.director.headers)
    assert seen.json()["proposal"]["message"] == "Сейсенбі бос емес, бейсенбіге келіңіздер"

    accepted = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/proposal/accept",
        json={"message": "Рахмет, келеміз"},
        headers=cast.director.headers,
    )

    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["status"] == "accepted"
    assert body["accepted_window_number"] is None
    assert body["proposal"]["status"] == "accepted"
    assert body["proposal"]["answer_message"] == "Рахмет, келеміз"
    booking = await client.get(f"/api/v1/bookings/{body['booking_id']}", headers=cast.director.headers)
    assert booking.json()["status"] == "confirmed"
    assert booking.json()["headcount"] == 8
    slot = await pool.fetchrow("select * from slots where id = $1", body["slot_id"])
    assert slot["starts_at"] == datetime.fromisoformat(offered["starts_at"])
    assert (slot["visibility"], slot["organization_id"]) == ("private", cast.director.organization_id)
    assert await _held_units(pool, body["slot_id"]) == [1, 2, 3, 4]
    actions = [
        r["action"]
        for r in await pool.fetch(
            "select action from audit_events where object_id = $1 order by id", asked["id"]
        )
    ]
    assert actions == ["visit_request.create", "visit_request.propose", "visit_request.accept_proposal"]


async def test_declining_a_counter_proposal_leaves_no_slot_and_the_request_waits_again(
    client, pool: asyncpg.Pool, cast: Cast
) -> None:
    asked = await _ask(client, cast)
    assert (await _propose(client, cast, asked["id"])).status_code == 200

    declined = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/proposal/decline",
        json={"message": "Бейсенбі бізге келмейді"},
        headers=cast.director.headers,
    )

    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "pending"
    assert declined.json()["proposal"]["status"] == "declined"
    assert declined.json()["slot_id"] is None
    assert await pool.fetchval("select count(*) from slots where lab_id = $1", cast.lab["id"]) == 0
    assert (
        await pool.fetchval(
            "select count(*) from bookings where organization_id = $1", cast.director.organization_id
        )
        == 0
    )
    again = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/proposal/accept", headers=cast.director.headers
    )
    assert again.status_code == 409
    assert again.json()["current_status"] == "pending"
    window = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/accept",
        json={"window_number": 1},
        headers=cast.manager.headers,
    )
    assert window.status_code == 200, window.text


async def test_who_may_propose_and_answer_and_what_is_refused(
    client, pool: asyncpg.Pool, make: Factory, cast: Cast, tig: asyncpg.Record
) -> None:
    asked = await _ask(client, cast)
    url = f"/api/v1/visit-requests/{asked['id']}"
    other_manager = await make.person("lab_manager", lab_ids=((await make.lab())["id"],))
    body = _window(25)

    assert (await client.post(f"{url}/propose", json=body, headers=cast.director.headers)).status_code == 403
    assert (await client.post(f"{url}/propose", json=body, headers=other_manager.headers)).status_code == 404
    assert (await client.post(f"{url}/propose", json=body)).status_code == 401
    naive = {"starts_at": body["starts_at"][:19], "ends_at": body["ends_at"]}
    assert (await client.post(f"{url}/propose", json=naive, headers=cast.manager.headers)).status_code == 422
    backwards = {"starts_at": body["ends_at"], "ends_at": body["starts_at"]}
    assert (
        await client.post(f"{url}/propose", json=backwards, headers=cast.manager.headers)
    ).status_code == 422
    # A time the lab could not give is refused now, saying why, and nothing is offered.
    closure_start = datetime.fromisoformat(body["starts_at"]) - timedelta(hours=1)
    await make.slot(cast.lab, closure_start, kind="closure", capacity=0)
    closed = await client.post(f"{url}/propose", json=body, headers=cast.manager.headers)
    assert closed.status_code == 409, closed.text
    assert closed.json()["type"] == "/problems/lab-closed"
    crowded = await _propose(
        client, cast, asked["id"], **_window(26), equipment=[{"equipment": tig["slug"], "units": 3}]
    )
    assert crowded.status_code == 409, crowded.text
    assert crowded.json()["type"] == "/problems/too-few-stations"
    assert (
        await pool.fetchval("select count(*) from visit_proposals where visit_request_id = $1", asked["id"])
        == 0
    )
    assert (
        await pool.fetchval(
            "select count(*) from slots where lab_id = $1 and kind <> 'closure'", cast.lab["id"]
        )
        == 0
    )

    assert (await _propose(client, cast, asked["id"], **_window(26))).status_code == 200
    twice = await _propose(client, cast, asked["id"], **_window(27))
    assert twice.status_code == 409
    assert twice.json()["current_status"] == "proposed"
    assert (
        await client.post(f"{url}/accept", json={"window_number": 1}, headers=cast.manager.headers)
    ).status_code == 409
    assert (await client.post(f"{url}/proposal/accept", headers=cast.manager.headers)).status_code == 403
    assert (
        await client.post(f"{url}/proposal/accept", headers=cast.other_director.headers)
    ).status_code == 404

    # Withdrawing the request takes the lab's open offer with it.
    cancelled = await client.post(f"{url}/cancel", headers=cast.director.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["proposal"]["status"] == "withdrawn"
    late = await client.post(f"{url}/proposal/accept", headers=cast.director.headers)
    assert late.status_code == 409
    assert late.json()["current_status"] == "cancelled"


@pytest.fixture
async def test_answers_given_at_once_to_one_proposal_give_exactly_one_result(
    live, pool: asyncpg.Pool, cast: Cast, tig: asyncpg.Record
) -> None:
    for round_ in range(4):
        asked = await _ask(live, cast, windows=[_window(30 + round_)])
        offered = await _propose(
            live,
            cast,
            asked["id"],
            **_window(40 + round_),
            equipment=[{"equipment": tig["slug"], "units": 4}],
        )
        assert offered.status_code == 200, offered.text
        url = f"/api/v1/visit-requests/{asked['id']}/proposal"

        replies = await asyncio.gather(
            live.post(f"{url}/accept", headers=cast.director.headers),
            live.post(f"{url}/decline", headers=cast.director.headers),
            live.post(f"{url}/accept", headers=cast.director.headers),
            live.post(f"{url}/decline", headers=cast.director.headers),
        )

        codes = sorted(r.status_code for r in replies)
        assert codes == [200, 409, 409, 409], [r.text for r in replies]
        winner = next(r for r in replies if r.status_code == 200).json()
        losers = [r.json() for r in replies if r.status_code == 409]
        assert {p["type"] for p in losers} == {"/problems/illegal-transition"}
        slots = await pool.fetchval(
            "select count(*) from slots where id in (select slot_id from visit_requests where id = $1)",
            asked["id"],
        )
        answered = await pool.fetch(
            "select status from visit_proposals where visit_request_id = $1", asked["id"]
        )
        assert [r["status"] for r in answered] == [winner["proposal"]["status"]]
        if winner["status"] == "accepted":
            assert slots == 1
            assert await _held_units(pool, winner["slot_id"]) == [1, 2, 3, 4]
        else:
            assert winner["status"] == "pending"
            assert slots == 0
