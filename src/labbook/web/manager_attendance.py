"""Marking attendance on the day: who came, how many, which trainees; and each organization's no-shows.

Three pages: a day of every session the caller marks (a lab's managers: their labs; an instructor:
the sessions they teach), a week of those sessions at a glance, and one session's page, which an
instructor opens on their phone in the lab.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.attendance import service as attendance
from labbook.attendance.rows import SessionBookingRow, SessionRow
from labbook.attendance.schemas import AttendanceMark, InductionSession
from labbook.core.principal import Principal
from labbook.core.roles import Role
from labbook.errors import LabbookError
from labbook.timezones import DEFAULT_TIMEZONE, zone
from labbook.web import forms
from labbook.web.forms import N_
from labbook.web.i18n import Gettext
from labbook.web.pages import now_of, page_lang, render, see_other
from labbook.web.problems import explain
from labbook.web.public import parse_week, week_name

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]
Day = Annotated[str | None, QueryParameter(max_length=10)]
Week = Annotated[str | None, QueryParameter(max_length=10)]
Flag = Annotated[int | None, QueryParameter(ge=0, le=1)]
# Who marks attendance: the lab's managers, admins, and the instructor of a session.
MARKERS = (Role.ADMIN, Role.LAB_MANAGER, Role.INSTRUCTOR)

CLOSED = N_("Attendance is marked from the day of the session until 7 days after it.")
HEADCOUNT = N_("Enter how many people came: a whole number from 1.")
# A form posted from a session's own page goes back there.
SESSION_PAGE = "session"


@dataclass(slots=True)
class Marks:
    """What a page says of the form last posted: saved, or refused with its values and messages."""

    marked: bool = False
    failed: UUID | None = None
    errors: dict[str, str] = field(default_factory=dict)
    posted: Mapping[str, Any] = field(default_factory=dict)
    problem: str | None = None


def _marking(me: Principal, marks: Marks) -> dict[str, Any]:
    """What both pages with attendance forms need: the last form's fate and what the caller manages."""
    return {
        "marked": marks.marked,
        "failed": marks.failed,
        "errors": marks.errors,
        "posted": marks.posted,
        "problem": marks.problem,
        "sees_all": me.is_admin,
        "managed_labs": me.managed_lab_ids if Role.LAB_MANAGER in me.roles else frozenset(),
    }


def _today(now: datetime) -> date:
    """Today in the labs' zone."""
    return now.astimezone(zone(DEFAULT_TIMEZONE)).date()


def _day(text: str | None, now: datetime) -> date:
    """The day asked for, or today."""
    try:
        return date.fromisoformat(text) if text else _today(now)
    except ValueError:
        return _today(now)


def _sessions(bookings: list[SessionBookingRow]) -> list[dict[str, Any]]:
    """The day's bookings grouped by session, soonest first."""
    by_slot: dict[UUID, dict[str, Any]] = {}
    for booking in bookings:
        session = by_slot.setdefault(booking.slot_id, {"first": booking, "bookings": []})
        session["bookings"].append(booking)
    return list(by_slot.values())


class AttendancePages(Controller):
    path = "/{lang:str}/manage/attendance"
    opt = {"access": MARKERS}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/")
    async def day(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, day: Day = None, marked: Flag = None
    ) -> Template:
        return await self._page(request, pool, me, _day(day, now_of(request)), Marks(marked=bool(marked)))

    @get("/week")
    async def week(self, request: Request[Any, Any, Any], pool: Pool, me: Me, week: Week = None) -> Template:
        """The caller's sessions of a week, by day, each with how many groups are marked."""
        today = _today(now_of(request))
        monday = parse_week(week, today)
        starts_from = datetime.combine(monday, time(), tzinfo=zone(DEFAULT_TIMEZONE))
        bookings = await attendance.list_sessions(
            pool, me, starts_from=starts_from, starts_to=starts_from + timedelta(days=7)
        )
        days: dict[date, list[dict[str, Any]]] = {}
        for session in _sessions(bookings):
            first = session["first"]
            days.setdefault(first.starts_at.astimezone(zone(first.lab_timezone)).date(), []).append(session)
        return render(
            request,
            "manager/attendance_week.html",
            monday=monday,
            sunday=monday + timedelta(days=6),
            previous=week_name(monday - timedelta(days=7)),
            next=week_name(monday + timedelta(days=7)),
            this_week=week_name(monday) if monday != parse_week(None, today) else None,
            days=sorted(days.items()),
            today=today,
        )

    @get("/sessions/{slot_id:uuid}")
    async def session(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        slot_id: FromPath[UUID],
        marked: Flag = None,
    ) -> Template:
        """One session's groups and their attendance forms: what an instructor opens in the lab."""
        return await self._session_page(request, pool, me, slot_id, Marks(marked=bool(marked)))

    @post("/{booking_id:uuid}")
    async def mark(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, booking_id: FromPath[UUID]
    ) -> Template | Redirect:
        lang = page_lang(request)
        booking = await attendance.get_booking(pool, me, booking_id)
        local_day = booking.starts_at.astimezone(zone(booking.lab_timezone)).date()
        posted = await forms.values(request, lists=("came",))
        on_session = posted.get("back") == SESSION_PAGE
        roster = await attendance.get_roster(pool, me, booking_id)
        came = set(posted.get("came") or [])
        outcome = posted.get("outcome")
        body = {
            "outcome": outcome,
            "headcount": posted.get("headcount") if outcome == "arrived" else None,
            "absent": [str(r.trainee_id) for r in roster if str(r.trainee_id) not in came],
        }
        try:
            data = forms.decode(body, AttendanceMark, lang)
            await attendance.mark_attendance(pool, me, booking_id, data, now=now_of(request))
        except forms.FormInvalid as exc:
            marks = Marks(failed=booking_id, errors=exc.errors, posted=posted)
            if on_session:
                return await self._session_page(request, pool, me, booking.slot_id, marks)
            return await self._page(request, pool, me, local_day, marks)
        except LabbookError as exc:
            if exc.status in (403, 404):
                raise
            problem, errors = explain(exc, lang)
            if exc.slug == "attendance-closed":
                problem = Gettext(lang).plain(CLOSED)
            if "headcount" in errors:
                errors["headcount"] = Gettext(lang).plain(HEADCOUNT)
            marks = Marks(failed=booking_id, errors=errors, posted=posted, problem=problem)
            if on_session:
                return await self._session_page(request, pool, me, booking.slot_id, marks)
            return await self._page(request, pool, me, local_day, marks)
        if on_session:
            return see_other(f"/{lang}/manage/attendance/sessions/{booking.slot_id}?marked=1")
        return see_other(f"/{lang}/manage/attendance/?day={local_day.isoformat()}&marked=1")

    @post("/sessions/{slot_id:uuid}", opt={"access": (Role.ADMIN, Role.LAB_MANAGER)})
    async def set_induction(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, slot_id: FromPath[UUID]
    ) -> Template | Redirect:
        """Make a training session a safety induction session, or not."""
        lang = page_lang(request)
        posted = await forms.values(request)
        day = _day(str(posted.get("day") or ""), now_of(request))
        try:
            data = forms.decode(
                {"is_induction": posted.get("is_induction")},
                InductionSession,
                lang,
                checkboxes=("is_induction",),
            )
            await attendance.set_induction_session(pool, me, slot_id, data.is_induction)
        except LabbookError as exc:
            if exc.status in (403, 404):
                raise
            problem, _ = explain(exc, lang)
            if posted.get("back") == SESSION_PAGE:
                return await self._session_page(request, pool, me, slot_id, Marks(problem=problem))
            return await self._page(request, pool, me, day, Marks(problem=problem))
        if posted.get("back") == SESSION_PAGE:
            return see_other(f"/{lang}/manage/attendance/sessions/{slot_id}")
        return see_other(f"/{lang}/manage/attendance/?day={day.isoformat()}")

    @staticmethod
    async def _session_page(
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        slot_id: UUID,
        marks: Marks,
    ) -> Template:
        session, bookings = await attendance.get_session(pool, me, slot_id)
        day = session.starts_at.astimezone(zone(session.lab_timezone)).date()
        shown: dict[str, SessionRow | list[SessionBookingRow]] = {"first": session, "bookings": bookings}
        return render(
            request,
            "manager/attendance_session.html",
            session=session,
            s=shown,
            day=day,
            back=SESSION_PAGE,
            week=week_name(day - timedelta(days=day.weekday())),
            rosters=await attendance.rosters_of(pool, me, bookings),
            **_marking(me, marks),
        )

    @staticmethod
    async def _page(
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        day: date,
        marks: Marks,
    ) -> Template:
        tz = zone(DEFAULT_TIMEZONE)
        starts_from = datetime.combine(day, time(), tzinfo=tz)
        bookings = await attendance.list_sessions(
            pool, me, starts_from=starts_from, starts_to=starts_from + timedelta(days=1)
        )
        return render(
            request,
            "manager/attendance.html",
            day=day,
            back=None,
            previous=(day - timedelta(days=1)).isoformat(),
            next=(day + timedelta(days=1)).isoformat(),
            sessions=_sessions(bookings),
            rosters=await attendance.rosters_of(pool, me, bookings),
            rates=await attendance.no_show_rates(pool, me)
            if me.is_admin or Role.LAB_MANAGER in me.roles
            else [],
            **_marking(me, marks),
            now=now_of(request),
        )


route_handlers: list[Any] = [AttendancePages]
