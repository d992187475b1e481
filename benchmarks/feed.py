"""How fast feeds revalidate and re-render: 304s against ``/health``, and a changed 5,000-event feed.

Run: ``python benchmarks/feed.py``. It creates its own database on the server named by
``LABBOOK_DATABASE_URL`` (or the embedded one), loads one lab with 5,000 slots in the feed's window,
serves the app with uvicorn (one worker) on a loopback port, and prints:

* conditional GETs of a 200- and the 5,000-event feed answered ``304`` per second, next to
  ``GET /health`` per second on the same server (the ratio is what matters: the machine is shared
  with the client); these hold the feed's index ETag, which every client gets unless it fetched
  within seconds of a change;
* the time to answer a GET after one event changed, next to icalendar's own ``to_ical()`` of the
  same 5,000 events (and to building plus serializing them, which is what a cache-less server does);
* 304s per second for a client that fetched right after that change, so holds the exact ETag, which
  is checked against an aggregate over the feed's rows.

Each rate alternates with ``/health`` in rounds of a second. Every phase is bounded in time; the
server and the database are removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from labbook import db, embedded, migrate  # noqa: E402
from labbook.feeds import ics, service  # noqa: E402
from labbook.settings import Settings  # noqa: E402

EVENTS = 5000
SMALL_EVENTS = 200
LOAD_SECONDS = 4.0
ROUNDS = 4
CONNECTIONS = 8
CHANGES = 7
LAB = "bench-feed-lab"
SMALL_LAB = "bench-feed-small"

SETUP = """
insert into organizations (slug, name, kind)
values ('bench-feed-host', '{"en": "Bench host", "kk": "Сынақ университеті"}', 'host_university');
insert into labs (slug, organization_id, name, capacity, timezone, languages, building, room, address)
select l.slug, o.id, '{"kk": "Дәнекерлеу институты", "ru": "Институт сварки", "en": "Welding Institute"}',
       40, 'Asia/Almaty', '{kk,ru,en}', 'Block G', '104', 'Satpaev St 22, Almaty'
from organizations o cross join (values ('bench-feed-lab'), ('bench-feed-small')) as l (slug)
where o.slug = 'bench-feed-host';
"""
# 5,000 slots over the next ~300 days: about 17 a day, each two hours, with kk/ru/en text.
LOAD = """
insert into slots (lab_id, kind, title, description, starts_at, ends_at, capacity, seats_taken)
select l.id, 'tour',
       jsonb_build_object('kk', 'Экскурсия №' || n, 'ru', 'Экскурсия №' || n, 'en', 'Tour #' || n),
       jsonb_build_object('kk', 'Зертхананы аралау және аргонмен дәнекерлеу станцияларымен танысу',
                          'en', 'A walk through the lab and its argon TIG stations'),
       date_trunc('day', now()) + (n / 17) * interval '1 day' + (n % 17) * interval '30 minutes',
       date_trunc('day', now()) + (n / 17) * interval '1 day' + (n % 17) * interval '30 minutes'
           + interval '2 hours',
       20, n % 7
from labs l cross join generate_series(1, $1) n
where l.slug = $2
"""
CHANGE_ONE = """
update slots set title = jsonb_set(title, '{en}', to_jsonb('Changed ' || $2::text)),
                 updated_at = now(), sequence = sequence + 1
where id = (select id from slots where lab_id = (select id from labs where slug = $1)
            order by starts_at offset $3 limit 1)
"""


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, dict[str, str], bytes]:
    """One keep-alive HTTP/1.1 exchange; a tiny client so that the client costs little CPU."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return status, headers, body


async def _fetch(port: int, path: str) -> tuple[dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        status, headers, body = await _request(reader, writer, _raw(path, port))
    finally:
        writer.close()
    assert status == 200, status
    return headers, body


def _raw(path: str, port: int, **headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _rate(port: int, raw: bytes, expected: int, seconds: float = LOAD_SECONDS) -> float:
    """Requests per second over ``CONNECTIONS`` keep-alive connections for ``seconds``."""
    deadline = time.perf_counter() + seconds
    counts = [0] * CONNECTIONS

    async def worker(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                status, _, _ = await _request(reader, writer, raw)
                assert status == expected, status
                counts[index] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(CONNECTIONS)))
    return sum(counts) / (time.perf_counter() - started)


async def _against_health(port: int, raw: bytes, expected: int) -> tuple[float, float]:
    """``raw`` and ``GET /health`` per second, in alternating rounds, so that whatever else loads the
    machine meanwhile weighs on both alike."""
    rates: list[tuple[float, float]] = []
    for _ in range(ROUNDS):
        health = await _rate(port, _raw("/health", port), 200, LOAD_SECONDS / ROUNDS)
        rates.append((await _rate(port, raw, expected, LOAD_SECONDS / ROUNDS), health))
    return statistics.mean(r for r, _ in rates), statistics.mean(h for _, h in rates)


async def _wait_until_up(port: int, server: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        if server.returncode is not None:
            raise RuntimeError("the server exited during start-up")
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            status, _, _ = await _request(reader, writer, _raw("/health", port))
            writer.close()
            if status == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


async def _baseline(url: str) -> tuple[float, float]:
    """icalendar on its own: ``to_ical()`` of the built calendar, and building plus serializing."""
    settings = Settings(database_url=url)
    pool = await db.create_pool(url, min_size=1, max_size=2)
    try:
        feed = await service.public_feed(pool, settings, "lab", LAB, now=datetime.now(UTC))
        async with pool.acquire() as conn:
            spec, events = await service.build_feed(conn, feed, settings, datetime.now(UTC))
    finally:
        await pool.close()
    assert len(events) == EVENTS
    serialize, build = [], []
    for _ in range(3):
        started = time.perf_counter()
        calendar = ics.to_calendar(spec, events)
        built = time.perf_counter()
        calendar.to_ical()
        done = time.perf_counter()
        serialize.append(done - built)
        build.append(done - started)
    return min(serialize), min(build)


async def main() -> None:
    server_url = os.environ.get("LABBOOK_DATABASE_URL") or embedded.start(ROOT / ".labbook").url()
    name = f"labbook_bench_feed_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    url = _with_database(server_url, name)
    server: asyncio.subprocess.Process | None = None
    try:
        conn = await db.connect(url)
        try:
            await migrate.apply(conn)
            await conn.execute(SETUP)
            await conn.execute(LOAD, EVENTS, LAB)
            await conn.execute(LOAD, SMALL_EVENTS, SMALL_LAB)
            # as a feed mostly is when revalidated: last changed long before (see service.SETTLE_MARGIN)
            await conn.execute("update slots set updated_at = updated_at - interval '1 hour'")
            await conn.execute("vacuum analyze")
        finally:
            await conn.close()

        port = _free_port()
        env = {**os.environ, "LABBOOK_DATABASE_URL": url, "LABBOOK_LOG_LEVEL": "WARNING",
               "LABBOOK_BASE_URL": f"http://127.0.0.1:{port}", "PYTHONPATH": str(ROOT / "src")}  # fmt: skip
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "labbook.cli:app_factory", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--no-access-log",
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await _wait_until_up(port, server)

        for lab, events in ((SMALL_LAB, SMALL_EVENTS), (LAB, EVENTS)):
            headers, body = await _fetch(port, f"/feeds/labs/{lab}.ics")
            assert not headers["etag"].startswith(service.EXACT_TAG), "the data is settled: index ETag"
            raw = _raw(f"/feeds/labs/{lab}.ics", port, **{"If-None-Match": headers["etag"]})
            revalidations, health = await _against_health(port, raw, 304)
            print(f"GET /health, alternating with the next line:  {health:8.0f} requests/s")
            print(
                f"conditional GET, {events:5d}-event feed (304): {revalidations:8.0f} requests/s"
                f"  ratio to /health {revalidations / health:5.2f}  ({len(body) / 1024:.0f} KiB feed)"
            )
        print("  (aim: ratio >= 0.5)")

        feed_path = f"/feeds/labs/{LAB}.ics"
        pool_conn = await db.connect(url)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        timings = []
        etag = ""
        try:
            for n in range(CHANGES):
                await pool_conn.execute(CHANGE_ONE, LAB, f"{n}", 100 + n * 500)
                started = time.perf_counter()
                status, headers, body = await _request(reader, writer, _raw(feed_path, port))
                etag = headers["etag"]
                timings.append(time.perf_counter() - started)
                assert status == 200
                assert f"Changed {n}".encode() in body.replace(b"\r\n ", b"")
        finally:
            await pool_conn.close()
            writer.close()
        changed = statistics.median(timings)
        serialize, build = await _baseline(url)
        print(
            f"GET of the {EVENTS}-event feed after one event changed: {changed * 1000:7.1f} ms"
            f" (median of {CHANGES}, over HTTP)"
        )
        print(
            f"icalendar to_ical() of the same events:   {serialize * 1000:7.1f} ms"
            f"  -> ours is {serialize / changed:5.1f}x faster"
        )
        print(
            f"icalendar build + to_ical():              {build * 1000:7.1f} ms"
            f"  -> ours is {build / changed:5.1f}x faster"
        )
        print("  (aim: >= 10x faster than to_ical())")
        if etag.startswith(service.EXACT_TAG):
            exact, health = await _against_health(port, _raw(feed_path, port, **{"If-None-Match": etag}), 304)
            print(
                f"conditional GET, {EVENTS}-event feed, exact ETag from right after a change (304):"
                f" {exact:6.0f} requests/s  ratio to /health {exact / health:5.2f}"
            )
    finally:
        if server is not None:
            server.terminate()
            await asyncio.wait_for(server.wait(), timeout=10)
        admin = await asyncpg.connect(server_url)
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
