"""The job worker gives way to the HTTP server: e-mail can wait a moment, a booking's answer cannot."""

from __future__ import annotations

import psutil

from labbook.notifications.worker import NICENESS
from tests.notifications.helpers import eventually, free_port, labbook, ready


async def test_the_job_worker_beside_the_server_runs_at_a_lower_cpu_priority(database_url: str) -> None:
    port = free_port()
    async with labbook(database_url, "smtp://127.0.0.1:1", "serve", "--port", str(port)) as server:
        await ready(f"http://127.0.0.1:{port}")
        serve = psutil.Process(server.pid)

        async def job_worker() -> psutil.Process | None:
            workers = [p for p in serve.children() if "worker" in p.cmdline()]
            return workers[0] if workers and workers[0].nice() != serve.nice() else None

        worker = await eventually(job_worker, "the job worker started")
        assert worker.nice() == min(serve.nice() + NICENESS, 19)
        http_workers = [p for p in serve.children(recursive=True) if p.pid != worker.pid]
        assert http_workers, "labbook serve runs its HTTP workers"
        assert all(p.nice() == serve.nice() for p in http_workers)
