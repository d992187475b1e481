"""A bounded in-process LRU for values that are pure functions of their key.

Only values that cannot go stale belong here: a feed body keyed by its ETag (which digests every row
the body was built from) is the same on every worker forever, so no worker needs to be told about
changes. Anything that may change under an unchanged key lives in PostgreSQL instead.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

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
