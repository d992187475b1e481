"""HTTP routes for reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from labbook.core.access import LAB_STAFF
from labbook.core.principal import Principal
from labbook.reports import service
from labbook.reports.schemas import EquipmentUse, Group, LabUse, Outreach, TopOrganization, Utilization

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]


def outreach_reply(report: service.OutreachReport) -> Outreach:
    def groups(rows: list[Any]) -> list[Group]:
        return [Group(key=r.key, visits=r.visits, visitors=r.visitors) for r in rows]

    totals = report.totals
    return Outreach(
        from_date=report.from_date,
        to_date=report.to_date,
        visits=totals.visits,
        visitors=totals.visitors,
        organizations=totals.organizations,
        repeat_organizations=totals.repeat_organizations,
        trainees_trained=totals.trainees_trained,
        no_shows=totals.no_shows,
        inductions_granted=totals.inductions_granted,
        by_organization_kind=groups(report.by_organization_kind),
        by_region=groups(report.by_region),
        by_age_group=groups(report.by_age_group),
        by_language=groups(report.by_language),
        top_organizations=[
            TopOrganization(organization=r.slug, kind=r.kind, visits=r.visits, visitors=r.visitors)
            for r in report.top_organizations
        ],
    )


class ReportController(Controller):
    path = "/api/v1/reports"
    tags: Sequence[str] | None = ("reports",)

    @get(
        "/outreach",
        opt={"access": LAB_STAFF},
        summary="Visits, visitors, trainees and inductions in a date range",
    )
    async def get_outreach(
        self,
        pool: Pool,
        me: Me,
        from_date: Annotated[date, QueryParameter(name="from", description="first day, included")],
        to_date: Annotated[date, QueryParameter(name="to", description="last day, included")],
        lab: Annotated[str | None, QueryParameter(description="lab slug")] = None,
        host: Annotated[str | None, QueryParameter(description="host organization slug")] = None,
    ) -> Outreach:
        report = await service.outreach(pool, me, from_date=from_date, to_date=to_date, lab=lab, host=host)
        return outreach_reply(report)


class UtilizationController(Controller):
    path = "/api/v1/reports/utilization"
    tags: Sequence[str] | None = ("reports",)

    @get("/", opt={"access": LAB_STAFF}, summary="Hours open, published and booked, and use per station")
    async def get_utilization(
        self,
        pool: Pool,
        me: Me,
        from_date: Annotated[date, QueryParameter(name="from", description="first day, included")],
        to_date: Annotated[date, QueryParameter(name="to", description="last day, included")],
        by: Annotated[str, QueryParameter(description="week or month")] = "week",
        lab: Annotated[str | None, QueryParameter(description="lab slug")] = None,
        host: Annotated[str | None, QueryParameter(description="host organization slug")] = None,
    ) -> Utilization:
        report = await service.utilization(
            pool, me, from_date=from_date, to_date=to_date, by=by, lab=lab, host=host
        )
        return Utilization(
            from_date=report.from_date,
            to_date=report.to_date,
            by=report.by,
            labs=[LabUse(**msgspec.structs.asdict(r)) for r in report.labs],
            equipment=[EquipmentUse(**msgspec.structs.asdict(r)) for r in report.equipment],
        )


route_handlers: list[Any] = [ReportController, UtilizationController]
