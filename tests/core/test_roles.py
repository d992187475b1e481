from __future__ import annotations

import re

import asyncpg
import pytest

from labbook.core.roles import Role


async def test_the_database_and_the_enum_name_the_same_roles(conn: asyncpg.Connection) -> None:
    definition = await conn.fetchval(
        "select pg_get_constraintdef(oid) from pg_constraint where conname = 'ck_people_roles'"
    )

    assert definition is not None, "people.roles lost its check constraint"
    assert set(re.findall(r"'([a-z_]+)'::text", definition)) == {role.value for role in Role}


async def test_a_role_outside_the_enum_is_refused_by_the_database(conn: asyncpg.Connection, make) -> None:
    host = await make.host()

    with pytest.raises(asyncpg.CheckViolationError) as refused:
        await conn.execute(
            "insert into people (organization_id, email, full_name, roles) values ($1, $2, 'X', $3)",
            host["id"],
            "nobody@example.org",
            ["superuser"],
        )

    assert refused.value.constraint_name == "ck_people_roles"
