"""HTTP routes for calendar feeds (``/feeds/...ics``) and for private feed tokens (``/api/v1/me``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Annotated, Any, NamedTuple
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, HttpMethod, Litestar, Request, get, post, route
from litestar.di import NamedDependency
from litestar.exceptions import TooManyRequestsException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Response
from litestar.types import ASGIApp, Receive, Scope, Send

from labbook.clock import Clock
from labbook.core.access import AUTHENTICATED, PUBLIC
from labbook.core.principal import Principal
from labbook.errors import NotFound, RateLimited
from labbook.feeds import service
from labbook.feeds.cache import FeedCaches
from labbook.feeds.schemas import (
    EquipmentFeedLink,
    FeedToken,
    FeedTokenCreate,
    FeedTokenCreated,
    LabFeedLinks,
)
from labbook.feeds.service import Conditions, FeedReply
from labbook.schemas import Language
from labbook.settings import Settings

SUFFIX = ".ics"
MEDIA_TYPE = "text/calendar"
# Calendar apps poll every few hours; a short max-age lets caches absorb bursts while edits show soon.
PUBLIC_CACHE = "public, max-age=300, must-revalidate"
PRIVATE_CACHE = "private, max-age=300, must-revalidate"
FEED_METHODS = [HttpMethod.GET, HttpMethod.HEAD]

Lang = Annotated[
    Language | None,
    QueryParameter(
        description="the language of titles, descriptions and places (missing text: ru, then kk, then en);"
        " without it, each text in the lab's own languages"
    ),
]


@asynccontextmanager
async def feed_caches(app: Litestar) -> AsyncIterator[None]:
    """The app's feed caches: made when it starts, dropped with everything in them when it stops."""
    app.state.feed_caches = FeedCaches()
    try:
        yield
    finally:
        del app.state.feed_caches


class _Served(NamedTuple):
    pool: asyncpg.Pool
    settings: Settings
    caches: FeedCaches
    clock: Clock


def _served_by(request: Request[Any, Any, Any]) -> _Served:
    """The pool, settings, caches and clock, read from the app's state rather than injected: each
    injected dependency makes Litestar resolve them in a task group (a task each per request), a real
    share of a revalidation, the hottest request the app answers."""
    state = request.app.state
    return _Served(state.pool, state.settings, state.feed_caches, state.clock)


def _strip_suffix(name: str) -> str:
    if not name.endswith(SUFFIX) or len(name) == len(SUFFIX):
        raise NotFound("feed addresses end in .ics")
    return name[: -len(SUFFIX)]


_CONDITIONAL = frozenset({b"if-none-match", b"if-modified-since"})


def _conditions(headers: Iterable[tuple[bytes, bytes]]) -> Conditions:
    # From the raw headers (ASGI names are lower case): building the header mapping cost a tenth of
    # a revalidation. The first of a repeated header counts, as in that mapping.
    found: dict[bytes, str] = {}
    for name, value in headers:
        if name in _CONDITIONAL and name not in found:
            found[name] = value.decode("latin-1")
    if_none_match = found.get(b"if-none-match")
    if if_none_match is not None:
        return Conditions(if_none_match=[tag.strip() for tag in if_none_match.split(",") if tag.strip()])
    if_modified_since = found.get(b"if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return Conditions()
        return Conditions(if_modified_since=since if since.tzinfo else since.replace(tzinfo=UTC))
    return Conditions()


@lru_cache(maxsize=4096)
def _http_date(moment: datetime) -> str:
    """An HTTP date: the same few seconds (now, and the feeds' versions) come up on every request."""
    return format_datetime(moment, usegmt=True)


def _validators(reply: FeedReply, now: datetime) -> dict[str, str]:
    """Date, ETag, Last-Modified and Cache-Control of a reply (see ``_reply``)."""
    last_modified = reply.last_modified.astimezone(UTC).replace(microsecond=0)
    date = max(now.astimezone(UTC).replace(microsecond=0), last_modified)
    return {
        "Date": _http_date(date),
        "ETag": reply.etag,
        "Last-Modified": _http_date(last_modified),
        "Cache-Control": PUBLIC_CACHE if reply.feed.is_public else PRIVATE_CACHE,
    }


def _reply(request: Request[Any, Any, Any], reply: FeedReply, now: datetime) -> Response[Any]:
    # Last-Modified must not be later than Date (RFC 9110 §8.8.2.1), so this reply stamps its own
    # Date, in whole seconds like Last-Modified. HTTP dates have one-second resolution and each feed
    # version gets a second of its own (``repository.RECORD_VERSION``), so that If-Modified-Since
    # stays exact; after several changes within one second a version is stamped a little ahead of
    # the clock, and the Date then goes with it rather than the Last-Modified going back to an
    # older version's second (which would turn If-Modified-Since into a wrong 304 or a lost one).
    headers = _validators(reply, now)
    if not reply.feed.is_public:
        headers |= {"X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
    if reply.not_modified:
        return Response(content=b"", status_code=304, headers=headers)
    assert reply.body is not None
    if request.method == HttpMethod.HEAD:
        # the GET's exact length; the body itself comes from the same cache a GET would use
        headers["Content-Length"] = str(len(reply.body))
        return Response(content=b"", media_type=MEDIA_TYPE, headers=headers)
    return Response(content=reply.body, media_type=MEDIA_TYPE, headers=headers)


LAB_FEEDS = "/feeds/labs/"
_LANGUAGE_QUERIES = {b"": None, **{f"lang={lang}".encode(): lang for lang in ("kk", "ru", "en")}}


def _public_feed_named(path: str) -> tuple[str, str, str | None] | None:
    """(view, lab, equipment) of a public feed's path, as its route reads them; ``None`` otherwise."""
    parts = path[len(LAB_FEEDS) :].split("/")
    if len(parts) == 1 and len(parts[0]) > len(SUFFIX) and parts[0].endswith(SUFFIX):
        return "lab", parts[0][: -len(SUFFIX)], None
    if (
        len(parts) == 3
        and parts[1] == "equipment"
        and len(parts[2]) > len(SUFFIX)
        and parts[2].endswith(SUFFIX)
    ):
        return "equipment", parts[0], parts[2][: -len(SUFFIX)]
    return None


def revalidations_in_front(app: ASGIApp) -> ASGIApp:
    """Answer a public feed's revalidation in front of the router when this worker's cache says
    ``304``, with the reply the route gives; anything else goes on to the route.

    Calendar apps revalidate every subscribed feed every few minutes, which makes a ``304`` the
    request labbook answers most; routing, the guard and the handler's machinery were most of its
    time once the cache spared it the database. Only the plain forms are answered here (no query but
    ``lang``); inside the request id middleware, so the reply carries the headers every reply does.
    """

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith(LAB_FEEDS)
            and scope.get("method") in FEED_METHODS
            and (language := _LANGUAGE_QUERIES.get(scope["query_string"], "")) != ""
            and (named := _public_feed_named(scope["path"])) is not None
        ):
            state = scope["app"].state
            now = state.clock()
            view, lab_slug, equipment_slug = named
            reply = service.cached_revalidation(
                state.feed_caches, _conditions(scope["headers"]), view=view, lab_slug=lab_slug,
                equipment_slug=equipment_slug, language=language, now=now,
            )  # fmt: skip
            if reply is not None:
                headers = [
                    (k.lower().encode(), v.encode("latin-1")) for k, v in _validators(reply, now).items()
                ]
                await send({"type": "http.response.start", "status": 304, "headers": headers})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
        await app(scope, receive, send)

    return endpoint


@route(
    "/feeds/labs/{lab_file:str}",
    http_method=FEED_METHODS,
    media_type=MEDIA_TYPE,
    opt={"access": PUBLIC},
    tags=["feeds"],
    summary="A lab's public calendar: published slots, closures, maintenance",
)
async def lab_feed(
    request: Request[Any, Any, Any], lab_file: FromPath[str], lang: Lang = None
) -> Response[Any]:
    """Never names who booked: a private slot shows only as an anonymous "Reserved" block."""
    served = _served_by(request)
    now = served.clock()
    reply = await service.fetch_public_feed(
        served.pool,
        served.settings,
        served.caches,
        _conditions(request.scope["headers"]),
        view="lab",
        lab_slug=_strip_suffix(lab_file),
        language=lang,
        now=now,
    )
    return _reply(request, reply, now)


@route(
    "/feeds/labs/{lab:str}/equipment/{equipment_file:str}",
    http_method=FEED_METHODS,
    media_type=MEDIA_TYPE,
    opt={"access": PUBLIC},
    tags=["feeds"],
    summary="When a piece of equipment is held, and by what",
)
async def equipment_feed(
    request: Request[Any, Any, Any], lab: FromPath[str], equipment_file: FromPath[str], lang: Lang = None
) -> Response[Any]:
    served = _served_by(request)
    now = served.clock()
    reply = await service.fetch_public_feed(
        served.pool,
        served.settings,
        served.caches,
        _conditions(request.scope["headers"]),
        view="equipment",
        lab_slug=lab,
        equipment_slug=_strip_suffix(equipment_file),
        language=lang,
        now=now,
    )
    return _reply(request, reply, now)


@route(
    "/feeds/private/{token_file:str}",
    http_method=FEED_METHODS,
    media_type=MEDIA_TYPE,
    opt={"access": PUBLIC},
    tags=["feeds"],
    summary="A private feed named by an unguessable token",
)
async def private_feed(
    request: Request[Any, Any, Any], token_file: FromPath[str], lang: Lang = None
) -> Response[Any]:
    """Unknown and revoked tokens answer 404; a client that keeps trying unknown ones gets 429."""
    served = _served_by(request)
    now = served.clock()
    try:
        reply = await service.fetch_private_feed(
            served.pool,
            served.settings,
            served.caches,
            _conditions(request.scope["headers"]),
            secret=_strip_suffix(token_file),
            client=request.client.host if request.client else "unknown",
            language=lang,
            now=now,
        )
    except RateLimited as exc:
        retry_after = str(exc.members.get("retry_after", service.MISS_WINDOW_SECONDS))
        raise TooManyRequestsException(exc.detail, headers={"Retry-After": retry_after}) from None
    return _reply(request, reply, now)


@get(
    "/api/v1/feeds/labs/{lab:str}",
    opt={"access": PUBLIC},
    tags=["feeds"],
    summary="Addresses of a lab's public feeds (https and webcal)",
)
async def lab_feed_links(
    pool: NamedDependency[asyncpg.Pool], settings: NamedDependency[Settings], lab: FromPath[str]
) -> LabFeedLinks:
    path, equipment = await service.lab_feed_links(pool, lab, settings)
    url = service.feed_url(settings, path)
    links = []
    for slug in equipment:
        equipment_url = service.feed_url(settings, f"{path.removesuffix(SUFFIX)}/equipment/{slug}{SUFFIX}")
        links.append(
            EquipmentFeedLink(
                equipment=slug, feed_url=equipment_url, subscribe_url=service.subscribe_url(equipment_url)
            )
        )
    return LabFeedLinks(feed_url=url, subscribe_url=service.subscribe_url(url), equipment=links)


def _token(row: asyncpg.Record) -> FeedToken:
    return msgspec.convert(dict(row.items()), FeedToken)


class FeedTokenController(Controller):
    path = "/api/v1/me/feed-tokens"
    tags = ("feeds",)

    @get("/", opt={"access": AUTHENTICATED}, summary="My private feed tokens (never the secrets)")
    async def list_feed_tokens(
        self, pool: NamedDependency[asyncpg.Pool], me: NamedDependency[Principal]
    ) -> list[FeedToken]:
        return [_token(row) for row in await service.list_feed_tokens(pool, me)]

    @post("/", opt={"access": AUTHENTICATED}, summary="Create a private feed token")
    async def create_feed_token(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        data: JSONBody[FeedTokenCreate],
    ) -> FeedTokenCreated:
        """The reply carries the secret and the feed's https and webcal addresses this once."""
        row, secret = await service.create_feed_token(pool, me, data.kind, data.name)
        url = service.feed_url(settings, f"/feeds/private/{secret}{SUFFIX}")
        return msgspec.convert(
            {
                **dict(row.items()),
                "token": secret,
                "feed_url": url,
                "subscribe_url": service.subscribe_url(url),
            },
            FeedTokenCreated,
        )

    @post("/{token_id:uuid}/revoke", opt={"access": AUTHENTICATED}, status_code=200)
    async def revoke_feed_token(
        self, pool: NamedDependency[asyncpg.Pool], me: NamedDependency[Principal], token_id: FromPath[UUID]
    ) -> FeedToken:
        """Revoke one of my feed tokens; its address answers 404 from now on."""
        return _token(await service.revoke_feed_token(pool, me, token_id))


route_handlers: list[Any] = [lab_feed, equipment_feed, private_feed, lab_feed_links, FeedTokenController]
