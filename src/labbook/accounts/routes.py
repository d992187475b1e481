"""HTTP routes for accounts: who am I, my tokens, and people administration."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from labbook.accounts import service, signin
from labbook.accounts.rows import PersonRow, TokenRow
from labbook.accounts.schemas import (
    Invitation,
    InvitationCreate,
    PasswordResetAccepted,
    PasswordResetRequest,
    PasswordSet,
    Person,
    PersonCreate,
    PersonUpdate,
    Token,
    TokenCreate,
    TokenCreated,
)
from labbook.clock import Clock
from labbook.core.access import ADMIN, AUTHENTICATED, ORGANIZATION_STAFF, PUBLIC
from labbook.core.paging import MAX_OFFSET, Page
from labbook.core.principal import Principal
from labbook.core.roles import Role
from labbook.settings import Settings


def _person(row: PersonRow) -> Person:
    return msgspec.convert(msgspec.structs.asdict(row), Person)


def _token(row: TokenRow) -> Token:
    return msgspec.convert(msgspec.structs.asdict(row), Token)


def _created(secret: str, row: TokenRow) -> TokenCreated:
    return msgspec.convert({**msgspec.structs.asdict(row), "token": secret}, TokenCreated)


class MeController(Controller):
    path = "/api/v1/me"
    tags = ("accounts",)

    @get("/", opt={"access": AUTHENTICATED}, summary="Who am I: person, organization, roles, managed labs")
    async def get_me(self, pool: NamedDependency[asyncpg.Pool], me: NamedDependency[Principal]) -> Person:
        return _person(await service.who_am_i(pool, me))

    @get("/tokens", opt={"access": AUTHENTICATED}, summary="My access tokens (never the secrets)")
    async def list_my_tokens(
        self, pool: NamedDependency[asyncpg.Pool], me: NamedDependency[Principal]
    ) -> list[Token]:
        return [_token(row) for row in await service.list_own_tokens(pool, me)]

    @post(
        "/tokens",
        opt={"access": AUTHENTICATED},
        summary="Create an access token for myself",
        description="The reply carries the secret in `token`; it is shown this once and stored only hashed.",
    )
    async def create_my_token(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        clock: NamedDependency[Clock],
        data: JSONBody[TokenCreate],
    ) -> TokenCreated:
        secret, row = await service.issue_own_token(
            pool, me, name=data.name, expires_in_days=data.expires_in_days, now=clock()
        )
        return _created(secret, row)

    @post("/tokens/{token_id:uuid}/revoke", opt={"access": AUTHENTICATED}, status_code=200)
    async def revoke_my_token(
        self, pool: NamedDependency[asyncpg.Pool], me: NamedDependency[Principal], token_id: FromPath[UUID]
    ) -> Token:
        """Revoke one of my tokens; it stops working at once."""
        return _token(await service.revoke_own_token(pool, me, token_id))


class PeopleController(Controller):
    path = "/api/v1/people"
    tags = ("accounts",)

    @get("/", opt={"access": ORGANIZATION_STAFF}, summary="People (a director sees their organization's)")
    async def list_people(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        organization: Annotated[str | None, QueryParameter(description="organization slug")] = None,
        role: Annotated[Role | None, QueryParameter()] = None,
        q: Annotated[
            str | None, QueryParameter(description="part of the name or email", max_length=200)
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> Page[Person]:
        rows, total = await service.list_people(
            pool, me, organization_slug=organization, role=role, q=q, limit=limit, offset=offset
        )
        return Page(items=[_person(r) for r in rows], total=total, limit=limit, offset=offset)

    @post("/", opt={"access": ADMIN}, summary="Add a person")
    async def create_person(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        data: JSONBody[PersonCreate],
    ) -> Person:
        return _person(await service.create_person(pool, me, data))

    @get("/{person_id:uuid}", opt={"access": AUTHENTICATED}, summary="One person")
    async def get_person(
        self, pool: NamedDependency[asyncpg.Pool], me: NamedDependency[Principal], person_id: FromPath[UUID]
    ) -> Person:
        """Admins see anyone, directors their organization's people, everyone themselves."""
        return _person(await service.get_person(pool, me, person_id))

    @patch(
        "/{person_id:uuid}", opt={"access": ADMIN}, summary="Change name, phone, roles, managed labs, active"
    )
    async def update_person(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        person_id: FromPath[UUID],
        data: JSONBody[PersonUpdate],
    ) -> Person:
        return _person(await service.update_person(pool, me, person_id, data))

    @post("/{person_id:uuid}/deactivate", opt={"access": ADMIN}, status_code=200)
    async def deactivate_person(
        self, pool: NamedDependency[asyncpg.Pool], me: NamedDependency[Principal], person_id: FromPath[UUID]
    ) -> Person:
        """Switch a person off: they cannot sign in any more and all their tokens are revoked."""
        return _person(await service.deactivate_person(pool, me, person_id))

    @post("/{person_id:uuid}/reactivate", opt={"access": ADMIN}, status_code=200)
    async def reactivate_person(
        self, pool: NamedDependency[asyncpg.Pool], me: NamedDependency[Principal], person_id: FromPath[UUID]
    ) -> Person:
        """Switch a person back on. Tokens, feed addresses, sessions and links from before stay dead."""
        return _person(await service.reactivate_person(pool, me, person_id))

    @post("/{person_id:uuid}/tokens", opt={"access": ADMIN}, summary="Issue a token for someone")
    async def create_person_token(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        clock: NamedDependency[Clock],
        person_id: FromPath[UUID],
        data: JSONBody[TokenCreate],
    ) -> TokenCreated:
        secret, row = await service.issue_token_for_person(
            pool, me, person_id, name=data.name, expires_in_days=data.expires_in_days, now=clock()
        )
        return _created(secret, row)

    @post(
        "/{person_id:uuid}/invitations",
        opt={"access": ADMIN},
        summary="A one-time link for a person to set their password",
        description="The link works once, for `days` days (7 unless given). It is shown this once.",
    )
    async def invite_person(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
        person_id: FromPath[UUID],
        data: JSONBody[InvitationCreate],
    ) -> Invitation:
        """The person gets the link by e-mail, in their language, as well."""
        url, row, person = await signin.invite_person(
            pool, me, settings, person_id, days=data.days, now=clock()
        )
        return Invitation(person_id=person.id, email=person.email, url=url, expires_at=row.expires_at)


class PasswordResetController(Controller):
    path = "/api/v1/password-resets"
    tags = ("accounts",)

    @post(
        "/",
        opt={"access": PUBLIC},
        status_code=202,
        summary="E-mail a link to choose a new password",
        description=(
            "The answer is 202 whether or not the address has an account; the link works once, for an "
            "hour, and a newer one replaces it. An address may ask once a minute (429 "
            "`/problems/password-reset-throttled` with `Retry-After`)."
        ),
    )
    async def request_password_reset(
        self,
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
        data: JSONBody[PasswordResetRequest],
    ) -> PasswordResetAccepted:
        await signin.request_password_reset(pool, settings, data.email, now=clock())
        return PasswordResetAccepted(expires_in_minutes=int(signin.RESET_LINK_LIFETIME.total_seconds() // 60))

    @post(
        "/{token:str}",
        opt={"access": PUBLIC},
        status_code=204,
        summary="Set a new password with the link's secret",
        description=(
            "`token` is the last part of the link. Every session and unused link of the person ends; "
            "a used, expired or unknown secret is 404 `/problems/link-invalid`."
        ),
    )
    async def reset_password(
        self,
        pool: NamedDependency[asyncpg.Pool],
        clock: NamedDependency[Clock],
        token: FromPath[str],
        data: JSONBody[PasswordSet],
    ) -> None:
        await signin.reset_password(pool, token, data.password, now=clock())


route_handlers: list[Any] = [MeController, PeopleController, PasswordResetController]
