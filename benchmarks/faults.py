"""Faults injected into a running labbook under a booking load: nothing acknowledged may be lost.

    python benchmarks/faults.py [--clients 8] [--only NAME[,NAME...]]

Runs ``labbook serve`` as a user would, on a loopback port, first on an embedded PostgreSQL in a
temporary data directory, then on a throwaway PostgreSQL cluster it starts itself from the embedded
wheel's server binaries. Meanwhile ``--clients`` loops book seats (``POST /api/v1/slots/{id}/bookings``)
as a director. For each fault it prints one line: bookings acknowledged (201), acknowledged ones
missing from the database afterwards (lost: must be 0), errors by status (``conn`` for a refused or
broken connection), and seconds from the fault until bookings succeed again. A process manager is
played by this script: when a fault ends ``labbook serve`` (kill -9, SIGTERM), it starts it again on
the same port at once. After each fault it also counts slots holding more seats than they have, or
than their bookings take.

Faults: kill -9 of the server, of one of two workers, of the supervisor of two workers, of the
embedded postmaster; SIGTERM under load; slow clients (idle connections and headers sent a byte at a
time); on the throwaway cluster, a PostgreSQL restart and a 12-second freeze (SIGSTOP).

Bounded: every phase has a deadline, the whole run too; loopback only; everything it started is
stopped and removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.ops.cluster import Cluster  # noqa: E402

from booking_throughput import _seed  # noqa: E402

# The wheel warns on import when XDG_RUNTIME_DIR is unset; labbook does not use that directory.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")

DEADLINE_SECONDS = 1200
START_SECONDS = 90
PHASE_SECONDS = 60
SETTLE_SECONDS = 2.0
FREEZE_SECONDS = 12
HEADER_TIMEOUT = 3
IDLE_CONNECTIONS = 100
SLOW_CONNECTIONS = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``labbook serve`` in a subprocess; started again on the same port whenever asked."""

    def __init__(self, env: dict[str, str], port: int, workers: int, log: Path) -> None:
        self.env, self.port, self.workers, self.log = env, port, workers, log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "labbook", "serve", "--port", str(self.port),
                "--workers", str(self.workers),
                cwd=ROOT, env=self.env, stdout=out, stderr=out,
            )  # fmt: skip

    async def wait_ready(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=3) as probe, asyncio.timeout(START_SECONDS):
            while True:
                assert self.proc is not None
                if self.proc.returncode is not None:
                    raise RuntimeError(f"labbook serve exited; see {self.log}")
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get("/ready")).status_code == 200:
                        return
                await asyncio.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def supervisor(self) -> psutil.Process:
        assert self.proc is not None
        return psutil.Process(self.proc.pid)

    def workers_now(self) -> list[psutil.Process]:
        return self.supervisor.children()

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            for worker in self.workers_now():
                worker.kill()
            self.proc.kill()
            await self.proc.wait()


@dataclass
class Load:
    """Booking loops; every 201 is remembered, every failure counted by status."""

    url: str
    token: str
    slots: list[object]
    clients: int
    acknowledged: list[str] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    outcomes: list[tuple[float, bool]] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=self.clients, max_keepalive_connections=self.clients)
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, timeout=30, limits=limits, headers=headers) as http:
            await asyncio.gather(*(self._client(http, n) for n in range(self.clients)))

    async def _client(self, http: httpx.AsyncClient, n: int) -> None:
        i = 0
        while not self.stopping.is_set():
            i += 1
            body = {"headcount": 1, "contact_name": "Fault Contact", "contact_email": "fault@bench.kz",
                    "language": "ru", "age_group": "16-17", "notes": f"client {n} request {i}"}  # fmt: skip
            key = {"Idempotency-Key": str(uuid.uuid4())}
            try:
                reply = await http.post(
                    f"/api/v1/slots/{self.slots[(n + i) % len(self.slots)]}/bookings", json=body, headers=key
                )
            except httpx.TransportError:
                self._failed("conn")
                await asyncio.sleep(0.05)
                continue
            if reply.status_code == 201:
                self.acknowledged.append(reply.json()["id"])
                self.outcomes.append((time.monotonic(), True))
            else:
                self._failed(str(reply.status_code))
                await asyncio.sleep(0.05)

    def _failed(self, kind: str) -> None:
        self.errors[kind] += 1
        self.outcomes.append((time.monotonic(), False))

    def recovery_seconds(self, fault_at: float) -> float:
        """From the fault to the first success after the last failure (0 when nothing failed)."""
        failures = [t for t, ok in self.outcomes if not ok and t >= fault_at]
        if not failures:
            return 0.0
        last = max(failures)
        after = [t for t, ok in self.outcomes if ok and t > last]
        return (min(after) - fault_at) if after else float("nan")

    def recovered_since(self, fault_at: float) -> bool:
        recent = [ok for t, ok in self.outcomes if t > fault_at][-self.clients * 3 :]
        return len(recent) >= self.clients * 3 and all(recent)


Fault = Callable[["Phase"], Awaitable[str]]


@dataclass
class Phase:
    server: Server
    database_url: str
    token: str
    slots: list[object]
    clients: int
    cluster: Cluster | None = None


async def _under_load(phase: Phase, name: str, fault: Fault) -> None:
    load = Load(phase.server.url, phase.token, phase.slots, phase.clients)
    running = asyncio.create_task(load.run())
    note = ""
    try:
        await asyncio.sleep(SETTLE_SECONDS)
        fault_at = time.monotonic()
        note = await fault(phase)
        async with asyncio.timeout(PHASE_SECONDS):
            # the load runs in this process: look at its outcomes until they are all good again
            while not load.recovered_since(fault_at):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        await asyncio.sleep(SETTLE_SECONDS)
    except TimeoutError:
        note = (note + "; " if note else "") + f"not recovered within {PHASE_SECONDS}s"
    finally:
        load.stopping.set()
        await running
    lost, overfilled = await _check(phase.database_url, load.acknowledged)
    errors = ", ".join(f"{status}: {n}" for status, n in sorted(load.errors.items())) or "none"
    print(
        f"{name:32s} acknowledged {len(load.acknowledged):5d}  lost {lost}  overfilled slots {overfilled}"
        f"  errors {{{errors}}}"
        f"  recovery {load.recovery_seconds(fault_at):5.1f}s{'  (' + note + ')' if note else ''}",
        flush=True,
    )


async def _check(url: str, acknowledged: list[str]) -> tuple[int, int]:
    """Acknowledged bookings missing from the database, and slots holding more seats than they have
    or than their bookings take."""
    conn = await _connect(url)
    try:
        found = await conn.fetchval("select count(*) from bookings where id = any($1::uuid[])", acknowledged)
        overfilled = await conn.fetchval(
            """select count(*) from slots s where seats_taken > capacity or seats_taken <> (
                   select coalesce(sum(headcount), 0) from bookings b
                   where b.slot_id = s.id and b.status in ('pending', 'confirmed'))"""
        )
    finally:
        await conn.close()
    return len(acknowledged) - int(found), int(overfilled)


async def _connect(url: str) -> asyncpg.Connection:
    async with asyncio.timeout(START_SECONDS):
        while True:
            try:
                return await asyncpg.connect(url, timeout=5)
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(0.2)


# --- the faults -----------------------------------------------------------------------------------


async def kill_server(phase: Phase) -> str:
    phase.server.supervisor.kill()
    await phase.server.start()
    return "started again at once"


async def kill_one_worker(phase: Phase) -> str:
    phase.server.workers_now()[0].kill()
    return "the supervisor starts a new worker"


async def kill_supervisor(phase: Phase) -> str:
    workers = phase.server.workers_now()
    phase.server.supervisor.kill()
    await phase.server.start()
    _, alive = psutil.wait_procs(workers, timeout=PHASE_SECONDS)
    return f"orphaned workers left running: {len(alive)}; started again at once"


async def kill_postmaster(phase: Phase) -> str:
    pid_file = Path(phase.server.env["LABBOOK_DATA_DIR"]) / "pgdata" / "postmaster.pid"
    pid = int(pid_file.read_text().split()[0])
    psutil.Process(pid).kill()
    return "labbook starts it again"


async def sigterm(phase: Phase) -> str:
    assert phase.server.proc is not None
    phase.server.proc.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(phase.server.proc.wait(), PHASE_SECONDS)
    await phase.server.start()
    return f"exit code {code}; started again at once"


async def slow_clients(phase: Phase) -> str:
    idle = [socket.create_connection(("127.0.0.1", phase.server.port)) for _ in range(IDLE_CONNECTIONS)]
    slow = [socket.create_connection(("127.0.0.1", phase.server.port)) for _ in range(SLOW_CONNECTIONS)]
    for sock in (*idle, *slow):
        sock.setblocking(False)
    started = time.monotonic()
    try:
        request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
        for byte in range(len(request)):
            if time.monotonic() - started > HEADER_TIMEOUT * 2:
                break
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(request[byte : byte + 1])
            await asyncio.sleep(0.05)
        await asyncio.sleep(1)
        closed = sum(_closed(sock) for sock in (*idle, *slow))
    finally:
        for sock in (*idle, *slow):
            sock.close()
    return f"{closed} of {IDLE_CONNECTIONS + SLOW_CONNECTIONS} idle or slow connections closed by the server"


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


async def restart_postgres(phase: Phase) -> str:
    assert phase.cluster is not None
    phase.cluster.stop()
    await asyncio.sleep(1)
    phase.cluster.start()
    return "stopped (immediate) and started again after 1 s"


async def freeze_postgres(phase: Phase) -> str:
    assert phase.cluster is not None
    phase.cluster.freeze()
    try:
        await asyncio.sleep(FREEZE_SECONDS)
    finally:
        phase.cluster.thaw()
    return f"SIGSTOP for {FREEZE_SECONDS} s"


EMBEDDED: list[tuple[str, int, Fault]] = [
    ("kill -9 server (1 worker)", 1, kill_server),
    ("kill -9 one of 2 workers", 2, kill_one_worker),
    ("kill -9 supervisor of 2 workers", 2, kill_supervisor),
    ("kill -9 embedded postmaster", 2, kill_postmaster),
    ("SIGTERM under load", 2, sigterm),
    ("slow and idle clients", 1, slow_clients),
]
CLUSTER: list[tuple[str, int, Fault]] = [
    ("PostgreSQL restart", 2, restart_postgres),
    ("PostgreSQL frozen 12 s", 2, freeze_postgres),
]


@contextlib.asynccontextmanager
async def _serving(env: dict[str, str], workers: int, port: int, log: Path) -> AsyncIterator[Server]:
    server = Server(env, port, workers, log)
    await server.start()
    try:
        await server.wait_ready()
        yield server
    finally:
        await server.stop()


async def _run_faults(
    faults: list[tuple[str, int, Fault]], env: dict[str, str], url: str, args: argparse.Namespace, log: Path
) -> None:
    port = _free_port()
    seeded = False
    token, slots = "", []
    for name, workers, fault in faults:
        if args.only and not any(part in name for part in args.only.split(",")):
            continue
        async with _serving(env, workers, port, log) as server:
            if not seeded:
                token, _, _, (slots, *_) = await _seed(url)
                seeded = True
            phase = Phase(server, url, token, slots, args.clients, args.cluster)
            await _under_load(phase, name, fault)
            await server.wait_ready()


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="labbook-faults-"))
    log = work / "serve.log"
    base = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
    base |= {
        "LABBOOK_LOG_LEVEL": "ERROR",
        "LABBOOK_HTTP_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "LABBOOK_DB_CONNECT_TIMEOUT": "2",
        "LABBOOK_DB_ACQUIRE_TIMEOUT": "2",
        "LABBOOK_DB_STATEMENT_TIMEOUT": "5",
        "PYTHONPATH": str(ROOT / "src"),
    }
    args.cluster = None
    print(f"{args.clients} booking clients; labbook serve's log: {log}", flush=True)
    try:
        async with asyncio.timeout(DEADLINE_SECONDS):
            data_dir = work / "data"
            embedded_url = f"postgresql://postgres@/labbook?host={data_dir / 'pgdata'}"
            print("embedded PostgreSQL:", flush=True)
            await _run_faults(EMBEDDED, base | {"LABBOOK_DATA_DIR": str(data_dir)}, embedded_url, args, log)
            if any(not args.only or part in name for name, _, _ in CLUSTER for part in args.only.split(",")):
                args.cluster = Cluster()
                try:
                    args.cluster.start()
                    print("throwaway PostgreSQL cluster:", flush=True)
                    env = base | {"LABBOOK_DATABASE_URL": args.cluster.url}
                    await _run_faults(CLUSTER, env, args.cluster.url, args, log)
                finally:
                    args.cluster.remove()
    finally:
        _stop_leftovers(work)
        shutil.rmtree(work, ignore_errors=True)


def _stop_leftovers(work: Path) -> None:
    """The embedded server stops with its last user; make sure of it before removing its files."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = [
            p
            for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] == "postgres" and str(work) in " ".join(p.info["cmdline"] or [])
        ]
        if not left:
            return
        time.sleep(0.5)
    for proc in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--only", default="", help="run only faults whose name holds one of these words")
    asyncio.run(main(parser.parse_args()))
