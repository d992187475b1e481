"""Demo data telling labbook's story (DESIGN.md §6). Loading it twice changes nothing."""

from __future__ import annotations

import asyncpg


async def load_demo(conn: asyncpg.Connection) -> str:
    return "demo data: nothing to load yet"
