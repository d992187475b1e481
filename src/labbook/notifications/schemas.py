"""What the webhook API and the choice of optional messages take and give."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from labbook.schemas import Base, Out

Event = Literal[
    "booking.created",
    "booking.confirmed",
    "booking.declined",
    "booking.cancelled",
    "slot.changed",
    "slot.cancelled",
    "visit_request.created",
    "visit_request.answered",
]


class EndpointCreate(Base):
    url: Annotated[str, Meta(min_length=8, max_length=2000, examples=["https://example.kz/labbook-hook"])]
    events: Annotated[list[Event], Meta(min_length=1, max_length=8)]
    description: Annotated[str, Meta(max_length=300)] | None = None


class EndpointOut(Out):
    id: UUID
    url: str
    events: list[str]
    description: str | None
    is_active: bool
    created_at: datetime


class EndpointCreated(EndpointOut):
    secret: Annotated[str, Meta(description="the signing secret (whsec_...), shown this once")]


class DeliveryOut(Out):
    id: UUID
    endpoint_id: UUID
    event_type: str
    webhook_id: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class MessageChoices(Out):
    """The optional messages, and whether I get each; messages about a booking's fate, invitations
    and password resets are always sent."""

    booking_received: Annotated[bool, Meta(description="a receipt when the lab has received our booking")]
    booking_reminder: Annotated[bool, Meta(description="a reminder before a confirmed visit")]
    lab_digest: Annotated[bool, Meta(description="lab managers: tomorrow's visits, every evening")]


class MessageChoicesUpdate(Base):
    """Absent kinds stay as they are."""

    booking_received: bool | UnsetType = UNSET
    booking_reminder: bool | UnsetType = UNSET
    lab_digest: bool | UnsetType = UNSET
