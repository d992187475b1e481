"""Bad input at the HTTP edge of the JSON API: a 4xx problem+json that names what is wrong, never a 500.

Covers what Litestar and msgspec would not say on their own: bodies that are not UTF-8 or absurdly
deep, bodies that are not JSON, query parameters no route declares, every missing or unknown field
at once, the allowed values of an enumeration, blank names, and dates in range queries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Factory
from tests.test_bad_input import caller, row_counts
from tests.test_route_roles import CASES, World, build_world

PROBLEM = "application/problem+json"
ALMATY = ZoneInfo("Asia/Almaty")
JSON = {"Content-Type": "application/json"}
API_READS = [c for c in CASES if c.method == "GET" and c.route.startswith("/api/")]

Client = AsyncTestClient[Litestar]


def problem(reply: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = reply.json()
    assert body["type"] == type_, body
    return body


def fields(body: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["message"] for e in body["errors"]}


@pytest.fixture
async def world(make: Factory, client: Client) -> World:
    return await build_world(make, client)


def booking_url(w: World) -> str:
    return f"/api/v1/slots/{w.slot_id}/bookings"


# --- bodies that are not JSON at all ------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"contact_name": "\xff", "headcount": 1, "language": "kk"}', id="invalid utf-8"),
        pytest.param(b'{"contact_name": ' + b"[" * 1000 + b"]" * 1000 + b"}", id="1000 levels deep"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="100000 levels deep"),
    ],
)
async def test_undecodable_json_is_400_and_writes_nothing(
    content: bytes, client: Client, world: World, pool: asyncpg.Pool
) -> None:
    before = await row_counts(pool)
    reply = await client.post(
        booking_url(world), content=content, headers={**world.people["director"].headers, **JSON}
    )
    body = problem(reply, 400, "/problems/bad-request")
    assert "traceback" not in reply.text.lower()
    assert body["detail"]
    assert await row_counts(pool) == before


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", b'{"name": "laptop"}'),
        ("application/x-www-form-urlencoded", b"name=laptop"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--x--',
        ),
        (None, b'{"name": "laptop"}'),
    ],
)
async def test_a_body_that_is_not_json_is_415(
    content_type: str | None, content: bytes, client: Client, world: World, pool: asyncpg.Pool
) -> None:
    headers = dict(world.people["director"].headers)
    if content_type:
        headers["Content-Type"] = content_type
    before = await row_counts(pool)

    reply = await client.post("/api/v1/me/tokens", content=content, headers=headers)

    problem(reply, 415, "/problems/unsupported-media-type")
    assert await row_counts(pool) == before


async def test_json_media_types_and_a_left_out_optional_body_are_taken(client: Client, world: World) -> None:
    admin = world.people["admin"].headers
    url = f"/api/v1/slots/{world.slot_id}"
    not_json = await client.patch(
        url, content=b'{"capacity": 60}', headers={**admin, "Content-Type": "text/plain"}
    )
    problem(not_json, 415, "/problems/unsupported-media-type")

    for capacity, content_type in [
        (60, "application/json; charset=utf-8"),
        (70, "application/merge-patch+json"),
    ]:
        reply = await client.patch(
            url, content=b'{"capacity": %d}' % capacity, headers={**admin, "Content-Type": content_type}
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["capacity"] == capacity

    cancelled = await client.post(f"{url}/cancel", headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"


# --- query parameters ----------------------------------------------------------------------------


async def test_an_unknown_query_parameter_is_422_naming_it(client: Client, world: World) -> None:
    reply = await client.get("/api/v1/slots", params={"lab": world.lab, "min_seat": "20"})

    body = problem(reply, 422, "/problems/validation")
    assert list(fields(body)) == ["min_seat"]

    known = await client.get("/api/v1/slots", params={"lab": world.lab, "min_seats": "20"})
    assert known.status_code == 200, known.text
    assert all(s["seats_left"] >= 20 for s in known.json()["items"])


async def test_every_api_read_refuses_unknown_query_parameters(client: Client, world: World) -> None:
    assert len(API_READS) >= 15
    for checked in API_READS:
        url = checked.url(world)
        headers = world.people[caller(checked)].headers
        reply = await client.get(url, params={"colour": "red"}, headers=headers)
        body = problem(reply, 422, "/problems/validation")
        assert "colour" in fields(body), (checked.route, body)


@pytest.mark.parametrize(
    ("query", "field", "wording"),
    [
        ("min_seats=null", "min_seats", "leave the parameter out instead of writing null"),
        ("to=null", "to", "leave the parameter out instead of writing null"),
        ("min_seats=3&min_seats=40", "min_seats", "give it once"),
        ("kind=tour&kind=training", "kind", "give it once"),
    ],
)
async def test_a_query_parameter_is_given_once_and_never_as_null(
    query: str, field: str, wording: str, client: Client, world: World
) -> None:
    reply = await client.get(f"/api/v1/slots?lab={world.lab}&{query}")

    assert fields(problem(reply, 422, "/problems/validation")) == {field: wording}


async def test_bookings_filter_by_status_and_time_as_documented(client: Client, world: World) -> None:
    headers = world.people["director"].headers
    refused = await client.get("/api/v1/bookings", params={"status": "0"}, headers=headers)
    assert "confirmed" in fields(problem(refused, 422, "/problems/validation"))["status"]

    for number in ("0.5", "1700000000"):
        refused = await client.get("/api/v1/bookings", params={"to": number}, headers=headers)
        assert "to" in fields(problem(refused, 422, "/problems/validation"))

    since = (world.start - timedelta(days=1)).isoformat()
    reply = await client.get(
        "/api/v1/bookings", params={"status": "confirmed", "from": since}, headers=headers
    )
    assert reply.status_code == 200, reply.text
    assert all(b["status"] == "confirmed" for b in reply.json()["items"])


async def test_the_earliest_date_is_a_valid_bound_in_any_zone(client: Client, world: World) -> None:
    """2000-01-01 is midnight in Almaty, before 2000-01-01 in UTC: the date is what is checked."""
    reply = await client.get(
        "/api/v1/slots", params={"lab": world.lab, "from": "2000-01-01", "to": "2000-01-02"}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["items"] == []


# --- what the errors say ------------------------------------------------------------------------


async def test_a_renamed_query_parameter_is_named_as_the_client_sent_it(client: Client, world: World) -> None:
    reply = await client.get(
        "/api/v1/audit", params={"object": "x" * 301}, headers=world.people["admin"].headers
    )
    body = problem(reply, 422, "/problems/validation")
    assert list(fields(body)) == ["object"], body


async def test_every_missing_field_is_named_at_once(client: Client, world: World, pool: asyncpg.Pool) -> None:
    before = await row_counts(pool)
    reply = await client.post(booking_url(world), json={}, headers=world.people["director"].headers)

    body = problem(reply, 422, "/problems/validation")
    assert fields(body) == {
        "headcount": "is required",
        "contact_name": "is required",
        "language": "is required",
    }
    assert await row_counts(pool) == before


async def test_missing_unknown_and_nested_fields_are_reported_together(client: Client, world: World) -> None:
    start = world.start + timedelta(days=40)
    reply = await client.post(
        "/api/v1/series",
        json={
            "lab": world.lab,
            "title": {"en": "x", "de": "y"},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "recurrence": {"freq": "hourly", "count": 2},
            "colour": "red",
        },
        headers=world.people["admin"].headers,
    )
    found = fields(problem(reply, 422, "/problems/validation"))
    assert found["kind"] == "is required"
    assert found["colour"] == "is not a field of this request"
    assert all(language in found["title.de"] for language in ("kk", "ru", "en"))
    assert "weekly" in found["recurrence.freq"]


@pytest.mark.parametrize("where", ["query", "body"])
async def test_an_enumeration_error_lists_the_allowed_values(
    where: str, client: Client, world: World
) -> None:
    if where == "query":
        reply = await client.get("/api/v1/slots", params={"kind": "party"})
    else:
        reply = await client.post(
            booking_url(world),
            json={"headcount": 1, "contact_name": "Aruzhan", "language": "de"},
            headers=world.people["director"].headers,
        )
    body = problem(reply, 422, "/problems/validation")
    (name, message), *_ = fields(body).items()
    assert name == ("kind" if where == "query" else "language")
    expected = {"tour", "training", "event"} if where == "query" else {"kk", "ru", "en"}
    assert all(value in message for value in expected), message


@pytest.mark.parametrize(
    ("field", "value", "wording"),
    [
        ("headcount", "3", "expected a whole number"),  # a number in a string
        ("headcount", 3.0, "expected a whole number"),
        ("headcount", True, "expected a whole number"),
        ("waitlist", 0, "expected true or false"),  # 0 is not false
        ("waitlist", "true", "expected true or false"),
        ("contact_name", 42, "expected a string"),
    ],
)
async def test_each_json_type_is_taken_only_for_itself(
    field: str, value: object, wording: str, client: Client, world: World, pool: asyncpg.Pool
) -> None:
    before = await row_counts(pool)
    body = {"headcount": 2, "contact_name": "Aruzhan", "language": "ru", field: value}
    reply = await client.post(booking_url(world), json=body, headers=world.people["director"].headers)

    assert fields(problem(reply, 422, "/problems/validation")) == {field: wording}
    assert await row_counts(pool) == before


async def test_an_account_is_not_switched_off_by_a_zero(client: Client, world: World) -> None:
    someone = world.people["instructor"]
    reply = await client.patch(
        f"/api/v1/people/{someone.id}", json={"is_active": 0}, headers=world.people["admin"].headers
    )
    assert fields(problem(reply, 422, "/problems/validation")) == {"is_active": "expected true or false"}
    assert (await client.get("/api/v1/me", headers=someone.headers)).status_code == 200


async def test_a_blank_name_is_refused(client: Client, world: World, pool: asyncpg.Pool) -> None:
    before = await row_counts(pool)
    booking = await client.post(
        booking_url(world),
        json={"headcount": 1, "contact_name": "   ", "language": "kk"},
        headers=world.people["director"].headers,
    )
    assert fields(problem(booking, 422, "/problems/validation")) == {"contact_name": "must not be blank"}

    person = await client.patch(
        f"/api/v1/people/{world.people['instructor'].id}",
        json={"full_name": " \t "},
        headers=world.people["admin"].headers,
    )
    assert fields(problem(person, 422, "/problems/validation")) == {"full_name": "must not be blank"}
    assert await row_counts(pool) == before


# --- dates in range queries ---------------------------------------------------------------------


def _day_after(w: World, days: int) -> datetime:
    local = w.start.astimezone(ALMATY)
    return datetime.combine(local.date() + timedelta(days=days), datetime.min.time(), ALMATY)


async def test_slots_take_a_date_as_midnight_in_the_lab_zone(client: Client, world: World) -> None:
    slot_day = world.start.astimezone(ALMATY).date()
    as_date = await client.get(
        "/api/v1/slots",
        params={"lab": world.lab, "from": slot_day.isoformat(), "to": str(slot_day + timedelta(1))},
    )
    as_instant = await client.get(
        "/api/v1/slots",
        params={
            "lab": world.lab,
            "from": _day_after(world, 0).isoformat(),
            "to": _day_after(world, 1).isoformat(),
        },
    )
    assert as_date.status_code == 200, as_date.text
    assert as_date.json() == as_instant.json()
    assert world.slot_id in {s["id"] for s in as_date.json()["items"]}

    next_day = await client.get(
        "/api/v1/slots", params={"lab": world.lab, "from": str(slot_day + timedelta(1))}
    )
    assert world.slot_id not in {s["id"] for s in next_day.json()["items"]}


async def test_a_bare_date_without_a_lab_is_midnight_in_almaty(client: Client, world: World) -> None:
    slot_day = world.start.astimezone(ALMATY).date()
    as_date = await client.get(
        "/api/v1/slots", params={"from": str(slot_day), "to": str(slot_day + timedelta(1))}
    )
    as_instant = await client.get(
        "/api/v1/slots",
        params={"from": _day_after(world, 0).isoformat(), "to": _day_after(world, 1).isoformat()},
    )
    assert as_date.status_code == 200, as_date.text
    assert as_date.json() == as_instant.json()
    # Other tests publish on the same day across every lab, so the slot may sit beyond the first page.
    assert as_date.json()["total"] >= 1


# (A time without an offset on /slots was a 422 naming ``from`` already.)
@pytest.mark.parametrize(
    ("route", "value"),
    [
        ("slots", "tomorrow"),
        ("availability", "tomorrow"),
        # named apart from its date: workers that collect on either side of midnight agree on the tests
        pytest.param(
            "availability",
            f"{datetime.now(UTC).date() + timedelta(days=1)}T10:00:00",
            id="availability-no-offset",
        ),
    ],
)
async def test_a_bound_that_is_no_date_or_has_no_offset_is_422(
    route: str, value: str, client: Client, world: World
) -> None:
    if route == "slots":
        reply = await client.get("/api/v1/slots", params={"lab": world.lab, "from": value})
    else:
        reply = await client.get(
            f"/api/v1/labs/{world.lab}/availability",
            params={"from": value, "to": _day_after(world, 2).date().isoformat()},
        )
    assert list(fields(problem(reply, 422, "/problems/validation"))) == ["from"], reply.text


async def test_availability_takes_instants_as_well_as_dates(client: Client, world: World) -> None:
    url = f"/api/v1/labs/{world.lab}/availability"
    first, end = _day_after(world, 0), _day_after(world, 2)
    as_dates = await client.get(url, params={"from": first.date().isoformat(), "to": end.date().isoformat()})
    as_instants = await client.get(url, params={"from": first.isoformat(), "to": end.isoformat()})
    # The same instants written in UTC name the same local days.
    in_utc = await client.get(
        url, params={"from": first.astimezone(UTC).isoformat(), "to": end.astimezone(UTC).isoformat()}
    )
    assert as_dates.status_code == 200, as_dates.text
    assert [d["date"] for d in as_dates.json()["days"]] == [
        first.date().isoformat(),
        (first.date() + timedelta(1)).isoformat(),
    ]
    # curl users write the offset's "+" unencoded; in a query string it arrives as a space.
    unencoded = await client.get(f"{url}?from={first.isoformat()}&to={end.isoformat()}")
    assert as_instants.json() == as_dates.json() == in_utc.json() == unencoded.json()
