"""A real SMTP server (aiosmtpd) on a loopback port, a job worker on the test's loop, labbook in a
process of its own, bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from labbook.notifications import service, worker
from labbook.settings import Settings
from tests.databases import ROOT

T = TypeVar("T")
# Waits end here at the latest: a test that waits longer has found a bug, not a slow machine.
DEADLINE_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Inbox:
    """What the SMTP server accepted, in order."""

    envelopes: list[Envelope] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = [e.content for e in self.envelopes]
        return [message_from_bytes(r, policy=policy.default) for r in raw if isinstance(r, bytes)]  # type: ignore[misc]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages() if m["To"] == address]


@contextlib.contextmanager
def smtp_server(
    port: int | None = None, *, handler: Inbox | None = None, **options: Any
) -> Iterator[tuple[Inbox, Controller]]:
    inbox = handler or Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port(), **options)
    controller.start()
    try:
        yield inbox, controller
    finally:
        controller.stop()


async def eventually(
    check: Callable[[], Awaitable[T | None]], what: str, *, deadline: float = DEADLINE_SECONDS
) -> T:
    """Poll ``check`` until it returns something, or fail naming ``what`` at the deadline."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + deadline
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > ends:
            raise AssertionError(f"still waiting for {what} after {deadline:.0f} s")
        await asyncio.sleep(0.05)


# Retries come quickly in tests; the deadline above still bounds every wait.
FAST = service.Retry(first=timedelta(milliseconds=200), longest=timedelta(seconds=2), attempts=50)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, retry: service.Retry = FAST) -> AsyncIterator[None]:
    """A job worker on this loop for the duration of the block.

    It takes every job as soon as it is due, however busy the database looks: a test's message
    must not wait out the patience (``worker.Courtesy``) of each of its jobs on a loaded machine.
    ``test_worker_priority`` tests that patience with a worker of its own.
    """
    stop = asyncio.Event()
    eager = worker.Courtesy(patience=timedelta(0))
    task = asyncio.create_task(worker.run(settings, retry=retry, stop=stop, courtesy=eager))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE_SECONDS)


@contextlib.asynccontextmanager
async def labbook(url: str, smtp_url: str, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m labbook ARGS`` in a process group of its own, killed with SIGKILL at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
    env.update(LABBOOK_DATABASE_URL=url, LABBOOK_SMTP_URL=smtp_url, LABBOOK_LOG_LEVEL="WARNING")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "labbook", *args, cwd=ROOT, env=env, start_new_session=True
    )
    try:
        yield process
    finally:
        kill_group(process)
        await process.wait()


def kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


async def ready(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:

        async def answers() -> bool:
            try:
                return (await http.get("/ready")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(answers, "the server ready")
