"""Where a request's time goes: labbook's ASGI app driven in-process under cProfile.

    python benchmarks/request_profile.py [--requests 5000] [--concurrency 16] [--top 40]
                                         [--only health,catalog,feed304,booking] [--metrics]
                                         [--plain [--rounds 5]]

Creates its own database (on ``LABBOOK_DATABASE_URL``'s server, or the embedded one) with a lab, a
feed, a director with a token and a roomy slot, starts the app as a served worker does (its lifespan
builds the pool), and sends each request straight to the ASGI callable with ``--concurrency`` in
flight: no HTTP server and no client, so the profile holds only what labbook and Litestar spend.
Prints microseconds of CPU per request (the process's own, the database's not included) and the
functions with the most cumulative time; ``--plain`` measures the CPU per request alone, without
the profiler's overhead, as the median of several rounds. Bounded by a deadline; the database is
dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from labbook import db, embedded, migrate  # noqa: E402
from labbook.accounts.security import ACCESS_TOKEN_PREFIX, hash_secret, new_secret  # noqa: E402
from labbook.app import create_app  # noqa: E402
from labbook.settings import Settings  # noqa: E402

DEADLINE_SECONDS = 300
LAB = "bench-profile-lab"
SETUP = """
insert into organizations (slug, name, kind)
values ('bench-profile-host', '{"en": "Bench host"}', 'host_university'),
       ('bench-profile-college', '{"en": "Bench college"}', 'college');
insert into labs (slug, organization_id, name, capacity, timezone, languages, building, room, address,
                  min_notice_hours)
select 'bench-profile-lab', o.id, '{"kk": "Дәнекерлеу институты", "en": "Welding Institute"}',
       100000, 'Asia/Almaty', '{kk,ru,en}', 'Block G', '104', 'Satpaev St 22, Almaty', 0
from organizations o where o.slug = 'bench-profile-host';
insert into slots (lab_id, kind, title, starts_at, ends_at, capacity, seats_taken)
select l.id, 'tour', jsonb_build_object('en', 'Tour #' || n),
       date_trunc('day', now()) + n * interval '1 day' + interval '9 hours',
       date_trunc('day', now()) + n * interval '1 day' + interval '11 hours', 20, n % 7
from labs l cross join generate_series(1, 20) n where l.slug = 'bench-profile-lab';
insert into labs (slug, organization_id, name, capacity, languages, min_notice_hours)
select 'bench-profile-bookings', o.id, '{"en": "Bookings lab"}', 100000, '{kk,ru,en}', 0
from organizations o where o.slug = 'bench-profile-host';
"""

Send = Callable[[dict[str, Any]], Awaitable[None]]


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _seed(url: str) -> tuple[str, object]:
    """The catalog and feed rows, a director's token and a slot with room for every booking."""
    conn = await db.connect(url)
    try:
        await migrate.apply(conn)
        await conn.execute(SETUP)
        college = await conn.fetchval("select id from organizations where slug = 'bench-profile-college'")
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
        slot = await conn.fetchval(
            """insert into slots (lab_id, kind, title, starts_at, ends_at, capacity)
               select id, 'tour', '{"en": "Bench tour"}', $1::timestamptz,
                      $1::timestamptz + interval '1 hour', 10000000
               from labs where slug = 'bench-profile-bookings' returning id""",
            starts,
        )
        # Feeds hand out their cheap index ETag only once the newest change is a few seconds old.
        await conn.execute("update slots set updated_at = updated_at - interval '1 hour'")
        await conn.execute("vacuum analyze")
        return token, slot
    finally:
        await conn.close()


async def _call(
    app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[bytes, bytes]]:
    """One request straight to the ASGI callable: its status and reply headers."""
    raw_headers = [(b"host", b"127.0.0.1")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if body:
        raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    reply: dict[str, Any] = {}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            reply["status"] = message["status"]
            reply["headers"] = dict(message["headers"])

    await app(scope, receive, send)
    return reply["status"], reply["headers"]


async def _profile(app: Any, args: argparse.Namespace, token: str, slot: object) -> None:
    feed = f"/feeds/labs/{LAB}.ics"
    _, headers = await _call(app, "GET", feed, {})
    etag = headers[b"etag"].decode()
    booking = json.dumps(
        {"headcount": 1, "contact_name": "Bench Contact", "contact_email": "c@bench.kz", "language": "ru"}
    ).encode()
    auth = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    cases: dict[str, tuple[str, str, dict[str, str], bytes, int]] = {
        "health": ("GET", "/health", {}, b"", 200),
        "catalog": ("GET", f"/api/v1/labs/{LAB}", {}, b"", 200),
        "feed304": ("GET", feed, {"if-none-match": etag}, b"", 304),
        "feed200": ("GET", feed, {}, b"", 200),
        "booking": ("POST", f"/api/v1/slots/{slot}/bookings", auth, booking, 201),
    }
    for name in args.only.split(","):
        case = cases[name]

        async def run(total: int, case: tuple[str, str, dict[str, str], bytes, int] = case) -> None:
            method, path, headers_, body, expected = case
            left = iter(range(total))

            async def worker() -> None:
                for _ in left:
                    status, _ = await _call(app, method, path, headers_, body)
                    if status != expected:
                        raise SystemExit(f"{path}: {status}, expected {expected}")

            await asyncio.gather(*(worker() for _ in range(args.concurrency)))

        await run(args.concurrency * 4)  # warm up caches and statement caches
        if args.plain:
            costs = []
            for _ in range(args.rounds):
                cpu = time.process_time()
                await run(args.requests)
                costs.append((time.process_time() - cpu) / args.requests * 1e6)
            print(f"=== {name}: {statistics.median(costs):.0f} µs CPU per request, median of {args.rounds}"
                  f" rounds (min {min(costs):.0f}, max {max(costs):.0f}), without the profiler")  # fmt: skip
            continue
        profiler = cProfile.Profile(time.process_time)
        cpu, wall = time.process_time(), time.perf_counter()
        profiler.enable()
        await run(args.requests)
        profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"\n=== {name}: {cpu / args.requests * 1e6:.0f} µs CPU per request under the profiler "
              f"({args.requests / wall:.0f} requests/s in-process)")  # fmt: skip
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(args.top)
        if args.callees:
            stats.print_callees(args.callees)
        print(out.getvalue())


async def main(args: argparse.Namespace) -> None:
    server_url = os.environ.get("LABBOOK_DATABASE_URL") or embedded.start(ROOT / ".labbook").url()
    name = f"labbook_bench_profile_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    url = _with_database(server_url, name)
    try:
        token, slot = await _seed(url)
        env = {
            "LABBOOK_DATABASE_URL": url,
            "LABBOOK_LOG_LEVEL": "WARNING",
            "LABBOOK_BASE_URL": "http://127.0.0.1:8000",
            "LABBOOK_POOL_MIN_SIZE": str(args.concurrency),
            "LABBOOK_POOL_MAX_SIZE": str(args.concurrency),
        }
        if args.metrics:
            env["LABBOOK_METRICS_TOKEN"] = secrets.token_urlsafe(24)
        os.environ.update(env)
        app = create_app(Settings.from_env())
        async with asyncio.timeout(DEADLINE_SECONDS), app.lifespan():
            await _profile(app, args, token, slot)
    finally:
        admin = await asyncpg.connect(server_url)
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--only", default="health,catalog,feed304,booking")
    parser.add_argument("--callees", help="also print what functions matching this call")
    parser.add_argument("--metrics", action="store_true", help="with /metrics on (its middleware runs)")
    parser.add_argument("--plain", action="store_true", help="only CPU per request, without the profiler")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --requests with --plain")
    import uvloop

    uvloop.install()
    asyncio.run(main(parser.parse_args()))
