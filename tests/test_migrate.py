"""Forward-only migrations: concurrent starters, edited files, order and atomicity per file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from labbook import db, migrate
from labbook.errors import ConfigurationError
from labbook.migrate import Migration
from tests.databases import run_labbook


async def test_two_migrators_at_once_apply_each_file_once(fresh_url: str) -> None:
    results = await asyncio.gather(*(run_labbook(fresh_url, "migrate") for _ in range(2)))

    assert [rc for rc, _, _ in results] == [0, 0], results
    applied_lines = [
        line for _, out, _ in results for line in out.splitlines() if line.startswith("applied ")
    ]
    expected = [m.name for m in migrate.load()]
    assert sorted(applied_lines) == sorted(f"applied {name}" for name in expected)
    conn = await asyncpg.connect(fresh_url)
    try:
        versions = [
            r["version"] for r in await conn.fetch("select version from schema_migrations order by 1")
        ]
    finally:
        await conn.close()
    assert versions == [m.version for m in migrate.load()]


async def test_an_edited_applied_migration_is_refused(fresh_url: str) -> None:
    original = Migration(1, "0001_people", "create table people (id int)")
    edited = Migration(1, "0001_people", "create table people (id bigint)")
    conn = await db.connect(fresh_url)
    try:
        assert await migrate.apply(conn, [original]) == ["0001_people"]
        with pytest.raises(ConfigurationError, match="0001_people was edited after it was applied"):
            await migrate.apply(conn, [edited, Migration(2, "0002_more", "create table more (id int)")])
        assert await conn.fetchval("select to_regclass('more')") is None
        assert await migrate.apply(conn, [original]) == []
    finally:
        await conn.close()


async def test_a_pending_migration_numbered_below_an_applied_one_is_refused(fresh_url: str) -> None:
    first = Migration(1, "0001_rooms", "create table rooms (id int)")
    feeds = Migration(50, "0050_feeds", "create table feeds (id int)")
    late = Migration(40, "0040_visits", "create table visits (id int)")
    pages = Migration(60, "0060_pages", "create table pages (id int)")
    conn = await db.connect(fresh_url)
    try:
        assert await migrate.apply(conn, [first, feeds]) == ["0001_rooms", "0050_feeds"]
        with pytest.raises(ConfigurationError, match="migration 0040_visits is numbered below 0050_feeds"):
            await migrate.apply(conn, [first, late, feeds, pages])
        assert await conn.fetchval("select to_regclass('visits')") is None
        assert await conn.fetchval("select to_regclass('pages')") is None
        # numbered above the highest applied one, the same file goes through
        renumbered = Migration(51, "0051_visits", late.sql)
        assert await migrate.apply(conn, [first, feeds, renumbered, pages]) == ["0051_visits", "0060_pages"]
    finally:
        await conn.close()


async def test_files_apply_in_order_and_a_failing_file_leaves_nothing(fresh_url: str) -> None:
    migrations = [
        Migration(1, "0001_rooms", "create table rooms (id int primary key)"),
        Migration(
            2, "0002_seats", "create table seats (room int references rooms); insert into rooms values (1)"
        ),
        Migration(3, "0003_broken", "create table broken (id int); insert into rooms values (1)"),
        Migration(4, "0004_after", "create table after_broken (id int)"),
    ]
    conn = await db.connect(fresh_url)
    try:
        with pytest.raises(asyncpg.UniqueViolationError):
            await migrate.apply(conn, migrations)

        assert await conn.fetchval("select to_regclass('seats') is not null")
        assert await conn.fetchval("select to_regclass('broken')") is None
        assert await conn.fetchval("select to_regclass('after_broken')") is None
        recorded = [
            r["name"] for r in await conn.fetch("select name from schema_migrations order by version")
        ]
        assert recorded == ["0001_rooms", "0002_seats"]
        # a fixed file goes through on the next start, and the lock was released
        fixed = [*migrations[:2], Migration(3, "0003_broken", "create table broken (id int)"), migrations[3]]
        assert await migrate.apply(conn, fixed) == ["0003_broken", "0004_after"]
    finally:
        await conn.close()


def test_files_are_loaded_in_number_order(tmp_path: Path) -> None:
    for name in ("0010_late.sql", "0002_second.sql", "0001_first.sql"):
        (tmp_path / name).write_text("select 1")
    assert [m.name for m in migrate.load(tmp_path)] == ["0001_first", "0002_second", "0010_late"]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("0001_a.sql", "0001_b.sql"), "share a number"),
        (("1_a.sql",), "is not NNNN_name.sql"),
        (("0001_Bad-Name.sql",), "is not NNNN_name.sql"),
    ],
)
def test_badly_named_files_are_refused(tmp_path: Path, names: tuple[str, ...], message: str) -> None:
    for name in names:
        (tmp_path / name).write_text("select 1")
    with pytest.raises(ConfigurationError, match=message):
        migrate.load(tmp_path)
