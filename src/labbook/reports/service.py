"""The outreach report: visits and visitors by organization kind, region, age group and language,
trainees trained, inductions granted, repeat organizations, no-shows and the top organizations.

Dates are whole days in the labs' time zone, both ends included. Each figure group is one SQL
aggregate (``repository``) over the same definition of a visit, so the groups add up to the totals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import asyncpg

from labbook.core.principal import Principal
from labbook.core.roles import Role
from labbook.errors import NotFound, ValidationFailed
from labbook.reports import repository
from labbook.reports.rows import EquipmentUseRow, GroupRow, TopOrganizationRow, TotalsRow, UtilizationRow
from labbook.timezones import DEFAULT_TIMEZONE, zone

TOP = 10
# A report covers at most this many days: ten years of a lab's life.
MAX_DAYS = 3660


@dataclass(frozen=True, slots=True)
class OutreachReport:
    from_date: date
    to_date: date
    totals: TotalsRow
    by_organization_kind: list[GroupRow]
    by_region: list[GroupRow]
    by_age_group: list[GroupRow]
    by_language: list[GroupRow]
    top_organizations: list[TopOrganizationRow]


@asynccontextmanager
async def _reading(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One read-only snapshot for every figure of a report, so that they add up while bookings
    change, each statement planned for the labs and dates asked about."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        await repository.plan_for_the_values(conn)
        yield conn


def _bounds(from_date: date, to_date: date) -> tuple[datetime, datetime]:
    if to_date < from_date:
        raise ValidationFailed.field("to", "the end comes before the start")
    if (to_date - from_date).days > MAX_DAYS:
        raise ValidationFailed.field("to", f"a report covers at most {MAX_DAYS} days")
    tz = zone(DEFAULT_TIMEZONE)
    return datetime.combine(from_date, time(), tzinfo=tz), datetime.combine(
        to_date + timedelta(days=1), time(), tzinfo=tz
    )


async def outreach(
    pool: asyncpg.Pool,
    me: Principal,
    *,
    from_date: date,
    to_date: date,
    lab: str | None = None,
    host: str | None = None,
) -> OutreachReport:
    """The outreach report over the caller's labs (every lab for an admin), or one lab or host of them."""
    starts_from, starts_to = _bounds(from_date, to_date)
    async with _reading(pool) as conn:
        labs = await repository.list_labs(
            conn,
            see_all=me.is_admin,
            lab_ids=sorted(me.managed_lab_ids) if Role.LAB_MANAGER in me.roles else [],
            lab=lab,
            host=host,
        )
        if not labs and (lab or host):
            raise NotFound("no such lab among yours")

        async def groups(query: str) -> list[GroupRow]:
            return await repository.list_groups(conn, query, starts_from, starts_to, labs)

        return OutreachReport(
            from_date=from_date,
            to_date=to_date,
            totals=await repository.get_totals(conn, starts_from, starts_to, labs),
            by_organization_kind=await groups(repository.BY_ORGANIZATION_KIND),
            by_region=await groups(repository.BY_REGION),
            by_age_group=await groups(repository.BY_AGE_GROUP),
            by_language=await groups(repository.BY_LANGUAGE),
            top_organizations=await repository.list_top_organizations(
                conn, starts_from, starts_to, labs, TOP
            ),
        )


@dataclass(frozen=True, slots=True)
class UtilizationReport:
    from_date: date
    to_date: date
    by: str
    labs: list[UtilizationRow]
    equipment: list[EquipmentUseRow]


async def utilization(
    pool: asyncpg.Pool,
    me: Principal,
    *,
    from_date: date,
    to_date: date,
    by: str = "week",
    lab: str | None = None,
    host: str | None = None,
) -> UtilizationReport:
    """Hours open, published and booked per lab, and hours held per station of each equipment, by
    week (starting Monday) or month. Closures are not taken off the hours open."""
    if by not in ("week", "month"):
        raise ValidationFailed.field("by", "give week or month")
    starts_from, starts_to = _bounds(from_date, to_date)
    async with _reading(pool) as conn:
        labs = await repository.list_labs(
            conn,
            see_all=me.is_admin,
            lab_ids=sorted(me.managed_lab_ids) if Role.LAB_MANAGER in me.roles else [],
            lab=lab,
            host=host,
        )
        if not labs and (lab or host):
            raise NotFound("no such lab among yours")
        return UtilizationReport(
            from_date=from_date,
            to_date=to_date,
            by=by,
            labs=await repository.list_utilization(conn, starts_from, starts_to, labs, by, DEFAULT_TIMEZONE),
            equipment=await repository.list_equipment_use(
                conn, starts_from, starts_to, labs, by, DEFAULT_TIMEZONE
            ),
        )
