"""SIGTERM lets a request in flight finish before ``labbook serve`` exits."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.databases import free_port
from tests.ops.cluster import Cluster

ROOT = Path(__file__).resolve().parent.parent.parent
START_SECONDS = 90
TOKEN = "metrics-token-for-tests-only"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    throwaway = Cluster()
    try:
        throwaway.start()
        yield throwaway
    finally:
        throwaway.remove()


def _in_progress(metrics: str, path: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("labbook_requests_in_progress{") and f'path="{path}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_sigterm_finishes_the_request_in_flight(cluster: Cluster) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
    env |= {
        "LABBOOK_DATABASE_URL": cluster.url,
        "LABBOOK_LOG_LEVEL": "WARNING",
        "LABBOOK_METRICS_TOKEN": TOKEN,
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "labbook", "serve", "--port", str(port), "--workers", "2",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            async with asyncio.timeout(START_SECONDS):
                while True:
                    assert server.returncode is None, "labbook serve exited at start"
                    try:
                        if (await http.get("/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)

            cluster.freeze()
            try:
                # held by the frozen database, short of the statement timeout
                in_flight = asyncio.create_task(http.get("/api/v1/labs"))
                bearer = {"Authorization": f"Bearer {TOKEN}"}
                while _in_progress((await http.get("/metrics", headers=bearer)).text, "/api/v1/labs") < 1:
                    assert not in_flight.done(), in_flight.result()
                server.send_signal(signal.SIGTERM)
            finally:
                cluster.thaw()

            reply = await in_flight
        assert reply.status_code == 200
        assert await asyncio.wait_for(server.wait(), START_SECONDS) == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
