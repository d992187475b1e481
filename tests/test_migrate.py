"""Forward-only migrations: concurrent starters, edited files, order and atomicity per file."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from labbook import db, migrate
from labbook.errors import ConfigurationError
from labbook.migrate import Migration

ROOT = Path(__file__).resolve().parent.parent
COMMAND_SECONDS = 120


@pytest.fixture
async def fresh_url(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    name = f"labbook_migrate_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'create database "{name}"')
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


async def _labbook(url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "labbook",
        *args,
        cwd=ROOT,
        env={**env, "LABBOOK_DATABASE_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), COMMAND_SECONDS)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_two_migrators_at_once_apply_each_file_once(fresh_url: str) -> None:
    results = await asyncio.gather(*(_labbook(fresh_url, "migrate") for _ in range(2)))

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
