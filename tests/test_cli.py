"""The ``labbook`` admin verbs, run as real processes against real databases."""

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

from tests.factories import unique

ROOT = Path(__file__).resolve().parent.parent
COMMAND_SECONDS = 120


@pytest.fixture
async def fresh_url(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    name = f"labbook_cli_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'create database "{name}"')
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


async def labbook(url: str, *args: str) -> tuple[int, str, str]:
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


async def test_migrate_twice_says_up_to_date(fresh_url: str) -> None:
    rc, out, _ = await labbook(fresh_url, "migrate")
    assert rc == 0
    assert "applied 0001_foundation" in out

    rc, out, _ = await labbook(fresh_url, "migrate")

    assert rc == 0
    assert out.strip() == "schema is up to date"


async def test_user_add_and_token_create_give_a_working_token(client, make, database_url: str) -> None:
    host = await make.host()
    lab = await make.lab(organization_id=host["id"])
    email = f"{unique('cli')}@example.kz"

    rc, out, err = await labbook(
        database_url,
        "user", "add", "--email", email, "--name", "Aliya Nurlanovna", "--org", host["slug"],
        "--role", "lab_manager", "--role", "admin", "--lab", lab["slug"], "--phone", "+7 727 000 0000",
    )  # fmt: skip
    assert rc == 0, err
    assert f"added Aliya Nurlanovna <{email}>" in out

    rc, out, err = await labbook(
        database_url, "token", "create", "--email", email, "--name", "ops", "--days", "7"
    )
    assert rc == 0, err
    secret = out.strip()
    assert secret.startswith("lbk_")
    assert "shown once" in err

    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200, me.text
    assert me.json()["email"] == email
    assert me.json()["roles"] == ["admin", "lab_manager"]
    assert me.json()["managed_labs"] == [lab["slug"]]
    bearer = {"Authorization": f"Bearer {secret}"}
    [token] = (await client.get("/api/v1/me/tokens", headers=bearer)).json()
    assert token["name"] == "ops"

    rc, out, err = await labbook(database_url, "token", "revoke", token["id"])
    assert rc == 0, err
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})).status_code == 401


async def test_admin_verbs_explain_what_is_wrong(make, database_url: str) -> None:
    college = await make.organization(kind="college")
    existing = await make.person("director", organization_id=college["id"])

    cases = [
        (("user", "add", "--email", "x@example.kz", "--name", "X", "--org", "no-such-org"), "no-such-org"),
        (
            (
                "user",
                "add",
                "--email",
                "y@example.kz",
                "--name",
                "Y",
                "--org",
                college["slug"],
                "--role",
                "admin",
            ),
            "host university",
        ),
        (
            ("user", "add", "--email", existing.email, "--name", "Z", "--org", college["slug"]),
            "already exists",
        ),
        (("token", "create", "--email", "nobody@example.kz"), "no person"),
        (("token", "revoke", "not-a-uuid"), "not a token id"),
    ]
    for args, message in cases:
        rc, out, err = await labbook(database_url, *args)
        assert rc == 2, (args, out, err)
        assert message in err, (args, err)
        assert "Traceback" not in err
