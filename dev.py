#!/usr/bin/env python3
"""Bootstrap and run labbook from a fresh clone with nothing but Python 3.11+.

    python3 dev.py serve     # create .venv, install, serve demo data on http://127.0.0.1:8000
    python3 dev.py test      # create .venv, install with test tools, run the whole test suite

Extra arguments are passed on (``python3 dev.py test -k bookings``, ``python3 dev.py serve --port 9000``).
The tests run in one worker process per core; ``python3 dev.py test -n 0`` runs them in one process.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".labbook-installed"


def ensure_installed() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"labbook needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing labbook and its dependencies into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def run(command: list[str]) -> int:
    """Run ``command`` to its end. Ctrl-C reaches it too, and it stops in its own time (labbook
    finishes the requests in flight and stops its database): wait for that rather than leave it."""
    process = subprocess.Popen(command)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


# One worker per core, each with its own test database; tests that share a costly fixture of their
# folder or module stay in one worker (tests/conftest.py gives them one xdist_group).
SPREAD = ["--numprocesses=auto", "--dist=loadgroup"]


def spread(args: list[str]) -> list[str]:
    """Worker options, unless the caller chose their own (``-n 0``, ``--dist``, ``-p no:xdist``)."""
    chosen = any(a.startswith(("-n", "--numprocesses", "--dist", "no:xdist")) for a in args)
    return [] if chosen else SPREAD


def main() -> int:
    verb, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if verb not in ("serve", "test", "install"):
        print(__doc__)
        return 2
    ensure_installed()
    os.chdir(ROOT)
    if verb == "install":
        return 0
    if verb == "serve":
        return run([str(BIN / "labbook"), "serve", "--demo", *args])
    code = run([str(BIN / "python"), "-m", "pytest", *spread(args), *args])
    if code == 5:
        print("pytest collected no tests: that is a failure, not a pass", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
