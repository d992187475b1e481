"""Rules PostgreSQL enforces itself, whoever writes: statements here are plain SQL, not labbook's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from labbook import db
from tests.factories import Factory
from tests.slots.conftest import make_setup

INSERT = """
insert into slots (lab_id, kind, title, starts_at, ends_at, capacity, status)
values ($1, $2, '{"en": "raw"}', $3, $4, $5, $6)
returning id
"""


def _at(days: int, hour: int) -> datetime:
    """A time ``days`` from today, on the hour in UTC."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days, hours=hour)


async def _insert(
    conn: asyncpg.Connection,
    lab_id: int,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    status: str = "active",
) -> None:
    capacity = 0 if kind in ("closure", "maintenance") else 4
    await conn.execute(INSERT, lab_id, kind, starts_at, ends_at, capacity, status)


async def _refusal(
    conn: asyncpg.Connection,
    lab_id: int,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    status: str = "active",
) -> str | None:
    """The constraint that refuses the insert, or ``None`` when it is written."""
    try:
        async with conn.transaction():
            await _insert(conn, lab_id, kind, starts_at, ends_at, status=status)
    except asyncpg.ExclusionViolationError as exc:
        return db.constraint_name(exc)
    return None


async def test_an_insert_of_a_slot_overlapping_a_closure_is_refused(
    conn: asyncpg.Connection, make: Factory
) -> None:
    setup = await make_setup(make)
    lab = setup.lab["id"]
    await _insert(conn, lab, "closure", _at(30, 0), _at(31, 0))
    assert await _refusal(conn, lab, "tour", _at(30, 10), _at(30, 12)) == "ex_slot_spans_closed_lab"
    assert await _refusal(conn, lab, "maintenance", _at(29, 20), _at(30, 1)) == "ex_slot_spans_closed_lab"
    assert await _refusal(conn, lab, "closure", _at(30, 23), _at(31, 2)) == "ex_slot_spans_closure_overlap"
    # Half-open ranges: ending as the closure starts, or starting as it ends, is no overlap.
    assert await _refusal(conn, lab, "tour", _at(29, 22), _at(30, 0)) is None
    assert await _refusal(conn, lab, "training", _at(31, 0), _at(31, 2)) is None
    # A cancelled slot holds nothing; another lab is not closed.
    assert await _refusal(conn, lab, "tour", _at(30, 10), _at(30, 12), status="cancelled") is None
    other = await make_setup(make)
    assert await _refusal(conn, other.lab["id"], "tour", _at(30, 10), _at(30, 12)) is None


async def test_a_closure_over_an_active_slot_is_refused_until_the_slot_is_cancelled(
    conn: asyncpg.Connection, make: Factory
) -> None:
    setup = await make_setup(make)
    lab = setup.lab["id"]
    await _insert(conn, lab, "training", _at(40, 9), _at(40, 11))
    await _insert(conn, lab, "tour", _at(40, 10), _at(40, 12))
    assert await _refusal(conn, lab, "closure", _at(40, 0), _at(41, 0)) == "ex_slot_spans_closed_lab"
    await conn.execute("update slots set status = 'cancelled' where lab_id = $1", lab)
    assert await _refusal(conn, lab, "closure", _at(40, 0), _at(41, 0)) is None
    # Bringing a cancelled slot back into a closed day is refused too.
    with pytest.raises(asyncpg.ExclusionViolationError):
        await conn.execute("update slots set status = 'active' where lab_id = $1 and kind = 'tour'", lab)
