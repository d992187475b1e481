"""Every notification test starts from an empty job queue and no webhook endpoint.

The suite's database is shared by all the tests a process runs. Every booking any of them made
queued a job that no worker took, and endpoints other tests registered (at addresses nobody
answers here) would each get a delivery of this test's events. A test that starts a worker would
otherwise first work through all of that before its own messages.
"""

from __future__ import annotations

import asyncpg
import pytest


@pytest.fixture(autouse=True)
async def empty_job_queue(pool: asyncpg.Pool) -> None:
    await pool.execute("delete from pgqueuer")
    await pool.execute("update webhook_endpoints set is_active = false where is_active")
