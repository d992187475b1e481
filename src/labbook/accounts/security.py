"""Token secrets, and the one guard that makes every route decide who may call it.

The rules a route may declare are named in ``labbook.core.access``; who is calling is a
``labbook.core.principal.Principal``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

import asyncpg
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from labbook.accounts import repository
from labbook.changes import ReadCache
from labbook.core.access import AUTHENTICATED, PUBLIC, Access
from labbook.core.principal import Principal
from labbook.errors import Forbidden, Unauthorized

ACCESS_TOKEN_PREFIX = "lbk_"
SESSION_COOKIE = "lb_session"
FEED_TOKEN_PREFIX = "lbf_"


def new_secret(prefix: str) -> str:
    """An unguessable token: 256 bits of randomness behind a recognisable prefix."""
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> bytes:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).digest()


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    # Read from the raw headers (ASGI names are lower case): most requests carry no token, and
    # building the header mapping just to learn that cost more than the rest of a public request's check.
    raw = next((value for name, value in connection.scope["headers"] if name == b"authorization"), None)
    if not raw:
        return None
    header = raw.decode("latin-1")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return value.strip()


# What decides who a token belongs to and whether it still works: a change to any of these tables
# drops every worker's cached principals (their triggers notify, migration 0122).
PRINCIPAL_TABLES = ("access_tokens", "people", "lab_managers")


def principal_cache() -> ReadCache[Principal]:
    """Each worker's principals by token hash: a booking burst asks the database once per token."""
    return ReadCache(PRINCIPAL_TABLES, max_items=4096)


async def principal_for_token(
    pool: asyncpg.Pool, cache: ReadCache[Principal], secret: str
) -> Principal | None:
    """The person behind an access token, or ``None`` when it is unknown, expired or revoked.

    Only valid tokens are kept, and not past their expiry. A token revoked or a person switched off
    or changed stops working in every worker as soon as PostgreSQL's notice of the commit arrives
    (the worker that made the change drops its cache before answering), and at the latest when the
    entry expires (``labbook.changes``).
    """
    token_hash = hash_secret(secret)
    found = cache.get(token_hash)
    if found is not None:
        return found
    generation = cache.generation
    async with pool.acquire() as conn:
        valid = await repository.get_principal_by_token(conn, token_hash)
    if valid is None:
        return None
    principal, expires_at = valid
    left = None if expires_at is None else (expires_at - datetime.now(UTC)).total_seconds()
    cache.put(token_hash, principal, generation, max_age=left)
    return principal


# The name of the handler Litestar generates for a path's OPTIONS (litestar.routes.http).
GENERATED_OPTIONS = "options_handler"


async def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-wide guard: authenticate the token (if any) and enforce the handler's ``access``."""
    access: Access | None = handler.opt.get("access")
    if connection.scope.get("method") == "OPTIONS" and (
        access is None or handler.handler_name == GENERATED_OPTIONS
    ):
        # Litestar's generated OPTIONS handlers only list allowed methods; they expose no data. Under
        # a controller that sets ``access`` for all its routes they inherit it: it does not apply.
        return
    if access is None:
        raise RuntimeError(f"route {handler.handler_name} declares no access rule")
    token = bearer_token(connection)
    principal: Principal | None = None
    if token is not None:
        state = connection.app.state
        principal = await principal_for_token(state.pool, state.principals, token)
        if principal is None:
            raise Unauthorized("the token is unknown, expired or revoked")
    elif handler.opt.get("web") and (secret := connection.cookies.get(SESSION_COOKIE)):
        # Pages (and only pages) accept the session cookie; the JSON API never does, so a form on
        # another site cannot drive the API with a signed-in person's cookie.
        from labbook.accounts.signin import session_of

        session = await session_of(connection.app.state.pool, connection.app.state.settings, secret)
        if session is not None:
            principal = session.principal
            connection.state.web_session = session
    connection.state.principal = principal
    if access == PUBLIC:
        return
    if principal is None:
        raise Unauthorized("this needs a token: send 'Authorization: Bearer <token>'")
    if access == AUTHENTICATED:
        return
    if not principal.roles.intersection(access):
        raise Forbidden(f"this needs one of the roles: {', '.join(access)}")


def provide_principal(request: Request[Any, Any, Any]) -> Principal | None:
    principal: Principal | None = request.state.get("principal")
    return principal


def provide_required_principal(request: Request[Any, Any, Any]) -> Principal:
    principal: Principal | None = request.state.get("principal")
    if principal is None:
        raise Unauthorized("this needs a token: send 'Authorization: Bearer <token>'")
    return principal
