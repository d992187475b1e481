"""While PostgreSQL is frozen or down, requests get a quick 503 saying so; serving recovers by itself."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from labbook.settings import Settings
from tests.live import serve
from tests.ops.cluster import Cluster

RECOVERY_SECONDS = 60
METRICS_TOKEN = "metrics-token-for-tests-only"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    throwaway = Cluster()
    try:
        throwaway.start()
        yield throwaway
    finally:
        throwaway.remove()


@pytest.fixture
async def http(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=cluster.url,
        pool_min_size=1,
        pool_max_size=2,
        db_connect_timeout=1,
        db_acquire_timeout=1,
        db_statement_timeout=1,
        log_level="ERROR",
        metrics_token=METRICS_TOKEN,
    )
    async with serve(settings) as client:
        yield client


def _assert_database_unavailable(reply: httpx.Response) -> None:
    assert reply.status_code == 503, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["type"] == "/problems/database-unavailable"
    assert int(reply.headers["retry-after"]) > 0


async def _until_ready(http: httpx.AsyncClient) -> None:
    async with asyncio.timeout(RECOVERY_SECONDS):
        # the pool reconnects on its own; nothing to await but its answer
        while (await http.get("/ready")).status_code != 200:  # noqa: ASYNC110
            await asyncio.sleep(0.2)


async def test_frozen_database_is_a_503_and_ready_answers(http: httpx.AsyncClient, cluster: Cluster) -> None:
    assert (await http.get("/api/v1/labs")).status_code == 200

    cluster.freeze()
    try:
        # These replies arrive while the server is still frozen: nothing waits for it to wake up.
        _assert_database_unavailable(await http.get("/api/v1/labs"))
        _assert_database_unavailable(await http.get("/api/v1/labs"))
        ready = await http.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        metrics = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert metrics.status_code == 200
        assert "labbook_database_errors_total{" in metrics.text
    finally:
        cluster.thaw()

    await _until_ready(http)
    assert (await http.get("/api/v1/labs")).status_code == 200


async def test_stopped_database_is_a_503_until_it_is_back(http: httpx.AsyncClient, cluster: Cluster) -> None:
    assert (await http.get("/api/v1/labs")).status_code == 200

    cluster.stop()
    _assert_database_unavailable(await http.get("/api/v1/labs"))
    _assert_database_unavailable(await http.get("/api/v1/labs"))
    assert (await http.get("/ready")).status_code == 503

    cluster.start()
    await _until_ready(http)
    assert (await http.get("/api/v1/labs")).status_code == 200


class _Retries(logging.Handler):
    """Counts a starting worker's attempts to reach the database, and says when there were enough."""

    def __init__(self, enough: int) -> None:
        super().__init__(logging.WARNING)
        self.seen = 0
        self.enough = enough
        self.reached = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "does not answer yet" in record.getMessage():
            self.seen += 1
            if self.seen >= self.enough:
                self.reached.set()


async def test_a_worker_that_starts_while_the_database_is_down_serves_once_it_is_back(
    cluster: Cluster,
) -> None:
    """A server restarts a worker at once, maybe while PostgreSQL is still restarting too: the
    worker waits for the database instead of failing its start (and the server giving up on it)."""
    cluster.stop()
    settings = Settings(
        database_url=cluster.url,
        pool_min_size=1,
        pool_max_size=2,
        db_connect_timeout=1,
        db_acquire_timeout=1,
        db_statement_timeout=1,
        log_level="WARNING",
    )
    retries = _Retries(enough=3)
    starting_log = logging.getLogger("labbook.app")
    starting_log.addHandler(retries)

    async def worker() -> int:
        async with serve(settings) as client:
            return (await client.get("/api/v1/labs")).status_code

    starting = asyncio.create_task(worker())
    try:
        async with asyncio.timeout(RECOVERY_SECONDS):
            await retries.reached.wait()  # the worker has met the outage several times
        assert not starting.done(), "the worker gave up while the database was down"
        await asyncio.to_thread(cluster.start)
        assert await asyncio.wait_for(starting, RECOVERY_SECONDS) == 200
    finally:
        starting_log.removeHandler(retries)
        starting.cancel()
