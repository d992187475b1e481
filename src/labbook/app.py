"""``create_app(settings)``: the one place where labbook is wired together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import asyncpg
from litestar import Litestar, Request, Response, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from labbook import db, migrate
from labbook.accounts.routes import route_handlers as accounts_routes
from labbook.accounts.security import (
    authorize,
    principal_cache,
    provide_principal,
    provide_required_principal,
)
from labbook.attendance.routes import route_handlers as attendance_routes
from labbook.audit.routes import route_handlers as audit_routes
from labbook.bookings.routes import route_handlers as bookings_routes
from labbook.catalog.routes import route_handlers as catalog_routes
from labbook.catalog.service import lab_cache
from labbook.changes import ChangeListener
from labbook.clock import Clock, system_clock
from labbook.core.access import PUBLIC
from labbook.errors import DatabaseUnavailable, LabbookError
from labbook.feeds.routes import feed_caches, revalidations_in_front
from labbook.feeds.routes import route_handlers as feeds_routes
from labbook.idempotency import idempotency_middleware
from labbook.notifications.routes import route_handlers as notifications_routes
from labbook.observability import configure_logging, redact_path, request_id_middleware, request_id_var
from labbook.ops import metrics
from labbook.ops.headers import add_reply_headers
from labbook.ops.openapi import document_problems
from labbook.ops.routes import health_endpoint
from labbook.ops.routes import route_handlers as ops_routes
from labbook.reports.routes import route_handlers as reports_routes
from labbook.settings import Settings
from labbook.slots.routes import route_handlers as slots_routes
from labbook.timezones import check_tzdata
from labbook.validation import API_PREFIX, check_request, validation_problem
from labbook.visits.routes import route_handlers as visits_routes
from labbook.web import route_handlers as web_routes
from labbook.web import template_config
from labbook.web.pages import is_page_path, page_not_found

log = logging.getLogger(__name__)
T = TypeVar("T")

EXPLORER_ASSETS = "/schema/assets"


def _problem(exc: LabbookError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=exc.status,
        type_=exc.type,
        title=exc.title,
        detail=exc.detail,
        extra=exc.members or None,
    )


def _http_problem(exc: HTTPException) -> ProblemDetailsException:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        return validation_problem(exc)
    slugs = {
        400: "bad-request",
        404: "not-found",
        405: "method-not-allowed",
        413: "payload-too-large",
        401: "unauthorized",
        403: "forbidden",
        429: "rate-limited",
    }
    return ProblemDetailsException(
        status_code=status,
        type_=f"/problems/{slugs.get(status, f'http-{status}')}",
        title=exc.detail if status < 500 else "Internal error",
        detail=str(exc.detail) if status < 500 else "",
        headers=exc.headers,
    )


def _invalid(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar's refusal of a parameter or body, naming the fields as the client knows them."""
    return validation_problem(exc, request).to_response(request)


def _data_problem(exc: asyncpg.DataError) -> ProblemDetailsException:
    # SQLSTATE class 22: the value itself cannot be stored (out of range, a NUL in text, ...).
    # The transaction is rolled back, so nothing is half-written.
    return ProblemDetailsException(
        status_code=422,
        type_="/problems/validation",
        title="Validation failed",
        detail="a value cannot be stored: it is out of range or holds a character such as NUL",
        extra={"errors": []},
    )


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, redact_path(request.url.path), exc_info=exc)
    request_id = request_id_var.get()
    return Response(
        {
            "type": "/problems/internal",
            "title": "Internal error",
            "status": 500,
            "detail": f"something went wrong on our side; quote request id {request_id} when reporting it",
            "request_id": request_id,
        },
        status_code=500,
        media_type="application/problem+json",
    )


def _database_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """PostgreSQL is down, restarting or frozen: a 503 the client may retry, never a 500."""
    if not db.is_unavailable(exc) and not isinstance(exc, DatabaseUnavailable):
        return _internal_error(request, exc)
    log.warning("database unavailable on %s %s: %r", request.method, redact_path(request.url.path), exc)
    metrics.count_database_error(exc.__cause__ or exc)
    retry_after = DatabaseUnavailable.retry_after
    problem = ProblemDetailsException(
        status_code=503,
        type_="/problems/database-unavailable",
        title=DatabaseUnavailable.title,
        detail="the database is unavailable or too slow to answer; retry in a few seconds",
        headers={"Retry-After": str(retry_after)},
    )
    return problem.to_response(request)


def _not_found(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
    """No route: people asking for a page get a page in their language, programs get problem+json."""
    if is_page_path(request.url.path):
        return page_not_found(request)
    return _http_problem(exc).to_response(request)


def _guard(app: ASGIApp) -> ASGIApp:
    """The app-wide checks of every routed request, run as route middleware rather than as Litestar
    guards: Litestar copies the route handler for every guard it calls, which cost a tenth of a
    /health request. Runs after the router found the handler and before the page guards, decoding
    and the handler, inside the handler's error mapping, exactly where the guards ran."""

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = scope["route_handler"]
            if not _nothing_to_check(cast("HTTPScope", scope), handler):
                request: Request[Any, Any, Any] = Request(scope, receive)
                await authorize(request, handler)
                await check_request(request, handler)
            if cast("HTTPScope", scope)["method"] not in _READS:
                send = _dropping_caches(scope, send)
        await app(scope, receive, send)

    return guard


def _nothing_to_check(scope: HTTPScope, handler: Any) -> bool:
    """An anonymous read of a public route, which ``authorize`` and ``check_request`` would pass
    without a word: no credentials to look up, no query or body to check, no principal to set."""
    if (
        scope["method"] not in _ANONYMOUS_READS
        or handler.opt.get("access") != PUBLIC
        or handler.opt.get("web")
    ):
        return False
    if scope["path"].startswith(API_PREFIX) and (
        scope["query_string"] or "data" in handler.parsed_fn_signature.parameters
    ):
        return False
    return all(name != b"authorization" for name, _ in scope["headers"])


_ANONYMOUS_READS = frozenset({"GET", "HEAD"})
_READS = frozenset({*_ANONYMOUS_READS, "OPTIONS"})


def _dropping_caches(scope: Scope, send: Send) -> Send:
    """``send`` that drops this worker's read caches before a write's reply goes out: its caller's
    next read must see the write, even before PostgreSQL's notice of it arrives. A route that names
    the tables it writes (``opt["writes"]``) drops only the caches built on them; any other write
    drops them all. The write has committed by then; the seat counts it may have changed are
    announced to every worker from here, since no trigger does (``labbook.changes``)."""
    listener: ChangeListener = scope["app"].state.changes
    writes = scope["route_handler"].opt.get("writes")

    async def dropping(message: Any) -> None:
        if message["type"] == "http.response.start":
            listener.drop_after_write(writes)
            listener.announce("slots")
        await send(message)

    return dropping


def _state_providers(state: State) -> dict[str, Provide]:
    """``pool``, ``settings`` and ``clock`` from the app's state, by providers that take no arguments:
    Litestar validates a provider's arguments on every call, which for ``state`` cost more than the
    lookup itself."""

    def provide_pool() -> asyncpg.Pool:
        pool: asyncpg.Pool = state.pool
        return pool

    def provide_settings() -> Settings:
        settings: Settings = state.settings
        return settings

    def provide_clock() -> Clock:
        clock: Clock = state.clock
        return clock

    return {
        "pool": Provide(provide_pool, sync_to_thread=False),
        "settings": Provide(provide_settings, sync_to_thread=False),
        "clock": Provide(provide_clock, sync_to_thread=False),
    }


def _resolve_in_turn(app: Litestar) -> None:
    """Resolve each handler's plain dependencies one after another, never in a task group.

    Litestar resolves the dependencies of one level of the graph concurrently, in an anyio task group
    (a task each) whenever there are two or more; a handler taking ``pool`` and ``settings`` paid for
    two tasks on every request. Our providers are plain functions that never wait, so running them
    in turn gives the same values for a fraction of the cost.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for _, model in route.route_handler_map.values():
            # Litestar's own attribute (checked with litestar 2.x): if a release renames it, the
            # dependencies simply resolve as Litestar does by default.
            batches = getattr(model, "dependency_batches", None)
            if batches and all(d.provide.has_sync_callable for batch in batches for d in batch):
                model.dependency_batches = [{d} for batch in batches for d in batch]


# A worker that starts while PostgreSQL is away (restarting after a crash, say) waits this long for it
# before its start fails: a server restarts one worker at a time and gives up on one that keeps failing.
STARTUP_WAIT_SECONDS = 60.0
STARTUP_RETRY_SECONDS = 0.5


async def _when_the_database_answers(step: Callable[[], Awaitable[T]]) -> T:
    """``step``, tried again while the database is out of reach, for up to ``STARTUP_WAIT_SECONDS``."""
    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while True:
        try:
            return await step()
        except Exception as exc:
            # FileNotFoundError: the server's Unix socket is gone while it is down (the embedded one)
            away = isinstance(exc, DatabaseUnavailable | FileNotFoundError) or db.is_unavailable(exc)
            if not away or time.monotonic() > deadline:
                raise
            log.warning("the database does not answer yet (%s); starting when it does", type(exc).__name__)
            await asyncio.sleep(STARTUP_RETRY_SECONDS)


def _lifespan(settings: Settings) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        url = await asyncio.to_thread(db.resolve_database_url, settings)

        async def prepare() -> None:
            conn = await db.connect(url)
            try:
                await migrate.apply(conn)
                if settings.demo:
                    from labbook.demo import load_demo

                    await load_demo(conn)
            finally:
                await conn.close()

        await _when_the_database_answers(prepare)
        app.state.pool = await _when_the_database_answers(
            lambda: db.create_pool(
                url,
                min_size=settings.pool_min_size,
                max_size=settings.pool_max_size,
                connect_timeout=settings.db_connect_timeout,
                acquire_timeout=settings.db_acquire_timeout,
                statement_timeout=settings.db_statement_timeout,
            )
        )
        app.state.lab_cache = lab_cache()
        app.state.principals = principal_cache()
        app.state.changes = ChangeListener(
            url,
            [app.state.lab_cache, app.state.feed_caches.index_versions, app.state.principals],
            connect_timeout=settings.db_connect_timeout,
        )
        # without the listener the caches never keep anything: every read asks the database
        listening = asyncio.create_task(app.state.changes.run()) if settings.read_cache else None
        sampler = None
        if settings.metrics_token:
            sampler = asyncio.create_task(metrics.sample_pool_forever(app.state.pool))
        try:
            yield
        finally:
            if sampler is not None:
                sampler.cancel()
            if listening is not None:
                listening.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listening
            await app.state.pool.close()

    return lifespan


def create_app(settings: Settings, clock: Clock = system_clock) -> Litestar:
    """Build the application from explicit settings; nothing here reads the environment."""
    configure_logging(settings.log_level)
    check_tzdata()
    state = State({"settings": settings, "clock": clock})
    app = Litestar(
        route_handlers=[
            *ops_routes,
            *catalog_routes,
            *accounts_routes,
            *audit_routes,
            *slots_routes,
            *bookings_routes,
            *visits_routes,
            *attendance_routes,
            *reports_routes,
            *feeds_routes,
            *notifications_routes,
            *web_routes,
            create_static_files_router(
                path=EXPLORER_ASSETS,
                directories=[str(swagger_ui_path)],
                opt={"access": PUBLIC},
                include_in_schema=False,
            ),
        ],
        state=state,
        lifespan=[feed_caches, _lifespan(settings)],
        dependencies={
            "principal": Provide(provide_principal, sync_to_thread=False),
            "me": Provide(provide_required_principal, sync_to_thread=False),
            **_state_providers(state),
        },
        middleware=[
            idempotency_middleware,
            _guard,
            *([metrics.request_metrics().middleware] if settings.metrics_token else []),
        ],
        plugins=[
            ProblemDetailsPlugin(
                ProblemDetailsConfig(
                    exception_to_problem_detail_map={
                        LabbookError: _problem,
                        HTTPException: _http_problem,
                        asyncpg.DataError: _data_problem,
                    }
                )
            )
        ],
        exception_handlers={
            Exception: _internal_error,
            NotFoundException: _not_found,
            ValidationException: _invalid,
            DatabaseUnavailable: _database_unavailable,
            **dict.fromkeys(db.UNAVAILABLE, _database_unavailable),
            asyncpg.InterfaceError: _database_unavailable,
        },
        request_max_body_size=settings.max_body_bytes,
        template_config=template_config(),
        openapi_config=OpenAPIConfig(
            title="labbook",
            version="1",
            description="Laboratory booking and outreach-visit scheduler.",
            openapi_router=Router(path="/schema", route_handlers=[], opt={"access": PUBLIC}),
            render_plugins=[
                SwaggerRenderPlugin(
                    js_url=f"{EXPLORER_ASSETS}/swagger-ui-bundle.js",
                    css_url=f"{EXPLORER_ASSETS}/swagger-ui.css",
                    standalone_preset_js_url=f"{EXPLORER_ASSETS}/swagger-ui-standalone-preset.js",
                    path="/",
                    favicon=f"<link rel='icon' type='image/png' href='{EXPLORER_ASSETS}/favicon-32x32.png'>",
                )
            ],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", description="lbk_ token")
                }
            ),
            security=[{"BearerToken": []}],
        ),
        # labbook configures logging itself (JSON lines with the request id); Litestar's default
        # configuration would replace that formatter at start-up.
        logging_config=None,
        debug=False,
    )
    # Route middleware runs only once a route is found; the request id must also reach the router's
    # own 404 and 405 and errors raised in middleware, so it wraps everything the app handles.
    app.asgi_handler = request_id_middleware(
        health_endpoint(revalidations_in_front(app.asgi_handler)), add_reply_headers
    )
    if settings.metrics_token:
        app.asgi_handler = metrics.metrics_endpoint(app.asgi_handler, settings.metrics_token)
    document_problems(app)
    _resolve_in_turn(app)
    return app
