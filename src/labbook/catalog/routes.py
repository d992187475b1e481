"""HTTP routes for the catalog: organizations, labs, equipment and opening hours under ``/api/v1``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from labbook.catalog import service
from labbook.catalog.rows import EquipmentRow, LabRow, OpeningHoursRow, OrganizationRow
from labbook.catalog.schemas import (
    Equipment,
    EquipmentCreate,
    EquipmentKind,
    EquipmentUpdate,
    Lab,
    LabCreate,
    LabUpdate,
    OpeningHours,
    Organization,
    OrganizationCreate,
    OrganizationKind,
    OrganizationUpdate,
    WeeklySchedule,
)
from labbook.clock import Clock
from labbook.core.access import ADMIN, LAB_STAFF, ORGANIZATION_STAFF, PUBLIC
from labbook.core.paging import Limit, Offset, Page
from labbook.core.principal import Principal
from labbook.schemas import Language
from labbook.settings import Settings

Query = Annotated[str | None, QueryParameter(max_length=200, description="text to look for in names")]


def _subscribe_url(feed_url: str) -> str:
    return re.sub(r"^https?://", "webcal://", feed_url)


def _organization(row: OrganizationRow) -> Organization:
    return Organization(
        slug=row.slug,
        name=row.name,
        kind=row.kind,
        city=row.city,
        country=row.country,
        website=row.website,
        description=row.description,
        is_archived=row.is_archived,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _lab(row: LabRow, settings: Settings) -> Lab:
    feed_url = f"{settings.base_url}/feeds/labs/{row.slug}.ics"
    return Lab(
        slug=row.slug,
        host=row.host,
        name=row.name,
        description=row.description,
        building=row.building,
        room=row.room,
        address=row.address,
        timezone=row.timezone,
        capacity=row.capacity,
        languages=row.languages,
        min_visitor_age=row.min_visitor_age,
        safety_notes=row.safety_notes,
        accessibility=row.accessibility,
        min_notice_hours=row.min_notice_hours,
        max_advance_days=row.max_advance_days,
        reminder_hours=row.reminder_hours,
        is_archived=row.is_archived,
        created_at=row.created_at,
        updated_at=row.updated_at,
        feed_url=feed_url,
        subscribe_url=_subscribe_url(feed_url),
    )


def _equipment(row: EquipmentRow, settings: Settings) -> Equipment:
    feed_url = f"{settings.base_url}/feeds/labs/{row.lab}/equipment/{row.slug}.ics"
    return Equipment(
        slug=row.slug,
        lab=row.lab,
        kind=row.kind,
        name=row.name,
        description=row.description,
        units=row.units,
        seats_per_unit=row.seats_per_unit,
        requires_induction=row.requires_induction,
        induction_valid_months=row.induction_valid_months,
        is_out_of_service=row.is_out_of_service,
        is_archived=row.is_archived,
        created_at=row.created_at,
        updated_at=row.updated_at,
        feed_url=feed_url,
        subscribe_url=_subscribe_url(feed_url),
    )


def _hours(rows: list[OpeningHoursRow]) -> list[OpeningHours]:
    return [
        OpeningHours(
            weekday=row.weekday,
            opens_at=row.opens_at.strftime("%H:%M"),
            closes_at=row.closes_at.strftime("%H:%M"),
        )
        for row in rows
    ]


class OrganizationController(Controller):
    path = "/api/v1/organizations"
    tags: Sequence[str] | None = ("catalog",)

    @get("/", opt={"access": PUBLIC}, summary="List organizations")
    async def list_organizations(
        self,
        pool: NamedDependency[asyncpg.Pool],
        kind: FromQuery[OrganizationKind | None] = None,
        q: Query = None,
        include_archived: FromQuery[bool] = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[Organization]:
        rows, total = await service.list_organizations(
            pool, kind=kind, q=q, include_archived=include_archived, limit=limit, offset=offset
        )
        return Page(items=[_organization(r) for r in rows], total=total, limit=limit, offset=offset)

    @post("/", opt={"access": ADMIN}, summary="Create an organization")
    async def create_organization(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        data: JSONBody[OrganizationCreate],
    ) -> Organization:
        return _organization(await service.create_organization(pool, me, data))

    @get("/{slug:str}", opt={"access": PUBLIC}, summary="One organization")
    async def get_organization(
        self, pool: NamedDependency[asyncpg.Pool], slug: FromPath[str]
    ) -> Organization:
        return _organization(await service.get_organization(pool, slug))

    @patch(
        "/{slug:str}",
        opt={"access": ORGANIZATION_STAFF},
        summary="Change an organization (its directors: descriptive fields only)",
    )
    async def update_organization(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        slug: FromPath[str],
        data: JSONBody[OrganizationUpdate],
    ) -> Organization:
        return _organization(await service.update_organization(pool, me, slug, data))

    @post(
        "/{slug:str}/archive",
        opt={"access": ADMIN},
        status_code=HTTP_200_OK,
        summary="Archive an organization",
    )
    async def archive_organization(
        self, pool: NamedDependency[asyncpg.Pool], me: NamedDependency[Principal], slug: FromPath[str]
    ) -> Organization:
        return _organization(await service.archive_organization(pool, me, slug))

    @post(
        "/{slug:str}/unarchive",
        opt={"access": ADMIN},
        status_code=HTTP_200_OK,
        summary="Bring an archived organization back",
    )
    async def unarchive_organization(
        self, pool: NamedDependency[asyncpg.Pool], me: NamedDependency[Principal], slug: FromPath[str]
    ) -> Organization:
        return _organization(await service.unarchive_organization(pool, me, slug))


class LabController(Controller):
    path = "/api/v1/labs"
    tags: Sequence[str] | None = ("catalog",)

    @get("/", opt={"access": PUBLIC}, summary="List labs")
    async def list_labs(
        self,
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        host: Annotated[str | None, QueryParameter(description="host organization slug")] = None,
        language: Annotated[Language | None, QueryParameter(description="labs offering tours in it")] = None,
        equipment_kind: Annotated[EquipmentKind | None, QueryParameter(description="labs having it")] = None,
        q: Query = None,
        include_archived: FromQuery[bool] = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page[Lab]:
        rows, total = await service.list_labs(
            pool,
            host=host,
            language=language,
            equipment_kind=equipment_kind,
            q=q,
            include_archived=include_archived,
            limit=limit,
            offset=offset,
        )
        return Page(items=[_lab(r, settings) for r in rows], total=total, limit=limit, offset=offset)

    @post("/", opt={"access": ADMIN}, summary="Create a lab in a host university")
    async def create_lab(
        self,
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        me: NamedDependency[Principal],
        data: JSONBody[LabCreate],
    ) -> Lab:
        return _lab(await service.create_lab(pool, me, data), settings)

    @get("/{slug:str}", opt={"access": PUBLIC}, summary="One lab (archived ones too)")
    async def get_lab(self, request: Request[Any, Any, Any], slug: FromPath[str]) -> Lab:
        # From the app's state rather than injected, as the feeds do: a read answered from the
        # worker's cache costs less than resolving the dependencies would.
        state = request.app.state
        return _lab(await service.read_lab(state.pool, state.lab_cache, slug), state.settings)

    @patch("/{slug:str}", opt={"access": LAB_STAFF}, summary="Change a lab")
    async def update_lab(
        self,
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        me: NamedDependency[Principal],
        clock: NamedDependency[Clock],
        slug: FromPath[str],
        data: JSONBody[LabUpdate],
    ) -> Lab:
        return _lab(await service.update_lab(pool, me, slug, data, now=clock()), settings)

    @post("/{slug:str}/archive", opt={"access": LAB_STAFF}, status_code=HTTP_200_OK, summary="Archive a lab")
    async def archive_lab(
        self,
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        me: NamedDependency[Principal],
        slug: FromPath[str],
    ) -> Lab:
        return _lab(await service.archive_lab(pool, me, slug), settings)

    @get("/{slug:str}/opening-hours", opt={"access": PUBLIC}, summary="Weekly opening hours (lab local time)")
    async def get_opening_hours(
        self, pool: NamedDependency[asyncpg.Pool], slug: FromPath[str]
    ) -> list[OpeningHours]:
        return _hours(await service.get_opening_hours(pool, slug))

    @put("/{slug:str}/opening-hours", opt={"access": LAB_STAFF}, summary="Replace the weekly opening hours")
    async def set_opening_hours(
        self,
        pool: NamedDependency[asyncpg.Pool],
        me: NamedDependency[Principal],
        slug: FromPath[str],
        data: JSONBody[WeeklySchedule],
    ) -> list[OpeningHours]:
        return _hours(await service.set_opening_hours(pool, me, slug, data))


class EquipmentController(Controller):
    path = "/api/v1/labs/{slug:str}/equipment"
    tags: Sequence[str] | None = ("catalog",)

    @get("/", opt={"access": PUBLIC}, summary="A lab's equipment")
    async def list_equipment(
        self,
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
        include_archived: FromQuery[bool] = False,
    ) -> list[Equipment]:
        rows = await service.list_equipment(pool, slug, include_archived=include_archived)
        return [_equipment(r, settings) for r in rows]

    @post("/", opt={"access": LAB_STAFF}, summary="Add equipment to a lab")
    async def create_equipment(
        self,
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        me: NamedDependency[Principal],
        slug: FromPath[str],
        data: JSONBody[EquipmentCreate],
    ) -> Equipment:
        return _equipment(await service.create_equipment(pool, me, slug, data), settings)

    @get("/{equipment:str}", opt={"access": PUBLIC}, summary="One piece of equipment")
    async def get_equipment(
        self,
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        slug: FromPath[str],
        equipment: FromPath[str],
    ) -> Equipment:
        return _equipment(await service.get_equipment(pool, slug, equipment), settings)

    @patch("/{equipment:str}", opt={"access": LAB_STAFF}, summary="Change equipment (units grow or retire)")
    async def update_equipment(
        self,
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        me: NamedDependency[Principal],
        slug: FromPath[str],
        equipment: FromPath[str],
        data: JSONBody[EquipmentUpdate],
    ) -> Equipment:
        return _equipment(await service.update_equipment(pool, me, slug, equipment, data), settings)

    @post(
        "/{equipment:str}/archive",
        opt={"access": LAB_STAFF},
        status_code=HTTP_200_OK,
        summary="Archive equipment",
    )
    async def archive_equipment(
        self,
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
        me: NamedDependency[Principal],
        slug: FromPath[str],
        equipment: FromPath[str],
    ) -> Equipment:
        return _equipment(await service.archive_equipment(pool, me, slug, equipment), settings)


route_handlers: list[Any] = [OrganizationController, LabController, EquipmentController]
