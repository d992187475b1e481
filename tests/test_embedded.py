"""The real ``labbook`` command on an embedded PostgreSQL: start, crash, restart, stop, clean up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 90
STOP_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _postmasters(pgdata: Path) -> list[psutil.Process]:
    """PostgreSQL server processes started on this data directory."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(pgdata) in cmdline:
            found.append(proc)
    return found


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _wait_until_gone(procs: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(procs, timeout=seconds)
    return alive


def _wait_until_no_postmaster(pgdata: Path, seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := _postmasters(pgdata)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


class Labbook:
    """``python -m labbook`` processes on one data directory, all killed when the test ends."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pgdata = (data_dir / "pgdata").resolve()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
        self.env |= {"LABBOOK_DATA_DIR": str(data_dir), "LABBOOK_LOG_LEVEL": "WARNING"}

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        with (self.data_dir.parent / f"labbook-{len(self.procs)}.log").open("wb") as log:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "labbook", *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def serve(self, *args: str, port: int | None = None) -> tuple[subprocess.Popen[bytes], int]:
        port = port or _free_port()
        return self.start("serve", "--port", str(port), *args), port

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        index = self.procs.index(proc)
        return (self.data_dir.parent / f"labbook-{index}.log").read_text(errors="replace")

    def wait_ready(self, proc: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"labbook serve exited with {proc.returncode}:\n{self.output(proc)}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"labbook serve was not ready within {START_SECONDS}s:\n{self.output(proc)}")

    def close(self) -> None:
        for proc in self.procs:
            for worker in _children(proc.pid):
                worker.kill()
            if proc.poll() is None:
                proc.kill()
            proc.wait(STOP_SECONDS)
        for postmaster in _postmasters(self.pgdata):
            postmaster.kill()


@pytest.fixture
def labbook(tmp_path: Path) -> Iterator[Labbook]:
    runner = Labbook(tmp_path / "data")
    try:
        yield runner
    finally:
        runner.close()


def test_restart_after_kill_and_clean_stop(labbook: Labbook) -> None:
    first, port = labbook.serve()
    labbook.wait_ready(first, port)
    first.kill()
    first.wait(STOP_SECONDS)

    second, port = labbook.serve()
    labbook.wait_ready(second, port)
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json() == {"status": "ok"}
    second.send_signal(signal.SIGTERM)

    assert second.wait(STOP_SECONDS) == 0, labbook.output(second)
    assert _wait_until_no_postmaster(labbook.pgdata, STOP_SECONDS) == []


def test_ctrl_c_stops_the_embedded_server(labbook: Labbook) -> None:
    proc, port = labbook.serve()
    labbook.wait_ready(proc, port)
    assert _postmasters(labbook.pgdata)

    proc.send_signal(signal.SIGINT)

    assert proc.wait(STOP_SECONDS) == 0, labbook.output(proc)
    assert _wait_until_no_postmaster(labbook.pgdata, STOP_SECONDS) == []


def test_watchdog_stops_postgres_after_its_only_user_is_killed(labbook: Labbook) -> None:
    proc, port = labbook.serve()
    labbook.wait_ready(proc, port)
    assert _postmasters(labbook.pgdata)

    proc.kill()
    proc.wait(STOP_SECONDS)

    assert _wait_until_no_postmaster(labbook.pgdata, STOP_SECONDS) == []


def test_serve_and_migrate_at_once_on_a_new_data_dir(labbook: Labbook) -> None:
    server, port = labbook.serve()
    migrators = [labbook.start("migrate") for _ in range(2)]

    for migrator in migrators:
        assert migrator.wait(START_SECONDS) == 0, labbook.output(migrator)
    labbook.wait_ready(server, port)
    server.send_signal(signal.SIGTERM)
    assert server.wait(STOP_SECONDS) == 0, labbook.output(server)
    assert _wait_until_no_postmaster(labbook.pgdata, STOP_SECONDS) == []


def test_two_servers_at_once_on_a_new_data_dir(labbook: Labbook) -> None:
    servers = [labbook.serve() for _ in range(2)]

    for proc, port in servers:
        labbook.wait_ready(proc, port)
    first, second = (proc for proc, _ in servers)
    first.send_signal(signal.SIGTERM)
    assert first.wait(STOP_SECONDS) == 0
    # the other server still holds the database
    assert httpx.get(f"http://127.0.0.1:{servers[1][1]}/ready", timeout=5).status_code == 200
    second.send_signal(signal.SIGTERM)
    assert second.wait(STOP_SECONDS) == 0
    assert _wait_until_no_postmaster(labbook.pgdata, STOP_SECONDS) == []
    for proc in (first, second):
        assert "ERROR" not in labbook.output(proc)


def test_workers_of_a_killed_supervisor_stop_and_free_the_port(labbook: Labbook) -> None:
    supervisor, port = labbook.serve("--workers", "2")
    labbook.wait_ready(supervisor, port)
    workers = _children(supervisor.pid)
    assert len(workers) == 3  # two HTTP workers and the job worker

    supervisor.kill()
    supervisor.wait(STOP_SECONDS)

    assert _wait_until_gone(workers, STOP_SECONDS) == []
    assert _wait_until_no_postmaster(labbook.pgdata, STOP_SECONDS) == []
    again, _ = labbook.serve("--workers", "2", port=port)
    labbook.wait_ready(again, port)
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/labs", timeout=5).status_code == 200


def test_a_killed_postmaster_is_started_again(labbook: Labbook) -> None:
    proc, port = labbook.serve("--workers", "2")
    labbook.wait_ready(proc, port)
    [postmaster] = _postmasters(labbook.pgdata)

    postmaster.kill()
    postmaster.wait(STOP_SECONDS)

    # /ready turns 503 while the server is down; the watchdog starts it again and the pools reconnect
    labbook.wait_ready(proc, port)
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/labs", timeout=5).status_code == 200
    [restarted] = _postmasters(labbook.pgdata)
    assert restarted.pid != postmaster.pid
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(STOP_SECONDS) == 0, labbook.output(proc)
    assert _wait_until_no_postmaster(labbook.pgdata, STOP_SECONDS) == []


def test_a_second_server_on_a_busy_port_says_so(labbook: Labbook) -> None:
    first, port = labbook.serve()
    labbook.wait_ready(first, port)

    second, _ = labbook.serve(port=port)

    assert second.wait(START_SECONDS) == 2
    assert labbook.output(second).strip() == f"labbook: port {port} on 127.0.0.1 is in use by another program"


@pytest.mark.parametrize(
    ("below_a_file", "reason"), [("", "is a file, not a directory"), ("data", "is inside a file")]
)
def test_an_unusable_data_dir_is_one_line_and_exit_code_2(
    tmp_path: Path, below_a_file: str, reason: str
) -> None:
    (tmp_path / "file").write_text("")
    data_dir = tmp_path / "file" / below_a_file if below_a_file else tmp_path / "file"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
    done = subprocess.run(
        [sys.executable, "-m", "labbook", "migrate"],
        cwd=ROOT,
        env={**env, "LABBOOK_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
        check=False,
    )
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(f"labbook: data directory {data_dir} {reason}")


def test_no_lock_file_is_shared_outside_the_data_dir(labbook: Labbook, tmp_path: Path) -> None:
    # Where the wheel keeps its one lock for every user: make it a file nobody can lock.
    runtime = tmp_path / "runtime"
    (runtime / "python_PostgresServer" / ".lockfile").mkdir(parents=True)
    labbook.env |= {"XDG_RUNTIME_DIR": str(runtime), "TMPDIR": str(runtime / "python_PostgresServer")}

    migrate = labbook.start("migrate")

    assert migrate.wait(START_SECONDS) == 0, labbook.output(migrate)
    assert _wait_until_no_postmaster(labbook.pgdata, STOP_SECONDS) == []
