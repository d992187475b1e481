"""Optional messages: each person chooses which they get, the writers skip the ones turned off, and
an optional message's one-click link (RFC 8058) turns its kind off without signing in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from labbook.notifications import outbox, service
from labbook.settings import Settings
from tests.bookings.helpers import Cast, new_cast
from tests.catalog.conftest import assert_problem
from tests.dates import soon
from tests.factories import Factory
from tests.notifications.test_schedules import _lab_with_a_visit_tomorrow, _zone_where
from tests.web.conftest import browser_for

EVERYTHING = {"booking_received": True, "booking_reminder": True, "lab_digest": True}


@pytest.fixture
async def cast(make: Factory) -> Cast:
    return await new_cast(make)


async def _pending_booking(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> dict[str, Any]:
    """A booking waiting for the lab's answer, with the notices the worker would write for it."""
    slot = await make.slot(cast.lab, soon(), capacity=10, requires_approval=True)
    created = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
    )
    assert created.status_code == 201, created.text
    booking: dict[str, Any] = created.json()
    change = service.BookingChange(
        booking_id=UUID(booking["id"]), status="pending", previous_status=None, sequence=0
    )
    await service.write_booking_notices(pool, settings, change)
    return booking


async def _messages(pool: asyncpg.Pool, booking_id: str) -> dict[str, EmailMessage]:
    rows = await pool.fetch("select kind, raw from mail_messages where booking_id = $1", UUID(booking_id))
    return {r["kind"]: message_from_bytes(r["raw"], policy=policy.default) for r in rows}  # type: ignore[misc]


async def test_a_person_reads_and_changes_which_optional_messages_they_get(
    client, pool: asyncpg.Pool, cast: Cast
) -> None:
    url = "/api/v1/me/notifications"
    assert (await client.get(url, headers=cast.director.headers)).json() == EVERYTHING

    changed = await client.patch(url, json={"booking_reminder": False}, headers=cast.director.headers)
    assert changed.json() == {**EVERYTHING, "booking_reminder": False}
    kept = await client.patch(url, json={"booking_received": False}, headers=cast.director.headers)
    assert kept.json() == {**EVERYTHING, "booking_reminder": False, "booking_received": False}
    back = await client.patch(url, json={"booking_reminder": True}, headers=cast.director.headers)
    assert back.json() == {**EVERYTHING, "booking_received": False}
    assert (await client.get(url, headers=cast.other_director.headers)).json() == EVERYTHING

    for body in ({"booking_confirmed": False}, {"booking_reminder": "no"}):
        assert_problem(await client.patch(url, json=body, headers=cast.director.headers), 422, "validation")
    assert_problem(await client.get(url), 401, "unauthorized")
    audit = await pool.fetchval(
        "select count(*) from audit_events where action = 'person.mail-choices' and object_id = $1",
        str(cast.director.id),
    )
    assert audit == 3


async def test_a_receipt_turned_off_is_not_written_while_the_labs_answer_still_is(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    turned_off = await client.patch(
        "/api/v1/me/notifications", json={"booking_received": False}, headers=cast.director.headers
    )
    assert turned_off.status_code == 200

    booking = await _pending_booking(client, pool, settings, cast, make)
    assert set(await _messages(pool, booking["id"])) == {"booking_requested"}, "the manager is still told"

    confirmed = await client.post(f"/api/v1/bookings/{booking['id']}/confirm", headers=cast.manager.headers)
    assert confirmed.status_code == 200, confirmed.text
    change = service.BookingChange(
        booking_id=UUID(booking["id"]), status="confirmed", previous_status="pending", sequence=1
    )
    await service.write_booking_notices(pool, settings, change)
    confirmation = (await _messages(pool, booking["id"]))["booking_confirmed"]
    assert confirmation["List-Unsubscribe"].endswith("/account>")
    assert confirmation["List-Unsubscribe-Post"] is None, "an essential message has no one-click link"


async def test_the_one_click_link_of_a_receipt_turns_receipts_off_without_signing_in(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    booking = await _pending_booking(client, pool, settings, cast, make)
    receipt = (await _messages(pool, booking["id"]))["booking_received"]
    assert receipt["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = re.fullmatch(
        r"<http://127\.0\.0\.1:8000(/(kk|ru|en)/unsubscribe/[A-Za-z0-9_-]+)>", receipt["List-Unsubscribe"]
    )
    assert found, receipt["List-Unsubscribe"]
    path = found.group(1)
    text = receipt.get_body(("plain",)).get_content()
    assert f"http://127.0.0.1:8000{path}" in text, "the footer offers the same link"
    stored = await pool.fetchval(
        "select unsubscribe_hash from mail_messages where booking_id = $1 and kind = 'booking_received'",
        UUID(booking["id"]),
    )
    assert stored == outbox.unsubscribe_hash(path.rsplit("/", 1)[1]), "only the secret's hash is kept"

    async with browser_for(settings) as mail_program:
        asked = await mail_program.get(path)
        assert asked.status_code == 200
        assert cast.director.email in asked.text
        assert (
            await pool.fetchval(
                "select count(*) from mail_opt_outs where email = lower($1)", cast.director.email
            )
            == 0
        ), "opening the link changes nothing"
        # a mail program's one-click POST: no cookie, no form token
        clicked = await mail_program.post(path, data={"List-Unsubscribe": "One-Click"})
        assert clicked.status_code == 303
        again = await mail_program.post(path, data={"List-Unsubscribe": "One-Click"})
        assert again.status_code == 303
        done = await mail_program.get(path)
        assert (
            "no longer gets these messages" in done.text
            or "бұдан былай" in done.text
            or "больше не получает" in done.text
        )
        unknown = await mail_program.post(path[:-4] + "xxxx", data={"List-Unsubscribe": "One-Click"})
        assert unknown.status_code == 404

    choices = (await client.get("/api/v1/me/notifications", headers=cast.director.headers)).json()
    assert choices == {**EVERYTHING, "booking_received": False}
    later = await _pending_booking(client, pool, settings, cast, make)
    assert "booking_received" not in await _messages(pool, later["id"])


async def test_reminders_and_digests_skip_addresses_that_turned_them_off(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    slot = await make.slot(cast.lab, soon(timedelta(hours=20)), capacity=20)
    bookings = {}
    for director in (cast.director, cast.other_director):
        created = await client.post(
            f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=director.headers
        )
        assert created.status_code == 201, created.text
        bookings[director.email] = created.json()["id"]
    await pool.execute(
        "update bookings set created_at = now() - interval '3 days' where id = any($1::uuid[])",
        list(bookings.values()),
    )
    off = await client.patch(
        "/api/v1/me/notifications", json={"booking_reminder": False}, headers=cast.director.headers
    )
    assert off.status_code == 200

    await service.send_due_reminders(pool, settings)

    reminded = await pool.fetch(
        """select recipient from mail_messages
           where kind = 'booking_reminder' and booking_id = any($1::uuid[])""",
        list(bookings.values()),
    )
    assert [r["recipient"] for r in reminded] == [cast.other_director.email]
    due = await pool.fetch(service.repository.DUE_REMINDERS, 10_000)
    assert UUID(bookings[cast.director.email]) not in {r["id"] for r in due}, (
        "the schedule does not pick it again"
    )


async def test_the_evening_list_goes_only_to_managers_who_still_want_it(
    client, pool: asyncpg.Pool, settings: Settings, make: Factory
) -> None:
    now = datetime.now(UTC)
    cast, _ = await _lab_with_a_visit_tomorrow(client, make, _zone_where(now, time(17, 30), time(23, 0)), now)
    colleague = await make.person(
        "lab_manager", organization_id=cast.lab["organization_id"], lab_ids=(cast.lab["id"],)
    )
    off = await client.patch(
        "/api/v1/me/notifications", json={"lab_digest": False}, headers=cast.manager.headers
    )
    assert off.json()["lab_digest"] is False

    await service.send_due_digests(pool, settings)

    sent = await pool.fetch(
        "select recipient, raw from mail_messages where kind = 'lab_digest' and recipient = any($1::text[])",
        [cast.manager.email, colleague.email],
    )
    assert [r["recipient"] for r in sent] == [colleague.email]
    digest = message_from_bytes(sent[0]["raw"], policy=policy.default)
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in digest["List-Unsubscribe"]

    await client.patch("/api/v1/me/notifications", json={"lab_digest": False}, headers=colleague.headers)
    due = await pool.fetch(service.repository.DUE_DIGESTS, service.DIGEST_TIME)
    assert cast.lab["id"] not in {r["id"] for r in due}, "a lab whose managers all said no is not picked"
