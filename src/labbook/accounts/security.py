"""Who is calling, and the one guard that makes every route decide who may call it.

Every route handler declares ``opt={"access": ...}``:

* ``PUBLIC`` — anyone, with or without a token;
* ``AUTHENTICATED`` — any valid token;
* a tuple of roles, e.g. ``("admin", "lab_manager")`` — a valid token whose person holds one of them.

A handler without a declaration answers 500 and fails the route × role test: no route ships undecided.
Object-level rules (a lab manager edits only their labs) live in the services, via ``Principal``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from labbook.errors import Forbidden, Unauthorized

PUBLIC: Final = "public"
AUTHENTICATED: Final = "authenticated"
ROLES: Final = ("admin", "lab_manager", "director", "instructor")

ACCESS_TOKEN_PREFIX = "lbk_"
SESSION_COOKIE = "lb_session"
FEED_TOKEN_PREFIX = "lbf_"


@dataclass(frozen=True, slots=True)
class Principal:
    """The person behind a valid token."""

    person_id: UUID
    organization_id: int
    roles: frozenset[str]
    managed_lab_ids: frozenset[int] = field(default_factory=frozenset)
    token_id: UUID | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def manages(self, lab_id: int) -> bool:
        return self.is_admin or ("lab_manager" in self.roles and lab_id in self.managed_lab_ids)

    def require_lab(self, lab_id: int) -> None:
        if not self.manages(lab_id):
            raise Forbidden("only this lab's managers or an admin may do that")

    def acts_for(self, organization_id: int) -> bool:
        return self.is_admin or ("director" in self.roles and self.organization_id == organization_id)

    def require_organization(self, organization_id: int) -> None:
        if not self.acts_for(organization_id):
            raise Forbidden("only this organization's directors or an admin may do that")

    def is_party_to(self, organization_id: int, lab_id: int) -> bool:
        """May see an arrangement between an organization and a lab (a booking, a visit request)."""
        return self.acts_for(organization_id) or self.manages(lab_id)

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("only an admin may do that")


def new_secret(prefix: str) -> str:
    """An unguessable token: 256 bits of randomness behind a recognisable prefix."""
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> bytes:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).digest()


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return value.strip()


async def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-wide guard: authenticate the token (if any) and enforce the handler's ``access``."""
    from labbook.accounts import repository

    access = handler.opt.get("access")
    if access is None and connection.scope.get("method") == "OPTIONS":
        # Litestar's generated OPTIONS handlers only list allowed methods; they expose no data.
        return
    if access is None:
        raise RuntimeError(f"route {handler.handler_name} declares no access rule")
    token = bearer_token(connection)
    principal: Principal | None = None
    if token is not None:
        pool = connection.app.state.pool
        async with pool.acquire() as conn:
            principal = await repository.get_principal_by_token(conn, hash_secret(token))
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
