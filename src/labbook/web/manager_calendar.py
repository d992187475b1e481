"""A lab manager's calendars: the week and the month of a lab, and which station each session holds."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from labbook.bookings import service as bookings
from labbook.bookings.schemas import BookingFilter
from labbook.catalog import service as catalog
from labbook.catalog.rows import EquipmentRow, LabRow
from labbook.core.access import MANAGERS
from labbook.core.principal import Principal
from labbook.errors import NotFound
from labbook.slots import service as slots
from labbook.timezones import zone
from labbook.web.pages import now_of, page_lang, render
from labbook.web.public import (
    DAY_FORMATS,
    FIRST_YEAR,
    KIND_NAMES,
    LAST_YEAR,
    monday_of,
    parse_week,
    week_name,
    weekly_hours,
)

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]
Period = Annotated[str | None, QueryParameter(max_length=20)]

# Slots in one lab's month (six weeks shown at most): far more than any lab publishes; the page says
# so rather than silently drop any.
SLOT_LIMIT = 2000
# One page of the bookings service's list; the calendar reads as many pages as the period has.
BOOKING_PAGE = 200
# Bookings that still bring people (or may): declined and cancelled ones are not on the calendar.
ACTIVE_BOOKINGS = ("pending", "confirmed", "waitlisted")
# The station grid for a day shows these hours unless the lab's hours or its sessions reach further.
DAY_START, DAY_END = 8, 20
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


async def managed_lab(pool: asyncpg.Pool, me: Principal, slug: str) -> LabRow:
    """The lab, if ``me`` runs it: 404 for no such lab, 403 for someone else's."""
    lab = await catalog.get_lab(pool, slug)
    me.require_lab(lab.id)
    return lab


def parse_month(value: str | None, today: dt.date) -> dt.date:
    """The first day of a month such as ``2027-02`` (this month when not given); a bad one is a 404."""
    if not value:
        return today.replace(day=1)
    found = _MONTH.fullmatch(value.strip())
    if (
        found is None
        or not FIRST_YEAR <= int(found.group(1)) <= LAST_YEAR
        or not 1 <= int(found.group(2)) <= 12
    ):
        raise NotFound(f"no month {value!r}")
    return dt.date(int(found.group(1)), int(found.group(2)), 1)


def parse_day(value: str) -> dt.date:
    """A day such as ``2027-02-10``; a bad one is a 404."""
    if not _DAY.fullmatch(value.strip()):
        raise NotFound(f"no day {value!r}")
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise NotFound(f"no day {value!r}") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise NotFound(f"no day {value!r}")
    return day


def month_name(first: dt.date) -> str | None:
    return f"{first.year}-{first.month:02d}" if FIRST_YEAR <= first.year <= LAST_YEAR else None


def next_month(first: dt.date) -> dt.date:
    return (first + dt.timedelta(days=32)).replace(day=1)


def previous_month(first: dt.date) -> dt.date:
    return (first - dt.timedelta(days=1)).replace(day=1)


def midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz)


@dataclass(slots=True)
class Session:
    """A slot as the manager's calendar shows it: the slot and the groups booked into it."""

    slot: Mapping[str, Any]
    groups: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def people(self) -> int:
        return sum(g["headcount"] for g in self.groups if g["status"] in ("pending", "confirmed"))

    @property
    def units(self) -> list[tuple[str, list[int]]]:
        """Stations held, by equipment slug."""
        grouped: dict[str, list[int]] = {}
        for unit in self.slot["units"]:
            grouped.setdefault(unit["equipment"], []).append(unit["unit"])
        return list(grouped.items())


@dataclass(frozen=True, slots=True)
class CalendarDay:
    date: dt.date
    hours: list[tuple[dt.time, dt.time]]
    closed: list[Session]
    sessions: list[Session]
    is_today: bool
    in_month: bool = True


def _on_day(items: Iterable[Session], day: dt.date, tz: ZoneInfo) -> list[Session]:
    start, end = midnight(day, tz), midnight(day + dt.timedelta(days=1), tz)
    return [s for s in items if s.slot["starts_at"] < end and s.slot["ends_at"] > start]


async def _sessions(
    pool: asyncpg.Pool,
    me: Principal,
    lab: LabRow,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    now: dt.datetime,
) -> tuple[list[Session], bool]:
    """Every slot of the lab in the period (cancelled ones too) with its active bookings, and
    whether there were more slots than one page shows."""
    rows, total = await slots.list_slots(
        pool,
        me,
        lab=lab.slug,
        starts_at=starts_at,
        ends_at=ends_at,
        kind=None,
        has_seats=False,
        include_cancelled=True,
        limit=SLOT_LIMIT,
        offset=0,
        now=now,
    )
    sessions = {row["id"]: Session(row) for row in rows}
    if rows:
        # A session that began before the period still shows in it, so its bookings are read too.
        first = min(row["starts_at"] for row in rows)
        offset = 0
        while True:
            page, found = await bookings.list_bookings(
                pool,
                me,
                BookingFilter(
                    lab=lab.slug, starts_from=first, starts_to=ends_at, limit=BOOKING_PAGE, offset=offset
                ),
            )
            for booking in page:
                if booking["status"] in ACTIVE_BOOKINGS and booking["slot_id"] in sessions:
                    sessions[booking["slot_id"]].groups.append(booking)
            offset += len(page)
            if not page or offset >= found:
                break
    return list(sessions.values()), total > len(rows)


def calendar_days(
    days: Sequence[dt.date],
    tz: ZoneInfo,
    lab_hours: Mapping[int, list[tuple[dt.time, dt.time]]],
    sessions: Sequence[Session],
    today: dt.date,
    month: int | None = None,
) -> list[CalendarDay]:
    """The days shown, each with what happens in it: a closure may span several days."""
    closed = [s for s in sessions if s.slot["kind"] in slots.BLOCKING_KINDS]
    people = [s for s in sessions if s.slot["kind"] not in slots.BLOCKING_KINDS]
    return [
        CalendarDay(
            date=day,
            hours=lab_hours[day.isoweekday()],
            closed=_on_day(closed, day, tz),
            sessions=_on_day(people, day, tz),
            is_today=day == today,
            in_month=month is None or day.month == month,
        )
        for day in days
    ]


async def _organization_names(pool: asyncpg.Pool, sessions: Iterable[Session]) -> dict[str, dict[str, str]]:
    """The names of the organizations booked into these sessions: a handful in a week or a month."""
    names: dict[str, dict[str, str]] = {}
    for slug in sorted({g["organization_slug"] for s in sessions for g in s.groups}):
        names[slug] = (await catalog.get_organization(pool, slug)).name
    return names


@dataclass(frozen=True, slots=True)
class Cell:
    """One station over ``span`` columns of time: the sessions holding it then."""

    held_by: list[Mapping[str, Any]]
    span: int = 1


def _merged(cells: list[Cell]) -> list[Cell]:
    """Neighbouring cells held by the same sessions become one, so a session reads once per station."""
    merged: list[Cell] = []
    for cell in cells:
        last = merged[-1] if merged else None
        if (
            last is not None
            and cell.held_by
            and [s["id"] for s in last.held_by] == [s["id"] for s in cell.held_by]
        ):
            merged[-1] = Cell(last.held_by, last.span + 1)
        else:
            merged.append(cell)
    return merged


@dataclass(frozen=True, slots=True)
class Station:
    number: int
    cells: list[Cell]


@dataclass(frozen=True, slots=True)
class Grid:
    equipment: EquipmentRow
    stations: list[Station]
    # The same holdings as a list, session by session, for a screen too narrow for the grid.
    held: list[tuple[Mapping[str, Any], list[int]]]


def station_grid(
    equipment: Sequence[EquipmentRow],
    held: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[dt.datetime, dt.datetime]],
) -> list[Grid]:
    """For every piece of equipment, a row per station and a cell per column of time, naming the
    active slots that hold that station during that time (``slot_units``, through the slot view)."""
    grids = []
    for piece in equipment:
        holders: dict[int, list[Mapping[str, Any]]] = {}
        for slot in held:
            for unit in slot["units"]:
                if unit["equipment"] == piece.slug:
                    holders.setdefault(unit["unit"], []).append(slot)
        numbers = range(1, max([piece.units, *holders]) + 1)
        held_here = [
            (slot, sorted(u["unit"] for u in slot["units"] if u["equipment"] == piece.slug))
            for slot in held
            if any(u["equipment"] == piece.slug for u in slot["units"])
        ]
        grids.append(
            Grid(
                equipment=piece,
                stations=[
                    Station(
                        number=number,
                        cells=_merged(
                            [
                                Cell(
                                    [
                                        s
                                        for s in holders.get(number, [])
                                        if s["starts_at"] < end and s["ends_at"] > start
                                    ]
                                )
                                for start, end in columns
                            ]
                        ),
                    )
                    for number in numbers
                ],
                held=held_here,
            )
        )
    return grids


def day_hours(
    day: dt.date,
    tz: ZoneInfo,
    lab_hours: Sequence[tuple[dt.time, dt.time]],
    held: Sequence[Mapping[str, Any]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The day's hours as columns: the usual working day, stretched to the lab's hours and its sessions."""
    first, last = DAY_START, DAY_END
    for opens, closes in lab_hours:
        first = min(first, opens.hour)
        last = max(last, closes.hour + (1 if closes.minute else 0))
    start, end = midnight(day, tz), midnight(day + dt.timedelta(days=1), tz)
    for slot in held:
        begins = max(slot["starts_at"], start).astimezone(tz)
        ends = min(slot["ends_at"], end).astimezone(tz)
        first = min(first, begins.hour)
        last = max(last, 24 if ends >= end else ends.hour + (1 if ends.minute else 0))
    return [
        (midnight(day, tz) + dt.timedelta(hours=h), midnight(day, tz) + dt.timedelta(hours=h + 1))
        for h in range(first, last)
    ]


class CalendarPages(Controller):
    """The week, the month and the station grid of one lab its manager runs."""

    path = "/{lang:str}/manage/labs/{lab:str}"
    opt = {"access": MANAGERS}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/calendar")
    async def week(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, lab: FromPath[str], week: Period = None
    ) -> Template:
        """A lab's week, day by day: sessions with their groups, closures and maintenance."""
        found = await managed_lab(pool, me, lab)
        tz = zone(found.timezone)
        now = now_of(request)
        today = now.astimezone(tz).date()
        monday = parse_week(week, today)
        sessions, truncated = await _sessions(
            pool, me, found, midnight(monday, tz), midnight(monday + dt.timedelta(days=7), tz), now
        )
        lab_hours = weekly_hours(await catalog.get_opening_hours(pool, lab))
        days = [monday + dt.timedelta(days=n) for n in range(7)]
        return render(
            request,
            "manager/calendar_week.html",
            **await self._common(pool, me, found, sessions),
            view="week",
            days=calendar_days(days, tz, lab_hours, sessions, today),
            day_format=DAY_FORMATS[page_lang(request)],
            monday=monday,
            sunday=days[-1],
            week=week_name(monday),
            previous_week=week_name(monday - dt.timedelta(days=7)),
            next_week=week_name(monday + dt.timedelta(days=7)),
            this_week=week_name(monday_of(today)) if monday != monday_of(today) else None,
            month=month_name(monday.replace(day=1)),
            truncated=truncated,
        )

    @get("/calendar/month")
    async def month(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, lab: FromPath[str], month: Period = None
    ) -> Template:
        """A lab's month as weeks of days, each day listing its sessions in short."""
        found = await managed_lab(pool, me, lab)
        tz = zone(found.timezone)
        now = now_of(request)
        today = now.astimezone(tz).date()
        first = parse_month(month, today)
        start = monday_of(first)
        end = monday_of(next_month(first) - dt.timedelta(days=1)) + dt.timedelta(days=7)
        sessions, truncated = await _sessions(pool, me, found, midnight(start, tz), midnight(end, tz), now)
        lab_hours = weekly_hours(await catalog.get_opening_hours(pool, lab))
        days = calendar_days(
            [start + dt.timedelta(days=n) for n in range((end - start).days)],
            tz,
            lab_hours,
            sessions,
            today,
            month=first.month,
        )
        return render(
            request,
            "manager/calendar_month.html",
            **await self._common(pool, me, found, sessions),
            view="month",
            first=first,
            weeks=[days[n : n + 7] for n in range(0, len(days), 7)],
            weekdays=list(range(1, 8)),
            month=month_name(first),
            previous_month=month_name(previous_month(first)),
            next_month=month_name(next_month(first)),
            this_month=month_name(today.replace(day=1)) if first != today.replace(day=1) else None,
            # The week tab opens on this week in this month, on the month's first week otherwise.
            week=week_name(monday_of(today if first == today.replace(day=1) else first)),
            truncated=truncated,
        )

    @get("/stations")
    async def stations(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        lab: FromPath[str],
        week: Period = None,
        day: Period = None,
    ) -> Template:
        """Which session holds which station: for a day hour by hour, or for a week day by day."""
        found = await managed_lab(pool, me, lab)
        tz = zone(found.timezone)
        now = now_of(request)
        today = now.astimezone(tz).date()
        lab_hours = weekly_hours(await catalog.get_opening_hours(pool, lab))
        if day:
            chosen = parse_day(day)
            start, end = midnight(chosen, tz), midnight(chosen + dt.timedelta(days=1), tz)
        else:
            chosen = None
            monday = parse_week(week, today)
            start, end = midnight(monday, tz), midnight(monday + dt.timedelta(days=7), tz)
        sessions, truncated = await _sessions(pool, me, found, start, end, now)
        held = [s.slot for s in sessions if s.slot["status"] == "active" and s.slot["units"]]
        if chosen is not None:
            columns = day_hours(chosen, tz, lab_hours[chosen.isoweekday()], held)
            monday = monday_of(chosen)
        else:
            columns = [
                (midnight(monday + dt.timedelta(days=n), tz), midnight(monday + dt.timedelta(days=n + 1), tz))
                for n in range(7)
            ]
        equipment = await catalog.list_equipment(pool, lab, include_archived=False)
        return render(
            request,
            "manager/calendar_stations.html",
            **await self._common(pool, me, found, []),
            view="stations",
            grids=station_grid(equipment, held, columns),
            columns=columns,
            day=chosen,
            day_format=DAY_FORMATS[page_lang(request)],
            monday=monday,
            sunday=monday + dt.timedelta(days=6),
            week=week_name(monday),
            previous=(
                {"day": (chosen - dt.timedelta(days=1)).isoformat()}
                if chosen
                else {"week": week_name(monday - dt.timedelta(days=7))}
            ),
            following=(
                {"day": (chosen + dt.timedelta(days=1)).isoformat()}
                if chosen
                else {"week": week_name(monday + dt.timedelta(days=7))}
            ),
            today=today,
            month=month_name(monday.replace(day=1)),
            truncated=truncated,
        )

    @staticmethod
    async def _common(
        pool: asyncpg.Pool, me: Principal, lab: LabRow, sessions: Sequence[Session]
    ) -> dict[str, Any]:
        """What every calendar page shows besides its period: the lab, the manager's other labs, names."""
        equipment = await catalog.list_equipment(pool, lab.slug, include_archived=True)
        return {
            "lab": lab,
            "equipment_names": {e.slug: e.name for e in equipment},
            "tz": lab.timezone,
            "labs": await catalog.labs_run_by(pool, me),
            "kind_names": KIND_NAMES,
            "organization_names": await _organization_names(pool, sessions),
        }


route_handlers: list[Any] = [CalendarPages]
