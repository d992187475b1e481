"""``labbook serve``'s HTTP server: granian (HTTP in Rust) with a process per worker.

Chosen by measurement (``benchmarks/http_server.py``, one worker, wrk at 32 connections): granian
answered /health, a catalog read and a feed revalidation 9-26% faster than uvicorn with httptools and
uvloop (see the README), and it enforces a header-read timeout, which uvicorn does not have. Its
supervisor restarts a worker that dies; a worker whose supervisor dies (``kill -9``) stops by itself,
so no orphan keeps the port or the database.
"""

from __future__ import annotations

import atexit
import errno
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from typing import Any

from labbook.errors import ConfigurationError
from labbook.settings import Settings

log = logging.getLogger(__name__)

PARENT_POLL_SECONDS = 0.5
PORT_WAIT_SECONDS = 5
# After SIGTERM, a worker whose supervisor is gone has this long beyond the graceful shutdown to exit.
ORPHAN_GRACE_SECONDS = 5


def wait_for_port(host: str, port: int, seconds: float = PORT_WAIT_SECONDS) -> None:
    """Raise ``ConfigurationError`` if another program still listens on ``host:port`` after ``seconds``.

    granian's workers bind with SO_REUSEPORT, so a second server on a busy port would start and
    share it silently. A plain bind tells. Workers of a supervisor that was just killed are given
    a few seconds to finish their requests and let go.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
            else:
                return
        if time.monotonic() > deadline:
            raise ConfigurationError(f"port {port} on {host} is in use by another program")
        time.sleep(0.2)


def share_metrics_between_workers() -> None:
    """Give the workers one directory for their metrics, removed when serving ends.

    prometheus-client reads the variable when it is first imported, so call this before the app is.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    directory = tempfile.mkdtemp(prefix="labbook-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    atexit.register(shutil.rmtree, directory, ignore_errors=True)


def run(settings: Settings, *, host: str, port: int, workers: int, target: str) -> None:
    """Serve the ASGI app factory ``target`` until SIGTERM or SIGINT; in-flight requests finish first."""
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    server = Server(
        target,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=False,
        # Requests one worker takes on at once; more wait in the listen queue, not in memory.
        backpressure=settings.http_max_concurrency,
        backlog=max(1024, settings.http_max_concurrency * workers * 2),
        # A connection that sends no complete request head in time is closed, idle keep-alive ones too.
        http1_settings=HTTP1Settings(header_read_timeout=settings.http_header_timeout * 1000),
        log_level=LogLevels(settings.log_level.lower()),
        log_access=False,
        respawn_failed_workers=True,
        respawn_interval=1.0,
        workers_kill_timeout=settings.http_shutdown_timeout,
    )
    server.serve()


def stop_when_orphaned(shutdown_seconds: int, parent: int | None = None) -> None:
    """In a worker: stop gracefully when the supervisor that started this process is gone.

    A supervisor killed with SIGKILL cannot tell its workers; they would keep the port and the
    database. A daemon thread notices the new parent, asks this process to stop as a SIGTERM would,
    and ends it outright if that takes longer than the graceful shutdown allows. ``parent`` is the
    supervisor's pid when it is known: a process started with ``exec`` may only get here after its
    supervisor died, and would otherwise take its new parent for the supervisor.
    """
    parent = os.getppid() if parent is None else parent

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        log.warning("the labbook supervisor (pid %s) is gone; this worker stops", parent)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(shutdown_seconds + ORPHAN_GRACE_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="labbook-parent-watch", daemon=True).start()


_prepared: dict[Settings, Any] = {}


def prepare_app(settings: Settings) -> None:
    """Build the app in the supervisor, before the workers are forked; the lifespan runs in each worker."""
    from labbook.app import create_app

    _prepared[settings] = create_app(settings)


def app_factory_for(settings: Settings) -> Any:
    """The app a worker serves (the one prepared before the fork, if built from the same settings)."""
    from labbook.app import create_app

    stop_when_orphaned(settings.http_shutdown_timeout)
    return _prepared.get(settings) or create_app(settings)
