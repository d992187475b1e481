"""HTTP routes for slots, recurring series and a lab's availability under ``/api/v1``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example, OpenAPIFormat, OpenAPIType, Schema
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from labbook.clock import Clock
from labbook.core.access import PUBLIC
from labbook.core.paging import Page
from labbook.core.principal import Principal
from labbook.schemas import date_or_instant
from labbook.slots import service
from labbook.slots.schemas import (
    Availability,
    CancelRequest,
    HeldUnit,
    Series,
    SeriesCancel,
    SeriesChanged,
    SeriesCreate,
    SeriesCreated,
    SeriesPreview,
    SeriesUpdate,
    Slot,
    SlotCreate,
    SlotKind,
    SlotUpdate,
)
from labbook.timezones import zone

LAB_STAFF = ("admin", "lab_manager")

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="page size (at most 200)")]
Offset = Annotated[int, QueryParameter(ge=0, le=2**31 - 1, description="items to skip")]
# A range bound is a date (midnight in the lab's zone) or a time with an offset; msgspec cannot take
# a union of the two, so the text is parsed by ``date_or_instant`` and the schema says both.
DATE_OR_INSTANT: dict[str, Any] = {
    "type": None,
    "any_of": [
        Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE),
        Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
    ],
}
From = Annotated[
    str | None,
    QueryParameter(
        name="from",
        description="slots ending after it (default now): a date (midnight in the lab's zone) or a time",
        examples=[Example(value="2026-09-01"), Example(value="2026-09-01T10:00:00+05:00")],
        schema_extra=DATE_OR_INSTANT,
    ),
]
To = Annotated[
    str | None,
    QueryParameter(
        name="to",
        description="slots starting before it: a date (midnight in the lab's zone) or a time",
        schema_extra=DATE_OR_INSTANT,
    ),
]


def slot_out(row: asyncpg.Record) -> Slot:
    """A slot as clients see it: times in the lab's local offset, with the lab's time zone named."""
    tz = zone(row["timezone"])
    occurrence = row["occurrence_start"]
    deadline = row["booking_deadline"]
    return Slot(
        id=row["id"],
        lab=row["lab"],
        timezone=row["timezone"],
        series_id=row["series_id"],
        occurrence_start=occurrence.astimezone(tz) if occurrence else None,
        kind=row["kind"],
        title=row["title"],
        description=row["description"],
        starts_at=row["starts_at"].astimezone(tz),
        ends_at=row["ends_at"].astimezone(tz),
        capacity=row["capacity"],
        seats_taken=row["seats_taken"],
        seats_left=row["seats_left"],
        visibility=row["visibility"],
        organization=row["organization"],
        booking_deadline=deadline.astimezone(tz) if deadline else None,
        requires_approval=row["requires_approval"],
        is_outside_hours=row["is_outside_hours"],
        instructor_id=row["instructor_id"],
        status=row["status"],
        sequence=row["sequence"],
        units=[HeldUnit(equipment=u["equipment"], unit=u["unit"]) for u in row["units"]],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def series_out(view: service.SeriesView) -> Series:
    row = view.row
    tz = zone(row["timezone"])
    return Series(
        id=row["id"],
        lab=view.lab_slug,
        timezone=row["timezone"],
        kind=row["kind"],
        title=row["title"],
        description=row["description"],
        local_start=row["local_start"].isoformat(),
        duration_minutes=int(row["duration"].total_seconds() // 60),
        freq=row["freq"],
        interval=row["interval"],
        weekdays=list(row["weekdays"]),
        count=row["count"],
        until=row["until"].astimezone(tz) if row["until"] else None,
        capacity=row["capacity"],
        visibility=row["visibility"],
        organization=view.organization_slug,
        instructor_id=row["instructor_id"],
        requires_approval=row["requires_approval"],
        status=row["status"],
        sequence=row["sequence"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        occurrences=[slot_out(r) for r in view.occurrences],
    )


class SlotController(Controller):
    path = "/api/v1/slots"
    tags: Sequence[str] | None = ("slots",)

    @get("/", opt={"access": PUBLIC}, summary="List slots (private ones only for those they are for)")
    async def list_slots(
        self,
        pool: NamedDependency[asyncpg.Pool],
        principal: NamedDependency[Principal | None],
        clock: NamedDependency[Clock],
        lab: Annotated[str | None, QueryParameter(description="lab slug")] = None,
        from_: From = None,
        to: To = None,
        kind: Annotated[SlotKind | None, QueryParameter()] = None,
        has_seats: Annotated[
            bool,
            QueryParameter(
                description="only slots that take a booking now: open to visitors, inside their booking "
                "window, with seats left"
            ),
        ] = False,
        min_seats: Annotated[
            int | None,
            QueryParameter(
                ge=1, le=100_000, description="only slots with at least this many seats left (a group's size)"
            ),
        ] = None,
        include_cancelled: Annotated[bool, QueryParameter()] = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[Slot]:
        rows, total = await service.list_slots(
            pool,
            principal,
            lab=lab,
            starts_at=date_or_instant("from", from_),
            ends_at=date_or_instant("to", to),
            kind=kind,
            has_seats=has_seats,
            include_cancelled=include_cancelled,
            limit=limit,
            offset=offset,
            now=clock(),
            min_seats=min_seats,
        )
        return Page(items=[slot_out(r) for r in rows], total=total, limit=limit, offset=offset)

    @post("/", opt={"access": LAB_STAFF}, status_code=HTTP_201_CREATED, summary="Publish a slot")
    async def publish_slot(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        clock: NamedDependency[Clock],
        data: JSONBody[SlotCreate],
    ) -> Slot:
        return slot_out(await service.publish_slot(pool, me, data, now=clock()))

    @get("/{slot_id:uuid}", opt={"access": PUBLIC}, summary="One slot")
    async def get_slot(
        self,
        pool: NamedDependency[asyncpg.Pool],
        principal: NamedDependency[Principal | None],
        slot_id: FromPath[UUID],
    ) -> Slot:
        return slot_out(await service.get_slot_for(pool, principal, slot_id))

    @patch(
        "/{slot_id:uuid}", opt={"access": LAB_STAFF}, summary="Change a slot or one occurrence of a series"
    )
    async def update_slot(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        clock: NamedDependency[Clock],
        slot_id: FromPath[UUID],
        data: JSONBody[SlotUpdate],
    ) -> Slot:
        return slot_out(await service.update_slot(pool, me, slot_id, data, now=clock()))

    @post(
        "/{slot_id:uuid}/cancel",
        opt={"access": LAB_STAFF},
        status_code=HTTP_200_OK,
        summary="Cancel a slot (and its bookings)",
    )
    async def cancel_slot(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        slot_id: FromPath[UUID],
        data: JSONBody[CancelRequest | None] = None,
    ) -> Slot:
        reason = data.reason if data else None
        return slot_out(await service.cancel_slot(pool, me, slot_id, reason))


class SeriesController(Controller):
    path = "/api/v1/series"
    tags: Sequence[str] | None = ("slots",)

    @post("/", opt={"access": LAB_STAFF}, status_code=HTTP_201_CREATED, summary="Publish a recurring series")
    async def create_series(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        clock: NamedDependency[Clock],
        data: JSONBody[SeriesCreate],
    ) -> SeriesCreated:
        result = await service.create_series(pool, me, data, now=clock())
        return SeriesCreated(
            series=series_out(result.series),
            created=[slot_out(r) for r in result.created],
            skipped=result.skipped,
        )

    @post(
        "/preview",
        opt={"access": LAB_STAFF},
        status_code=HTTP_200_OK,
        summary="Preview a series: every occurrence and what it collides with, nothing written",
        description=(
            "Takes the body `POST /series` takes and answers with every occurrence it would create, "
            "each with `fits` and, when it collides, the problem type, its detail and the slots in the "
            "way (closures, maintenance, stations held, opening hours, lab capacity). Publishing "
            "decides the same way: with `skip_conflicts` the occurrences that do not fit stay "
            "cancelled, without it a collision refuses the whole series (`/problems/series-conflict`)."
        ),
    )
    async def preview_series(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        clock: NamedDependency[Clock],
        data: JSONBody[SeriesCreate],
    ) -> SeriesPreview:
        return await service.preview_series(pool, me, data, now=clock())

    @get("/{series_id:uuid}", opt={"access": PUBLIC}, summary="A series with its occurrences")
    async def get_series(
        self,
        pool: NamedDependency[asyncpg.Pool],
        principal: NamedDependency[Principal | None],
        series_id: FromPath[UUID],
    ) -> Series:
        return series_out(await service.get_series_for(pool, principal, series_id))

    @patch("/{series_id:uuid}", opt={"access": LAB_STAFF}, summary="Change all or the following occurrences")
    async def update_series(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        clock: NamedDependency[Clock],
        series_id: FromPath[UUID],
        data: JSONBody[SeriesUpdate],
    ) -> SeriesChanged:
        result = await service.update_series(pool, me, series_id, data, now=clock())
        return SeriesChanged(
            series=series_out(result.series),
            previous_series_id=result.previous_series_id,
            changed=[slot_out(r) for r in result.changed],
        )

    @post(
        "/{series_id:uuid}/cancel",
        opt={"access": LAB_STAFF},
        status_code=HTTP_200_OK,
        summary="Cancel all or the following occurrences",
    )
    async def cancel_series(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        clock: NamedDependency[Clock],
        series_id: FromPath[UUID],
        data: JSONBody[SeriesCancel],
    ) -> SeriesChanged:
        result = await service.cancel_series(pool, me, series_id, data, now=clock())
        return SeriesChanged(
            series=series_out(result.series),
            previous_series_id=result.previous_series_id,
            changed=[slot_out(r) for r in result.changed],
        )


@get(
    "/api/v1/labs/{slug:str}/availability",
    opt={"access": PUBLIC},
    tags=["slots"],
    summary="Free windows and free equipment units per local day (at most 62 days)",
)
async def get_availability(
    pool: NamedDependency[asyncpg.Pool],
    slug: FromPath[str],
    from_: Annotated[
        str,
        QueryParameter(
            name="from",
            description="first local date (or a time: its local date)",
            schema_extra=DATE_OR_INSTANT,
        ),
    ],
    to: Annotated[
        str,
        QueryParameter(
            name="to",
            description="local date after the last one (or a time: up to its local day)",
            schema_extra=DATE_OR_INSTANT,
        ),
    ],
) -> Availability:
    return await service.lab_availability(
        pool, slug, date_or_instant("from", from_), date_or_instant("to", to)
    )


route_handlers: list[Any] = [SlotController, SeriesController, get_availability]
