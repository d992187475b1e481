"""Each worker keeps the principal behind a token it has seen, and never past a change that ends it:
a revoked token, a person switched off or given other roles is read anew once PostgreSQL's notice of
the commit arrives, and at once in the worker that made the change."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import httpx

from labbook.accounts.security import hash_secret
from labbook.changes import ChangeListener, ReadCache
from labbook.settings import Settings
from tests.dates import soon
from tests.factories import Factory, Person
from tests.live import cached_worker, caught_up


async def _me(http: httpx.AsyncClient, person: Person) -> httpx.Response:
    return await http.get("/api/v1/me", headers=person.headers)


async def test_a_token_revoked_through_this_worker_stops_working_at_once(
    settings: Settings, make: Factory
) -> None:
    director = await make.person("director")
    async with cached_worker(settings) as (http, _):
        assert (await _me(http, director)).status_code == 200
        tokens = (await http.get("/api/v1/me/tokens", headers=director.headers)).json()
        revoked = await http.post(f"/api/v1/me/tokens/{tokens[0]['id']}/revoke", headers=director.headers)
        assert revoked.status_code == 200, revoked.text

        assert (await _me(http, director)).status_code == 401


async def test_a_token_revoked_elsewhere_stops_working_once_the_notice_arrives(
    settings: Settings, make: Factory, pool: asyncpg.Pool
) -> None:
    director = await make.person("director")
    async with cached_worker(settings) as (http, app):
        assert (await _me(http, director)).status_code == 200
        assert app.state.principals.get(hash_secret(director.token)) is not None, "kept"

        await pool.execute(
            "update access_tokens set revoked_at = now() where token_hash = $1", hash_secret(director.token)
        )
        await caught_up(pool, app.state.changes)

        assert (await _me(http, director)).status_code == 401


async def test_a_person_switched_off_or_given_other_roles_elsewhere_is_read_anew(
    settings: Settings, make: Factory, pool: asyncpg.Pool
) -> None:
    lab = await make.lab()
    manager = await make.person("lab_manager", lab_ids=(lab["id"],))
    other = await make.person("lab_manager", lab_ids=(lab["id"],))
    async with cached_worker(settings) as (http, app):
        listener: ChangeListener = app.state.changes
        assert (await _me(http, manager)).json()["roles"] == ["lab_manager"]
        assert (await _me(http, other)).json()["managed_labs"] == [lab["slug"]]

        await pool.execute("update people set roles = '{director}' where id = $1", manager.id)
        await pool.execute("delete from lab_managers where person_id = $1", other.id)
        await caught_up(pool, listener)
        assert (await _me(http, manager)).json()["roles"] == ["director"]
        editing = await http.patch(
            f"/api/v1/labs/{lab['slug']}", json={"capacity": 12}, headers=other.headers
        )
        assert editing.status_code == 403, "no longer manages the lab"

        await pool.execute("update people set is_active = false where id = $1", manager.id)
        await caught_up(pool, listener)
        assert (await _me(http, manager)).status_code == 401


async def test_a_booking_keeps_the_principals_and_another_write_drops_them(
    settings: Settings, make: Factory
) -> None:
    """A booking names what it writes: the token behind the next booking is not asked for again."""
    lab = await make.lab()
    slot = await make.slot(lab, soon(timedelta(days=3)), capacity=10)
    director = await make.person("director")
    key = hash_secret(director.token)
    async with cached_worker(settings) as (http, app):
        principals: ReadCache[object] = app.state.principals
        booked = await http.post(
            f"/api/v1/slots/{slot['id']}/bookings",
            json={"headcount": 2, "contact_name": "Ержан Сейткали", "language": "kk"},
            headers=director.headers,
        )
        assert booked.status_code == 201, booked.text
        assert principals.get(key) is not None

        cancelled = await http.post(
            f"/api/v1/bookings/{booked.json()['id']}/cancel", json={}, headers=director.headers
        )
        assert cancelled.status_code == 200, cancelled.text
        assert principals.get(key) is None


def test_an_entry_lives_no_longer_than_it_is_given() -> None:
    """A token's principal is kept no longer than the token is valid (``max_age`` to its expiry)."""
    cache: ReadCache[str] = ReadCache(["access_tokens"], max_age=60)
    cache.set_live(True)
    cache.put("a", "kept", cache.generation, max_age=0)
    cache.put("b", "kept", cache.generation, max_age=600)
    assert cache.get("a") is None
    assert cache.get("b") == "kept"
