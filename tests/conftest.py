"""Shared fixtures: a real PostgreSQL database per test session, the app over real HTTP, factories.

The database is the embedded PostgreSQL (in ``.labbook-test/``, or ``LABBOOK_TEST_DATA_DIR``) unless
``LABBOOK_TEST_DATABASE_URL`` names a server. Each session creates its own database and drops it at
the end, so runs never see each other's rows.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook import db, embedded
from labbook.settings import Settings
from tests.apps import shared_apps
from tests.databases import throwaway_database
from tests.factories import Factory
from tests.live import serve

ROOT = Path(__file__).resolve().parent.parent


def _time_limit(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    return float(marker.args[0]) if marker and marker.args else 0.0


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the longest tests first, and keep tests that share a costly fixture in one worker.

    A test that needs a longer time limit than the suite's runs first, so that when the suite runs
    in several worker processes the others are not left waiting for it at the end.

    A module- or session-scoped fixture of a folder's conftest or of a test module (the browser
    tests' Chromium and demo site, a module's demo database) is built once per worker that needs it:
    such tests form one ``xdist_group``, named after the fixture's home. The root conftest's fixtures
    (the session's database, app and server) are what every worker has anyway.
    """
    items.sort(key=_time_limit, reverse=True)
    for item in items:
        homes = sorted(
            {
                fixture.baseid
                for fixtures in item._fixtureinfo.name2fixturedefs.values()
                for fixture in fixtures
                if fixture.scope != "function" and fixture.baseid not in ("", "tests")
            }
        )
        if homes:
            item.add_marker(pytest.mark.xdist_group(homes[0]))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_url() -> str:
    """A maintenance URL on the server the tests use."""
    external = os.environ.get("LABBOOK_TEST_DATABASE_URL")
    if external:
        return external
    # scripts/time_travel.sh gives its server a directory of its own, started under the moved clock
    return embedded.start(Path(os.environ.get("LABBOOK_TEST_DATA_DIR") or ROOT / ".labbook-test")).url()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    async with throwaway_database(server_url, "labbook_test", migrated=True) as url:
        yield url


@pytest.fixture
async def fresh_url(server_url: str) -> AsyncIterator[str]:
    """A new, empty (unmigrated) database for tests of migrations and commands."""
    async with throwaway_database(server_url, "labbook_fresh", migrated=False) as url:
        yield url


@pytest.fixture(scope="session")
async def settings(database_url: str) -> AsyncIterator[Settings]:
    # Every test's wrong sign-ins come from the one test client address; only the throttling test
    # (with a limit of its own) should ever meet the limit.
    session_settings = Settings(
        database_url=database_url,
        pool_min_size=1,
        pool_max_size=20,
        log_level="WARNING",
        login_failure_limit=100,
        # Tests write rows behind the app's back, as another worker would, and read them at once;
        # the cache shows such writes once their notice arrives, which tests/test_changes.py awaits.
        read_cache=False,
    )
    shared_apps.share(session_settings)
    yield session_settings
    # before the database goes: the shared app's pool holds connections to it
    await shared_apps.close()


@pytest.fixture(scope="session")
async def client(settings: Settings) -> AsyncTestClient[Litestar]:
    """The session's app over HTTP; page tests' browsers share this app (``tests/apps.py``)."""
    return await shared_apps.host(settings)


@pytest.fixture(scope="session")
def app(client: AsyncTestClient[Litestar]) -> Litestar:
    return client.app


@pytest.fixture(scope="session")
async def live(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind a real uvicorn server: requests gathered through this client really overlap."""
    # Ten connections keep transactions overlapping while leaving room on a shared test server.
    async with serve(settings.with_changes(pool_max_size=10)) as http:
        yield http


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test's own event loop, for factories and for reading what the app wrote."""
    test_pool = await db.create_pool(database_url, min_size=1, max_size=60)
    yield test_pool
    await test_pool.close()


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as connection:
        yield connection


@pytest.fixture
def make(pool: asyncpg.Pool) -> Factory:
    """Factories that insert real rows: ``await make.lab(...)``, ``await make.person(...)``."""
    return Factory(pool)
