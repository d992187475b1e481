"""Health and readiness probes."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import msgspec
from litestar import Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Response
from litestar.types import ASGIApp, Receive, Scope, Send

from labbook import migrate
from labbook.core.access import PUBLIC
from labbook.schemas import Out

# Load balancers and orchestrators give probes a couple of seconds; an answer must come before that,
# whatever the database does.
READY_SECONDS = 1.5


class Health(Out):
    status: str


class Readiness(Out):
    status: str
    database: str
    pending_migrations: list[str]


HEALTH = "/health"


@get(HEALTH, opt={"access": PUBLIC}, tags=["operations"], summary="Process is alive")
async def health() -> Health:
    return Health(status="ok")


_HEALTH_BODY = msgspec.json.encode(Health(status="ok"))
_HEALTH_HEADERS = (
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_HEALTH_BODY)).encode()),
)


def health_endpoint(app: ASGIApp) -> ASGIApp:
    """Answer ``GET /health`` in front of the router with the reply the route gives.

    A probe needs nothing that routing, guards and the handler's machinery do, which took half of its
    time; the route stays for the OpenAPI document and for other methods (405, OPTIONS). Inside the
    request id middleware, so that the reply carries the request id and headers every reply does.
    """

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == HEALTH and scope.get("method") == "GET":
            await send({"type": "http.response.start", "status": 200, "headers": list(_HEALTH_HEADERS)})
            await send({"type": "http.response.body", "body": _HEALTH_BODY, "more_body": False})
            return
        await app(scope, receive, send)

    return endpoint


_abandoned: set[asyncio.Future[Any]] = set()


async def _pending_migrations(pool: asyncpg.Pool) -> list[migrate.Migration]:
    async with pool.acquire() as conn:
        return await migrate.pending(conn, migrate.load())


def _unavailable(reason: str) -> Response[Readiness]:
    return Response(
        Readiness(status="unavailable", database=reason, pending_migrations=[]),
        status_code=503,
        headers={"Retry-After": "5"},
    )


@get(
    "/ready",
    opt={"access": PUBLIC},
    tags=["operations"],
    summary="Database reachable and migrated",
    responses={
        503: ResponseSpec(
            data_container=Readiness,
            description="Not ready: the database is unreachable or migrations are pending",
        )
    },
)
async def ready(request: Request) -> Response[Readiness]:
    check = asyncio.ensure_future(_pending_migrations(request.app.state.pool))
    # Give up waiting without waiting for the check to clean up: a connection stuck on a frozen server
    # is released by the pool later, in the background.
    done, _ = await asyncio.wait({check}, timeout=READY_SECONDS)
    if not done:
        check.cancel()
        _abandoned.add(check)
        check.add_done_callback(_abandoned.discard)
        return _unavailable("TimeoutError")
    if (exc := check.exception()) is not None:
        return _unavailable(type(exc).__name__)
    todo = check.result()
    ok = not todo
    return Response(
        Readiness(
            status="ok" if ok else "migrations pending",
            database="reachable",
            pending_migrations=[m.name for m in todo],
        ),
        status_code=200 if ok else 503,
    )


route_handlers = [health, ready]
