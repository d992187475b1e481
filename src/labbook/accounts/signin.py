"""Signing people in through a browser: passwords, sessions, one-time links and login throttling.

The API keeps bearer tokens; people get a server-side session whose random secret lives only in
their cookie (the database keeps its SHA-256). Every answer to a failed sign-in is the same whether
or not the email has an account, and takes as long: an unknown email is checked against a dummy hash.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from uuid import UUID

import asyncpg
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from labbook import db
from labbook.accounts import repository
from labbook.accounts import service as people
from labbook.accounts.rows import LinkHolder, LinkRow, LoginRow, PersonRow, ProfileRow
from labbook.accounts.schemas import PasswordChange, PersonCreate, ProfileUpdate
from labbook.accounts.security import hash_secret, new_secret
from labbook.audit import service as audit
from labbook.core.principal import Principal
from labbook.errors import NotFound, RateLimited, Unauthorized, ValidationFailed
from labbook.settings import Settings

SESSION_PREFIX = "lbs_"
LINK_PREFIX = "lbi_"
THROTTLE_WINDOW_SECONDS = 15 * 60
# A shared address (a school's NAT) signs in for many people, so it gets more tries than one account.
CLIENT_FACTOR = 4
INVITATION = "invitation"
PASSWORD_RESET = "password_reset"
# Where each kind of link leads: the page that asks for the password.
LINK_PAGES = {INVITATION: "invitations", PASSWORD_RESET: "password-reset"}
# A reset link is short-lived (it arrives by e-mail within a minute), and an address may ask for one
# once a minute: enough for a person who lost the first mail, too slow to flood anyone's inbox.
RESET_LINK_LIFETIME = timedelta(hours=1)
RESET_INTERVAL_SECONDS = 60

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


class WrongCredentials(Unauthorized):
    slug = "wrong-credentials"
    title = "Wrong email or password"


class LoginThrottled(RateLimited):
    slug = "login-throttled"
    title = "Too many failed sign-ins"


class LinkInvalid(NotFound):
    slug = "link-invalid"
    title = "This link is used, expired or unknown"


class ResetThrottled(RateLimited):
    slug = "password-reset-throttled"
    title = "A reset link was asked for this address a moment ago"


@dataclass(frozen=True, slots=True)
class WebSession:
    """A signed-in browser: who it is, and what pages need to greet them."""

    principal: Principal
    full_name: str
    language: str
    csrf_token: str


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("labbook: no such account")


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def csrf_token_for(secret: str) -> str:
    """The form token of a session: derived from its secret, which only the browser's cookie holds."""
    return hashlib.sha256(b"labbook-csrf:" + secret.encode()).hexdigest()


def _bucket(kind: str, value: str) -> str:
    return f"login:{kind}:{hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]}"


async def _new_session(
    conn: asyncpg.Connection, settings: Settings, person_id: UUID, user_agent: str | None
) -> str:
    secret = new_secret(SESSION_PREFIX)
    await repository.delete_expired_sessions(conn, person_id, idle_minutes=settings.session_idle_minutes)
    await repository.insert_session(
        conn,
        hash_secret(secret),
        person_id,
        minutes=settings.session_max_days * 24 * 60,
        user_agent=(user_agent or "")[:300] or None,
    )
    return secret


async def sign_in(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    email: str,
    password: str,
    client: str,
    user_agent: str | None,
) -> str:
    """Check the password and open a session; returns the session secret for the cookie."""
    account, address = _bucket("account", email), _bucket("client", client)
    limit = settings.login_failure_limit
    async with pool.acquire() as conn:
        account_hits, client_hits = await repository.get_failures(
            conn, account, address, window_seconds=THROTTLE_WINDOW_SECONDS
        )
        if account_hits >= limit or client_hits >= limit * CLIENT_FACTOR:
            raise LoginThrottled(
                "too many failed sign-ins; wait a quarter of an hour and try again",
                retry_after=THROTTLE_WINDOW_SECONDS,
            )
        person = await repository.get_login(conn, email.strip())
    stored = person.password_hash if person is not None and person.is_active else None
    # argon2 takes tens of milliseconds of CPU: off the event loop, so other requests go on.
    if not await asyncio.to_thread(_verify, stored, password):
        async with db.transaction(pool) as conn:
            await repository.count_failure(conn, account, window_seconds=THROTTLE_WINDOW_SECONDS)
            await repository.count_failure(conn, address, window_seconds=THROTTLE_WINDOW_SECONDS)
        raise WrongCredentials("the email or the password is wrong")
    assert person is not None
    assert stored is not None
    async with db.transaction(pool) as conn:
        await repository.forget_failures(conn, account)
        if _hasher.check_needs_rehash(stored):
            await repository.set_password(conn, person.id, hash_password(password))
        return await _new_session(conn, settings, person.id, user_agent)


async def session_of(pool: asyncpg.Pool, settings: Settings, secret: str) -> WebSession | None:
    """The live session behind a cookie, or ``None`` (unknown, expired, idle too long, person off)."""
    async with pool.acquire() as conn:
        found = await repository.get_principal_by_session(
            conn, hash_secret(secret), idle_minutes=settings.session_idle_minutes
        )
    if found is None:
        return None
    principal, row = found
    return WebSession(
        principal=principal,
        full_name=row.full_name,
        language=row.language,
        csrf_token=csrf_token_for(secret),
    )


async def sign_out(pool: asyncpg.Pool, secret: str) -> None:
    async with pool.acquire() as conn:
        await repository.delete_session(conn, hash_secret(secret))


async def sign_out_everywhere(pool: asyncpg.Pool, me: Principal) -> None:
    async with db.transaction(pool) as conn:
        await repository.delete_person_sessions(conn, me.person_id)
        await audit.record(conn, me, "person.sign-out-everywhere", "person", me.person_id)


async def issue_link(
    conn: asyncpg.Connection,
    actor: Principal | None,
    settings: Settings,
    person: LoginRow,
    *,
    purpose: str = INVITATION,
    expires_at: datetime,
) -> tuple[str, LinkRow]:
    """A one-time link for ``person`` to set a password; returns its URL (shown once) and the row.

    The person gets the link by e-mail too, in their language: the mail job is enqueued in the
    caller's transaction.
    """
    if not person.is_active:
        raise ValidationFailed.field("person", f"{person.email} is deactivated")
    secret = new_secret(LINK_PREFIX)
    row = await repository.insert_link(
        conn,
        hash_secret(secret),
        person.id,
        purpose=purpose,
        created_by=actor.person_id if actor else None,
        expires_at=expires_at,
    )
    await audit.record(conn, actor, f"person.{purpose}", "person", person.id)
    url = f"{settings.base_url}/{person.language}/{LINK_PAGES[purpose]}/{secret}"
    mail = {
        "link_id": row.id,
        "purpose": purpose,
        "url": url,
        "email": person.email,
        "full_name": person.full_name,
        "language": person.language,
        "expires_at": row.expires_at,
    }
    await repository.enqueue_link_mail(conn, msgspec.json.encode(mail))
    return url, row


async def invite_person(
    pool: asyncpg.Pool, me: Principal, settings: Settings, person_id: UUID, *, days: int, now: datetime
) -> tuple[str, LinkRow, LoginRow]:
    me.require_admin()
    async with db.transaction(pool) as conn:
        person = await repository.get_login_by_id(conn, person_id)
        if person is None:
            raise NotFound(f"no person {person_id}")
        url, row = await issue_link(conn, me, settings, person, expires_at=now + timedelta(days=days))
    return url, row, person


async def invite_new_person(
    pool: asyncpg.Pool, me: Principal, settings: Settings, data: PersonCreate, *, days: int = 7, now: datetime
) -> tuple[str, PersonRow]:
    """Add a person and make their invitation link in one transaction: both, or neither."""
    me.require_admin()
    async with db.transaction(pool) as conn:
        person = await people.add_person(
            conn,
            actor=me,
            organization_slug=data.organization,
            email=data.email,
            full_name=data.full_name,
            phone=data.phone,
            roles=data.roles,
            lab_slugs=data.managed_labs,
        )
        login = await repository.get_login_by_id(conn, person.id)
        assert login is not None
        url, _ = await issue_link(conn, me, settings, login, expires_at=now + timedelta(days=days))
    return url, person


async def invite_by_email(
    conn: asyncpg.Connection, settings: Settings, email: str, *, days: int = 7, now: datetime
) -> tuple[str, LinkRow]:
    """The command line's invitation: a link for the person with this email."""
    async with conn.transaction():
        person = await repository.get_login(conn, email.strip())
        if person is None:
            raise NotFound(f"no person with the email {email}")
        return await issue_link(conn, None, settings, person, expires_at=now + timedelta(days=days))


async def request_password_reset(
    pool: asyncpg.Pool, settings: Settings, email: str, *, now: datetime
) -> None:
    """E-mail a reset link to the person with this address, if there is one.

    The answer is the same whether or not the address has an account (only the mail differs), and
    so is the limit of one request a minute per address. A new link spends the older ones.
    """
    bucket = f"reset:{hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]}"
    async with db.transaction(pool) as conn:
        hits = await repository.count_request(conn, bucket, window_seconds=RESET_INTERVAL_SECONDS, now=now)
        if hits > 1:
            raise ResetThrottled(
                "a reset link was asked for this address less than a minute ago; check the mail or wait",
                retry_after=RESET_INTERVAL_SECONDS,
            )
        person = await repository.get_login(conn, email.strip())
        if person is None or not person.is_active:
            return
        await repository.spend_links(conn, person.id, purpose=PASSWORD_RESET)
        await issue_link(
            conn, None, settings, person, purpose=PASSWORD_RESET, expires_at=now + RESET_LINK_LIFETIME
        )


async def link_holder(pool: asyncpg.Pool, secret: str, *, now: datetime) -> LinkHolder:
    """Whose link this is (for the page that asks for a password); spent or expired links are a 404."""
    async with pool.acquire() as conn:
        row = await repository.get_link(conn, hash_secret(secret), now=now)
    if row is None:
        raise LinkInvalid("this link was already used or has expired; ask for a new one")
    return row


async def _spend_link(conn: asyncpg.Connection, secret: str, password_hash: str, *, now: datetime) -> UUID:
    """Set the password a link was issued for; the link, the person's other links and sessions end."""
    used = await repository.use_link(conn, hash_secret(secret), now=now)
    if used is None:
        raise LinkInvalid("this link was already used or has expired; ask for a new one")
    await repository.set_password(conn, used.person_id, password_hash)
    # A new password ends every other session and link, as a reset after a stolen password must.
    await repository.delete_person_sessions(conn, used.person_id)
    await repository.spend_person_links(conn, used.person_id)
    await audit.record(conn, None, "person.password-set", "person", used.person_id)
    return used.person_id


async def accept_link(
    pool: asyncpg.Pool,
    settings: Settings,
    secret: str,
    password: str,
    *,
    now: datetime,
    user_agent: str | None,
) -> str:
    """Set the password a link was issued for, spend the link, and sign the person in."""
    password_hash = await asyncio.to_thread(hash_password, password)
    async with db.transaction(pool) as conn:
        person_id = await _spend_link(conn, secret, password_hash, now=now)
        return await _new_session(conn, settings, person_id, user_agent)


async def reset_password(pool: asyncpg.Pool, secret: str, password: str, *, now: datetime) -> None:
    """The API's reset: set the password a link was issued for; no session opens (programs use tokens)."""
    password_hash = await asyncio.to_thread(hash_password, password)
    async with db.transaction(pool) as conn:
        await _spend_link(conn, secret, password_hash, now=now)


async def set_password_by_email(conn: asyncpg.Connection, email: str, password: str) -> None:
    """The command line's way to set a password; it also ends the person's sessions."""
    if len(password) < 10:
        raise ValidationFailed.field("password", "use at least 10 characters")
    password_hash = await asyncio.to_thread(hash_password, password)
    async with conn.transaction():
        person = await repository.get_login(conn, email.strip())
        if person is None:
            raise NotFound(f"no person with the email {email}")
        await repository.set_password(conn, person.id, password_hash)
        await repository.delete_person_sessions(conn, person.id)
        await audit.record(conn, None, "person.password-set", "person", person.id)


async def get_profile(pool: asyncpg.Pool, me: Principal) -> ProfileRow:
    async with pool.acquire() as conn:
        profile = await repository.get_profile(conn, me.person_id)
    assert profile is not None, "a live session belongs to an existing person"
    return profile


async def update_profile(pool: asyncpg.Pool, me: Principal, data: ProfileUpdate) -> None:
    async with db.transaction(pool) as conn:
        before = await repository.get_profile(conn, me.person_id)
        await repository.set_profile(
            conn, me.person_id, full_name=data.full_name.strip(), phone=data.phone, language=data.language
        )
        after = await repository.get_profile(conn, me.person_id)
        await audit.record(conn, me, "person.profile", "person", me.person_id, before=before, after=after)


async def change_password(
    pool: asyncpg.Pool, settings: Settings, me: Principal, data: PasswordChange, *, user_agent: str | None
) -> str:
    """Change my password; every session ends and a new one opens for this browser."""
    async with pool.acquire() as conn:
        stored = await repository.get_password_hash(conn, me.person_id)
    if not await asyncio.to_thread(_verify, stored, data.current_password):
        raise ValidationFailed.field("current_password", "this is not your current password")
    password_hash = await asyncio.to_thread(hash_password, data.password)
    async with db.transaction(pool) as conn:
        await repository.set_password(conn, me.person_id, password_hash)
        await repository.delete_person_sessions(conn, me.person_id)
        await audit.record(conn, me, "person.password-change", "person", me.person_id)
        return await _new_session(conn, settings, me.person_id, user_agent)
