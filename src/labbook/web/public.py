"""Pages anyone may see: the language choice, the labs, a lab, its week, a slot, a series."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.catalog import service as catalog
from labbook.catalog.rows import EquipmentRow, LabRow, OpeningHoursRow
from labbook.clock import Clock
from labbook.core.access import PUBLIC
from labbook.core.kinds import HOST_KIND, PEOPLE_KINDS
from labbook.core.principal import Principal
from labbook.errors import NotFound
from labbook.feeds import service as feeds
from labbook.slots import service as slots
from labbook.timezones import zone
from labbook.web.forms import N_
from labbook.web.i18n import negotiate
from labbook.web.pages import LANG_COOKIE, now_of, page_lang, render, settings_of

# Every lab on one page: a university has tens of labs, not thousands.
LABS_PER_PAGE = 200


# ---- a lab, its week, a slot, a series ---------------------------------------------------------

# Upcoming sessions on a lab's page; the calendar shows every week in full.
UPCOMING = 12
# Slots in one lab's week: far more than any lab publishes (a page must never silently drop some).
WEEK_LIMIT = 1000
MAX_GROUP = 10_000
# The calendar's weeks: inside the dates the slots service accepts (2000-01-01 .. 2100-01-01).
FIRST_YEAR, LAST_YEAR = 2001, 2098
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
_DIGITS = re.compile(r"[0-9]{1,6}")
MAP_SEARCH = "https://www.openstreetmap.org/search"

KIND_NAMES = {
    "tour": N_("Tour"),
    "training": N_("Training"),
    "event": N_("Event"),
    "maintenance": N_("Maintenance"),
    "closure": N_("Closed"),
}
# A day's heading in the week calendar, as each language writes a date with its weekday.
DAY_FORMATS = {"kk": "d MMMM, EEEE", "ru": "EEEE, d MMMM", "en": "EEEE d MMMM"}
GROUP_SIZE_MESSAGE = N_("Enter the size of your group: a whole number from 1.")


@dataclass(frozen=True, slots=True)
class Day:
    """One local day of a lab's week: its opening hours and what happens in it."""

    date: dt.date
    hours: list[tuple[dt.time, dt.time]]
    closed: list[asyncpg.Record]
    sessions: list[asyncpg.Record]
    is_today: bool


def group_size(value: str | None) -> tuple[int | None, bool]:
    """The seats a group needs from the form's text, and whether the text was usable."""
    text = (value or "").strip()
    if not text:
        return None, True
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_GROUP:
        return None, False
    return int(text), True


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.isoweekday() - 1)


def parse_week(value: str | None, today: dt.date) -> dt.date:
    """The Monday of an ISO week such as ``2027-W07`` (this week when not given); a bad one is a 404."""
    if not value:
        return monday_of(today)
    found = _WEEK.fullmatch(value.strip())
    if found is None or not FIRST_YEAR <= int(found.group(1)) <= LAST_YEAR:
        raise NotFound(f"no week {value!r}")
    try:
        return dt.date.fromisocalendar(int(found.group(1)), int(found.group(2)), 1)
    except ValueError:
        raise NotFound(f"no week {value!r}") from None


def week_name(monday: dt.date) -> str | None:
    """``2027-W07`` for the week starting on ``monday``, if the calendar shows it."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}" if FIRST_YEAR <= year <= LAST_YEAR else None


def weekly_hours(rows: Iterable[OpeningHoursRow]) -> dict[int, list[tuple[dt.time, dt.time]]]:
    """Opening windows by ISO weekday (1 = Monday), every weekday present."""
    hours: dict[int, list[tuple[dt.time, dt.time]]] = {day: [] for day in range(1, 8)}
    for row in rows:
        hours[row.weekday].append((row.opens_at, row.closes_at))
    return hours


def week_days(
    monday: dt.date,
    tz: ZoneInfo,
    hours: dict[int, list[tuple[dt.time, dt.time]]],
    closed: list[asyncpg.Record],
    sessions: list[asyncpg.Record],
    today: dt.date,
) -> list[Day]:
    """The week's seven days; a slot shows on every day it overlaps (a closure may span several)."""
    days = []
    for offset in range(7):
        date = monday + dt.timedelta(days=offset)
        start = dt.datetime.combine(date, dt.time(), tzinfo=tz)
        end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        days.append(
            Day(
                date=date,
                hours=hours[date.isoweekday()],
                closed=[s for s in closed if s["starts_at"] < end and s["ends_at"] > start],
                sessions=[s for s in sessions if s["starts_at"] < end and s["ends_at"] > start],
                is_today=date == today,
            )
        )
    return days


def held_equipment(
    units: Iterable[Mapping[str, Any]], equipment: Iterable[EquipmentRow]
) -> list[tuple[EquipmentRow | None, str, list[int]]]:
    """The units a slot holds, grouped by equipment: (its row if known, its slug, unit numbers)."""
    rows = {e.slug: e for e in equipment}
    grouped: dict[str, list[int]] = {}
    for unit in units:
        grouped.setdefault(unit["equipment"], []).append(unit["unit"])
    return [(rows.get(slug), slug, numbers) for slug, numbers in grouped.items()]


def can_book(slot: Mapping[str, Any], now: dt.datetime) -> bool:
    """Worth offering "Book seats": a session still to come whose booking is not closed.

    A full session still takes a place on the waiting list; the booking page says why when the lab's
    own rules (notice, how far ahead) refuse.
    """
    deadline = slot["booking_deadline"]
    return (
        slot["kind"] in PEOPLE_KINDS
        and slot["status"] == "active"
        and slot["starts_at"] > now
        and (deadline is None or deadline > now)
    )


async def _public_lab(pool: asyncpg.Pool, slug: str) -> LabRow:
    lab = await catalog.get_lab(pool, slug)
    if lab.is_archived:
        raise NotFound(f"no lab {slug!r}")
    return lab


def _slot_uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFound("no such page") from None


@get("/", opt={"access": PUBLIC}, include_in_schema=False)
async def choose_language(request: Request[Any, Any, Any]) -> Redirect:
    """``/`` sends people to their language: the ``lang`` cookie, the browser's wish, else Kazakh."""
    lang = negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    return Redirect(f"/{lang}/", status_code=303)


@get("/{lang:str}/{rest:path}", opt={"access": PUBLIC}, include_in_schema=False)
async def no_such_page(rest: FromPath[str]) -> None:
    """Any other address under a language: the page-not-found page, with the visitor still signed in."""
    raise NotFound(f"no page {rest}")


class PublicPages(Controller):
    path = "/{lang:str}"
    opt = {"access": PUBLIC}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/", name="home")
    async def home(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        host: Annotated[str | None, QueryParameter(max_length=80)] = None,
    ) -> Template:
        """The labs, with search in any language and a host filter."""
        labs, _ = await catalog.list_labs(
            pool,
            host=host or None,
            language=None,
            equipment_kind=None,
            q=q or None,
            include_archived=False,
            limit=LABS_PER_PAGE,
            offset=0,
        )
        hosts, _ = await catalog.list_organizations(
            pool, kind=HOST_KIND, q=None, include_archived=False, limit=LABS_PER_PAGE, offset=0
        )
        return render(
            request,
            "public/home.html",
            labs=labs,
            hosts=hosts,
            host_names={h.slug: h.name for h in hosts},
            q=q or "",
            host=host or "",
        )

    @get("/labs/{lab:str}", name="lab")
    async def lab(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        principal: NamedDependency[Principal | None],
        clock: NamedDependency[Clock],
        lab: FromPath[str],
        min_seats: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        """A lab: what it is, how to get there, its equipment and hours, what is coming up."""
        found = await _public_lab(pool, lab)
        seats, seats_ok = group_size(min_seats)
        host = await catalog.get_organization(pool, found.host)
        equipment = await catalog.list_equipment(pool, lab, include_archived=False)
        hours = await catalog.get_opening_hours(pool, lab)
        upcoming, total = await slots.list_slots(
            pool,
            principal,
            lab=lab,
            starts_at=None,
            ends_at=None,
            kind=None,
            has_seats=True,
            include_cancelled=False,
            limit=UPCOMING,
            offset=0,
            now=clock(),
            min_seats=seats,
        )
        settings = settings_of(request)
        address = ", ".join(part for part in (found.address, found.building) if part)
        return render(
            request,
            "public/lab.html",
            lab=found,
            host=host,
            tz=found.timezone,
            equipment=equipment,
            hours=weekly_hours(hours),
            upcoming=upcoming,
            more=total > len(upcoming),
            min_seats=seats,
            seats_text=min_seats or "",
            seats_error=None if seats_ok else GROUP_SIZE_MESSAGE,
            kind_names=KIND_NAMES,
            map_url=f"{MAP_SEARCH}?{urlencode({'query': found.address})}" if found.address else None,
            address=address,
            feed_url=feeds.feed_url(settings, feeds.lab_feed_path(lab)),
            equipment_feeds={
                e.slug: feeds.feed_url(settings, feeds.equipment_feed_path(lab, e.slug)) for e in equipment
            },
        )

    @get("/labs/{lab:str}/calendar", name="lab-calendar")
    async def calendar(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        principal: NamedDependency[Principal | None],
        clock: NamedDependency[Clock],
        lab: FromPath[str],
        week: Annotated[str | None, QueryParameter(max_length=20)] = None,
        min_seats: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        """A lab's week, day by day: sessions with seats left, closures and maintenance."""
        found = await _public_lab(pool, lab)
        tz = zone(found.timezone)
        today = now_of(request).astimezone(tz).date()
        monday = parse_week(week, today)
        seats, seats_ok = group_size(min_seats)
        starts_at = dt.datetime.combine(monday, dt.time(), tzinfo=tz)
        ends_at = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(), tzinfo=tz)
        hours = await catalog.get_opening_hours(pool, lab)

        async def week_slots(group: int | None) -> list[asyncpg.Record]:
            rows, _ = await slots.list_slots(
                pool,
                principal,
                lab=lab,
                starts_at=starts_at,
                ends_at=ends_at,
                kind=None,
                has_seats=False,
                include_cancelled=True,
                limit=WEEK_LIMIT,
                offset=0,
                now=clock(),
                min_seats=group,
            )
            return rows

        everything = await week_slots(None)
        # Closures and maintenance show whatever the group's size; the sessions shown are those it fits.
        closed = [s for s in everything if s["kind"] not in PEOPLE_KINDS and s["status"] == "active"]
        fitting = everything if seats is None else await week_slots(seats)
        sessions = [s for s in fitting if s["kind"] in PEOPLE_KINDS]
        return render(
            request,
            "public/calendar.html",
            lab=found,
            day_format=DAY_FORMATS[page_lang(request)],
            tz=found.timezone,
            days=week_days(monday, tz, weekly_hours(hours), closed, sessions, today),
            monday=monday,
            sunday=monday + dt.timedelta(days=6),
            week=week_name(monday),
            previous_week=week_name(monday - dt.timedelta(days=7)),
            next_week=week_name(monday + dt.timedelta(days=7)),
            this_week=week_name(monday_of(today)),
            is_this_week=monday == monday_of(today),
            min_seats=seats,
            seats_text=min_seats or "",
            seats_error=None if seats_ok else GROUP_SIZE_MESSAGE,
            kind_names=KIND_NAMES,
        )

    @get("/slots/{slot_id:str}", name="slot")
    async def slot(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        principal: NamedDependency[Principal | None],
        slot_id: FromPath[str],
    ) -> Template:
        """One session: when, where, how many seats are left, and the way to book."""
        row = await slots.get_slot_for(pool, principal, _slot_uuid(slot_id))
        found = await catalog.get_lab(pool, row["lab"])
        equipment = await catalog.list_equipment(pool, row["lab"], include_archived=True)
        return render(
            request,
            "public/slot.html",
            slot=row,
            lab=found,
            tz=row["timezone"],
            held=held_equipment(row["units"], equipment),
            week=week_name(monday_of(row["starts_at"].astimezone(zone(row["timezone"])).date())),
            bookable=can_book(row, now_of(request)),
            kind_names=KIND_NAMES,
        )

    @get("/series/{series_id:str}", name="series")
    async def series(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        principal: NamedDependency[Principal | None],
        series_id: FromPath[str],
    ) -> Template:
        """A course of sessions: its rule in words, every session with its seats, and booking it whole."""
        view = await slots.get_series_for(pool, principal, _slot_uuid(series_id))
        found = await catalog.get_lab(pool, view.lab_slug)
        now = now_of(request)
        row = view.row
        first: dt.datetime = row["local_start"]
        return render(
            request,
            "public/series.html",
            series=row,
            lab=found,
            tz=row["timezone"],
            occurrences=view.occurrences,
            # a weekly rule without weekdays repeats on the first session's weekday
            weekdays=list(row["weekdays"]) or [first.isoweekday()],
            starts=first.time(),
            ends=(first + row["duration"]).time(),
            bookable=row["status"] == "active" and any(can_book(o, now) for o in view.occurrences),
            kind_names=KIND_NAMES,
            now=now,
        )
