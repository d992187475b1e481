"""Bounded in-process LRUs for values that are pure functions of their key, and the probe cache.

Only values that cannot go stale belong in an LRU: a feed body keyed by its ETag (which digests every
row the body was built from) is the same on every worker forever, so no worker needs to be told about
changes. The one thing kept that may change under its key, a public feed's index version, is kept
in a ``labbook.changes.ReadCache``, which PostgreSQL's change notices empty.

The caches belong to one running app: ``FeedCaches`` is made when the app starts and dropped when it
stops (``feeds.routes.feed_caches``, one of the app's lifespans), so two apps in one process, as in
the tests, never share rendered bytes, and a stopped app holds none.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from labbook.changes import ReadCache

if TYPE_CHECKING:
    from labbook.feeds.service import IndexVersion

V = TypeVar("V")


class LRU(Generic[V]):
    """Least-recently-used mapping holding at most ``max_items`` values and ``max_bytes`` of bytes."""

    def __init__(self, max_items: int, max_bytes: int | None = None) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        if key in self._items:
            self._bytes -= _size(self._items.pop(key))
        self._items[key] = value
        self._bytes += _size(value)
        while self._items and (
            len(self._items) > self.max_items or (self.max_bytes is not None and self._bytes > self.max_bytes)
        ):
            _, evicted = self._items.popitem(last=False)
            self._bytes -= _size(evicted)


def _size(value: object) -> int:
    return len(value) if isinstance(value, bytes | str) else 0


# The serialized events of one standalone slot or one whole series: (order key, bytes) per event.
Blocks = tuple[tuple[tuple[datetime, str], bytes], ...]


def _bodies() -> LRU[bytes]:
    return LRU(max_items=512, max_bytes=64 * 1024 * 1024)


def _blocks() -> LRU[Blocks]:
    return LRU(max_items=100_000)


# What a public feed's index version is read from (``repository.public_feed_probe``).
PROBE_TABLES = ("labs", "equipment", "slots", "slot_series", "feed_versions")


def _index_versions() -> ReadCache[IndexVersion]:
    return ReadCache(PROBE_TABLES)


@dataclass(frozen=True, slots=True)
class FeedCaches:
    """What one app keeps of rendered feeds: whole bodies by ETag, and event blocks by data version;
    and, while no table they come from changed, public feeds' index versions (``labbook.changes``)."""

    bodies: LRU[bytes] = field(default_factory=_bodies)
    blocks: LRU[Blocks] = field(default_factory=_blocks)
    index_versions: ReadCache[IndexVersion] = field(default_factory=_index_versions)
