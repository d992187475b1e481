"""People, roles and access tokens: who may sign in, as whom, with which rights."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import msgspec

from labbook import db
from labbook.accounts import repository
from labbook.accounts.rows import BarePerson, ListedPerson, OrganizationRef, PersonRow, TokenRow
from labbook.accounts.schemas import PersonCreate, PersonUpdate
from labbook.accounts.security import ACCESS_TOKEN_PREFIX, hash_secret, new_secret
from labbook.audit import service as audit
from labbook.core.kinds import HOST_KIND
from labbook.core.principal import Principal
from labbook.core.roles import HOST_ROLES, Role
from labbook.core.sql import like_pattern
from labbook.errors import Conflict, NotFound, ValidationFailed

_DISPLAYED_PREFIX = 8


async def _check_roles_and_labs(
    conn: asyncpg.Connection, *, organization: OrganizationRef, roles: Sequence[str], lab_slugs: Sequence[str]
) -> list[int]:
    """Validate roles against the organization and return the ids of the named labs."""
    unknown = sorted(set(roles) - set(Role))
    if unknown:
        raise ValidationFailed.field("roles", f"unknown role(s) {', '.join(unknown)}; use {', '.join(Role)}")
    host_only = sorted(HOST_ROLES.intersection(roles))
    if host_only and organization.kind != HOST_KIND:
        raise ValidationFailed.field(
            "roles",
            f"{', '.join(host_only)} is only for people of a host university, not of a {organization.kind}",
        )
    if not lab_slugs:
        return []
    if Role.LAB_MANAGER not in roles:
        raise ValidationFailed.field("managed_labs", "only a lab_manager manages labs; add that role")
    labs = {lab.slug: lab for lab in await repository.get_labs_by_slug(conn, list(lab_slugs))}
    missing = sorted(set(lab_slugs) - set(labs))
    if missing:
        raise ValidationFailed.field("managed_labs", f"no lab with the slug(s) {', '.join(missing)}")
    foreign = sorted(slug for slug, lab in labs.items() if lab.organization_id != organization.id)
    if foreign:
        raise ValidationFailed.field(
            "managed_labs",
            f"{', '.join(foreign)} belong(s) to another organization than {organization.slug}",
        )
    return [lab.id for lab in labs.values()]


async def _organization(conn: asyncpg.Connection, slug: str) -> OrganizationRef:
    organization = await repository.get_organization_by_slug(conn, slug)
    if organization is None:
        raise ValidationFailed.field("organization", f"no organization with the slug {slug!r}")
    if organization.is_archived:
        raise ValidationFailed.field("organization", f"the organization {slug!r} is archived")
    return organization


async def add_person(
    conn: asyncpg.Connection,
    *,
    actor: Principal | None,
    organization_slug: str,
    email: str,
    full_name: str,
    phone: str | None,
    roles: Sequence[str],
    lab_slugs: Sequence[str],
) -> PersonRow:
    """Add a person to an organization, with roles and (for lab managers) the labs they manage."""
    roles = sorted(set(roles))
    async with conn.transaction():
        organization = await _organization(conn, organization_slug)
        lab_ids = await _check_roles_and_labs(
            conn, organization=organization, roles=roles, lab_slugs=lab_slugs
        )
        inserted = await repository.insert_person(
            conn,
            organization_id=organization.id,
            email=email.strip(),
            full_name=full_name.strip(),
            phone=phone,
            roles=roles,
        )
        await repository.add_lab_managers(conn, inserted.id, lab_ids)
        person = await repository.get_person(conn, inserted.id)
        assert person is not None
        await audit.record(conn, actor, "person.create", "person", person.id, after=person)
    return person


async def create_person(pool: asyncpg.Pool, me: Principal, data: PersonCreate) -> PersonRow:
    me.require_admin()
    async with pool.acquire() as conn:
        return await add_person(
            conn,
            actor=me,
            organization_slug=data.organization,
            email=data.email,
            full_name=data.full_name,
            phone=data.phone,
            roles=data.roles,
            lab_slugs=data.managed_labs,
        )


def _may_see(me: Principal, person: PersonRow) -> bool:
    return (
        me.is_admin
        or me.person_id == person.id
        or (Role.DIRECTOR in me.roles and me.organization_id == person.organization_id)
    )


async def get_person(pool: asyncpg.Pool, me: Principal, person_id: UUID) -> PersonRow:
    """Admins see everyone, directors their organization's people, everyone themselves; else 404."""
    async with pool.acquire() as conn:
        person = await repository.get_person(conn, person_id)
    if person is None or not _may_see(me, person):
        raise NotFound(f"no person {person_id}")
    return person


async def list_people(
    pool: asyncpg.Pool,
    me: Principal,
    *,
    organization_slug: str | None,
    role: str | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[list[ListedPerson], int]:
    async with pool.acquire() as conn:
        if not me.is_admin:
            own = await repository.get_organization_slug(conn, me.organization_id)
            if organization_slug not in (None, own):
                return [], 0
            organization_slug = own
        # The search runs ILIKE with PostgreSQL's default escape character, the backslash that
        # like_pattern puts before every wildcard, so `50%` finds "50%" and not "500".
        pattern = like_pattern(q) if q else None
        return await repository.list_people(
            conn, organization_slug=organization_slug, role=role, q=pattern, limit=limit, offset=offset
        )


async def update_person(
    pool: asyncpg.Pool, me: Principal, person_id: UUID, data: PersonUpdate, *, action: str = "person.update"
) -> PersonRow:
    """Change what ``data`` names; switching a person off ends every secret they hold.

    API tokens and feed tokens are revoked, browser sessions deleted and unused invitation or reset
    links spent, for good: reactivating the person revives none of them.
    """
    me.require_admin()
    async with db.transaction(pool) as conn:
        before = await _locked_person(conn, person_id)
        return await _apply(conn, me, before, data, action)


async def _locked_person(conn: asyncpg.Connection, person_id: UUID) -> PersonRow:
    """The person, row-locked, with the labs they run as the writer before us left them.

    The locking statement waits for a concurrent writer but still reads the lab list from the
    snapshot it started with, so the person is read again after the lock is held.
    """
    if await repository.lock_person(conn, person_id) is None:
        raise NotFound(f"no person {person_id}")
    person = await repository.get_person(conn, person_id)
    assert person is not None
    return person


async def _apply(
    conn: asyncpg.Connection, me: Principal, before: PersonRow, data: PersonUpdate, action: str
) -> PersonRow:
    """``data`` on a person whose row the caller's transaction holds locked."""
    person_id = before.id
    roles = sorted(set(before.roles if data.roles is msgspec.UNSET else data.roles))
    labs = before.managed_labs if data.managed_labs is msgspec.UNSET else data.managed_labs
    is_active = before.is_active if data.is_active is msgspec.UNSET else data.is_active
    if me.person_id == person_id and (not is_active or Role.ADMIN not in roles):
        raise Conflict("you cannot deactivate yourself or take away your own admin role")
    if Role.LAB_MANAGER not in roles and data.managed_labs is msgspec.UNSET:
        labs = []
    organization = await _organization(conn, before.organization_slug)
    lab_ids = await _check_roles_and_labs(conn, organization=organization, roles=roles, lab_slugs=labs)
    await repository.update_person(
        conn,
        person_id,
        full_name=before.full_name if data.full_name is msgspec.UNSET else data.full_name.strip(),
        phone=before.phone if data.phone is msgspec.UNSET else data.phone,
        roles=roles,
        is_active=is_active,
    )
    await repository.set_lab_managers(conn, person_id, lab_ids)
    if before.is_active and not is_active:
        # Every secret ends here, so that reactivation brings none of them back.
        await repository.revoke_person_tokens(conn, person_id)
        await repository.revoke_person_feed_tokens(conn, person_id)
        await repository.delete_person_sessions(conn, person_id)
        await repository.spend_person_links(conn, person_id)
    after = await repository.get_person(conn, person_id)
    assert after is not None
    await audit.record(conn, me, action, "person", person_id, before=before, after=after)
    return after


async def set_lab_manager(
    pool: asyncpg.Pool, me: Principal, person_id: UUID, lab_slug: str, *, manages: bool
) -> PersonRow:
    """Make a person one of a lab's managers (giving them the role), or take the lab from them.

    Their other labs are kept: the change is worked out under the person's row lock, so two admins
    adding labs to the same person at once both count.
    """
    me.require_admin()
    async with db.transaction(pool) as conn:
        before = await _locked_person(conn, person_id)
        labs = [slug for slug in before.managed_labs if slug != lab_slug]
        roles = list(before.roles)
        if manages:
            labs.append(lab_slug)
            roles = sorted({*roles, Role.LAB_MANAGER})
        data = PersonUpdate(roles=[Role(r) for r in roles], managed_labs=labs)
        return await _apply(conn, me, before, data, "person.update")


async def deactivate_person(pool: asyncpg.Pool, me: Principal, person_id: UUID) -> PersonRow:
    """Switch a person off: they can no longer sign in, and every token, feed address and session ends."""
    return await update_person(pool, me, person_id, PersonUpdate(is_active=False), action="person.deactivate")


async def reactivate_person(pool: asyncpg.Pool, me: Principal, person_id: UUID) -> PersonRow:
    """Switch a person back on. Nothing they held before comes back: they sign in with a new link."""
    return await update_person(pool, me, person_id, PersonUpdate(is_active=True), action="person.reactivate")


async def _issue(
    conn: asyncpg.Connection,
    actor: Principal | None,
    person: BarePerson | PersonRow,
    *,
    name: str,
    expires_at: datetime | None,
) -> tuple[str, TokenRow]:
    if not person.is_active:
        raise Conflict(f"{person.email} is deactivated; reactivate them before issuing a token")
    secret = new_secret(ACCESS_TOKEN_PREFIX)
    row = await repository.insert_access_token(
        conn,
        person_id=person.id,
        name=name,
        token_hash=hash_secret(secret),
        prefix=secret[:_DISPLAYED_PREFIX],
        expires_at=expires_at,
    )
    await audit.record(conn, actor, "token.create", "access_token", row.id, after=row)
    return secret, row


async def issue_token_for_email(
    conn: asyncpg.Connection, *, email: str, name: str, expires_at: datetime | None
) -> tuple[str, TokenRow]:
    """A new token for the person with this email (the CLI's way in). The secret is returned once."""
    async with conn.transaction():
        person = await repository.get_person_by_email(conn, email)
        if person is None:
            raise NotFound(f"no person with the email {email}")
        return await _issue(conn, None, person, name=name, expires_at=expires_at)


def _expiry(days: int, now: datetime) -> datetime:
    return now + timedelta(days=days)


async def issue_own_token(
    pool: asyncpg.Pool, me: Principal, *, name: str, expires_in_days: int, now: datetime
) -> tuple[str, TokenRow]:
    async with db.transaction(pool) as conn:
        person = await repository.get_person(conn, me.person_id)
        assert person is not None, "the guard only lets active people with a token through"
        return await _issue(conn, me, person, name=name, expires_at=_expiry(expires_in_days, now))


async def issue_token_for_person(
    pool: asyncpg.Pool, me: Principal, person_id: UUID, *, name: str, expires_in_days: int, now: datetime
) -> tuple[str, TokenRow]:
    me.require_admin()
    async with db.transaction(pool) as conn:
        person = await repository.get_person(conn, person_id)
        if person is None:
            raise NotFound(f"no person {person_id}")
        return await _issue(conn, me, person, name=name, expires_at=_expiry(expires_in_days, now))


async def list_own_tokens(pool: asyncpg.Pool, me: Principal) -> list[TokenRow]:
    async with pool.acquire() as conn:
        return await repository.list_tokens(conn, me.person_id)


async def _revoke(conn: asyncpg.Connection, actor: Principal | None, token_id: UUID) -> TokenRow:
    before = await repository.get_token(conn, token_id)
    if before is None:
        raise NotFound(f"no token {token_id}")
    after = await repository.revoke_token(conn, token_id)
    assert after is not None
    if before.revoked_at is None:
        await audit.record(conn, actor, "token.revoke", "access_token", token_id, before=before, after=after)
    return after


async def revoke_own_token(pool: asyncpg.Pool, me: Principal, token_id: UUID) -> TokenRow:
    """Revoke one of my tokens; someone else's token is a 404, as if it did not exist."""
    async with db.transaction(pool) as conn:
        token = await repository.get_token(conn, token_id)
        if token is None or token.person_id != me.person_id:
            raise NotFound(f"no token {token_id}")
        return await _revoke(conn, me, token_id)


async def revoke_token_by_id(conn: asyncpg.Connection, token_id: str) -> TokenRow:
    """Revoke any token by id (the CLI's way out)."""
    try:
        parsed = UUID(token_id)
    except ValueError:
        raise ValidationFailed.field("token_id", f"{token_id!r} is not a token id") from None
    async with conn.transaction():
        return await _revoke(conn, None, parsed)


async def who_am_i(pool: asyncpg.Pool, me: Principal) -> PersonRow:
    async with pool.acquire() as conn:
        person = await repository.get_person(conn, me.person_id)
    assert person is not None, "the guard only lets active people with a token through"
    return person
