"""What the outreach report answers."""

from __future__ import annotations

from datetime import date

from labbook.schemas import Out


class Group(Out):
    key: str
    visits: int
    visitors: int


class TopOrganization(Out):
    organization: str
    kind: str
    visits: int
    visitors: int


class Outreach(Out):
    """Visits whose session starts in [``from_date``, ``to_date``), in the labs asked about."""

    from_date: date
    to_date: date
    visits: int
    visitors: int
    organizations: int
    repeat_organizations: int
    trainees_trained: int
    no_shows: int
    inductions_granted: int
    by_organization_kind: list[Group]
    by_region: list[Group]
    by_age_group: list[Group]
    by_language: list[Group]
    top_organizations: list[TopOrganization]


class LabUse(Out):
    lab: str
    period: date
    hours_open: float
    hours_published: float
    hours_booked: float


class EquipmentUse(Out):
    lab: str
    equipment: str
    period: date
    units: int
    unit_hours: float
    hours_per_station: float


class Utilization(Out):
    """Per lab and period (a week from Monday, or a month), and per equipment and period."""

    from_date: date
    to_date: date
    by: str
    labs: list[LabUse]
    equipment: list[EquipmentUse]
