"""Pages for people: how fast the labs and a lab are served next to ``/health``, and how many SQL
statements each page costs at demo scale and with a hundred times the data.

Run: ``python benchmarks/pages.py``. It creates its own database on the server named by
``LABBOOK_DATABASE_URL`` (or the embedded one), loads the demo, and prints:

* ``GET /en/`` (the labs) and ``GET /en/labs/welding-institute`` (a lab) per second, each alternating
  in rounds with ``GET /health`` on the same server (uvicorn, one worker, in a subprocess on a loopback
  port); the ratio is what matters, the machine being shared with the client;
* the SQL statements one request runs (BEGIN/COMMIT included) for the labs, a lab, its calendar (the
  demo's busiest week, and a week that only the bulk data fills), a slot and, signed in as the demo
  director, our bookings; counted with asyncpg's query logger on the pool connections of an app
  served in this process (the benchmark wraps the pool's connection set-up; labbook is not changed);
* then both again after bulk-inserting 99 times the demo's organizations' hosts, labs, slots and
  bookings: a page that lists more rows must not run more statements.

The bulk rows keep the invariants: the extra slots sit inside the labs' opening hours on distinct
far-future hours (never two at once in a lab, each under the lab's capacity), and every slot's seat
counter equals its pending and confirmed bookings. Each rate phase is bounded in time, and the
whole run by a deadline; the servers and the database are removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from labbook import db, embedded, migrate  # noqa: E402
from labbook.app import create_app  # noqa: E402
from labbook.demo import load_demo  # noqa: E402
from labbook.demo.service import DEMO_PASSWORD  # noqa: E402
from labbook.settings import Settings  # noqa: E402

DEADLINE_SECONDS = 600
LOAD_SECONDS = 4.0
ROUNDS = 4
CONNECTIONS = 8
SCALE = 100
LAB = "welding-institute"
DIRECTOR = "director@labbook.demo"
ALMATY = ZoneInfo("Asia/Almaty")
TABLES = ("organizations", "labs", "slots", "bookings")
# Far enough ahead to be clear of every demo slot (the demo spans about three months).
BULK_WEEKS_AHEAD = 26
BULK_HOURS = range(9, 18)  # the demo labs' office hours, 09:00-18:00 on weekdays
SEATS_STATES = ("pending", "confirmed")

_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')

BULK_HOSTS = """
insert into organizations (slug, name, kind, city, country)
select 'bench-host-' || n,
       jsonb_build_object('kk', n || ' техникалық университеті', 'ru', 'Технический университет № ' || n,
                          'en', 'Technical University ' || n),
       'host_university', 'Almaty', 'KZ'
from generate_series(1, $1) n
"""
# Copies of the welding institute, with its opening hours and equipment, spread over the new hosts.
BULK_LABS = """
insert into labs (slug, organization_id, name, description, building, room, address, timezone, capacity,
                  languages, min_visitor_age, safety_notes, accessibility)
select 'bench-lab-' || n, o.id,
       jsonb_build_object('kk', (w.name->>'kk') || ' ' || n, 'ru', (w.name->>'ru') || ' ' || n,
                          'en', (w.name->>'en') || ' ' || n),
       w.description, w.building, w.room, w.address, w.timezone, w.capacity, w.languages,
       w.min_visitor_age, w.safety_notes, w.accessibility
from generate_series(1, $1) n
join organizations o on o.slug = 'bench-host-' || ((n - 1) % $2 + 1)
cross join labs w
where w.slug = $3
"""
BULK_HOURS_SQL = """
insert into opening_hours (lab_id, weekday, opens_at, closes_at)
select l.id, h.weekday, h.opens_at, h.closes_at
from labs l cross join opening_hours h
where l.slug like 'bench-lab-%' and h.lab_id = (select id from labs where slug = $1)
"""
BULK_EQUIPMENT = """
insert into equipment (lab_id, slug, kind, name, description, units, seats_per_unit, requires_induction)
select l.id, e.slug, e.kind, e.name, e.description, e.units, e.seats_per_unit, e.requires_induction
from labs l cross join equipment e
where l.slug like 'bench-lab-%' and e.lab_id = (select id from labs where slug = $1)
"""
BULK_UNITS = """
insert into equipment_units (equipment_id, number)
select e.id, n from equipment e join labs l on l.id = e.lab_id cross join generate_series(1, e.units) n
where l.slug like 'bench-lab-%'
"""
BULK_SLOTS = """
insert into slots (lab_id, kind, title, description, starts_at, ends_at, capacity, created_by)
select l.id, 'tour',
       jsonb_build_object('kk', 'Зертханаға экскурсия', 'ru', 'Экскурсия по лаборатории', 'en', 'Lab tour'),
       jsonb_build_object('en', 'A walk past the stations with a safety briefing'),
       t.starts_at, t.starts_at + interval '1 hour', 12,
       (select id from people where email = 'manager@labbook.demo')
from unnest($1::text[], $2::timestamptz[]) as t (lab, starts_at)
join labs l on l.slug = t.lab
"""
# Two seats each on the new slots of the welding institute, for the visiting organizations in turn
# (so about a fifth are the demo director's), booked by one of each organization's people.
BULK_BOOKINGS = """
with visiting as (
    select o.id, row_number() over (order by o.slug) - 1 as k,
           (select p.id from people p where p.organization_id = o.id order by p.email limit 1) as person
    from organizations o
    where o.kind <> 'host_university' and exists (select from people p where p.organization_id = o.id)
), targets as (
    select s.id, row_number() over (order by s.starts_at) - 1 as k
    from slots s join labs l on l.id = s.lab_id
    where l.slug = $2 and s.starts_at >= $3
), numbered as (
    select n, (select count(*) from visiting) as orgs, (select count(*) from targets) as slots
    from generate_series(0, $1 - 1) n
)
insert into bookings (slot_id, organization_id, booked_by, headcount, contact_name, contact_email,
                      language, status)
select t.id, v.id, v.person, 2, p.full_name, p.email, (array['kk', 'ru', 'en'])[n % 3 + 1],
       (array['confirmed', 'pending', 'confirmed', 'cancelled'])[n % 4 + 1]
from numbered
join targets t on t.k = n % numbered.slots
join visiting v on v.k = n % numbered.orgs
join people p on p.id = v.person
"""
OURS = """
select count(*) from bookings where organization_id = (select organization_id from people where email = $1)
"""
SEATS = """
update slots s set seats_taken = b.taken
from (select slot_id, sum(headcount)::int as taken from bookings where status = any($1::text[])
      group by slot_id) b
where b.slot_id = s.id and s.seats_taken <> b.taken
"""


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


# --- request rates, against a server in a subprocess ---------------------------------------------


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    """One keep-alive HTTP/1.1 exchange; a tiny client so that the client costs little CPU."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return int(lines[0].split(" ", 2)[1])


def _raw(path: str, port: int) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


async def _rate(port: int, path: str, seconds: float) -> float:
    """Requests per second over ``CONNECTIONS`` keep-alive connections for ``seconds``."""
    raw = _raw(path, port)
    deadline = time.perf_counter() + seconds
    counts = [0] * CONNECTIONS

    async def worker(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                status = await _request(reader, writer, raw)
                assert status == 200, (path, status)
                counts[index] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(CONNECTIONS)))
    return sum(counts) / (time.perf_counter() - started)


async def _against_health(port: int, path: str) -> tuple[float, float]:
    """``path`` and ``/health`` per second in alternating rounds, so that whatever else loads the
    machine meanwhile weighs on both alike."""
    rates = []
    for _ in range(ROUNDS):
        health = await _rate(port, "/health", LOAD_SECONDS / ROUNDS)
        rates.append((await _rate(port, path, LOAD_SECONDS / ROUNDS), health))
    return statistics.mean(r for r, _ in rates), statistics.mean(h for _, h in rates)


@contextlib.asynccontextmanager
async def _subprocess_server(url: str) -> AsyncIterator[int]:
    port = _free_port()
    env = {**os.environ, "LABBOOK_DATABASE_URL": url, "LABBOOK_LOG_LEVEL": "WARNING",
           "LABBOOK_BASE_URL": f"http://127.0.0.1:{port}", "PYTHONPATH": str(ROOT / "src")}  # fmt: skip
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "labbook.cli:app_factory", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", "--no-access-log",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            if server.returncode is not None:
                raise RuntimeError("the server exited during start-up")
            with contextlib.suppress(OSError):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                status = await _request(reader, writer, _raw("/health", port))
                writer.close()
                if status == 200:
                    break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        yield port
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=10)


async def _rates(port: int, label: str) -> None:
    for name, path in (("labs  ", "/en/"), ("a lab ", f"/en/labs/{LAB}")):
        page, health = await _against_health(port, path)
        print(
            f"  {label}  GET {name} {page:7.0f} requests/s   /health {health:7.0f} requests/s"
            f"   ratio {page / health:5.2f}"
        )


# --- SQL statements per page, counted in this process --------------------------------------------

_statements: list[str] = []


def _count_statements() -> None:
    """Every pool connection the app opens reports each statement it runs (benchmark only)."""
    init = db._init_connection

    async def counted(conn: asyncpg.Connection) -> None:
        await init(conn)
        conn.add_query_logger(lambda record: _statements.append(record.query))

    db._init_connection = counted  # type: ignore[assignment]


@contextlib.asynccontextmanager
async def _in_process_server(url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=url, pool_min_size=1, pool_max_size=2, log_level="WARNING")
    # IPPROTO_TCP: asyncio turns Nagle's algorithm off only on sockets that say they are TCP, and
    # every reply would otherwise wait about 40 ms for a delayed ACK
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", access_log=False, lifespan="on")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(60):
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)
        sock.close()


async def _sign_in(client: httpx.AsyncClient) -> None:
    form = await client.get("/en/login")
    token = _CSRF.search(form.text)
    assert token, "the login page has no CSRF token"
    reply = await client.post(
        "/en/login", data={"email": DIRECTOR, "password": DEMO_PASSWORD, "_csrf": token.group(1)}
    )
    assert reply.status_code == 303, reply.text


async def _statements_for(client: httpx.AsyncClient, path: str) -> tuple[int, int]:
    """One GET of ``path`` after warming up: its statements, and BEGIN/COMMIT among them."""
    counts = []
    for attempt in range(5):
        _statements.clear()
        reply = await client.get(path)
        assert reply.status_code == 200, (path, reply.status_code, reply.text[:300])
        # asyncpg calls query loggers soon after the statement, not during it
        for _ in range(3):
            await asyncio.sleep(0)
        if attempt >= 2:  # the first requests also prepare statements and look up types
            control = sum(q.strip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")) for q in _statements)
            counts.append((len(_statements), control))
    assert len(set(counts)) == 1, f"{path} ran {counts} statements in turn"
    return counts[0]


async def _count(url: str, pages: dict[str, str]) -> dict[str, tuple[int, int]]:
    async with _in_process_server(url) as client:
        found = {}
        for name, path in pages.items():
            if name == "our bookings":
                await _sign_in(client)
            found[name] = await _statements_for(client, path)
        return found


# --- the data -------------------------------------------------------------------------------------


async def _table_counts(conn: asyncpg.Connection) -> dict[str, int]:
    return {t: await conn.fetchval(f"select count(*) from {t}") for t in TABLES}


async def _bulk(conn: asyncpg.Connection, demo: dict[str, int], far_monday: date) -> None:
    """Add ``SCALE - 1`` times the demo's labs (with hosts), slots and bookings."""
    extra = {t: demo[t] * (SCALE - 1) for t in TABLES}
    hosts = await conn.fetchval("select count(*) from organizations where kind = 'host_university'")
    async with conn.transaction():
        await conn.execute(BULK_HOSTS, hosts * (SCALE - 1))
        await conn.execute(BULK_LABS, extra["labs"], hosts * (SCALE - 1), LAB)
        await conn.execute(BULK_HOURS_SQL, LAB)
        await conn.execute(BULK_EQUIPMENT, LAB)
        await conn.execute(BULK_UNITS)
        # Most new slots go to the measured lab, one an hour on weekdays from ``far_monday``; the
        # rest to the new labs, one each.
        new_labs = [r["slug"] for r in await conn.fetch("select slug from labs where slug like 'bench-%'")]
        hours = [
            datetime.combine(far_monday + timedelta(days=7 * week + day), datetime.min.time(), ALMATY)
            + timedelta(hours=hour)
            for week in range(200)
            for day in range(5)
            for hour in BULK_HOURS
        ]
        in_lab = extra["slots"] - min(len(new_labs), extra["slots"] // 5)
        labs = [LAB] * in_lab + new_labs[: extra["slots"] - in_lab]
        starts = hours[:in_lab] + [hours[0]] * (len(labs) - in_lab)
        await conn.execute(BULK_SLOTS, labs, [s.astimezone(UTC) for s in starts])
        await conn.execute(BULK_BOOKINGS, extra["bookings"], LAB, starts[0])
        await conn.execute(SEATS, list(SEATS_STATES))
    await conn.execute("analyze")


async def main() -> None:
    _count_statements()
    server_url = os.environ.get("LABBOOK_DATABASE_URL") or embedded.start(ROOT / ".labbook").url()
    name = f"labbook_bench_pages_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    url = _with_database(server_url, name)
    try:
        async with asyncio.timeout(DEADLINE_SECONDS):
            await _run(url)
    finally:
        admin = await asyncpg.connect(server_url)
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


async def _run(url: str) -> None:
    conn = await db.connect(url)
    try:
        await migrate.apply(conn)
        await load_demo(conn)
        await conn.execute("analyze")
        demo = await _table_counts(conn)
        ours_small = await conn.fetchval(OURS, DIRECTOR)
        training = await conn.fetchrow(
            """select s.id, s.starts_at from slots s join labs l on l.id = s.lab_id
               where l.slug = $1 and s.kind = 'training' and s.status = 'active'
               order by s.starts_at limit 1""",
            LAB,
        )
        busiest = await conn.fetchval(
            """select date_trunc('week', s.starts_at at time zone l.timezone)::date
               from slots s join labs l on l.id = s.lab_id where l.slug = $1
               group by 1 order by count(*) desc, 1 limit 1""",
            LAB,
        )
    finally:
        await conn.close()
    today = datetime.now(ALMATY).date()
    far_monday = today - timedelta(days=today.weekday()) + timedelta(weeks=BULK_WEEKS_AHEAD)
    pages = {
        "labs": "/en/",
        "a lab": f"/en/labs/{LAB}",
        "calendar, busiest demo week": f"/en/labs/{LAB}/calendar?week={_week(busiest)}",
        "calendar, a bulk-filled week": f"/en/labs/{LAB}/calendar?week={_week(far_monday)}",
        "a slot": f"/en/slots/{training['id']}",
        "our bookings": "/en/bookings",
    }

    print(f"demo scale: {', '.join(f'{v} {k}' for k, v in demo.items())}")
    async with _subprocess_server(url) as port:
        await _rates(port, "demo")
        small = await _count(url, pages)

        conn = await db.connect(url)
        try:
            await _bulk(conn, demo, far_monday)
            big_counts = await _table_counts(conn)
            ours = (ours_small, await conn.fetchval(OURS, DIRECTOR))
            filled = await conn.fetchval(
                """select count(*) from slots s join labs l on l.id = s.lab_id
                   where l.slug = $1 and s.starts_at >= $2 and s.starts_at < $2 + interval '7 days'""",
                LAB,
                datetime.combine(far_monday, datetime.min.time(), ALMATY),
            )
        finally:
            await conn.close()
        print(f"{SCALE}x:        {', '.join(f'{v} {k}' for k, v in big_counts.items())}")
        await _rates(port, f"{SCALE}x ")
        big = await _count(url, pages)

    print()
    print(f"SQL statements per request (BEGIN/COMMIT among them){'':<44}demo     {SCALE}x")
    for page, path in pages.items():
        (n_small, c_small), (n_big, c_big) = small[page], big[page]
        same = "same" if n_small == n_big else f"{n_big - n_small:+d}"
        print(f"  {page:<29} {path:<64} {n_small:3d} ({c_small})  {n_big:3d} ({c_big})  {same:>4}")
    print(f"  (the bulk-filled week holds {filled} sessions at {SCALE}x and none at demo scale;")
    print(f"   the director's college has {ours[0]} bookings at demo scale, {ours[1]} at {SCALE}x)")


if __name__ == "__main__":
    asyncio.run(main())
