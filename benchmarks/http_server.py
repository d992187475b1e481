"""Requests per second of labbook's endpoints as ratios to a Litestar hello-world on the same HTTP server.

    python benchmarks/http_server.py [--servers granian,uvicorn,uvicorn-h11] [--seconds 2] [--rounds 3]
                              [--connections 32] [--metrics]

Creates its own database (on ``LABBOOK_DATABASE_URL``'s server, or the embedded one) with one lab and
a small feed, then for each server runs labbook (``labbook.cli:app_factory``, one worker) and a
hello-world Litestar app side by side on loopback ports, and measures ``/health``, a catalog read
(``GET /api/v1/labs/{slug}``), a feed revalidation (304), a feed (200), the hello-world, and the
hello-world with one pooled asyncpg query for the lab's row (the floor under a catalog read) with
``wrk`` (``apt-get install wrk``; without it a small Python client, which takes CPU from the server
and flattens the ratios). Endpoint and hello-world alternate in rounds, so that other load on the
machine weighs on both alike. ``--metrics`` serves labbook with ``/metrics`` on (its middleware runs).

Servers: ``granian`` (what ``labbook serve`` runs: HTTP/1, uvloop), ``uvicorn`` (httptools, uvloop),
``uvicorn-h11`` (pure Python h11, asyncio). Bounded: fixed seconds per measurement, a deadline for
everything; servers and the database are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from labbook import db, embedded, migrate  # noqa: E402

DEADLINE_SECONDS = 600
LAB = "bench-http-lab"
HELLO = """
from litestar import Litestar, get


@get("/")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


app = Litestar([hello])
"""
# The floor under a catalog read: the same hello-world, plus one pooled asyncpg query for the lab's row.
HELLO_QUERY = """
import os
from contextlib import asynccontextmanager

import asyncpg
from litestar import Litestar, get
from litestar.datastructures import State

QUERY = (
    "select l.slug, o.slug as host, l.name, l.capacity, l.timezone from labs l"
    " join organizations o on o.id = l.organization_id where l.slug = $1"
)


@asynccontextmanager
async def lifespan(app):
    app.state.pool = await asyncpg.create_pool(os.environ["LABBOOK_DATABASE_URL"], min_size=2, max_size=10)
    try:
        yield
    finally:
        await app.state.pool.close()


@get("/labs/{slug:str}")
async def lab(slug: str, state: State) -> dict:
    row = await state.pool.fetchrow(QUERY, slug)
    return dict(row)


app = Litestar([lab], lifespan=[lifespan])
"""
SETUP = """
insert into organizations (slug, name, kind)
values ('bench-http-host', '{"en": "Bench host", "kk": "Сынақ университеті"}', 'host_university');
insert into labs (slug, organization_id, name, capacity, timezone, languages, building, room, address)
select 'bench-http-lab', o.id,
       '{"kk": "Дәнекерлеу институты", "ru": "Институт сварки", "en": "Welding Institute"}',
       40, 'Asia/Almaty', '{kk,ru,en}', 'Block G', '104', 'Satpaev St 22, Almaty'
from organizations o where o.slug = 'bench-http-host';
insert into slots (lab_id, kind, title, starts_at, ends_at, capacity, seats_taken)
select l.id, 'tour', jsonb_build_object('en', 'Tour #' || n, 'kk', 'Экскурсия №' || n),
       date_trunc('day', now()) + n * interval '1 day' + interval '9 hours',
       date_trunc('day', now()) + n * interval '1 day' + interval '11 hours', 20, n % 7
from labs l cross join generate_series(1, 20) n where l.slug = 'bench-http-lab';
update slots set updated_at = updated_at - interval '1 hour';
"""


def _command(server: str, target: str, port: int, *, factory: bool) -> list[str]:
    common = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    if server == "granian":
        return [
            sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop", "--http", "1",
            "--no-ws", "--workers", "1", *common, *(["--factory"] if factory else []), target,
        ]  # fmt: skip
    loop, http = ("uvloop", "httptools") if server == "uvicorn" else ("asyncio", "h11")
    return [
        sys.executable, "-m", "uvicorn", "--loop", loop, "--http", http, "--no-access-log",
        "--no-date-header", *common, *(["--factory"] if factory else []), target,
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_raw(path, port, **headers))
        head = await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()
    lines = head.decode("latin-1").split("\r\n")
    found = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    return int(lines[0].split(" ", 2)[1]), found


def _raw(path: str, port: int, **headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _wrk(port: int, path: str, headers: dict[str, str], seconds: float, connections: int) -> float:
    args = ["-t", "2", "-c", str(connections), "-d", f"{max(1, round(seconds))}s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    proc = await asyncio.create_subprocess_exec(
        "wrk", *args, f"http://127.0.0.1:{port}{path}", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    text = out.decode()
    if "Non-2xx or 3xx responses" in text or "Socket errors" in text:
        raise RuntimeError(f"wrk saw errors on {path}:\n{text}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", text)
    assert match is not None, text
    return float(match.group(1))


async def _python_client(
    port: int, path: str, headers: dict[str, str], seconds: float, connections: int
) -> float:
    raw = _raw(path, port, **headers)
    deadline = time.perf_counter() + seconds
    counts = [0] * connections

    async def worker(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                writer.write(raw)
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                counts[index] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(connections)))
    return sum(counts) / (time.perf_counter() - started)


def _cpu_seconds(process: psutil.Process) -> float:
    """CPU time of a server and its worker processes so far."""
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = each.cpu_times()
            total += times.user + times.system
    return total


@contextlib.asynccontextmanager
async def _served(
    command: list[str], env: dict[str, str], port: int, probe: str = "/"
) -> AsyncIterator[psutil.Process]:
    proc = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        for _ in range(600):
            if proc.returncode is not None:
                raise RuntimeError(f"{command[2]} exited at start")
            with contextlib.suppress(OSError):
                await _get(port, probe)
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"{command[2]} did not start")
        yield psutil.Process(proc.pid)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _measure(args: argparse.Namespace, url: str, hello_dir: str) -> None:
    rate = _wrk if shutil.which("wrk") else _python_client
    client = "wrk" if rate is _wrk else "a Python client (install wrk for truer figures)"
    print(
        f"{args.connections} connections, {args.rounds} rounds of {args.seconds:.0f} s each, client: {client}"
    )
    for server in args.servers.split(","):
        app_port, hello_port, floor_port = _free_port(), _free_port(), _free_port()
        env = {**os.environ, "LABBOOK_DATABASE_URL": url, "LABBOOK_LOG_LEVEL": "WARNING",
               "LABBOOK_BASE_URL": f"http://127.0.0.1:{app_port}",
               "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), hello_dir])}  # fmt: skip
        if args.metrics:
            env["LABBOOK_METRICS_TOKEN"] = secrets.token_urlsafe(24)
        labbook = _command(server, "labbook.cli:app_factory", app_port, factory=True)
        hello = _command(server, "labbook_hello:app", hello_port, factory=False)
        floor = _command(server, "labbook_hello_query:app", floor_port, factory=False)
        async with (
            _served(labbook, env, app_port) as labbook_process,
            _served(hello, env, hello_port) as hello_process,
            _served(floor, env, floor_port, probe=f"/labs/{LAB}") as floor_process,
        ):
            processes = {app_port: labbook_process, hello_port: hello_process, floor_port: floor_process}

            async def measure(
                port: int, path: str, extra: dict[str, str], processes: dict[int, psutil.Process] = processes
            ) -> tuple[float, float]:
                """Requests per second, and the server's CPU microseconds per request."""
                cpu = _cpu_seconds(processes[port])
                per_second = await rate(port, path, extra, args.seconds, args.connections)
                used = _cpu_seconds(processes[port]) - cpu
                # wrk runs for whole seconds
                seconds = max(1, round(args.seconds)) if rate is _wrk else args.seconds
                return per_second, used / (per_second * seconds) * 1e6

            feed = f"/feeds/labs/{LAB}.ics"
            status, headers = await _get(app_port, feed)
            assert status == 200, status
            endpoints = [
                ("/health", app_port, "/health", {}),
                ("catalog read", app_port, f"/api/v1/labs/{LAB}", {}),
                ("feed 304", app_port, feed, {"If-None-Match": headers["etag"]}),
                ("feed 200", app_port, feed, {}),
                ("hello + query", floor_port, f"/labs/{LAB}", {}),
            ]
            for _, port, path, extra in endpoints:
                status, _ = await _get(port, path, **extra)
                assert status in (200, 304), (path, status)
            print(f"\n{server}:")
            hellos: list[float] = []
            for name, port, path, extra in endpoints:
                rates, baselines, costs, hello_costs = [], [], [], []
                for _ in range(args.rounds):
                    per_second, cost = await measure(hello_port, "/", {})
                    baselines.append(per_second)
                    hello_costs.append(cost)
                    per_second, cost = await measure(port, path, extra)
                    rates.append(per_second)
                    costs.append(cost)
                endpoint, baseline = statistics.median(rates), statistics.median(baselines)
                cost, hello_cost = statistics.median(costs), statistics.median(hello_costs)
                hellos.extend(baselines)
                print(
                    f"  {name:13s} {endpoint:8.0f} requests/s   hello-world {baseline:8.0f} requests/s"
                    f"   ratio {endpoint / baseline:5.2f}   server CPU {cost:5.0f} µs/request"
                    f" (hello-world {hello_cost:3.0f}, ratio {hello_cost / cost:4.2f})"
                )
            print(f"  hello-world   {statistics.median(hellos):8.0f} requests/s (median of every round)")
    print("\naims: /health >= 0.8, catalog read >= 0.4, feed 304 >= 0.5")
    print("hello + query: the hello-world with one pooled asyncpg query, the floor under a catalog read")
    print(
        "server CPU: the serving process's own CPU per request (its database's not included), which"
        " other load on the machine hardly changes; its ratio is hello-world's over the endpoint's"
    )


async def main(args: argparse.Namespace) -> None:
    server_url = os.environ.get("LABBOOK_DATABASE_URL") or embedded.start(ROOT / ".labbook").url()
    name = f"labbook_bench_http_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    url = _with_database(server_url, name)
    hello_dir = tempfile.mkdtemp(prefix="labbook-bench-")
    try:
        (Path(hello_dir) / "labbook_hello.py").write_text(HELLO)
        (Path(hello_dir) / "labbook_hello_query.py").write_text(HELLO_QUERY)
        conn = await db.connect(url)
        try:
            await migrate.apply(conn)
            await conn.execute(SETUP)
            await conn.execute("vacuum analyze")
        finally:
            await conn.close()
        async with asyncio.timeout(DEADLINE_SECONDS):
            await _measure(args, url, hello_dir)
    finally:
        shutil.rmtree(hello_dir, ignore_errors=True)
        admin = await asyncpg.connect(server_url)
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="granian,uvicorn")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--metrics", action="store_true", help="serve labbook with /metrics on")
    asyncio.run(main(parser.parse_args()))
