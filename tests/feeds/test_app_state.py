"""What feeds keep belongs to one app: its caches live as long as it runs, and its clock decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar.testing import AsyncTestClient

from labbook.app import create_app
from labbook.settings import Settings
from tests.factories import Factory
from tests.feeds.conftest import PLACE, day, parse


async def test_feed_caches_are_made_and_dropped_with_the_app(settings: Settings, make: Factory) -> None:
    lab = await make.lab(**PLACE)
    await make.slot(lab, day(2))
    url = f"/feeds/labs/{lab['slug']}.ics"
    app = create_app(settings)
    assert "feed_caches" not in app.state
    async with AsyncTestClient(app=app) as client:
        caches = app.state.feed_caches
        assert (len(caches.bodies), len(caches.blocks)) == (0, 0)
        first = await client.get(url)
        assert first.status_code == 200, first.text
        assert (len(caches.bodies), len(caches.blocks)) == (1, 1)
        # a second app in the same process renders for itself, from caches of its own
        other = create_app(settings)
        async with AsyncTestClient(app=other) as second:
            reply = await second.get(url)
            assert reply.content == first.content
            assert other.state.feed_caches is not caches
            assert len(other.state.feed_caches.bodies) == 1
        assert "feed_caches" not in other.state
        # the first app keeps its own caches whatever the second did
        assert app.state.feed_caches is caches
        assert (await client.get(url)).content == first.content
    assert "feed_caches" not in app.state


async def test_a_feed_holds_what_the_apps_clock_calls_current(settings: Settings, make: Factory) -> None:
    """A feed keeps events from 30 days back; on a clock 60 days ahead, one two days from today is gone."""
    lab = await make.lab(**PLACE)
    soon = await make.slot(lab, day(2))
    url = f"/feeds/labs/{lab['slug']}.ics"
    async with AsyncTestClient(app=create_app(settings)) as today:
        now = parse((await today.get(url)).content)
    later = create_app(settings, clock=lambda: datetime.now(UTC) + timedelta(days=60))
    async with AsyncTestClient(app=later) as client:
        reply = await client.get(url)
        assert reply.status_code == 200, reply.text
        then = parse(reply.content)
    assert [str(e["UID"]) for e in now.walk("VEVENT")] == [f"slot-{soon['id']}@labbook"]
    assert then.walk("VEVENT") == []
