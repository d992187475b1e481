"""Request and reply bodies for people and access tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

from labbook.core.roles import Role
from labbook.schemas import Base, Email, Language, Out, Phone, ShortText, Slug

TokenName = Annotated[str, Meta(min_length=1, max_length=100, examples=["laptop"])]
ExpiresInDays = Annotated[int, Meta(ge=1, le=365, description="days until the token stops working")]


class Person(Out):
    id: UUID
    organization_id: int
    organization_slug: str
    email: str
    full_name: str
    phone: str | None
    roles: list[str]
    managed_labs: list[str]
    is_active: bool
    created_at: datetime
    updated_at: datetime


class PersonCreate(Base):
    organization: Slug
    email: Email
    full_name: ShortText
    phone: Phone | None = None
    roles: list[Role] = msgspec.field(default_factory=list)
    managed_labs: list[Slug] = msgspec.field(default_factory=list)


class PersonUpdate(Base):
    full_name: ShortText | UnsetType = UNSET
    phone: Phone | UnsetType | None = UNSET
    roles: list[Role] | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    managed_labs: list[Slug] | UnsetType = UNSET


class Token(Out):
    """An access token as its owner may see it: never the secret, never its hash."""

    id: UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(Token):
    token: str
    """The secret itself. Shown in this reply only; labbook keeps just a hash."""


class TokenCreate(Base):
    name: TokenName
    expires_in_days: ExpiresInDays = 90


# Long enough to resist guessing, short enough for a passphrase; argon2id takes care of the rest.
Password = Annotated[str, Meta(min_length=10, max_length=1024)]


class Login(Base):
    """The sign-in form. The password is not length-checked here, so a wrong one is just wrong."""

    email: Annotated[str, Meta(min_length=1, max_length=254)]
    password: Annotated[str, Meta(min_length=1, max_length=1024)]


class PasswordSet(Base):
    """A first password (from an invitation) or a new one (from a reset link)."""

    password: Password


class PasswordResetRequest(Base):
    """Whose password to reset: a link goes to this address if it has an account."""

    email: Email


class PasswordResetAccepted(Out):
    """The one answer to every reset request, so that it tells nobody whether an address has an account."""

    detail: str = "if the address has an account, a link to choose a new password is on its way"
    expires_in_minutes: int = 60


class PasswordChange(Base):
    current_password: Annotated[str, Meta(min_length=1, max_length=1024)]
    password: Password


class ProfileUpdate(Base):
    full_name: ShortText
    language: Language
    phone: Phone | None = None


class InvitationCreate(Base):
    """How long the one-time link works."""

    days: Annotated[int, Meta(ge=1, le=30)] = 7


class Invitation(Out):
    """A one-time link for a person to set their password; the URL is shown this once."""

    person_id: UUID
    email: str
    url: str
    expires_at: datetime
