"""Forward-only SQL migrations applied by labbook itself.

Each ``migrations/NNNN_name.sql`` runs in its own transaction and is recorded with a SHA-256 of its
text. A session-level advisory lock serializes concurrent starters: the second waits, then finds
nothing left to do. An applied file whose text changed is refused rather than silently skipped, and
so is a pending file numbered below the highest applied one: it would run after files that were
written without it, in an order no other database saw (the numbering is explained in the README).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from labbook.errors import ConfigurationError

log = logging.getLogger(__name__)

_LOCK_KEY = 0x1AB_B00C
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

_CREATE_TABLE = """
create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
)
"""
_LIST_APPLIED = "select version, name, checksum from schema_migrations order by version"
_RECORD = "insert into schema_migrations (version, name, checksum) values ($1, $2, $3)"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def default_directory() -> Path:
    """``migrations/`` at the top of the source tree (or installed next to the package)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent.parent / "migrations", here / "migrations"):
        if candidate.is_dir():
            return candidate
    raise ConfigurationError(f"no migrations directory found near {here}")


def load(directory: Path | None = None) -> list[Migration]:
    directory = directory or default_directory()
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ConfigurationError(f"migration file name {path.name!r} is not NNNN_name.sql")
        migrations.append(Migration(int(match.group(1)), path.stem, path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ConfigurationError(f"two migration files share a number in {directory}")
    return migrations


async def pending(conn: asyncpg.Connection, migrations: list[Migration]) -> list[Migration]:
    """Migrations not yet applied; raises if an applied file was edited since or one comes too late."""
    exists = await conn.fetchval("select to_regclass('schema_migrations') is not null")
    applied = {r["version"]: r for r in await conn.fetch(_LIST_APPLIED)} if exists else {}
    for migration in migrations:
        row = applied.get(migration.version)
        if row is not None and row["checksum"] != migration.checksum:
            raise ConfigurationError(
                f"migration {migration.name} was edited after it was applied "
                f"(checksum {row['checksum'][:12]} in the database, {migration.checksum[:12]} on disk); "
                "add a new migration instead of editing an applied one"
            )
    waiting = [m for m in migrations if m.version not in applied]
    latest = max(applied, default=0)
    late = [m.name for m in waiting if m.version < latest]
    if late:
        named = f"migration {late[0]} is" if len(late) == 1 else f"migrations {', '.join(late)} are"
        raise ConfigurationError(
            f"{named} numbered below {applied[latest]['name']}, which is already applied; "
            "give each pending file a number above the highest applied one"
        )
    return waiting


async def apply(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply every pending migration; returns the names applied by this call."""
    migrations = load() if migrations is None else migrations
    done: list[str] = []
    await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        for migration in await pending(conn, migrations):
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(_RECORD, migration.version, migration.name, migration.checksum)
            log.info("applied migration %s", migration.name)
            done.append(migration.name)
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _LOCK_KEY)
    return done
