"""Visit requests: ask, accept one window (private slot + confirmed booking) or say what collides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tests.bookings.helpers import Cast, new_cast
from tests.factories import Factory


@pytest.fixture
async def cast(make: Factory) -> Cast:
    cast = await new_cast(make)
    await make.opening_hours(lab_id=cast.lab["id"], opens="08:00", closes="20:00")
    return cast


def _window(days: int, hour_utc: int = 5, hours: int = 2) -> dict[str, str]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour_utc, minute=0, second=0, microsecond=0
    )
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=hours)).isoformat()}


def _request(cast: Cast, **fields: Any) -> dict[str, Any]:
    return {
        "lab": cast.lab["slug"],
        "kind": "training",
        "windows": [_window(20), _window(21), _window(22)],
        "headcount": 12,
        "age_group": "колледж, 2 курс",
        "language": "kk",
        "purpose": "Аргонмен дәнекерлеу практикасы",
        "contact_name": "Гүлнар Ахметова",
        "contact_email": "gulnar@college.kz",
        **fields,
    }


async def _ask(client, cast: Cast, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/visit-requests", json=_request(cast, **fields), headers=cast.director.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_accepting_a_window_makes_a_private_slot_and_a_confirmed_booking(
    client, pool: asyncpg.Pool, cast: Cast
) -> None:
    asked = await _ask(client, cast)
    assert asked["status"] == "pending"
    assert len(asked["windows"]) == 3
    assert asked["lab"] == cast.lab["slug"]
    listed = await client.get(
        "/api/v1/visit-requests", params={"status": "pending"}, headers=cast.manager.headers
    )
    assert asked["id"] in {r["id"] for r in listed.json()["items"]}

    accepted = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/accept",
        json={
            "window_number": 2,
            "title": {"kk": "Дәнекерлеу", "en": "Welding practice"},
            "message": "Welcome",
        },
        headers=cast.manager.headers,
    )
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["status"] == "accepted"
    assert body["accepted_window_number"] == 2
    assert body["response_message"] == "Welcome"
    slot = await pool.fetchrow("select * from slots where id = $1", body["slot_id"])
    assert slot["visibility"] == "private"
    assert slot["organization_id"] == cast.director.organization_id
    assert slot["capacity"] == 12
    assert slot["seats_taken"] == 12
    assert slot["kind"] == "training"
    assert slot["starts_at"] == datetime.fromisoformat(asked["windows"][1]["starts_at"])

    booking = await client.get(f"/api/v1/bookings/{body['booking_id']}", headers=cast.director.headers)
    assert booking.status_code == 200
    assert booking.json()["status"] == "confirmed"
    assert booking.json()["headcount"] == 12
    assert booking.json()["slot"]["title"]["en"] == "Welding practice"
    actions = {
        r["action"]
        for r in await pool.fetch(
            "select action from audit_events where object_id = any($1::text[])",
            [asked["id"], body["slot_id"], body["booking_id"]],
        )
    }
    assert {"visit_request.create", "visit_request.accept", "booking.create", "slot.publish"} <= actions

    again = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/accept",
        json={"window_number": 1},
        headers=cast.manager.headers,
    )
    assert again.status_code == 409
    assert again.json()["current_status"] == "accepted"


async def test_collision_says_what_collides_and_changes_nothing(
    client, pool: asyncpg.Pool, make: Factory, cast: Cast
) -> None:
    asked = await _ask(client, cast)
    first = datetime.fromisoformat(asked["windows"][0]["starts_at"])
    closure = await make.slot(cast.lab, first - timedelta(hours=1), kind="closure", capacity=0)
    second = datetime.fromisoformat(asked["windows"][1]["starts_at"])
    busy = await make.slot(cast.lab, second, capacity=cast.lab["capacity"])
    slots_before = await pool.fetchval("select count(*) from slots where lab_id = $1", cast.lab["id"])

    closed = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/accept",
        json={"window_number": 1},
        headers=cast.manager.headers,
    )
    assert closed.status_code == 409, closed.text
    assert closed.json()["type"] == "/problems/lab-closed"
    assert [c["slot_id"] for c in closed.json()["conflicts"]] == [str(closure["id"])]
    crowded = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/accept",
        json={"window_number": 2},
        headers=cast.manager.headers,
    )
    assert crowded.status_code == 409, crowded.text
    assert crowded.json()["type"] == "/problems/lab-capacity"
    assert str(busy["id"]) in {c["slot_id"] for c in crowded.json()["conflicts"]}

    assert await pool.fetchval("select count(*) from slots where lab_id = $1", cast.lab["id"]) == slots_before
    assert await pool.fetchval("select status from visit_requests where id = $1", asked["id"]) == "pending"
    assert (
        await pool.fetchval(
            "select count(*) from bookings where organization_id = $1", cast.director.organization_id
        )
        == 0
    )
    ok = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/accept",
        json={"window_number": 3},
        headers=cast.manager.headers,
    )
    assert ok.status_code == 200, ok.text


async def test_decline_and_cancel(client, pool: asyncpg.Pool, make: Factory, cast: Cast) -> None:
    declined = await _ask(client, cast)
    response = await client.post(
        f"/api/v1/visit-requests/{declined['id']}/decline",
        json={"message": "Станоктар жөнделуде / станки на ремонте"},
        headers=cast.manager.headers,
    )
    assert response.status_code == 200, response.text
    seen = await client.get(f"/api/v1/visit-requests/{declined['id']}", headers=cast.director.headers)
    assert seen.json()["status"] == "declined"
    assert seen.json()["response_message"] == "Станоктар жөнделуде / станки на ремонте"
    late = await client.post(
        f"/api/v1/visit-requests/{declined['id']}/accept",
        json={"window_number": 1},
        headers=cast.manager.headers,
    )
    assert late.status_code == 409
    assert late.json()["current_status"] == "declined"

    withdrawn = await _ask(client, cast)
    other_manager = await make.person("lab_manager", lab_ids=((await make.lab())["id"],))
    url = f"/api/v1/visit-requests/{withdrawn['id']}"
    assert (await client.get(url, headers=cast.other_director.headers)).status_code == 404
    assert (await client.get(url, headers=other_manager.headers)).status_code == 404
    assert (await client.post(f"{url}/cancel", headers=cast.other_director.headers)).status_code == 404
    assert (
        await client.post(f"{url}/accept", json={"window_number": 1}, headers=other_manager.headers)
    ).status_code == 404
    assert (await client.get(url)).status_code == 401
    cancelled = await client.post(
        f"{url}/cancel", json={"reason": "changed plans"}, headers=cast.director.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    events = await pool.fetch(
        "select action from audit_events where object_id = any($1::text[]) order by id",
        [declined["id"], withdrawn["id"]],
    )
    assert [e["action"] for e in events] == [
        "visit_request.create",
        "visit_request.decline",
        "visit_request.create",
        "visit_request.cancel",
    ]


async def test_bad_requests_are_refused_and_write_nothing(client, pool: asyncpg.Pool, cast: Cast) -> None:
    naive = _window(20)
    naive["starts_at"] = naive["starts_at"][:19]
    past = _window(-2)
    backwards = {"starts_at": _window(20)["ends_at"], "ends_at": _window(20)["starts_at"]}
    bad = [
        _request(cast, windows=[naive]),
        _request(cast, windows=[_window(20)] * 4),
        _request(cast, windows=[]),
        _request(cast, windows=[past]),
        _request(cast, windows=[backwards]),
        _request(cast, headcount=-1),
        _request(cast, headcount=cast.lab["capacity"] + 1),
        _request(cast, language="en"),
        _request(cast, lab="no-such-lab"),
        _request(cast, budget=100),
    ]
    for body in bad:
        response = await client.post("/api/v1/visit-requests", json=body, headers=cast.director.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.post("/api/v1/visit-requests", json=_request(cast))).status_code == 401
    assert (
        await client.post("/api/v1/visit-requests", json=_request(cast), headers=cast.manager.headers)
    ).status_code == 403
    assert (await pool.fetchval("select count(*) from visit_requests where lab_id = $1", cast.lab["id"])) == 0

    one_window = await _ask(client, cast, windows=[_window(20)])
    response = await client.post(
        f"/api/v1/visit-requests/{one_window['id']}/accept",
        json={"window_number": 2},
        headers=cast.manager.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "window_number"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"offset": "99999999999999999999"}, "offset"),
        ({"offset": str(2**31)}, "offset"),
        ({"limit": "99999999999999999999"}, "limit"),
    ],
)
async def test_out_of_range_paging_is_a_422_naming_the_parameter(client, cast: Cast, params, field) -> None:
    await _ask(client, cast)

    response = await client.get("/api/v1/visit-requests", params=params, headers=cast.director.headers)

    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_the_largest_offset_answers_an_empty_page_with_the_true_total(client, cast: Cast) -> None:
    await _ask(client, cast)

    response = await client.get(
        "/api/v1/visit-requests", params={"offset": 2**31 - 1}, headers=cast.director.headers
    )

    assert response.status_code == 200, response.text
    page = response.json()
    assert (page["items"], page["total"], page["offset"]) == ([], 1, 2**31 - 1)


@pytest.mark.parametrize(
    ("windows", "field"),
    [
        ([{"starts_at": "9999-12-31T10:00:00+05:00", "ends_at": "9999-12-31T12:00:00+05:00"}], "starts_at"),
        (
            [_window(20), {"starts_at": _window(21)["starts_at"], "ends_at": "2100-01-02T00:00:00+00:00"}],
            "ends_at",
        ),
    ],
)
async def test_windows_outside_2000_to_2100_are_refused_naming_the_field(
    client, pool: asyncpg.Pool, cast: Cast, windows: list[dict[str, str]], field: str
) -> None:
    response = await client.post(
        "/api/v1/visit-requests", json=_request(cast, windows=windows), headers=cast.director.headers
    )

    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/validation"
    assert [e["field"] for e in response.json()["errors"]] == [f"windows[{len(windows) - 1}].{field}"]
    assert (await pool.fetchval("select count(*) from visit_requests where lab_id = $1", cast.lab["id"])) == 0


async def test_windows_read_in_the_lab_time_zone_whatever_offset_they_were_asked_in(
    client, cast: Cast
) -> None:
    lab_zone = ZoneInfo(cast.lab["timezone"])
    asked_in = [_window(20), _window(21)]
    expected = [
        {
            "number": number,
            **{
                key: datetime.fromisoformat(value).astimezone(lab_zone).isoformat()
                for key, value in w.items()
            },
        }
        for number, w in enumerate(asked_in, start=1)
    ]
    assert all(w["starts_at"].endswith("+00:00") for w in asked_in)

    asked = await _ask(client, cast, windows=asked_in)

    assert asked["windows"] == expected
    for reader in (cast.director, cast.manager):
        shown = await client.get(f"/api/v1/visit-requests/{asked['id']}", headers=reader.headers)
        assert shown.json()["windows"] == expected
    listed = await client.get("/api/v1/visit-requests", headers=cast.director.headers)
    assert next(r for r in listed.json()["items"] if r["id"] == asked["id"])["windows"] == expected


async def test_accepting_with_an_outside_instructor_is_refused_and_changes_nothing(
    client, pool: asyncpg.Pool, make: Factory, cast: Cast
) -> None:
    asked = await _ask(client, cast)
    foreign = await make.person("director")
    accept = f"/api/v1/visit-requests/{asked['id']}/accept"

    refused = await client.post(
        accept, json={"window_number": 1, "instructor_id": str(foreign.id)}, headers=cast.manager.headers
    )

    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "/problems/validation"
    assert [e["field"] for e in refused.json()["errors"]] == ["instructor_id"]
    assert await pool.fetchval("select status from visit_requests where id = $1", asked["id"]) == "pending"
    assert await pool.fetchval("select count(*) from slots where lab_id = $1", cast.lab["id"]) == 0
    teacher = await make.person("instructor", organization_id=cast.lab["organization_id"])
    accepted = await client.post(
        accept, json={"window_number": 1, "instructor_id": str(teacher.id)}, headers=cast.manager.headers
    )
    assert accepted.status_code == 200, accepted.text
    slot = await client.get(f"/api/v1/slots/{accepted.json()['slot_id']}", headers=cast.manager.headers)
    assert slot.json()["instructor_id"] == str(teacher.id)


async def test_an_accepted_visit_is_reached_through_the_requesting_director_by_default(
    client, pool: asyncpg.Pool, cast: Cast
) -> None:
    await pool.execute("update people set phone = '+7 701 555 00 11' where id = $1", cast.director.id)
    await pool.execute("update people set phone = '+7 727 000 00 00' where id = $1", cast.manager.id)
    asked = await _ask(client, cast, contact_email=None)

    accepted = await client.post(
        f"/api/v1/visit-requests/{asked['id']}/accept",
        json={"window_number": 1},
        headers=cast.manager.headers,
    )

    assert accepted.status_code == 200, accepted.text
    booking = await client.get(
        f"/api/v1/bookings/{accepted.json()['booking_id']}", headers=cast.director.headers
    )
    assert booking.json()["contact_email"] == cast.director.email
    assert booking.json()["contact_phone"] == "+7 701 555 00 11"
    assert booking.json()["slot"]["address"] == cast.lab["address"]
