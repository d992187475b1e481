"""Screenshots of labbook's pages for the README, taken from the demo in Debian's Chromium.

Usage::

    .venv/bin/python scripts/screenshots.py                  # serve a fresh demo, shoot, stop it
    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8000   # a demo that is running

Without ``--url`` it starts the embedded PostgreSQL in ``.labbook-screens/`` (``--data-dir``), creates
a fresh database there (so the demo's dates are relative to today), runs ``labbook serve --demo`` on
a free loopback port, and drops the database at the end. With ``--url`` the server must hold the
demo data (``labbook serve --demo``).

It signs in as the demo director (``director@labbook.demo``) and writes PNGs to ``docs/screenshots/``
(``--out``):

* ``lab-page-{kk,ru,en}.png`` and ``our-bookings-{kk,ru,en}.png``, 1280 px wide;
* ``calendar-en.png`` and ``labs-en.png``, 1280 px wide;
* ``lab-page-kk-phone.png`` and ``our-bookings-kk-phone.png``, 360 px wide.

Each is the whole page, cut at ``MAX_HEIGHT`` px so that a long page stays a reasonable file. Chromium
is ``/usr/bin/chromium`` (``--chromium``); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit, urlunsplit
from urllib.request import urlopen

import asyncpg
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from labbook import embedded  # noqa: E402
from labbook.demo.service import DEMO_PASSWORD  # noqa: E402

DIRECTOR = "director@labbook.demo"
LAB = "welding-institute"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
MAX_HEIGHT = {"desktop": 2400, "phone": 3200}
LOCALES = {"kk": "kk-KZ", "ru": "ru-RU", "en": "en-GB"}
START_SECONDS = 120


@dataclass(frozen=True)
class Shot:
    name: str
    lang: str
    path: str
    phone: bool = False


def _shots(week: str) -> list[Shot]:
    shots = [Shot(f"lab-page-{lang}", lang, f"/labs/{LAB}") for lang in ("kk", "ru", "en")]
    shots += [Shot(f"our-bookings-{lang}", lang, "/bookings") for lang in ("kk", "ru", "en")]
    shots += [
        Shot("labs-en", "en", "/"),
        Shot("calendar-en", "en", f"/labs/{LAB}/calendar?week={week}"),
        Shot("lab-page-kk-phone", "kk", f"/labs/{LAB}", phone=True),
        Shot("our-bookings-kk-phone", "kk", "/bookings", phone=True),
    ]
    return shots


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _database(server_url: str, name: str, *, create: bool) -> None:
    async def run() -> None:
        admin = await asyncpg.connect(server_url)
        try:
            if create:
                await admin.execute(f'create database "{name}"')
            else:
                await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()

    asyncio.run(run())


@contextlib.contextmanager
def _served_demo(data_dir: Path) -> Iterator[str]:
    """``labbook serve --demo`` on a fresh database of the embedded server; yields its address."""
    server_url = embedded.start(data_dir).url()
    name = f"labbook_screens_{secrets.token_hex(3)}"
    _database(server_url, name, create=True)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
    env["LABBOOK_DATABASE_URL"] = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    env["LABBOOK_LOG_LEVEL"] = "WARNING"
    env["LABBOOK_BASE_URL"] = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "labbook", "serve", "--demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the demo server did not start")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        _database(server_url, name, create=False)


def _healthy(url: str) -> bool:
    try:
        with urlopen(f"{url}/health", timeout=2) as reply:  # noqa: S310 - a loopback http URL we built
            return bool(reply.status == 200)
    except (URLError, OSError):
        return False


def _sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/en/login")
    page.fill('form[action="/en/login"] [name="email"]', DIRECTOR)
    page.fill('form[action="/en/login"] [name="password"]', DEMO_PASSWORD)
    with page.expect_navigation():
        page.click('form[action="/en/login"] [type="submit"]')
    if page.locator('form[action="/en/logout"]').count() != 1:
        raise SystemExit(f"could not sign in as {DIRECTOR}: is this the demo?")


def _week_of_first_training(page: Page, base: str) -> str:
    reply = page.request.get(f"{base}/api/v1/slots?lab={LAB}&kind=training&limit=1")
    items = reply.json()["items"]
    if not items:
        raise SystemExit("the demo has no training sessions")
    year, week, _ = datetime.fromisoformat(items[0]["starts_at"]).isocalendar()
    return f"{year}-W{week:02d}"


def _shoot_one(browser: Browser, base: str, out: Path, shot: Shot, director: Any) -> Path:
    size = PHONE if shot.phone else DESKTOP
    # The browser's own locale too, so that date inputs read as a person there sees them.
    context = browser.new_context(viewport=size, locale=LOCALES[shot.lang], storage_state=director)
    try:
        page = context.new_page()
        reply = page.goto(f"{base}/{shot.lang}{shot.path}")
        if reply is None or reply.status != 200:
            raise SystemExit(f"/{shot.lang}{shot.path}: {reply.status if reply else 'no reply'}")
        height = page.evaluate("document.documentElement.scrollHeight")
        limit = MAX_HEIGHT["phone" if shot.phone else "desktop"]
        target = out / f"{shot.name}.png"
        page.screenshot(
            path=str(target),
            full_page=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": min(height, limit)},
        )
        return target
    finally:
        context.close()


def shoot(base: str, out: Path, chromium: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            signing_in = browser.new_context(viewport=DESKTOP)
            page = signing_in.new_page()
            _sign_in(page, base)
            week = _week_of_first_training(page, base)
            director = signing_in.storage_state()
            signing_in.close()
            return [_shoot_one(browser, base, out, shot, director) for shot in _shots(week)]
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running labbook with the demo data (else one is started)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".labbook-screens")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    if not os.access(args.chromium, os.X_OK):
        raise SystemExit(f"no Chromium at {args.chromium} (apt-get install chromium)")
    if args.url:
        written = shoot(args.url.rstrip("/"), args.out, args.chromium)
    else:
        with _served_demo(args.data_dir) as url:
            written = shoot(url, args.out, args.chromium)
    for path in written:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}  {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
