"""Rows the accounts' queries return: people, tokens, sessions, one-time links."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from labbook.core.rows import Row


class BarePerson(Row):
    """A person's own columns, without their organization or labs."""

    id: UUID
    organization_id: int
    email: str
    full_name: str
    phone: str | None
    roles: list[str]
    is_active: bool
    created_at: datetime
    updated_at: datetime


class PersonRow(Row):
    """A person with their organization's slug and kind and the slugs of the labs they manage."""

    id: UUID
    organization_id: int
    organization_slug: str
    organization_kind: str
    email: str
    full_name: str
    phone: str | None
    roles: list[str]
    is_active: bool
    created_at: datetime
    updated_at: datetime
    managed_labs: list[str]


class ListedPerson(PersonRow):
    total: int


class OrganizationRef(Row):
    id: int
    slug: str
    kind: str
    is_archived: bool


class LabRef(Row):
    id: int
    slug: str
    organization_id: int


class TokenRow(Row):
    """An access token as stored, without its hash."""

    id: UUID
    person_id: UUID
    name: str
    prefix: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class LoginRow(Row):
    """What signing in needs of a person; ``password_hash`` only where it is checked."""

    id: UUID
    email: str
    full_name: str
    language: str
    is_active: bool
    password_hash: str | None = None


class ProfileRow(Row):
    id: UUID
    email: str
    full_name: str
    phone: str | None
    language: str
    roles: list[str]
    organization_id: int
    organization_slug: str
    organization_name: dict[str, str]


class SessionRow(Row):
    """The person behind a live session, with what pages greet them with."""

    session_id: UUID
    person_id: UUID
    organization_id: int
    roles: list[str]
    full_name: str
    language: str
    lab_ids: list[int]
    is_stale: bool


class LinkRow(Row):
    id: UUID
    person_id: UUID
    purpose: str
    expires_at: datetime


class LinkHolder(LinkRow):
    email: str
    full_name: str


class UsedLink(Row):
    person_id: UUID
    purpose: str


class TokenPrincipal(Row):
    token_id: UUID
    person_id: UUID
    organization_id: int
    roles: list[str]
    lab_ids: list[int]
    expires_at: datetime | None
    is_stale: bool
