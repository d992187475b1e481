"""The OpenAPI document is a true contract: Schemathesis calls every operation it lists.

Schemathesis runs as a program against labbook on a real loopback port, anonymously and with each
role's token, on valid and invalid input (``--mode all``) with its checks on: no 5xx; every status,
content type, header and body as the document says; invalid input refused; ``Allow`` true.

Each caller gets its own copy of the demo database: the run creates, changes, archives and
deactivates things at random (the admin's run may well deactivate the lab manager), so callers
sharing one database would break each other's tokens. The copies come from one database loaded with
the demo, used as a template. Examples per operation are few and the seed is fixed, so the run is
bounded and repeatable.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from labbook import db
from labbook.demo import load_demo
from labbook.demo.story import DEMO_TOKENS
from labbook.settings import Settings
from tests.databases import throwaway_database
from tests.live import serve

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# The demo's people, one per role (the lab manager's token is keyed "manager").
CALLERS = ("anonymous", "admin", "manager", "director", "instructor")
OPTIONS = [
    "--mode=all",
    "--checks=all",
    # Valid-looking input may rightly be refused for what JSON Schema cannot say: an end before its
    # start, a slug that names nothing, a slot already full. Invalid input must still be refused
    # (negative_data_rejection stays on).
    "--exclude-checks=positive_data_acceptance",
    # Every phase runs: the examples, the coverage phase's boundary and invalid values, fuzzing, and
    # the stateful phase's chains of calls.
    "--max-examples=2",
    "--seed=8",
    # One worker thread per run: CPython 3.11 compiles and imports are not safe across schemathesis' threads
    # (seen as "AST constructor recursion depth mismatch" and half-imported modules); the five callers
    # still run side by side as separate processes.
    "--workers=1",
    "--no-color",
    "--output-truncate=false",
]
# Schemathesis is the caller, not labbook: it keeps the machine's clock when scripts/time_travel.sh
# moves labbook's. Under libfaketime its threads' timed waits never return.
CLIENT_ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}


@pytest.fixture(scope="module")
async def demo_template(server_url: str) -> AsyncIterator[str]:
    async with throwaway_database(server_url, "labbook_contract", migrated=True) as url:
        conn = await db.connect(url)
        try:
            await load_demo(conn)
        finally:
            await conn.close()
        yield urlsplit(url).path.lstrip("/")


@asynccontextmanager
async def _copy_of(server_url: str, template: str) -> AsyncIterator[str]:
    name = f"{template}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'create database "{name}" template "{template}"')
    finally:
        await admin.close()
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()


async def _run(caller: str, url: str, workdir: Path) -> tuple[int, str]:
    settings = Settings(database_url=url, pool_min_size=1, pool_max_size=6, log_level="ERROR")
    token = [] if caller == "anonymous" else [f"--header=Authorization: Bearer {DEMO_TOKENS[caller]}"]
    async with serve(settings) as http:
        # The program runs beside the server, which shares this test's event loop: never block it.
        process = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS),
            "run",
            str(http.base_url).rstrip("/") + "/schema/openapi.json",
            *OPTIONS,
            *token,
            cwd=workdir,
            env=CLIENT_ENV,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
    assert process.returncode is not None
    report = output.decode(errors="replace")
    # kept beside the test's other files, to read what a green run did
    (workdir / "schemathesis.txt").write_text(report)
    return process.returncode, report


# Five callers through every phase keep both cores busy for a few minutes: longer than the suite's
# default per-test limit, which is for catching hangs.
@pytest.mark.timeout(900)
async def test_every_operation_keeps_the_contract_for_every_caller(
    server_url: str, demo_template: str, tmp_path: Path
) -> None:
    async def one(caller: str) -> tuple[int, str]:
        workdir = tmp_path / caller
        workdir.mkdir()
        async with _copy_of(server_url, demo_template) as url:
            return await _run(caller, url, workdir)

    # All callers at once: the runs wait on the network far more than they compute.
    results = await asyncio.gather(*(one(caller) for caller in CALLERS))
    broken = {caller: report for caller, (code, report) in zip(CALLERS, results, strict=True) if code != 0}
    assert not broken, "\n\n".join(f"==== as {caller} ====\n{report}" for caller, report in broken.items())
