"""HTTP routes for bookings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIFormat
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from labbook.bookings import service
from labbook.bookings.schemas import (
    BookedSlot,
    Booking,
    BookingCreate,
    BookingFilter,
    BookingStatus,
    Cancellation,
    SeriesBooking,
    StatusChange,
)
from labbook.clock import Clock
from labbook.core.access import AUTHENTICATED
from labbook.core.paging import Page
from labbook.core.principal import Principal
from labbook.errors import ValidationFailed
from labbook.schemas import Slug
from labbook.timezones import zone

TAGS = ("bookings",)
BOOKERS = ("director", "admin")
MANAGERS = ("lab_manager", "admin")
# What booking writes, and no trigger announces: the caches built on these are dropped before the
# reply (labbook.app), the others (who a token belongs to, say) stay.
BOOKING_WRITES = ("bookings", "slots", "audit_events")


def booking_reply(row: Mapping[str, Any]) -> Booking:
    # Times read as the lab's wall clock, as on the slot itself.
    local = zone(row["lab_timezone"])
    return Booking(
        id=row["id"],
        slot=BookedSlot(
            id=row["slot_id"],
            lab=row["lab_slug"],
            timezone=row["lab_timezone"],
            starts_at=row["starts_at"].astimezone(local),
            ends_at=row["ends_at"].astimezone(local),
            title=row["title"],
            address=row["address"],
            building=row["building"],
            room=row["room"],
        ),
        organization=row["organization_slug"],
        headcount=row["headcount"],
        contact_name=row["contact_name"],
        contact_email=row["contact_email"],
        contact_phone=row["contact_phone"],
        language=row["language"],
        age_group=row["age_group"],
        notes=row["notes"],
        status=row["status"],
        status_message=row["status_message"],
        sequence=row["sequence"],
        group_id=row["group_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def parse_query(values: dict[str, Any], into: type[msgspec.Struct], names: Mapping[str, str]) -> Any:
    """Query parameters through the same validation as bodies; ``names`` maps fields back to params.

    Strict, so that a time is only ever an RFC 3339 text: ``to=0.5`` is not read as a Unix timestamp.
    """
    try:
        return msgspec.convert({k: v for k, v in values.items() if v is not None}, into, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = message.rpartition("$.")[2].rstrip("`") if "$." in message else "query"
        raise ValidationFailed.field(names.get(field, field), message.partition(" - at ")[0]) from None


Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]


class SlotBookingController(Controller):
    path = "/api/v1"
    tags: Sequence[str] | None = TAGS

    @post(
        "/slots/{slot_id:uuid}/bookings",
        opt={"access": BOOKERS, "writes": BOOKING_WRITES},
        summary="Book seats in a slot or join its waitlist",
    )
    async def create_booking(
        self,
        pool: Pool,
        me: Me,
        clock: NamedDependency[Clock],
        slot_id: FromPath[UUID],
        data: JSONBody[BookingCreate],
    ) -> Booking:
        return booking_reply(await service.book_seats(pool, me, slot_id, data, now=clock()))

    @post(
        "/series/{series_id:uuid}/bookings",
        opt={"access": BOOKERS, "writes": BOOKING_WRITES},
        summary="Book every remaining occurrence of a series, all or nothing",
    )
    async def create_series_booking(
        self,
        pool: Pool,
        me: Me,
        clock: NamedDependency[Clock],
        series_id: FromPath[UUID],
        data: JSONBody[BookingCreate],
    ) -> SeriesBooking:
        group_id, rows = await service.book_series(pool, me, series_id, data, now=clock())
        return SeriesBooking(group_id=group_id, bookings=[booking_reply(r) for r in rows])


class BookingController(Controller):
    path = "/api/v1/bookings"
    tags: Sequence[str] | None = TAGS

    @get(
        "/",
        opt={"access": AUTHENTICATED},
        summary="Bookings you may see: your organization's, your labs', or all for admins",
    )
    async def list_bookings(
        self,
        pool: Pool,
        me: Me,
        status: FromQuery[BookingStatus | None] = None,
        lab: Annotated[Slug | None, QueryParameter(description="lab slug")] = None,
        slot: Annotated[UUID | None, QueryParameter(description="slot id")] = None,
        starts_from: Annotated[
            str | None,
            QueryParameter(
                name="from",
                description="slots starting at or after (with offset)",
                schema_extra={"format": OpenAPIFormat.DATE_TIME},
            ),
        ] = None,
        starts_to: Annotated[
            str | None,
            QueryParameter(
                name="to",
                description="slots starting before (with offset)",
                schema_extra={"format": OpenAPIFormat.DATE_TIME},
            ),
        ] = None,
        limit: FromQuery[int] = 50,
        offset: FromQuery[int] = 0,
    ) -> Page[Booking]:
        query: BookingFilter = parse_query(
            {
                "status": status,
                "lab": lab,
                "slot": slot,
                "starts_from": starts_from,
                "starts_to": starts_to,
                "limit": limit,
                "offset": offset,
            },
            BookingFilter,
            {"starts_from": "from", "starts_to": "to"},
        )
        rows, total = await service.list_bookings(pool, me, query)
        return Page(
            items=[booking_reply(r) for r in rows], total=total, limit=query.limit, offset=query.offset
        )

    @get("/{booking_id:uuid}", opt={"access": AUTHENTICATED}, summary="One booking")
    async def get_booking(self, pool: Pool, me: Me, booking_id: FromPath[UUID]) -> Booking:
        return booking_reply(await service.get_booking(pool, me, booking_id))

    @post(
        "/{booking_id:uuid}/confirm",
        opt={"access": MANAGERS},
        status_code=HTTP_200_OK,
        summary="Confirm a pending booking",
    )
    async def confirm_booking(
        self, pool: Pool, me: Me, booking_id: FromPath[UUID], data: JSONBody[StatusChange | None] = None
    ) -> Booking:
        message = data.message if data else None
        return booking_reply(await service.change_status(pool, me, booking_id, "confirm", message))

    @post(
        "/{booking_id:uuid}/decline",
        opt={"access": MANAGERS},
        status_code=HTTP_200_OK,
        summary="Decline a pending booking, with a message",
    )
    async def decline_booking(
        self, pool: Pool, me: Me, booking_id: FromPath[UUID], data: JSONBody[StatusChange | None] = None
    ) -> Booking:
        message = data.message if data else None
        return booking_reply(await service.change_status(pool, me, booking_id, "decline", message))

    @post(
        "/{booking_id:uuid}/cancel",
        opt={"access": ("director", "lab_manager", "admin")},
        status_code=HTTP_200_OK,
        summary="Cancel a booking; its seats go to the waitlist",
    )
    async def cancel_booking(
        self, pool: Pool, me: Me, booking_id: FromPath[UUID], data: JSONBody[Cancellation | None] = None
    ) -> Booking:
        reason = data.reason if data else None
        return booking_reply(await service.change_status(pool, me, booking_id, "cancel", reason))


route_handlers: list[Any] = [SlotBookingController, BookingController]
