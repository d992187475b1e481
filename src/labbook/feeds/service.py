"""Calendar feeds: resolve a feed, version it cheaply, render it only when a client needs the body.

Two versions. The exact one is an aggregate over every row a feed holds (count, latest
``updated_at``, a hash of ids and sequences), exact whatever happens; private feeds always use it.
A public feed's index version is its lab's (and equipment's) row versions, the latest ``updated_at``
of the lab's slots and of its series (two index probes, whatever the feed's size) and the day. Slots
and series never change lab and are never deleted, and every change stamps ``updated_at = now()``,
so a change raises a maximum, unless a transaction that started earlier commits after the maximum
was read. So the index ETag is only handed out when settled: the newest stamp is older than every
transaction still running (``repository.write_horizon``, read before the body's snapshot). Right
after a change the exact ETag goes out instead, and is still checked exactly when it comes back.
A 304 never renders. A body is read in one read-only REPEATABLE READ transaction that recomputes the
version first, so a body is sent and cached under exactly the ETag that describes it.

The window is whole UTC days (about −30 days to +12 months, cancelled rows kept 30 days), so which
rows a feed holds changes only with the data or at midnight, which both versions see.
``Last-Modified`` is when this ETag was first served (``feed_versions``): it moves whenever the body
does, including when an event leaves the feed, which ``max(updated_at)`` of the remaining rows cannot see.

A feed asked for in one language (``?lang=``) is another representation of the same rows: the language
is part of its key (so of its ``feed_versions`` row and body cache), of its ETag and of every event
cache key. Without it, keys, ETags and bytes are exactly those of a feed in the lab's own languages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import asyncpg

from labbook import db
from labbook.accounts.security import FEED_TOKEN_PREFIX, Principal, hash_secret, new_secret
from labbook.audit import service as audit
from labbook.errors import Forbidden, NotFound, RateLimited
from labbook.feeds import ics, repository
from labbook.feeds.cache import FeedCaches
from labbook.feeds.events import (
    UID_DOMAIN,
    ViewContext,
    booking_events,
    label,
    localized,
    order_key,
    reading_order,
    series_start,
    slot_events,
    slot_version,
)
from labbook.feeds.ics import EventSpec
from labbook.settings import Settings
from labbook.timezones import DEFAULT_TIMEZONE

# Bump when the rendering code changes what it writes, so every ETag changes with it.
RENDER_VERSION = "4"
PAST = timedelta(days=30)
FUTURE = timedelta(days=366)
MISS_WINDOW_SECONDS = 600
# Exact ETags (aggregates over a feed's rows) are told apart from public feeds' index ETags by this.
EXACT_TAG = '"x-'
# A transaction takes its start time (its now()) a few microseconds before pg_stat_activity shows
# it; a change newer than the write horizon less this margin leaves a public feed's version unsettled.
SETTLE_MARGIN = timedelta(seconds=2)
_NAME_LANGUAGES = ("en", "ru", "kk")


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed: which view of which rows, and the calendar-level facts around them.

    ``salt`` holds every input that is not a row of the feed (the lab's or token owner's own data),
    so that it takes part in the ETag. ``language`` is the one the subscriber asked for (``?lang=``):
    another language is another representation, so it is part of the key and the salt too.
    """

    key: str
    view: str
    scope: Any
    name: str
    timezone: str
    is_public: bool
    salt: str
    equipment_id: int | None = None
    equipment_name: dict[str, str] = field(default_factory=dict)
    equipment_updated_at: datetime | None = None
    equipment_revision: int = 0
    language: str | None = None


@dataclass(frozen=True, slots=True)
class FeedVersion:
    etag: str
    stored_etag: str | None
    stored_changed_at: datetime | None

    @property
    def is_recorded(self) -> bool:
        """This ETag is the one last served, so its first-seen time is the Last-Modified."""
        return self.stored_etag == self.etag and self.stored_changed_at is not None


@dataclass(frozen=True, slots=True)
class FeedReply:
    """What the route sends: ``body`` is ``None`` for a 304."""

    feed: Feed
    etag: str
    last_modified: datetime
    body: bytes | None
    not_modified: bool


@dataclass(frozen=True, slots=True)
class Conditions:
    if_none_match: list[str] | None = None
    if_modified_since: datetime | None = None


def window(now: datetime) -> tuple[datetime, datetime]:
    """Whole UTC days around ``now``: the feed's rows change at midnight, not every second."""
    midnight = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    return midnight - PAST, midnight + FUTURE


def feed_url(settings: Settings, path: str) -> str:
    return f"{settings.base_url}{path}"


def subscribe_url(url: str) -> str:
    """The same feed as a ``webcal://`` link, which calendar apps open as a subscription."""
    return "webcal://" + url.split("://", 1)[1]


def in_language(url: str, language: str) -> str:
    """A feed's address asking for its titles, descriptions and places in ``language``."""
    return f"{url}{'&' if '?' in url else '?'}{urlencode({'lang': language})}"


def lab_feed_path(lab_slug: str) -> str:
    return f"/feeds/labs/{lab_slug}.ics"


def equipment_feed_path(lab_slug: str, equipment_slug: str) -> str:
    return f"/feeds/labs/{lab_slug}/equipment/{equipment_slug}.ics"


def _keyed(key: str, salt: str, language: str | None) -> tuple[str, str]:
    """A feed's key and salt in one language; without one, exactly the key and salt of old."""
    if language is None:
        return key, salt
    return f"{key}?lang={language}", f"{salt}:lang={language}"


def _organizer_address(settings: Settings) -> str:
    host = settings.base_url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    return f"mailto:noreply@{host}"


# ---- resolving a feed -------------------------------------------------------------------------


def public_feed_key(view: str, lab_slug: str, equipment_slug: str | None, language: str | None) -> str:
    """The name a public feed's version is recorded under (``feed_versions.feed``)."""
    key = f"lab:{lab_slug}" if view == "lab" else f"equipment:{lab_slug}/{equipment_slug}"
    return _keyed(key, "", language)[0]


def _public_feed(
    view: str, row: asyncpg.Record, lab_slug: str, equipment_slug: str | None, language: str | None
) -> Feed:
    languages = reading_order(language) if language else row["languages"]
    lab_name = localized(row["lab_name"], languages)
    key = public_feed_key(view, lab_slug, equipment_slug, language)
    _, salt = _keyed(
        "", f"{row['lab_id']}:{row['lab_updated_at'].isoformat()}:{row['lab_revision']}", language
    )
    if view == "lab":
        return Feed(
            key, "lab", row["lab_id"], f"{lab_name} — labbook", row["timezone"], True, salt, language=language
        )
    equipment = localized(row["equipment_name"], languages)
    return Feed(
        key=key,
        view="equipment",
        scope=row["lab_id"],
        name=f"{equipment} — {lab_name} — labbook",
        timezone=row["timezone"],
        is_public=True,
        salt=":".join(
            (
                salt,
                str(row["equipment_id"]),
                row["equipment_updated_at"].isoformat(),
                str(row["equipment_revision"]),
            )
        ),
        equipment_id=row["equipment_id"],
        equipment_name=dict(row["equipment_name"]),
        equipment_updated_at=row["equipment_updated_at"],
        equipment_revision=row["equipment_revision"],
        language=language,
    )


async def _public_version(
    conn: asyncpg.Connection,
    settings: Settings,
    now: datetime,
    view: str,
    lab_slug: str,
    equipment_slug: str | None,
    language: str | None,
) -> tuple[Feed, FeedVersion]:
    """The exact version: an aggregate over every row of the feed (see the module's docstring)."""
    since, until = window(now)
    key = public_feed_key(view, lab_slug, equipment_slug, language)
    row = await repository.public_feed_version(
        conn, view, lab_slug, equipment_slug, key, since=since, until=until
    )
    if row is None or (view == "equipment" and row["equipment_id"] is None):
        raise NotFound("no such feed")
    feed = _public_feed(view, row, lab_slug, equipment_slug, language)
    return feed, _digest(feed, row, settings)


@dataclass(frozen=True, slots=True)
class IndexVersion:
    """A public feed's version from its lab's latest changes, and those changes' times."""

    feed: Feed
    version: FeedVersion
    changed_at: tuple[datetime | None, ...]

    def settled(self, horizon: datetime | None) -> bool:
        """No write still to come can carry an ``updated_at`` at or below the latest one seen.

        Then every later change raises a maximum, so this version names this content forever.
        """
        if horizon is None:
            return False
        limit = horizon - SETTLE_MARGIN
        return all(t is None or t < limit for t in self.changed_at)


async def _index_version(
    conn: asyncpg.Connection,
    settings: Settings,
    now: datetime,
    view: str,
    lab_slug: str,
    equipment_slug: str | None,
    language: str | None,
) -> IndexVersion:
    key = public_feed_key(view, lab_slug, equipment_slug, language)
    row = await repository.public_feed_probe(conn, view, lab_slug, equipment_slug, key)
    return _indexed(row, settings, now, view, lab_slug, equipment_slug, language)


def _indexed(
    row: asyncpg.Record | None,
    settings: Settings,
    now: datetime,
    view: str,
    lab_slug: str,
    equipment_slug: str | None,
    language: str | None,
) -> IndexVersion:
    """The index version a probe row gives as of ``now`` (whose day is part of it)."""
    if row is None or (view == "equipment" and row["equipment_id"] is None):
        raise NotFound("no such feed")
    feed = _public_feed(view, row, lab_slug, equipment_slug, language)
    changed_at = (row["slots_changed_at"], row["series_changed_at"])
    parts = [
        RENDER_VERSION,
        settings.base_url,
        str(settings.feed_refresh_minutes),
        feed.salt,
        row["lab_row"],
        row["equipment_row"] or "",
        *(t.isoformat() if t is not None else "" for t in changed_at),
        # the window and the cancelled rows' grace period move at midnight
        window(now)[0].isoformat(),
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    version = FeedVersion(f'"{digest}"', row["stored_etag"], row["stored_changed_at"])
    return IndexVersion(feed, version, changed_at)


async def public_feed(
    pool: asyncpg.Pool,
    settings: Settings,
    view: str,
    lab_slug: str,
    equipment_slug: str | None = None,
    language: str | None = None,
    *,
    now: datetime,
) -> Feed:
    """A public feed by its slugs (the lab's, and the equipment's for an equipment feed)."""
    async with pool.acquire() as conn:
        indexed = await _index_version(conn, settings, now, view, lab_slug, equipment_slug, language)
    return indexed.feed


async def _private_feed(
    conn: asyncpg.Connection, secret: str, client: str, settings: Settings, language: str | None
) -> Feed:
    """The feed a token names, or a 404; a client that keeps missing gets 429s instead.

    Valid tokens are always served: only misses are counted, per client address, in PostgreSQL so
    that every worker shares the count.
    """
    token = await repository.get_feed_token(conn, hash_secret(secret))
    feed = _token_feed(token, language) if token is not None else None
    if feed is None:
        hits = await repository.count_miss(conn, f"feed-miss:{client}", MISS_WINDOW_SECONDS)
        if hits == 1:
            # a client's first miss in a window is rare enough to carry the clean-up of old counters
            await repository.forget_old_misses(conn)
        if hits > settings.feed_miss_limit:
            raise RateLimited(
                "too many unknown feed addresses from this client; try again later",
                retry_after=MISS_WINDOW_SECONDS,
            )
        raise NotFound("no such feed")
    return feed


def _token_feed(token: asyncpg.Record, language: str | None = None) -> Feed | None:
    roles = set(token["roles"])
    kind = token["kind"]
    person = token["full_name"]
    key, salt = _keyed(
        f"private:{token['id']}",
        f"private:{token['id']}:{person}:{sorted(roles)}:{token['organization_name']}",
        language,
    )

    def named(what: str, default: str) -> str:
        return label(what, language) if language else default

    if kind == "organization":
        if "director" not in roles:
            return None
        org = localized(token["organization_name"], reading_order(language) if language else _NAME_LANGUAGES)
        return Feed(
            key,
            "organization",
            token["organization_id"],
            f"{org} — {named('feed_bookings', 'bookings')} — labbook",
            DEFAULT_TIMEZONE,
            False,
            salt,
            language=language,
        )
    if kind == "lab_manager":
        if not roles & {"lab_manager", "admin"}:
            return None
        lab_ids = list(token["lab_ids"])
        return Feed(
            key,
            "lab_manager",
            lab_ids,
            f"{person} — {named('feed_labs', 'labs')} — labbook",
            DEFAULT_TIMEZONE,
            False,
            f"{salt}:{lab_ids}",
            language=language,
        )
    return Feed(
        key,
        "person",
        token["person_id"],
        f"{person} — {named('feed_sessions', 'sessions')} — labbook",
        DEFAULT_TIMEZONE,
        False,
        salt,
        language=language,
    )


# ---- versioning and rendering -----------------------------------------------------------------


async def _version(conn: asyncpg.Connection, feed: Feed, settings: Settings, now: datetime) -> FeedVersion:
    since, until = window(now)
    row = await repository.feed_version(
        conn, feed.view, feed.scope, feed.key, since=since, until=until, equipment_id=feed.equipment_id
    )
    return _digest(feed, row, settings)


def _digest(feed: Feed, row: asyncpg.Record, settings: Settings) -> FeedVersion:
    parts = [
        RENDER_VERSION,
        settings.base_url,
        str(settings.feed_refresh_minutes),
        feed.salt,
        str(row["total"]),
        row["slots_digest"],
        row.get("series_digest") or "",
        row["labs_digest"],
        row.get("bookings_digest") or "",
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return FeedVersion(f'{EXACT_TAG}{digest}"', row["stored_etag"], row["stored_changed_at"])


async def build_feed(
    conn: asyncpg.Connection, feed: Feed, settings: Settings, now: datetime
) -> tuple[ics.CalendarSpec, list[ics.EventSpec]]:
    """The calendar and its events as specs, read from the database (tests compare renderings of it)."""
    since, until = window(now)
    ctx = _context(feed, settings)
    instants: list[datetime] = []
    if feed.view == "organization":
        bookings = await repository.list_organization_bookings(conn, feed.scope, since=since, until=until)
        labs = {
            lab["id"]: lab for lab in await repository.list_labs(conn, list({b["lab_id"] for b in bookings}))
        }
        events = booking_events(ctx, bookings, labs)
        instants = [t for b in bookings for t in (b["starts_at"], b["ends_at"])]
    else:
        slots = await repository.list_feed_slots(
            conn, feed.view, feed.scope, since=since, until=until, equipment_id=feed.equipment_id
        )
        series_ids = list({s["series_id"] for s in slots if s["series_id"] is not None})
        series = {s["id"]: s for s in await repository.list_series(conn, series_ids)}
        lab_ids = {s["lab_id"] for s in slots} | {s["lab_id"] for s in series.values()}
        labs = {lab["id"]: lab for lab in await repository.list_labs(conn, list(lab_ids))}
        bookings_by_slot = await _bookings_by_slot(conn, feed, [s["id"] for s in slots])
        events = slot_events(ctx, slots, series, labs, bookings_by_slot)
        instants = [t for s in slots for t in (s["starts_at"], s["ends_at"], s["occurrence_start"]) if t]
    instants += [e.starts_at for e in events]
    return _calendar_spec(feed, settings, {e.tzid for e in events}, instants), events


def _context(feed: Feed, settings: Settings) -> ViewContext:
    return ViewContext(
        feed.view,
        _organizer_address(settings),
        tuple(sorted(feed.equipment_name.items())),
        feed.equipment_updated_at,
        feed.equipment_revision,
        feed.language,
    )


async def _bookings_by_slot(
    conn: asyncpg.Connection, feed: Feed, slot_ids: list[UUID]
) -> dict[UUID, list[asyncpg.Record]]:
    by_slot: dict[UUID, list[asyncpg.Record]] = {}
    if feed.view in ("lab_manager", "person"):
        for booking in await repository.list_active_bookings(conn, slot_ids):
            by_slot.setdefault(booking["slot_id"], []).append(booking)
    return by_slot


def _calendar_spec(
    feed: Feed, settings: Settings, tzids: set[str], instants: list[datetime]
) -> ics.CalendarSpec:
    ordered = tuple(sorted(tzids))
    timezone = feed.timezone if feed.is_public or not ordered else ordered[0]
    refresh = timedelta(minutes=settings.feed_refresh_minutes)
    if not instants:
        return ics.CalendarSpec(feed.name, timezone, refresh, "", ordered)
    # VTIMEZONEs cover exactly the span of the data, so they too change only with the data.
    first = min(instants).astimezone(UTC).date() - timedelta(days=1)
    last = max(instants).astimezone(UTC).date() + timedelta(days=1)
    return ics.CalendarSpec(feed.name, timezone, refresh, "", ordered, first, last)


async def render_feed(
    conn: asyncpg.Connection, feed: Feed, settings: Settings, now: datetime, caches: FeedCaches
) -> bytes:
    """The feed's bytes, equal to rendering ``build_feed`` whole, re-rendering only changed events.

    Slot views first read each row's data version without its text; the serialized events of every
    standalone slot and of every series (master plus overrides) are kept per version in
    ``caches.blocks``, and only the rows whose version is not there are read in full and rendered.
    """
    since, until = window(now)
    ctx = _context(feed, settings)
    # a plain tuple hashes in C; the frozen dataclass would hash field by field in Python each time
    view_key = (
        ctx.view,
        ctx.organizer_address,
        ctx.equipment_name,
        ctx.equipment_updated_at,
        ctx.equipment_revision,
        ctx.language,
    )
    if feed.view == "organization":
        return await _render_organization_feed(conn, feed, settings, caches, ctx, view_key, since, until)
    slots = await repository.list_feed_slot_versions(
        conn, feed.view, feed.scope, since=since, until=until, equipment_id=feed.equipment_id
    )
    series_ids = list(dict.fromkeys(s["series_id"] for s in slots if s["series_id"] is not None))
    series = {s["id"]: s for s in await repository.list_series(conn, series_ids)}
    lab_ids = {s["lab_id"] for s in slots} | {s["lab_id"] for s in series.values()}
    labs = {lab["id"]: lab for lab in await repository.list_labs(conn, list(lab_ids))}
    bookings = await _bookings_by_slot(conn, feed, [s["id"] for s in slots])

    groups: dict[Any, tuple[tuple[Any, ...], list[asyncpg.Record]]] = {}
    for slot in slots:
        group = slot["series_id"] or slot["id"]
        if group not in groups:
            groups[group] = ((), [])
        groups[group][1].append(slot)
    for group, (_, members) in groups.items():
        owner = series.get(group)
        lab = labs[owner["lab_id"] if owner else members[0]["lab_id"]]
        head = (owner["id"], owner["sequence"], owner["updated_at"], owner["status"]) if owner else ()
        versions = tuple(slot_version(m, bookings.get(m["id"], ())) for m in members)
        groups[group] = ((view_key, lab["id"], lab["updated_at"], lab["revision"], head, versions), members)

    found = {key: caches.blocks.get(key) for key, _ in groups.values()}
    missing = [m["id"] for key, members in groups.values() if found[key] is None for m in members]
    if missing:
        partial = {s["id"]: s for s in slots}
        full = [
            {**dict(row), "in_scope": partial[row["id"]]["in_scope"], "units": partial[row["id"]]["units"]}
            for row in await repository.list_slots(conn, missing)
        ]
        by_uid: dict[str, list[EventSpec]] = {}
        for event in slot_events(ctx, full, series, labs, bookings):
            by_uid.setdefault(event.uid, []).append(event)
        for group, (key, _) in groups.items():
            uid = f"{'series' if group in series else 'slot'}-{group}@{UID_DOMAIN}"
            if found[key] is None:
                rendered = tuple((order_key(e), ics.serialize_event(e)) for e in by_uid[uid])
                caches.blocks.put(key, rendered)
                found[key] = rendered

    blocks: list[tuple[tuple[datetime, str], bytes]] = []
    for cached in found.values():
        assert cached is not None
        blocks.extend(cached)
    blocks.sort(key=lambda block: block[0])
    tzids = {labs[s["lab_id"]]["timezone"] for s in slots if s["series_id"] is None}
    tzids |= {s["timezone"] for s in series.values()}
    instants = [t for s in slots for t in (s["starts_at"], s["ends_at"], s["occurrence_start"]) if t]
    instants += [series_start(s) for s in series.values()]
    return ics.assemble(_calendar_spec(feed, settings, tzids, instants), [b for _, b in blocks])


async def _render_organization_feed(
    conn: asyncpg.Connection,
    feed: Feed,
    settings: Settings,
    caches: FeedCaches,
    ctx: ViewContext,
    view_key: tuple[Any, ...],
    since: datetime,
    until: datetime,
) -> bytes:
    bookings = await repository.list_organization_bookings(conn, feed.scope, since=since, until=until)
    labs = {lab["id"]: lab for lab in await repository.list_labs(conn, list({b["lab_id"] for b in bookings}))}
    blocks: list[tuple[tuple[datetime, str], bytes]] = []
    for booking in bookings:
        lab = labs[booking["lab_id"]]
        key = (view_key, booking["id"], booking["sequence"], booking["updated_at"], booking["status"],
               booking["slot_sequence"], booking["slot_updated_at"], booking["slot_status"],
               lab["id"], lab["updated_at"], lab["revision"])  # fmt: skip
        cached = caches.blocks.get(key)
        if cached is None:
            cached = tuple(
                (order_key(e), ics.serialize_event(e)) for e in booking_events(ctx, [booking], labs)
            )
            caches.blocks.put(key, cached)
        blocks.extend(cached)
    blocks.sort(key=lambda block: block[0])
    tzids = {labs[b["lab_id"]]["timezone"] for b in bookings}
    instants = [t for b in bookings for t in (b["starts_at"], b["ends_at"])]
    return ics.assemble(_calendar_spec(feed, settings, tzids, instants), [b for _, b in blocks])


def _matches(if_none_match: list[str], etag: str) -> bool:
    # Weak comparison (RFC 9110 §13.1.2): a W/ prefix does not matter for GET.
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in if_none_match)


def _not_modified(conditions: Conditions, version: FeedVersion) -> bool:
    if conditions.if_none_match is not None:
        return _matches(conditions.if_none_match, version.etag)
    if conditions.if_modified_since is not None and version.is_recorded:
        assert version.stored_changed_at is not None
        return version.stored_changed_at.replace(microsecond=0) <= conditions.if_modified_since
    return False


def _names_exact_version(conditions: Conditions, indexed: FeedVersion) -> bool:
    """The client holds an exact ETag, or revalidates by date against one last served."""
    if conditions.if_none_match is not None:
        return any(tag.removeprefix("W/").startswith(EXACT_TAG) for tag in conditions.if_none_match)
    stored = indexed.stored_etag
    return conditions.if_modified_since is not None and stored is not None and stored.startswith(EXACT_TAG)


async def _last_modified(conn: asyncpg.Connection, feed: Feed, version: FeedVersion) -> datetime:
    if version.is_recorded:
        assert version.stored_changed_at is not None
        return version.stored_changed_at
    return await repository.record_version(conn, feed.key, version.etag)


Versioned = Callable[[asyncpg.Connection], Awaitable[tuple[Feed, FeedVersion]]]


async def _fetch(pool: asyncpg.Pool, settings: Settings, caches: FeedCaches, conditions: Conditions, *,
                 now: datetime, versioned: Versioned) -> FeedReply:  # fmt: skip
    """Answer one GET or HEAD: a 304 is decided from the version alone, never by rendering."""
    async with pool.acquire() as conn:
        feed, version = await versioned(conn)
        if _not_modified(conditions, version):
            last_modified = await _last_modified(conn, feed, version)
            return FeedReply(feed, version.etag, last_modified, None, True)
        # The body must be exactly the one its ETag describes: read both from one snapshot.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            feed, version = await versioned(conn)
            body = caches.bodies.get((feed.key, version.etag))
            if body is None:
                body = await render_feed(conn, feed, settings, now, caches)
                caches.bodies.put((feed.key, version.etag), body)
        last_modified = await _last_modified(conn, feed, version)
    return FeedReply(feed, version.etag, last_modified, body, False)


def cached_revalidation(
    caches: FeedCaches,
    conditions: Conditions,
    *,
    view: str,
    lab_slug: str,
    equipment_slug: str | None = None,
    language: str | None = None,
    now: datetime,
) -> FeedReply | None:
    """The ``304`` for a revalidation of a public feed that this worker's cached index version
    answers without the database, or ``None`` when it has to ask (``fetch_public_feed``)."""
    # the index version holds the window's first day, so a cached one serves that day only
    indexed = caches.index_versions.get(
        (public_feed_key(view, lab_slug, equipment_slug, language), window(now)[0])
    )
    if indexed is None:
        return None
    version = indexed.version
    if not (version.is_recorded and _not_modified(conditions, version)):
        return None
    assert version.stored_changed_at is not None
    return FeedReply(indexed.feed, version.etag, version.stored_changed_at, None, True)


async def fetch_public_feed(
    pool: asyncpg.Pool,
    settings: Settings,
    caches: FeedCaches,
    conditions: Conditions,
    *,
    view: str,
    lab_slug: str,
    equipment_slug: str | None = None,
    language: str | None = None,
    now: datetime,
) -> FeedReply:
    """A lab's or a piece of equipment's public feed as of ``now`` (the app's clock).

    A revalidation is one query of two index probes. A body goes out under the index version only
    when that version is settled (no write still running could slip in under it); otherwise, for the
    few seconds after a change, under the exact version, which a later revalidation checks exactly
    (and, for a date revalidation, hands over to the index version once settled).

    The index version is kept in the worker's cache while none of the tables it comes from changed,
    so that a revalidation of a recorded version needs no database at all (``labbook.changes``).
    """
    cached = cached_revalidation(
        caches, conditions, view=view, lab_slug=lab_slug, equipment_slug=equipment_slug, language=language,
        now=now,
    )  # fmt: skip
    if cached is not None:
        return cached
    # the index version holds the window's first day, so a cached one serves that day only
    key = public_feed_key(view, lab_slug, equipment_slug, language)
    cache_key = (key, window(now)[0])
    versions = caches.index_versions
    generation = versions.generation
    async with pool.acquire() as conn:
        probe = await repository.public_feed_probe(conn, view, lab_slug, equipment_slug, key)
        indexed = _indexed(probe, settings, now, view, lab_slug, equipment_slug, language)
        versions.put(cache_key, indexed, generation)
        # An index ETag was only ever sent while settled, so an equal one now means no change since.
        if _not_modified(conditions, indexed.version):
            last_modified = await _last_modified(conn, indexed.feed, indexed.version)
            return FeedReply(indexed.feed, indexed.version.etag, last_modified, None, True)
        horizon = await repository.write_horizon(conn)
        if _names_exact_version(conditions, indexed.version):
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                indexed = await _index_version(conn, settings, now, view, lab_slug, equipment_slug, language)
                feed, version = await _public_version(
                    conn, settings, now, view, lab_slug, equipment_slug, language
                )
            if _not_modified(conditions, version):
                if conditions.if_none_match is None and version.is_recorded and indexed.settled(horizon):
                    # One snapshot shows both versions of one body: from now on the index version
                    # answers date revalidations, with the date this body was first served.
                    await repository.relabel_version(conn, feed.key, version.etag, indexed.version.etag)
                    etag = indexed.version.etag
                    version = FeedVersion(etag, etag, version.stored_changed_at)
                last_modified = await _last_modified(conn, feed, version)
                return FeedReply(feed, version.etag, last_modified, None, True)
        # The body must be exactly the one its ETag describes: read both from one snapshot, taken
        # after the horizon was.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            indexed = await _index_version(conn, settings, now, view, lab_slug, equipment_slug, language)
            feed, version = indexed.feed, indexed.version
            if not indexed.settled(horizon):
                feed, version = await _public_version(
                    conn, settings, now, view, lab_slug, equipment_slug, language
                )
            body = caches.bodies.get((feed.key, version.etag))
            if body is None:
                body = await render_feed(conn, feed, settings, now, caches)
                caches.bodies.put((feed.key, version.etag), body)
        last_modified = await _last_modified(conn, feed, version)
    return FeedReply(feed, version.etag, last_modified, body, False)


async def fetch_private_feed(
    pool: asyncpg.Pool,
    settings: Settings,
    caches: FeedCaches,
    conditions: Conditions,
    *,
    secret: str,
    client: str,
    language: str | None = None,
    now: datetime,
) -> FeedReply:
    """The feed a private token names as of ``now`` (404 and, on repeated misses, 429 otherwise)."""
    resolved: list[Feed] = []

    async def versioned(conn: asyncpg.Connection) -> tuple[Feed, FeedVersion]:
        # the token is looked up once, on the request's one connection, before any snapshot
        if not resolved:
            resolved.append(await _private_feed(conn, secret, client, settings, language))
        return resolved[0], await _version(conn, resolved[0], settings, now)

    return await _fetch(pool, settings, caches, conditions, now=now, versioned=versioned)


# ---- feed tokens ------------------------------------------------------------------------------

_KIND_ROLES = {"organization": {"director"}, "lab_manager": {"lab_manager", "admin"}}


async def create_feed_token(
    pool: asyncpg.Pool, me: Principal, kind: str, name: str
) -> tuple[asyncpg.Record, str]:
    """A new private feed token; the secret is returned once and only its hash is kept."""
    needed = _KIND_ROLES.get(kind)
    if needed is not None and not me.roles & needed:
        raise Forbidden(f"a feed of kind {kind!r} needs one of the roles: {', '.join(sorted(needed))}")
    secret = new_secret(FEED_TOKEN_PREFIX)
    async with db.transaction(pool) as conn:
        row = await repository.insert_feed_token(
            conn,
            person_id=me.person_id,
            kind=kind,
            name=name,
            token_hash=hash_secret(secret),
            prefix=secret[:8],
        )
        await audit.record(conn, me, "feed_token.create", "feed_token", row["id"], after=row)
    return row, secret


async def list_feed_tokens(pool: asyncpg.Pool, me: Principal) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await repository.list_feed_tokens(conn, me.person_id)


async def revoke_feed_token(pool: asyncpg.Pool, me: Principal, token_id: UUID) -> asyncpg.Record:
    """Revoke one of my tokens; revoking twice keeps the first revocation time."""
    async with db.transaction(pool) as conn:
        before = await repository.get_feed_token_for_update(conn, token_id, me.person_id)
        if before is None:
            raise NotFound("no such feed token")
        after = await repository.revoke_feed_token(conn, token_id)
        if before["revoked_at"] is None:
            await audit.record(
                conn, me, "feed_token.revoke", "feed_token", token_id, before=before, after=after
            )
    return after


async def lab_feed_links(pool: asyncpg.Pool, lab_slug: str, settings: Settings) -> tuple[str, list[str]]:
    """The lab's public feed path and its equipment's slugs."""
    async with pool.acquire() as conn:
        lab = await repository.get_lab(conn, lab_slug)
        if lab is None:
            raise NotFound("no such lab")
        return f"/feeds/labs/{lab['slug']}.ics", await repository.list_equipment_slugs(conn, lab["id"])


async def booking_event(
    conn: asyncpg.Connection, booking_id: UUID, settings: Settings, language: str
) -> EventSpec | None:
    """The event the organization feed shows for one booking, its text in ``language``.

    E-mail invitations carry it, so that a calendar app files the invitation and the feed's event
    under one UID, and takes whichever has the higher SEQUENCE.
    """
    booking = await repository.get_organization_booking(conn, booking_id)
    if booking is None:
        return None
    labs = {lab["id"]: lab for lab in await repository.list_labs(conn, [booking["lab_id"]])}
    ctx = ViewContext("organization", _organizer_address(settings), language=language)
    return booking_events(ctx, [booking], labs)[0]


async def session_event(
    conn: asyncpg.Connection, slot_id: UUID, settings: Settings, language: str
) -> EventSpec | None:
    """The event an instructor's personal feed shows for a one-off slot, its text in ``language``.

    Invitations to the instructor carry it, under the feed's UID and SEQUENCE. A series' occurrence
    is part of the series' one event there, so it has none of its own (``None``).
    """
    rows = await repository.list_slots(conn, [slot_id])
    if not rows or rows[0]["series_id"] is not None:
        return None
    slot = {**dict(rows[0]), "in_scope": True, "units": []}
    labs = {lab["id"]: lab for lab in await repository.list_labs(conn, [slot["lab_id"]])}
    bookings = {slot_id: await repository.list_active_bookings(conn, [slot_id])}
    ctx = ViewContext("person", _organizer_address(settings), language=language)
    return slot_events(ctx, [slot], {}, labs, bookings)[0]


async def series_events(
    conn: asyncpg.Connection, series_id: UUID, person_id: UUID, settings: Settings, language: str
) -> list[EventSpec]:
    """The events a person's feed shows for a series (the master, then its overrides), in ``language``.

    Invitations to the series' instructor carry them, under the feed's UID and SEQUENCE. Occurrences
    that someone else runs are the feed's ``EXDATE``s, as they are in the person's feed.
    """
    series = await repository.list_series(conn, [series_id])
    occurrences = await repository.list_series_slots(conn, series_id)
    if not series or not occurrences:
        return []
    slots = [{**dict(o), "in_scope": o["instructor_id"] == person_id, "units": []} for o in occurrences]
    labs = {lab["id"]: lab for lab in await repository.list_labs(conn, [series[0]["lab_id"]])}
    bookings: dict[UUID, list[asyncpg.Record]] = {}
    for booking in await repository.list_active_bookings(conn, [o["id"] for o in occurrences]):
        bookings.setdefault(booking["slot_id"], []).append(booking)
    ctx = ViewContext("person", _organizer_address(settings), language=language)
    return slot_events(ctx, slots, {series_id: series[0]}, labs, bookings)
