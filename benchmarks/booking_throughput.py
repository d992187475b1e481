"""Bookings per second through the HTTP endpoint, against raw asyncpg writing equivalent rows.

    python benchmarks/booking_throughput.py [--bookings 2000] [--concurrency 20] [--workers 1]

Creates its own database (on ``LABBOOK_DATABASE_URL``'s server, or the embedded one), serves labbook
with granian in a subprocess on a loopback port, and books seats through
``POST /api/v1/slots/{id}/bookings`` as a director: authenticated, validated, seats taken, audited.
With notifications on (the default: each booking enqueues its e-mail job in its own transaction, and
a job worker runs beside the server) and off (the trigger disabled, no worker), in one run.
The raw baseline writes the same rows with asyncpg at the same concurrency, on its own slots in the
same database: one transaction with the conditional seat-counter UPDATE, the booking INSERT and the
audit_events INSERT (the booking row as ``after``), one statement each, as a plain asyncpg program
would write them (no HTTP, no token lookup, no validation); with notifications on, the bookings
trigger adds the job row to it as it does to the endpoint's, and with them off it does not. Each
endpoint rate is compared with the raw rate of its own case. For reference it also prints, with
notifications off, the rate without the audit row, and the rate of the endpoint's own single
booking statement run straight from asyncpg (what HTTP, the token check, validation and the
framework cost on top of the SQL). Next to each rate: CPU
milliseconds per booking of the program doing the writes (the server; this process for raw) and of
the database backends, which stay comparable when other work shares the machine, and of the job
worker during the burst. It waits for the worker to start before the burst, and after it until the
job queue is empty: the seconds that took and the worker's CPU per booking, its e-mail written, are
printed too, with the load average at the start (the machine may be shared). Bounded: a fixed
number of requests and a deadline for everything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from labbook import db, embedded, migrate  # noqa: E402
from labbook.accounts.security import ACCESS_TOKEN_PREFIX, hash_secret, new_secret  # noqa: E402
from labbook.bookings import repository as bookings  # noqa: E402

DEADLINE_SECONDS = 240
SLOTS = 20

RAW_TAKE = """
update slots set seats_taken = seats_taken + $2, updated_at = now(), sequence = sequence + 1
where id = $1 and status = 'active' and seats_taken + $2 <= capacity
returning id, requires_approval
"""
RAW_INSERT = """
insert into bookings (slot_id, organization_id, booked_by, headcount, contact_name, contact_email,
                      language, age_group, notes, status)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
returning *
"""
RAW_AUDIT = """
insert into audit_events (actor_id, action, object_type, object_id, before, after, request_id)
values ($1, 'booking.create', 'booking', $2, null, $3, $4)
"""


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _seed(url: str) -> tuple[str, int, object, list[list[object]]]:
    """A lab, a director with a token, and six sets of roomy slots, one for each measurement."""
    conn = await db.connect(url)
    try:
        new_org = "insert into organizations (slug, name, kind) values ($1, $2, $3) returning id"
        host = await conn.fetchval(new_org, "bench-host", {"en": "Bench University"}, "host_university")
        college = await conn.fetchval(new_org, "bench-college", {"en": "Bench College"}, "college")
        lab = await conn.fetchval(
            """insert into labs (slug, organization_id, name, capacity, languages, min_notice_hours)
               values ('bench-lab', $1, $2, 100000, '{kk,ru,en}', 0) returning id""",
            host,
            {"en": "Bench lab"},
        )
        person = await conn.fetchval(
            """insert into people (organization_id, email, full_name, roles)
               values ($1, 'director@bench.kz', 'Bench Director', '{director}') returning id""",
            college,
        )
        token = new_secret(ACCESS_TOKEN_PREFIX)
        await conn.execute(
            "insert into access_tokens (person_id, name, token_hash, prefix) values ($1, 'bench', $2, $3)",
            person,
            hash_secret(token),
            token[:8],
        )
        starts = datetime.now(UTC) + timedelta(days=30)

        async def slots() -> list[object]:
            return [
                r["id"]
                for r in await conn.fetch(
                    """insert into slots (lab_id, kind, title, starts_at, ends_at, capacity)
                       select $1, 'tour', $2, $3::timestamptz + make_interval(hours => g),
                              $3::timestamptz + make_interval(hours => g + 1),
                              100000
                       from generate_series(1, $4) g
                       returning id""",
                    lab,
                    {"en": "Bench tour"},
                    starts,
                    SLOTS,
                )
            ]

        return token, college, person, [await slots() for _ in range(6)]
    finally:
        await conn.close()


async def _wait_ready(client: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(60):
        while True:
            if process.returncode is not None:
                raise SystemExit("the server exited at start")
            try:
                if (await client.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


@dataclass(frozen=True)
class Measured:
    """Operations per second, and CPU milliseconds per operation spent by the program doing the writes
    (the server, or this process for raw asyncpg) and by the database's backends for this database.

    The CPU figures hardly depend on what else the machine is running, unlike the rates.
    """

    rate: float
    app_ms: float
    database_ms: float
    worker_ms: float | None = None


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _backends(database: str) -> list[psutil.Process]:
    """PostgreSQL backends serving ``database`` (their process title names it)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if process.info["name"] == "postgres" and f" {database} " in f"{cmdline} ":
            found.append(process)
    return found


async def _run(
    total: int,
    concurrency: int,
    one: object,
    app: list[psutil.Process],
    database: str,
    worker: psutil.Process | None = None,
) -> Measured:
    """Run ``one(i)`` for i in 0..total-1 with ``concurrency`` in flight (and ``worker`` beside them)."""
    counter = iter(range(total))

    async def client() -> None:
        for i in counter:
            await one(i)  # type: ignore[operator]

    backends = _backends(database)
    beside = [worker] if worker is not None else []
    app_before, database_before, beside_before = (
        _cpu_seconds(app),
        _cpu_seconds(backends),
        _cpu_seconds(beside),
    )
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Measured(
        rate=total / elapsed,
        app_ms=(_cpu_seconds(app) - app_before) * 1000 / total,
        database_ms=(_cpu_seconds(backends) - database_before) * 1000 / total,
        worker_ms=(_cpu_seconds(beside) - beside_before) * 1000 / total if worker is not None else None,
    )


class _Connection:
    """A minimal keep-alive HTTP/1.1 client connection.

    httpx costs more CPU per request than the endpoint itself; on a small machine the client would
    be what gets measured. This sends the same bytes a client would and reads whole answers.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def post(self, path: str, token: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def _http(
    port: int,
    token: str,
    slots: list[object],
    total: int,
    concurrency: int,
    server: list[psutil.Process],
    database: str,
    worker: psutil.Process | None = None,
) -> Measured:
    connections = [await _Connection.open(port) for _ in range(concurrency)]
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for connection in connections:
        idle.put_nowait(connection)
    encode = json.dumps

    async def book(i: int) -> None:
        connection = await idle.get()
        try:
            status, body = await connection.post(
                f"/api/v1/slots/{slots[i % len(slots)]}/bookings",
                token,
                encode(
                    {
                        "headcount": 2,
                        "contact_name": "Bench Contact",
                        "contact_email": "contact@bench.kz",
                        "language": "ru",
                        "age_group": "16-17",
                        "notes": f"request {i}",
                    }
                ).encode(),
            )
        finally:
            idle.put_nowait(connection)
        if status != 201:
            raise SystemExit(f"booking failed: {status} {body.decode(errors='replace')}")

    try:
        # Warm up every connection and the server's statement caches: first-request costs are not throughput.
        await asyncio.gather(*(book(i) for i in range(concurrency * 2)))
        return await _run(total, concurrency, book, server, database, worker)
    finally:
        for connection in connections:
            await connection.close()


async def _raw(
    url: str,
    college: int,
    person: object,
    slots: list[object],
    total: int,
    concurrency: int,
    *,
    audited: bool,
    database: str,
) -> Measured:
    pool = await db.create_pool(url, min_size=concurrency, max_size=concurrency)
    try:

        async def book(i: int) -> None:
            async with pool.acquire() as conn, conn.transaction():
                taken = await conn.fetchrow(RAW_TAKE, slots[i % len(slots)], 2)
                if taken is None:
                    raise SystemExit("raw booking found no seats")
                booking = await conn.fetchrow(
                    RAW_INSERT,
                    taken["id"],
                    college,
                    person,
                    2,
                    "Bench Contact",
                    "contact@bench.kz",
                    "ru",
                    "16-17",
                    f"request {i}",
                    "pending" if taken["requires_approval"] else "confirmed",
                )
                if audited:
                    await conn.execute(
                        RAW_AUDIT, person, str(booking["id"]), dict(booking.items()), secrets.token_hex(8)
                    )

        await asyncio.gather(*(book(i) for i in range(concurrency * 2)))
        return await _run(total, concurrency, book, [psutil.Process()], database)
    finally:
        await pool.close()


async def _raw_statement(
    url: str,
    college: int,
    person: object,
    slots: list[object],
    total: int,
    concurrency: int,
    *,
    database: str,
) -> Measured:
    """The endpoint's own single booking statement (seats, booking and audit event), straight from asyncpg."""
    pool = await db.create_pool(url, min_size=concurrency, max_size=concurrency)
    try:

        async def book(i: int) -> None:
            async with pool.acquire() as conn:
                booked = await bookings.book_seats(
                    conn,
                    slots[i % len(slots)],
                    organization_id=college,
                    booked_by=person,
                    group_id=None,
                    headcount=2,
                    contact_name="Bench Contact",
                    contact_email="contact@bench.kz",
                    contact_phone=None,
                    language="ru",
                    age_group="16-17",
                    notes=f"request {i}",
                    now=datetime.now(UTC),
                    audit_event=(person, "booking.create", "booking", secrets.token_hex(8)),
                )
            if booked is None:
                raise SystemExit("raw booking found no seats")

        await asyncio.gather(*(book(i) for i in range(concurrency * 2)))
        return await _run(total, concurrency, book, [psutil.Process()], database)
    finally:
        await pool.close()


async def _caught_up(url: str) -> float:
    """Seconds from now until the job queue is empty: every booking's e-mail written and kept."""
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        while await conn.fetchval("select exists (select 1 from pgqueuer)"):  # noqa: ASYNC110 - nothing to await
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return time.perf_counter() - started


async def admin_of(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    print("load average at start (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    server_url = os.environ.get("LABBOOK_DATABASE_URL") or embedded.start(ROOT / ".labbook").url()
    name = f"labbook_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'create database "{name}"')
    url = _with_database(server_url, name)
    process = None
    try:
        conn = await db.connect(url)
        try:
            await migrate.apply(conn)
        finally:
            await conn.close()
        (
            token,
            college,
            person,
            (http_slots, raw_slots, bare_slots, statement_slots, quiet_slots, raw_quiet_slots),
        ) = await _seed(url)
        port = _free_port()
        env = {
            **os.environ,
            "LABBOOK_DATABASE_URL": url,
            "LABBOOK_LOG_LEVEL": "WARNING",
            "LABBOOK_POOL_MIN_SIZE": str(args.concurrency),
            "LABBOOK_POOL_MAX_SIZE": str(args.concurrency),
            "PYTHONPATH": str(ROOT / "src"),
        }
        # the server labbook serve runs, as it runs it (granian, HTTP/1, uvloop)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--loop", "uvloop",
            "--http", "1", "--no-ws", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(args.workers), "--log-level", "warning", "labbook.cli:app_factory",
            env=env,
        )  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base_url) as probe:
            await _wait_ready(probe, process)
        server_process = psutil.Process(process.pid)
        server = [server_process, *server_process.children(recursive=True)]
        # Notifications on, as `labbook serve` runs them: each booking enqueues its job in its own
        # transaction, and a job worker beside the server writes the e-mail (to the outbox) meanwhile.
        jobs = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "labbook",
            "worker",
            "--no-migrate",
            env=env,
            stdout=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(DEADLINE_SECONDS):
            try:
                assert jobs.stdout is not None
                await jobs.stdout.readline()  # "labbook worker running jobs": it is about to poll
                worker = psutil.Process(jobs.pid)
                worker_before = _cpu_seconds([worker])
                http = await _http(
                    port, token, http_slots, args.bookings, args.concurrency, server, name, worker
                )
                catch_up = await _caught_up(url)
                mail_cpu_ms = (
                    (_cpu_seconds([worker]) - worker_before) * 1000 / (args.bookings + 2 * args.concurrency)
                )
            finally:
                jobs.terminate()
                await jobs.wait()
            # Raw asyncpg writing the same rows as the endpoint with notifications on: the bookings
            # trigger writes each booking's job row in its transaction (no worker takes them).
            raw = await _raw(
                url, college, person, raw_slots, args.bookings, args.concurrency, audited=True, database=name
            )
            # Notifications off: no job enqueued, no worker; the endpoint and raw asyncpg alike.
            await admin_of(url, "alter table bookings disable trigger tg_bookings_enqueue_notice")
            try:
                quiet = await _http(port, token, quiet_slots, args.bookings, args.concurrency, server, name)
                raw_quiet = await _raw(
                    url, college, person, raw_quiet_slots, args.bookings, args.concurrency, audited=True,
                    database=name,
                )  # fmt: skip
                bare = await _raw(
                    url, college, person, bare_slots, args.bookings, args.concurrency, audited=False,
                    database=name,
                )  # fmt: skip
                statement = await _raw_statement(
                    url, college, person, statement_slots, args.bookings, args.concurrency, database=name
                )
            finally:
                await admin_of(url, "alter table bookings enable trigger tg_bookings_enqueue_notice")
        check = await asyncpg.connect(url)
        try:
            booked = await check.fetchval(
                "select count(*) from bookings where slot_id = any($1::uuid[])", http_slots
            )
            audited = await check.fetchval(
                "select count(*) from audit_events e join bookings b on b.id::text = e.object_id "
                "where e.action = 'booking.create' and b.slot_id = any($1::uuid[])",
                http_slots,
            )
            written = await check.fetchval("select count(*) from mail_messages")
        finally:
            await check.close()
        assert booked == audited == args.bookings + 2 * args.concurrency, (booked, audited)
        print(f"bookings: {args.bookings}, concurrency: {args.concurrency}, server workers: {args.workers}")
        rows = [
            ("HTTP endpoint (auth + validation + seats + audit)", http),
            ("raw asyncpg, the same rows (and the job row)", raw),
            ("HTTP endpoint, notifications off (no job, no worker)", quiet),
            ("raw asyncpg, the same rows, notifications off", raw_quiet),
            ("raw asyncpg without the audit row (reference, off)", bare),
            ("raw asyncpg, the endpoint's one statement (off)", statement),
        ]
        print(
            f"{'':50} {'bookings/s':>10} {'app CPU ms':>11} {'db CPU ms':>10} {'worker CPU ms':>14}"
            "  (CPU per booking)"
        )
        for label, measured in rows:
            worker_ms = "" if measured.worker_ms is None else f" {measured.worker_ms:14.2f}"
            cpu = f"{measured.app_ms:11.2f} {measured.database_ms:10.2f}{worker_ms}"
            print(f"{label:50} {measured.rate:10.0f} {cpu}")
        print(f"ratio endpoint / raw, the same rows, notifications on:  {http.rate / raw.rate:6.2f}")
        print(f"ratio endpoint / raw, the same rows, notifications off: {quiet.rate / raw_quiet.rate:5.2f}")
        print(f"ratio endpoint (off) / raw without the audit row:       {quiet.rate / bare.rate:6.2f}")
        print(f"ratio endpoint (off) / its own statement from asyncpg:  {quiet.rate / statement.rate:6.2f}")
        print(f"ratio notifications on / off:                           {http.rate / quiet.rate:6.2f}")
        print(
            f"e-mail messages the job worker wrote: {written}, the last {catch_up:.1f} s after the bookings"
        )
        print(f"job worker CPU ms per booking, its e-mail written: {mail_cpu_ms:.2f}")
        print(
            "bookings/s with notifications on, until their e-mail was written:"
            f" {args.bookings / (args.bookings / http.rate + catch_up):.0f}"
        )
    finally:
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(15):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
