"""Settings come from ``LABBOOK_*`` variables, are checked at start, and are never read at import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labbook.errors import ConfigurationError
from labbook.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_without_any_variable() -> None:
    assert Settings.from_env({}) == Settings()


def test_an_empty_base_url_counts_as_unset() -> None:
    assert Settings.from_env({"LABBOOK_BASE_URL": ""}).base_url == Settings().base_url


def test_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            "LABBOOK_DATABASE_URL": "postgresql://labbook@db:5432/labbook",
            "LABBOOK_DATA_DIR": "/var/lib/labbook",
            "LABBOOK_BASE_URL": "https://labbook.example.kz/",
            "LABBOOK_POOL_MIN_SIZE": "1",
            "LABBOOK_POOL_MAX_SIZE": "30",
            "LABBOOK_LOG_LEVEL": "debug",
            "LABBOOK_MAX_BODY_BYTES": "65536",
            "LABBOOK_FEED_REFRESH_MINUTES": "60",
            "LABBOOK_FEED_MISS_LIMIT": "5",
            "LABBOOK_READ_CACHE": "off",
        }
    )
    assert settings == Settings(
        database_url="postgresql://labbook@db:5432/labbook",
        data_dir=Path("/var/lib/labbook"),
        base_url="https://labbook.example.kz",
        pool_min_size=1,
        pool_max_size=30,
        log_level="DEBUG",
        max_body_bytes=65536,
        feed_refresh_minutes=60,
        feed_miss_limit=5,
        read_cache=False,
    )


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"LABBOOK_POOL_MAX_SIZE": "abc"}, "LABBOOK_POOL_MAX_SIZE"),
        ({"LABBOOK_POOL_MIN_SIZE": "-1"}, "LABBOOK_POOL_MIN_SIZE"),
        ({"LABBOOK_POOL_MIN_SIZE": "5", "LABBOOK_POOL_MAX_SIZE": "2"}, "LABBOOK_POOL_MAX_SIZE"),
        ({"LABBOOK_DATABASE_URL": "mysql://root@localhost/labbook"}, "LABBOOK_DATABASE_URL"),
        ({"LABBOOK_BASE_URL": "labbook.example.kz"}, "LABBOOK_BASE_URL"),
        ({"LABBOOK_LOG_LEVEL": "LOUD"}, "LABBOOK_LOG_LEVEL"),
        ({"LABBOOK_MAX_BODY_BYTES": "10"}, "LABBOOK_MAX_BODY_BYTES"),
        ({"LABBOOK_FEED_REFRESH_MINUTES": "1"}, "LABBOOK_FEED_REFRESH_MINUTES"),
        ({"LABBOOK_FEED_MISS_LIMIT": "none"}, "LABBOOK_FEED_MISS_LIMIT"),
        ({"LABBOOK_READ_CACHE": "maybe"}, "LABBOOK_READ_CACHE"),
    ],
)
def test_a_bad_value_names_its_variable(variables: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        Settings.from_env(variables)


def _run(code_or_args: list[str], **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, *code_or_args],
        cwd=ROOT,
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_refuses_a_bad_variable_with_exit_code_2() -> None:
    result = _run(["-m", "labbook", "migrate"], LABBOOK_POOL_MAX_SIZE="abc")

    assert result.returncode == 2
    assert "LABBOOK_POOL_MAX_SIZE must be a whole number, got 'abc'" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_importing_labbook_reads_no_environment() -> None:
    code = (
        "import pkgutil, importlib, labbook\n"
        "for module in pkgutil.walk_packages(labbook.__path__, 'labbook.'):\n"
        "    if module.name not in ('labbook.__main__',):\n"
        "        importlib.import_module(module.name)\n"
        "print('imported')\n"
    )
    result = _run(
        ["-c", code],
        LABBOOK_POOL_MAX_SIZE="abc",
        LABBOOK_DATABASE_URL="mysql://nowhere",
        LABBOOK_LOG_LEVEL="LOUD",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"


def test_database_timeouts_are_read() -> None:
    settings = Settings.from_env(
        {
            "LABBOOK_DB_CONNECT_TIMEOUT": "2",
            "LABBOOK_DB_ACQUIRE_TIMEOUT": "3",
            "LABBOOK_DB_STATEMENT_TIMEOUT": "30",
        }
    )
    assert (settings.db_connect_timeout, settings.db_acquire_timeout, settings.db_statement_timeout) == (
        2,
        3,
        30,
    )
    with pytest.raises(ConfigurationError, match="LABBOOK_DB_STATEMENT_TIMEOUT"):
        Settings.from_env({"LABBOOK_DB_STATEMENT_TIMEOUT": "0"})
