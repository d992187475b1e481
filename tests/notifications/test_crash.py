"""Acceptance 2: ``kill -9`` of the whole server just after a booking commits loses no e-mail, and
the e-mail arrives exactly once (the server, its HTTP workers and its job worker all die at once)."""

from __future__ import annotations

from email.message import EmailMessage
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.dates import soon
from tests.factories import Factory
from tests.notifications.helpers import (
    DEADLINE_SECONDS,
    eventually,
    free_port,
    kill_group,
    labbook,
    ready,
    smtp_server,
)


@pytest.mark.parametrize("jobs", ["in the server", "nowhere until the restart"])
async def test_kill_9_just_after_a_booking_commits_still_delivers_it_once(
    pool: asyncpg.Pool, make: Factory, database_url: str, jobs: str
) -> None:
    lab = await make.lab()
    director = await make.person("director")
    slot = await make.slot(lab, soon(), capacity=10)
    port = free_port()
    with smtp_server() as (inbox, controller):
        smtp_url = f"smtp://127.0.0.1:{controller.port}"
        options = () if jobs == "in the server" else ("--no-jobs",)
        async with labbook(database_url, smtp_url, "serve", "--port", str(port), *options) as server:
            base = f"http://127.0.0.1:{port}"
            await ready(base)
            async with httpx.AsyncClient(base_url=base, timeout=DEADLINE_SECONDS) as http:
                created = await http.post(
                    f"/api/v1/slots/{slot['id']}/bookings",
                    json={"headcount": 4, "contact_name": "Айгерім Сапарова", "language": "kk"},
                    headers=director.headers,
                )
            kill_group(server)
            assert created.status_code == 201, created.text
        booking_id = created.json()["id"]
        assert await pool.fetchval("select status from bookings where id = $1", booking_id) == "confirmed"

        async with labbook(database_url, smtp_url, "worker", "--no-migrate"):

            async def delivered() -> list[EmailMessage]:
                return inbox.to(director.email)

            await eventually(delivered, "the e-mail after the restart")
            sent = await eventually(
                lambda: pool.fetchrow(
                    "select message_id from mail_messages where booking_id = $1 and status = 'sent'",
                    UUID(booking_id),
                ),
                "the message marked sent",
            )
        received = inbox.to(director.email)
    assert [m["Message-ID"] for m in received] == [sent["message_id"]]
