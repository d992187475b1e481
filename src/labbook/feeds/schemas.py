"""Request and reply bodies for feed tokens and feed links."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import Meta

from labbook.schemas import Base, Out

FeedKind = Literal["organization", "lab_manager", "person"]


class FeedTokenCreate(Base):
    """``organization``: my organization's bookings (directors); ``lab_manager``: the labs I manage,
    with visitors (lab managers, admins); ``person``: the sessions I teach or guide (anyone)."""

    kind: FeedKind
    name: Annotated[str, Meta(max_length=100, examples=["office calendar"])] = ""


class FeedToken(Out):
    """A feed token as its owner may see it: never the secret, never its hash."""

    id: UUID
    kind: FeedKind
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class FeedTokenCreated(FeedToken):
    """The secret (``token``) and the feed's addresses are shown this once."""

    token: str
    feed_url: str
    subscribe_url: str


class FeedLink(Out):
    feed_url: str
    subscribe_url: str


class EquipmentFeedLink(FeedLink):
    equipment: str


class LabFeedLinks(FeedLink):
    """A lab's public feed, and one per piece of its equipment."""

    equipment: list[EquipmentFeedLink]
