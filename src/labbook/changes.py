"""Per-worker caches of hot reads, dropped when PostgreSQL says that their tables changed.

A ``ReadCache`` keeps what a few hot reads returned (a lab by its slug, a public feed's version, the
person behind an access token), so that answering them again needs no round trip to the database.
It is only as good as the news of changes, so the rules are:

- Triggers on the tables those reads come from notify ``labbook_changes`` with the table's name
  (migration 0116); PostgreSQL delivers the notice when the writing transaction commits. The
  worker's ``ChangeListener`` holds one connection of its own listening on that channel and drops
  every cache that depends on the table named.
- While the listener is not connected (starting, the database restarting, the connection cut) no
  cache answers or keeps anything: every read goes to the database, as without a cache. Notices
  sent meanwhile are lost, so reconnecting starts from empty caches.
- A read records the cache's generation before it asks the database and keeps its answer only if
  no change arrived in between: an answer read before a commit is never kept after its notice.
- A write answered by this worker drops the caches before its reply goes out (``drop_after_write``),
  so its caller's next read sees it even before the notice comes back: those built on the tables
  its route says it writes, or all of them. Other workers see it once the notice
  arrives, normally within a millisecond of the commit.
- A booking changes only its slot's seat count, and no trigger announces that (migration 0120):
  PostgreSQL lets one notifying transaction commit at a time, through its disk flush, and bookings
  come in bursts. The worker that answered a write announces ``slots`` instead, after the commit,
  from its listening connection in a transaction that writes nothing (``announce``). It announces
  at once, then at most once every ``ANNOUNCE_INTERVAL`` seconds: the announcements that pile up in
  between go out as one, so a burst of bookings costs a worker a few notices a second rather than a
  round trip each, and other workers see its seat counts at most that much later.
- Every entry also expires after ``max_age`` seconds, which bounds how stale an answer can be if
  notices stopped arriving without the connection being seen to drop (or a worker died between a
  booking's commit and its announcement).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Hashable, Iterable
from typing import Any, Generic, TypeVar

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "labbook_changes"
NOTIFY = "select pg_notify($1, $2)"
RECONNECT_SECONDS = 1.0
ANNOUNCE_INTERVAL = 0.05

V = TypeVar("V")


class ReadCache(Generic[V]):
    """Answers of one read by key, kept while none of ``tables`` changed (and at most ``max_age`` s)."""

    def __init__(self, tables: Iterable[str], *, max_items: int = 1024, max_age: float = 10.0) -> None:
        self.tables = frozenset(tables)
        self.max_items = max_items
        self.max_age = max_age
        self._items: dict[Hashable, tuple[float, V]] = {}
        self._generation = 0
        self._live = False

    @property
    def generation(self) -> int:
        """Take this before reading the database; hand it to ``put`` with the answer."""
        return self._generation

    def get(self, key: Hashable) -> V | None:
        found = self._items.get(key)
        if found is None:
            return None
        expires, value = found
        if time.monotonic() >= expires:
            del self._items[key]
            return None
        return value

    def put(self, key: Hashable, value: V, generation: int, *, max_age: float | None = None) -> None:
        """Keep ``value`` unless a change arrived since ``generation`` was taken, or nothing listens;
        for ``max_age`` seconds if that is sooner than the cache's own."""
        if not self._live or generation != self._generation:
            return
        if key not in self._items and len(self._items) >= self.max_items:
            # the oldest entry goes first: dicts keep insertion order
            del self._items[next(iter(self._items))]
        keep = self.max_age if max_age is None else min(max_age, self.max_age)
        self._items[key] = (time.monotonic() + keep, value)

    def drop(self) -> None:
        self._items.clear()
        self._generation += 1

    def set_live(self, live: bool) -> None:
        self.drop()
        self._live = live


class ChangeListener:
    """One connection listening on ``labbook_changes`` for the caches of one running app."""

    def __init__(self, url: str, caches: Iterable[ReadCache[Any]], *, connect_timeout: float = 5) -> None:
        self.url = url
        self.caches = list(caches)
        self.connect_timeout = connect_timeout
        self.is_live = False
        self.connections = 0
        self.last_notice: str | None = None
        self._news = asyncio.Event()
        self._connection: asyncpg.Connection | None = None
        self._to_announce: set[str] = set()
        self._announcing = asyncio.Event()

    @property
    def backend_pid(self) -> int | None:
        """The listening connection's server process, while connected."""
        return self._connection.get_server_pid() if self._connection is not None else None

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until ``condition`` holds, checked again after every notice, connect and disconnect."""
        while not condition():
            await self._news.wait()

    def _tell(self) -> None:
        self._news.set()
        self._news = asyncio.Event()

    def drop_after_write(self, tables: Collection[str] | None = None) -> None:
        """Drop the caches built on ``tables`` (all of them when the writer does not say)."""
        for cache in self.caches:
            if tables is None or not cache.tables.isdisjoint(tables):
                cache.drop()

    def announce(self, *tables: str) -> None:
        """Tell every worker (this one too) that ``tables`` changed, once the listening connection
        is free; nothing is sent while it is not connected (the caches are off then anyway)."""
        if self._connection is not None:
            self._to_announce.update(tables)
            self._announcing.set()

    async def _send_announcements(self, conn: asyncpg.Connection) -> None:
        try:
            while True:
                await self._announcing.wait()
                self._announcing.clear()
                tables, self._to_announce = self._to_announce, set()
                for table in sorted(tables):
                    await conn.execute(NOTIFY, CHANNEL, table)
                await asyncio.sleep(ANNOUNCE_INTERVAL)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            # the connection is going; the listener notices, turns the caches off and reconnects
            log.warning("change listener could not announce a change: %r", exc)

    def _notified(self, conn: object, pid: int, channel: str, table: str) -> None:
        for cache in self.caches:
            if table in cache.tables:
                cache.drop()
        self.last_notice = table
        self._tell()

    def _set_live(self, live: bool) -> None:
        for cache in self.caches:
            cache.set_live(live)
        self.is_live = live
        if live:
            self.connections += 1
        self._tell()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after the connection is lost."""
        while True:
            try:
                conn = await asyncpg.connect(self.url, timeout=self.connect_timeout)
            except Exception as exc:  # the pool's connections meet the same trouble and answer 503
                log.warning("change listener cannot connect, caches off: %r", exc)
            else:
                try:
                    await self._listen(conn)
                    log.warning("change listener lost its connection, caches off until it reconnects")
                except Exception as exc:  # whatever it was, the caches stay off until it listens again
                    log.warning("change listener failed, caches off: %r", exc)
                finally:
                    self._set_live(False)
                    self._connection = None
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=1)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self, conn: asyncpg.Connection) -> None:
        """Keep the caches in use until ``conn`` is lost."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _: lost.set())
        await conn.add_listener(CHANNEL, self._notified)
        self._connection = conn
        self._set_live(True)
        announcing = asyncio.create_task(self._send_announcements(conn))
        try:
            await lost.wait()
        finally:
            announcing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await announcing
            self._to_announce.clear()
