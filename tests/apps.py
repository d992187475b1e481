"""One app per test session, served by one test client, that any number of browsers share.

Building the app registers some 340 route handlers (0.3-0.6 s each time, the most expensive step of a
page test). A test client runs the app's lifespan, and so its connection pool, on an event loop of
its own: two clients that each ran the lifespan of one app would replace each other's pool. So the
session's app is built and started once, by the host client (the ``client`` fixture), and a browser
is a client with a cookie jar of its own that sends its requests through the host's loop.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from labbook.app import create_app
from labbook.settings import Settings

BASE_URL = "http://labbook.test"


class SharedApps:
    """Hosts by settings; closed with :meth:`close` while their database still exists."""

    def __init__(self) -> None:
        self._shared: set[Settings] = set()
        self._hosts: dict[Settings, AsyncTestClient[Litestar]] = {}

    def share(self, settings: Settings) -> None:
        """Let browsers on ``settings`` (and the system clock) share one app."""
        self._shared.add(settings)

    def shares(self, settings: Settings) -> bool:
        return settings in self._shared

    async def host(self, settings: Settings) -> AsyncTestClient[Litestar]:
        """The client that runs the shared app built from ``settings``, started on first use."""
        assert self.shares(settings), "only the session's settings get a shared app"
        host = self._hosts.get(settings)
        if host is None:
            host = await AsyncTestClient(app=create_app(settings), base_url=BASE_URL).__aenter__()
            self._hosts[settings] = host
        return host

    async def browser(self, settings: Settings, base_url: str = BASE_URL) -> AsyncTestClient[Litestar]:
        """A client with an empty cookie jar on the shared app of ``settings``."""
        host = await self.host(settings)
        browser = AsyncTestClient(app=host.app, base_url=base_url)
        # Requests go to the loop that holds the app's pool; the host alone starts and stops the app.
        browser.blocking_portal = host.blocking_portal
        return browser

    async def close(self) -> None:
        self._shared.clear()
        hosts, self._hosts = list(self._hosts.values()), {}
        for host in hosts:
            await host.__aexit__(None, None, None)


shared_apps = SharedApps()
