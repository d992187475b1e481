"""Health and readiness probes."""

from __future__ import annotations

from litestar import Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Response

from labbook import migrate
from labbook.core.access import PUBLIC
from labbook.schemas import Out


class Health(Out):
    status: str


class Readiness(Out):
    status: str
    database: str
    pending_migrations: list[str]


@get("/health", opt={"access": PUBLIC}, tags=["operations"], summary="Process is alive")
async def health() -> Health:
    return Health(status="ok")


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
    try:
        async with request.app.state.pool.acquire() as conn:
            todo = await migrate.pending(conn, migrate.load())
    except Exception as exc:
        return Response(
            Readiness(status="unavailable", database=type(exc).__name__, pending_migrations=[]),
            status_code=503,
        )
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
