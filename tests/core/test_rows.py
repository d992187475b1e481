from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec
import pytest

from labbook.core.rows import Row, many, maybe, one


class Sample(Row):
    id: int
    slug: str
    created_at: datetime


async def test_a_record_becomes_a_typed_row(conn: asyncpg.Connection) -> None:
    record = await conn.fetchrow("select 7 as id, 'welding' as slug, now() as created_at")

    row = one(Sample, record)

    assert (row.id, row.slug) == (7, "welding")
    assert row.created_at.tzinfo is not None
    assert row["slug"] == "welding"
    with pytest.raises(KeyError):
        row["__struct_fields__"]


async def test_a_column_the_row_does_not_declare_is_refused(conn: asyncpg.Connection) -> None:
    record = await conn.fetchrow("select 7 as id, 'welding' as slug, now() as created_at, 1 as extra")

    with pytest.raises(msgspec.ValidationError, match="extra"):
        one(Sample, record)


async def test_a_column_of_the_wrong_type_is_refused(conn: asyncpg.Connection) -> None:
    record = await conn.fetchrow("select '7' as id, 'welding' as slug, now() as created_at")

    with pytest.raises(msgspec.ValidationError, match="id"):
        one(Sample, record)


async def test_no_record_is_no_row_and_many_keep_their_order(conn: asyncpg.Connection) -> None:
    assert (
        maybe(Sample, await conn.fetchrow("select 1 as id, 'a' as slug, now() as created_at where false"))
        is None
    )

    records = await conn.fetch(
        "select n as id, 'lab-' || n as slug, now() as created_at from generate_series(3, 1, -1) n"
    )

    assert [row.slug for row in many(Sample, records)] == ["lab-3", "lab-2", "lab-1"]
