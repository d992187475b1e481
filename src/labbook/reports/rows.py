"""Typed rows of the report queries."""

from __future__ import annotations

from datetime import date

from labbook.core.rows import Row


class GroupRow(Row):
    key: str
    visits: int
    visitors: int


class TopOrganizationRow(Row):
    slug: str
    name: dict[str, str]
    kind: str
    visits: int
    visitors: int


class TotalsRow(Row):
    visits: int
    visitors: int
    organizations: int
    repeat_organizations: int
    trainees_trained: int
    no_shows: int
    inductions_granted: int


class UtilizationRow(Row):
    lab: str
    period: date
    hours_open: float
    hours_published: float
    hours_booked: float


class EquipmentUseRow(Row):
    lab: str
    equipment: str
    period: date
    units: int
    unit_hours: float
    hours_per_station: float
