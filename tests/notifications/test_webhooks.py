"""Acceptance 5: a real local HTTP receiver gets signed booking events that verify, a receiver that
fails three times gets the event on a later retry, failures stay in the log, and admins replay."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import pytest
from standardwebhooks.webhooks import Webhook

from labbook.notifications import service
from labbook.settings import Settings
from tests.bookings.helpers import Cast, new_cast
from tests.dates import soon
from tests.factories import Factory
from tests.notifications.helpers import FAST, eventually, running_worker


@pytest.fixture
async def cast(make: Factory) -> Cast:
    return await new_cast(make)


class Receiver:
    """What the receiver was sent; it answers 500 to the first ``failures`` requests."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        self.lock = threading.Lock()

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            status = 500 if len(self.requests) < self.failures else 204
            self.requests.append((headers, body, status))
            return status

    def accepted(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for h, b, status in self.requests if status == 204]


@contextmanager
def receiver(failures: int = 0) -> Iterator[tuple[Receiver, str]]:
    got = Receiver(failures)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            status = got.answer({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield got, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def _signed_by(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks signature, computed here by hand: HMAC-SHA256 over id.timestamp.body."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return f"v1,{expected}" in headers["webhook-signature"].split(" ")


async def test_signed_booking_events_reach_the_receiver_and_a_failing_one_gets_them_later(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    admin = cast.admin.headers
    with receiver() as (good, good_url), receiver(failures=3) as (flaky, flaky_url):
        made = await client.post(
            "/api/v1/webhooks",
            json={"url": good_url, "events": ["booking.created", "booking.cancelled"]},
            headers=admin,
        )
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        assert secret.startswith("whsec_")
        flaky_made = await client.post(
            "/api/v1/webhooks", json={"url": flaky_url, "events": ["booking.created"]}, headers=admin
        )
        assert flaky_made.status_code == 201, flaky_made.text
        listed = await client.get("/api/v1/webhooks", headers=admin)
        assert all("secret" not in e for e in listed.json())

        async with running_worker(settings):
            slot = await make.slot(cast.lab, soon(), capacity=10)
            booked = await client.post(
                f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
            )
            assert booked.status_code == 201, booked.text
            booking_id = booked.json()["id"]
            cancelled = await client.post(
                f"/api/v1/bookings/{booking_id}/cancel", json={}, headers=cast.director.headers
            )
            assert cancelled.status_code == 200

            def mine(got: Receiver) -> list[dict[str, Any]]:
                events = [json.loads(body) for _, body in got.accepted()]
                return [e for e in events if e["data"]["booking_id"] == booking_id]

            async def both_events() -> list[dict[str, Any]] | None:
                events = mine(good)
                return events if len(events) == 2 else None

            events = await eventually(both_events, "created and cancelled at the good receiver")

            async def after_three_failures() -> list[dict[str, Any]] | None:
                return mine(flaky) or None

            [late] = await eventually(after_three_failures, "the event after three failures")

    # deliveries run side by side and promise no order; the sequence tells which came first
    in_order = sorted(events, key=lambda e: e["data"]["sequence"])
    assert [e["type"] for e in in_order] == ["booking.created", "booking.cancelled"]
    for headers, body in good.accepted():
        assert _signed_by(secret, headers, body)
        Webhook(secret).verify(body, headers)
    assert late["type"] == "booking.created"
    # the same webhook-id on every attempt, so a receiver can tell a retry from a new event
    assert len({h["webhook-id"] for h, _, _ in flaky.requests}) == 1
    assert [status for _, _, status in flaky.requests] == [500, 500, 500, 204]

    log = await client.get(f"/api/v1/webhooks/{flaky_made.json()['id']}/deliveries", headers=admin)
    assert log.status_code == 200, log.text
    [delivery] = log.json()
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 4
    assert delivery["last_status_code"] == 204


async def test_a_dead_delivery_stays_in_the_log_and_an_admin_replays_it(
    client, pool: asyncpg.Pool, settings: Settings, cast: Cast, make: Factory
) -> None:
    admin = cast.admin.headers
    with receiver(failures=10**6) as (down, url):
        made = await client.post(
            "/api/v1/webhooks", json={"url": url, "events": ["booking.created"]}, headers=admin
        )
        endpoint_id = made.json()["id"]

        few = service.Retry(first=FAST.first, longest=FAST.longest, attempts=2)
        async with running_worker(settings, retry=few):
            slot = await make.slot(cast.lab, soon(), capacity=10)
            await client.post(
                f"/api/v1/slots/{slot['id']}/bookings", json=cast.body(), headers=cast.director.headers
            )

            async def dead() -> list[dict[str, Any]] | None:
                log = (await client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=admin)).json()
                return log if log and log[0]["status"] == "dead" else None

            [failed] = await eventually(dead, "the dead delivery")
        assert failed["attempts"] == 2
        assert failed["last_status_code"] == 500
        down.failures = 0
        async with running_worker(settings):
            replayed = await client.post(f"/api/v1/webhooks/deliveries/{failed['id']}/replay", headers=admin)
            assert replayed.status_code == 200, replayed.text

            async def delivered() -> list[dict[str, Any]] | None:
                log = (await client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=admin)).json()
                return log if log[0]["status"] == "delivered" else None

            await eventually(delivered, "the replayed delivery")
    assert len(down.accepted()) == 1
    refused = await client.post(
        "/api/v1/webhooks",
        json={"url": "http://example.kz/hook", "events": ["booking.created"]},
        headers=admin,
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    forbidden = await client.get("/api/v1/webhooks", headers=cast.director.headers)
    assert forbidden.status_code == 403
