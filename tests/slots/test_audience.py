"""Who sees the occurrences of a series, and making a slot private while others hold bookings in it."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.dates import ahead
from tests.factories import Factory, Person
from tests.slots.conftest import LabSetup
from tests.slots.test_series import series_body


async def _series(client, setup: LabSetup, start: str, end: str, **fields: Any) -> dict[str, Any]:
    reply = await client.post(
        "/api/v1/series", json=series_body(setup, start, end, **fields), headers=setup.manager.headers
    )
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def _book(client, director: Person, slot_id: str, headcount: int = 2, **fields: Any) -> dict[str, Any]:
    reply = await client.post(
        f"/api/v1/slots/{slot_id}/bookings",
        json={"headcount": headcount, "contact_name": "Ержан Сейткали", "language": "ru", **fields},
        headers=director.headers,
    )
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def _org_slug(pool, person: Person) -> str:
    return str(await pool.fetchval("select slug from organizations where id = $1", person.organization_id))


async def test_series_hides_an_occurrence_private_to_another_organization(
    client, pool, setup: LabSetup, make: Factory
) -> None:
    created = await _series(
        client, setup, ahead("2028-11-06T10:00:00+05:00"), ahead("2028-11-06T12:00:00+05:00")
    )
    series_id = created["series"]["id"]
    hidden = created["created"][1]
    ours = await make.person("director")
    theirs = await make.person("director")
    their_slug = await _org_slug(pool, theirs)
    reply = await client.patch(
        f"/api/v1/slots/{hidden['id']}",
        json={
            "visibility": "private",
            "organization": their_slug,
            "title": {"en": "Visit of a secret guest"},
        },
        headers=setup.manager.headers,
    )
    assert reply.status_code == 200, reply.text

    for headers in ({}, ours.headers):
        series = await client.get(f"/api/v1/series/{series_id}", headers=headers)
        assert series.status_code == 200, series.text
        shown = series.json()["occurrences"]
        assert hidden["id"] not in {o["id"] for o in shown}
        assert len(shown) == 3
        assert "secret guest" not in series.text
        assert their_slug not in series.text
        # The same rule as for the occurrence on its own.
        alone = await client.get(f"/api/v1/slots/{hidden['id']}", headers=headers)
        assert alone.status_code == 404

    for person in (theirs, setup.manager):
        series = await client.get(f"/api/v1/series/{series_id}", headers=person.headers)
        assert hidden["id"] in {o["id"] for o in series.json()["occurrences"]}
        assert len(series.json()["occurrences"]) == 4


async def test_making_a_slot_private_while_others_hold_bookings_is_refused(
    client, pool, setup: LabSetup, make: Factory
) -> None:
    published = await client.post(
        "/api/v1/slots",
        json=setup.slot(ahead("2028-11-07T10:00:00+05:00"), ahead("2028-11-07T12:00:00+05:00"), capacity=8),
        headers=setup.manager.headers,
    )
    assert published.status_code == 201, published.text
    slot = published.json()
    owner = await make.person("director")
    first = await make.person("director")
    second = await make.person("director")
    late = await make.person("director")
    await _book(client, owner, slot["id"])
    await _book(client, first, slot["id"])
    await _book(client, first, slot["id"])
    await _book(client, second, slot["id"])
    # Full now: a fifth booking waits, and a waiting booking counts too.
    await _book(client, late, slot["id"], waitlist=True)
    cancelled = await _book(client, owner, slot["id"], headcount=1, waitlist=True)
    reply = await client.post(f"/api/v1/bookings/{cancelled['id']}/cancel", json={}, headers=owner.headers)
    assert reply.status_code == 200, reply.text
    before = await pool.fetchrow("select * from slots where id = $1", slot["id"])

    reply = await client.patch(
        f"/api/v1/slots/{slot['id']}",
        json={"visibility": "private", "organization": await _org_slug(pool, owner)},
        headers=setup.manager.headers,
    )
    assert reply.status_code == 409, reply.text
    problem = reply.json()
    assert problem["type"] == "/problems/conflict"
    expected = sorted(
        [
            {"organization": await _org_slug(pool, first), "bookings": 2},
            {"organization": await _org_slug(pool, second), "bookings": 1},
            {"organization": await _org_slug(pool, late), "bookings": 1},
        ],
        key=lambda b: b["organization"],
    )
    assert problem["bookings"] == expected
    assert "4 active booking(s)" in problem["detail"]
    after = await pool.fetchrow("select * from slots where id = $1", slot["id"])
    assert dict(after) == dict(before)
    shown = await client.get(f"/api/v1/slots/{slot['id']}")
    assert shown.status_code == 200
    assert shown.json()["visibility"] == "public"


async def test_a_slot_becomes_private_to_the_only_organization_booked_in_it(
    client, pool, setup: LabSetup, make: Factory
) -> None:
    published = await client.post(
        "/api/v1/slots",
        json=setup.slot(ahead("2028-11-08T10:00:00+05:00"), ahead("2028-11-08T12:00:00+05:00"), capacity=6),
        headers=setup.manager.headers,
    )
    slot = published.json()
    owner = await make.person("director")
    other = await make.person("director")
    await _book(client, owner, slot["id"])
    gone = await _book(client, other, slot["id"])
    reply = await client.post(f"/api/v1/bookings/{gone['id']}/cancel", json={}, headers=other.headers)
    assert reply.status_code == 200, reply.text
    reply = await client.patch(
        f"/api/v1/slots/{slot['id']}",
        json={"visibility": "private", "organization": await _org_slug(pool, owner)},
        headers=setup.manager.headers,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["organization"] == await _org_slug(pool, owner)
    # Moving it from one organization to another is the same question.
    reply = await client.patch(
        f"/api/v1/slots/{slot['id']}",
        json={"organization": await _org_slug(pool, other)},
        headers=setup.manager.headers,
    )
    assert reply.status_code == 409, reply.text
    assert reply.json()["bookings"] == [{"organization": await _org_slug(pool, owner), "bookings": 1}]


async def test_bookings_racing_a_slot_going_private_never_leave_a_stranger_inside(
    live, pool, setup: LabSetup, make: Factory
) -> None:
    published = await live.post(
        "/api/v1/slots",
        json=setup.slot(ahead("2028-11-09T10:00:00+05:00"), ahead("2028-11-09T12:00:00+05:00"), capacity=12),
        headers=setup.manager.headers,
    )
    assert published.status_code == 201, published.text
    slot_id = published.json()["id"]
    owner = await make.person("director")
    strangers = [await make.person("director") for _ in range(12)]
    body = {"headcount": 2, "contact_name": "Ержан Сейткали", "language": "ru"}
    requests = [
        live.post(
            f"/api/v1/slots/{slot_id}/bookings", json={**body, "waitlist": i % 2 == 0}, headers=p.headers
        )
        for i, p in enumerate(strangers)
    ]
    requests.insert(
        len(requests) // 2,
        live.patch(
            f"/api/v1/slots/{slot_id}",
            json={"visibility": "private", "organization": await _org_slug(pool, owner)},
            headers=setup.manager.headers,
        ),
    )
    replies = await asyncio.gather(*requests)
    patched = replies[len(requests) // 2]
    assert patched.status_code in (200, 409), patched.text
    active = await pool.fetchval(
        """select count(*) from bookings
           where slot_id = $1 and status in ('pending', 'confirmed', 'waitlisted')""",
        slot_id,
    )
    visibility = await pool.fetchval("select visibility from slots where id = $1", slot_id)
    if patched.status_code == 200:
        assert visibility == "private"
        assert active == 0
    else:
        assert visibility == "public"
        assert active > 0
        assert sum(b["bookings"] for b in patched.json()["bookings"]) <= active
