"""The roster of a training booking: the director names the trainees, the lab's manager corrects them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from labbook.attendance import service as attendance
from labbook.attendance.rows import SessionBookingRow
from labbook.attendance.schemas import RosterUpdate
from labbook.core.principal import Principal
from labbook.core.roles import Role
from labbook.errors import LabbookError
from labbook.timezones import zone
from labbook.web import forms
from labbook.web.forms import N_
from labbook.web.i18n import Formats, Gettext, pick
from labbook.web.pages import now_of, page_lang, render, see_other
from labbook.web.problems import explain

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]
# Who opens a roster page: the booking's director, the lab's manager, an admin.
ROSTER_EDITORS = (Role.DIRECTOR, Role.ADMIN, Role.LAB_MANAGER)

NOT_A_TRAINING = N_("Only a training session has a list of trainees.")
CLOSED = N_("The list can no longer be changed here. Ask the lab to correct it.")
TOO_MANY = N_("The booking is for %(num)s people: list no more than that.")
NAMED_TWICE = N_("The same person is listed twice.")
NEVER_INDUCTED = N_("%(name)s: no safety induction for “%(equipment)s”.")
EXPIRED = N_("%(name)s: the safety induction for “%(equipment)s” expired on %(date)s.")
INDUCTION_NEEDED = N_(
    "Some trainees have no valid safety induction for this equipment, so the list was not saved. "
    "Remove them, or book them into an induction session first."
)


def _rows(values: Mapping[str, Any], size: int) -> list[dict[str, str]]:
    return [
        {
            "full_name": str(values.get(f"trainees.{i}.full_name") or ""),
            "study_group": str(values.get(f"trainees.{i}.study_group") or ""),
        }
        for i in range(size)
    ]


def _body(posted: Mapping[str, Any], size: int) -> dict[str, Any]:
    """The API's roster body from the form: one row per line filled in, empty lines skipped."""
    trainees = []
    for row in _rows(posted, size):
        if not row["full_name"].strip():
            continue
        trainees.append({"full_name": row["full_name"], "study_group": row["study_group"] or None})
    return {"trainees": trainees}


def _lacking(exc: LabbookError, lang: str, booking: SessionBookingRow) -> list[str]:
    """Each trainee a refusal names, in words: never inducted, or when the induction expired."""
    gettext, formats = Gettext(lang), Formats(lang)
    said = []
    for row in exc.members.get("trainees", []):
        equipment = pick(row["equipment_name"], lang)[0] or row["equipment"]
        if row["expired_at"] is None:
            said.append(gettext.plain(NEVER_INDUCTED, name=row["full_name"], equipment=equipment))
        else:
            expired = datetime.fromisoformat(row["expired_at"])
            day = formats.date(expired, "d MMMM y", tz=booking.lab_timezone)
            said.append(gettext.plain(EXPIRED, name=row["full_name"], equipment=equipment, date=day))
    return said


def _day(booking: SessionBookingRow) -> str:
    return booking.starts_at.astimezone(zone(booking.lab_timezone)).date().isoformat()


class RosterPages(Controller):
    path = "/{lang:str}/bookings/{booking_id:uuid}/roster"
    opt = {"access": ROSTER_EDITORS}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/")
    async def roster_form(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, booking_id: FromPath[UUID]
    ) -> Template:
        booking = await attendance.get_booking(pool, me, booking_id)
        entries = await attendance.get_roster(pool, me, booking_id)
        values = {}
        for i, entry in enumerate(entries):
            values[f"trainees.{i}.full_name"] = entry.full_name
            values[f"trainees.{i}.study_group"] = entry.study_group or ""
        return self._page(request, me, booking, values, {}, None)

    @post("/")
    async def save_roster(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, booking_id: FromPath[UUID]
    ) -> Template | Redirect:
        lang = page_lang(request)
        booking = await attendance.get_booking(pool, me, booking_id)
        posted = await forms.values(request)
        try:
            data = forms.decode(_body(posted, booking.headcount), RosterUpdate, lang)
            await attendance.save_roster(pool, me, booking_id, data, now=now_of(request))
        except forms.FormInvalid as exc:
            return self._page(request, me, booking, posted, exc.errors, None)
        except attendance.InductionRequired as exc:
            return self._page(
                request,
                me,
                booking,
                posted,
                {},
                Gettext(lang).plain(INDUCTION_NEEDED),
                lacking=_lacking(exc, lang, booking),
                sessions=exc.members.get("induction_sessions", []),
            )
        except LabbookError as exc:
            problem, errors = explain(exc, lang)
            if exc.slug == "validation" and errors.get("trainees"):
                problem = Gettext(lang).plain(
                    NAMED_TWICE if "twice" in exc.detail else TOO_MANY, num=booking.headcount
                )
            elif exc.slug == "not-a-training":
                problem = Gettext(lang).plain(NOT_A_TRAINING)
            elif exc.slug == "attendance-closed":
                problem = Gettext(lang).plain(CLOSED)
            if exc.status in (403, 404):
                raise
            return self._page(request, me, booking, posted, {}, problem)
        return see_other(f"/{lang}/bookings/{booking_id}/roster?saved=1")

    @staticmethod
    def _page(
        request: Request[Any, Any, Any],
        me: Principal,
        booking: SessionBookingRow,
        values: Mapping[str, Any],
        errors: dict[str, str],
        problem: str | None,
        *,
        lacking: list[str] | None = None,
        sessions: list[dict[str, Any]] | None = None,
    ) -> Template:
        now = now_of(request)
        return render(
            request,
            "director/roster.html",
            booking=booking,
            rows=_rows(values, booking.headcount),
            errors=errors,
            problem=problem,
            lacking=lacking or [],
            sessions=[
                {"id": s["slot_id"], "starts_at": datetime.fromisoformat(s["starts_at"])}
                for s in sessions or []
            ],
            editable=booking.kind == "training" and attendance.may_edit_roster(me, booking, now),
            is_training=booking.kind == "training",
            saved="saved" in request.query_params,
            back=f"/{page_lang(request)}/bookings/{booking.id}"
            if me.acts_for(booking.organization_id)
            else f"/{page_lang(request)}/manage/attendance?day={_day(booking)}",
        )


route_handlers: list[Any] = [RosterPages]
