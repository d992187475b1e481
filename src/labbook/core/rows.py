"""Typed rows: what repositories return instead of driver records.

A repository declares one ``Row`` Struct per query shape, with a field for every column the query
selects (``forbid_unknown_fields``: a column added to the SQL and not to the Struct fails loudly), and
turns records into it with ``one``, ``maybe`` or ``many``. Services and routes read attributes, which
mypy checks; audit snapshots of a row hold exactly its columns, as they did for records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import asyncpg
import msgspec


class Row(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One row of a query, typed.

    Reading a column by name (``row["slug"]``) is kept for code still written against driver records;
    new code reads attributes.
    """

    def __getitem__(self, name: str) -> Any:
        if name not in self.__struct_fields__:
            raise KeyError(name)
        return getattr(self, name)


R = TypeVar("R", bound=Row)


def one(kind: type[R], record: asyncpg.Record) -> R:
    return msgspec.convert(dict(record.items()), kind)


def maybe(kind: type[R], record: asyncpg.Record | None) -> R | None:
    return None if record is None else one(kind, record)


def many(kind: type[R], records: Iterable[asyncpg.Record]) -> list[R]:
    return [one(kind, record) for record in records]
