"""Visit requests for lab managers: each window seen against the lab's calendar, and the answer.

The answer is one of three: accept a window (a training visit with the stations it holds), decline
with a message, or propose another time, which the school or college then accepts or declines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.catalog import service as catalog
from labbook.catalog.rows import EquipmentRow, LabRow, OpeningHoursRow
from labbook.core.access import MANAGERS
from labbook.core.principal import Principal
from labbook.errors import LabbookError
from labbook.schemas import LANGUAGES
from labbook.slots import recurrence
from labbook.slots import service as slots
from labbook.timezones import zone
from labbook.visits import service as visits
from labbook.visits.schemas import VisitAcceptance, VisitDecision, VisitProposalCreate, VisitStatus
from labbook.web import forms
from labbook.web.forms import N_
from labbook.web.i18n import Gettext
from labbook.web.manager import WHEN_INCOMPLETE, put_when
from labbook.web.pages import now_of, page_lang, render, see_other, visit_request_shown
from labbook.web.problems import explain

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]

# A manager's labs receive tens of requests a month; a page shows far fewer than this.
LIST_LIMIT = 200
# Sessions of one lab on one day: a handful.
DAY_LIMIT = 100
# Waiting on the manager first, then on the school or college, then the answered ones.
STATUSES: tuple[VisitStatus, ...] = ("pending", "proposed", "accepted", "declined", "cancelled")
PEOPLE_KINDS = ("tour", "training", "event")
UNITS = N_("Enter how many stations: a whole number from 0.")
WINDOW_CHOSEN = N_("Choose one of the times they suggest.")


@dataclass
class Around:
    """One time (a suggested window, or the lab's proposal) against the lab's calendar that day."""

    starts_at: datetime
    ends_at: datetime
    is_open: bool
    is_closed: bool
    day: list[Any] = field(default_factory=list)
    overlapping: set[UUID] = field(default_factory=set)
    people_booked: int = 0
    free_stations: dict[str, int] = field(default_factory=dict)


def _inside_hours(starts_at: datetime, ends_at: datetime, tz: str, hours: Sequence[OpeningHoursRow]) -> bool:
    local_start, local_end = starts_at.astimezone(zone(tz)), ends_at.astimezone(zone(tz))
    if local_start.date() != local_end.date() and local_end.time() != time(0):
        return False
    return any(
        h.weekday == local_start.isoweekday()
        and h.opens_at <= local_start.time()
        and (local_end.time() <= h.closes_at or local_end.time() == time(0) == h.closes_at)
        for h in hours
    )


async def _around(
    pool: asyncpg.Pool,
    me: Principal,
    request: Request[Any, Any, Any],
    lab: LabRow,
    equipment: Sequence[EquipmentRow],
    hours: Sequence[OpeningHoursRow],
    starts_at: datetime,
    ends_at: datetime,
) -> Around:
    """What the lab already holds on the window's local day, and what is left during the window."""
    tz = zone(lab.timezone)
    day = starts_at.astimezone(tz).date()
    first = recurrence.to_instant(datetime.combine(day, time()), tz)
    last = recurrence.to_instant(datetime.combine(day + timedelta(days=1), time()), tz)
    rows, _ = await slots.list_slots(
        pool,
        me,
        lab=lab.slug,
        starts_at=first,
        ends_at=max(last, ends_at),
        kind=None,
        has_seats=False,
        include_cancelled=False,
        limit=DAY_LIMIT,
        offset=0,
        now=now_of(request),
    )
    overlapping = [r for r in rows if r["starts_at"] < ends_at and starts_at < r["ends_at"]]
    held: dict[str, set[int]] = {}
    for row in overlapping:
        for unit in row["units"]:
            held.setdefault(unit["equipment"], set()).add(unit["unit"])
    return Around(
        starts_at=starts_at,
        ends_at=ends_at,
        is_open=_inside_hours(starts_at, ends_at, lab.timezone, hours),
        is_closed=any(r["kind"] == "closure" for r in overlapping),
        day=rows,
        overlapping={r["id"] for r in overlapping},
        people_booked=sum(r["capacity"] for r in overlapping if r["kind"] in PEOPLE_KINDS),
        free_stations={
            e.slug: 0 if e.is_out_of_service else max(0, e.units - len(held.get(e.slug, ())))
            for e in equipment
        },
    )


def _stations(
    posted: Mapping[str, Any], prefix: str, lang: str
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The API's ``equipment`` list from the form's ``units.<equipment>`` fields."""
    found: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for key, value in posted.items():
        if not key.startswith(prefix) or value in ("", "0"):
            continue
        if not str(value).isdigit():
            errors[key] = Gettext(lang).plain(UNITS)
        else:
            found.append({"equipment": key.removeprefix(prefix), "units": int(value)})
    return found, errors


def _titles(posted: Mapping[str, Any]) -> dict[str, str] | None:
    return {code: posted[f"title.{code}"] for code in LANGUAGES if posted.get(f"title.{code}")} or None


def _proposal_body(
    posted: Mapping[str, Any], timezone: str, lang: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The API's proposal body: a local date and times in the lab's zone become instants."""
    gettext = Gettext(lang)
    equipment, errors = _stations(posted, "units.", lang)
    body: dict[str, Any] = {"equipment": equipment, "message": posted.get("message")}
    put_when(body, errors, posted, timezone, gettext)
    return body, errors


class ManagerVisitPages(Controller):
    """The visit requests of the manager's labs, one page each to answer them."""

    path = "/{lang:str}/manage/visits"
    opt = {"access": MANAGERS}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/")
    async def list_requests(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        status: Annotated[VisitStatus | None, QueryParameter()] = None,
        done: Annotated[str | None, QueryParameter()] = None,
    ) -> Template:
        rows, total = await visits.list_visit_requests(
            pool, me, status=status, lab=None, limit=LIST_LIMIT, offset=0
        )
        order = {s: n for n, s in enumerate(STATUSES)}
        shown = sorted(rows, key=lambda r: (order[r.status], r.created_at))
        return render(
            request,
            "manager/visit_list.html",
            requests=[visit_request_shown(r) for r in shown],
            total=total,
            chosen_status=status,
            done=done,
            lab_names=await catalog.lab_names(pool, {r.lab_slug for r in rows}),
            organization_names=await _organization_names(pool, {r.organization_slug for r in rows}),
        )

    @get("/{request_id:uuid}")
    async def show(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        request_id: FromPath[UUID],
        done: Annotated[str | None, QueryParameter()] = None,
    ) -> Template:
        return await self._page(request, pool, me, request_id, done=done)

    @post("/{request_id:uuid}/accept")
    async def accept(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, request_id: FromPath[UUID]
    ) -> Template | Redirect:
        """Accept one window, holding the stations chosen for a training visit."""
        lang = page_lang(request)
        posted = await forms.values(request)
        equipment, errors = _stations(posted, "units.", lang)
        body = {
            "window_number": posted.get("window_number"),
            "equipment": equipment,
            "title": _titles(posted),
            "message": posted.get("message"),
            "outside_hours": posted.get("outside_hours"),
        }
        try:
            if not posted.get("window_number"):
                errors["window_number"] = Gettext(lang).plain(WINDOW_CHOSEN)
            data = forms.decode(
                {k: v for k, v in body.items() if k not in errors and v is not None},
                VisitAcceptance,
                lang,
                checkboxes=("outside_hours",),
            )
            if errors:
                raise forms.FormInvalid(errors)
            await visits.accept_visit_request(pool, me, request_id, data, now=now_of(request))
        except forms.FormInvalid as exc:
            return await self._page(
                request, pool, me, request_id, form="accept", posted=posted, errors={**exc.errors, **errors}
            )
        except LabbookError as exc:
            return await self._refused(request, pool, me, request_id, exc, "accept", posted)
        return see_other(f"/{lang}/manage/visits/{request_id}?done=accepted")

    @post("/{request_id:uuid}/decline")
    async def decline(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, request_id: FromPath[UUID]
    ) -> Template | Redirect:
        """Decline, with a message the school or college reads on its request."""
        lang = page_lang(request)
        posted = await forms.values(request)
        try:
            data = forms.decode({"message": posted.get("message")}, VisitDecision, lang)
            await visits.decline_visit_request(pool, me, request_id, data.message)
        except forms.FormInvalid as exc:
            return await self._page(
                request, pool, me, request_id, form="decline", posted=posted, errors=exc.errors
            )
        except LabbookError as exc:
            return await self._refused(request, pool, me, request_id, exc, "decline", posted)
        return see_other(f"/{lang}/manage/visits/{request_id}?done=declined")

    @post("/{request_id:uuid}/propose")
    async def propose(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, request_id: FromPath[UUID]
    ) -> Template | Redirect:
        """Offer another time; the school or college accepts or declines it on its own page."""
        lang = page_lang(request)
        posted = await forms.values(request)
        row = await visits.get_visit_request(pool, me, request_id)
        body, errors = _proposal_body(posted, row.lab_timezone, lang)
        try:
            data = forms.decode(
                {k: v for k, v in body.items() if k not in errors and v is not None},
                VisitProposalCreate,
                lang,
            )
            if errors:
                raise forms.FormInvalid(errors)
            await visits.propose_visit_time(pool, me, request_id, data, now=now_of(request))
        except forms.FormInvalid as exc:
            found = {**exc.errors, **errors}
            if "starts_at" in found or "ends_at" in found:
                found["when"] = found.get("when") or Gettext(lang).plain(WHEN_INCOMPLETE)
            return await self._page(
                request, pool, me, request_id, form="propose", posted=posted, errors=found
            )
        except LabbookError as exc:
            return await self._refused(request, pool, me, request_id, exc, "propose", posted)
        return see_other(f"/{lang}/manage/visits/{request_id}?done=proposed")

    async def _refused(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        request_id: UUID,
        exc: LabbookError,
        form: str,
        posted: Mapping[str, Any],
    ) -> Template:
        if exc.status in (403, 404):
            raise exc  # not this manager's request: the error page, with its status
        lang = page_lang(request)
        problem, errors = explain(exc, lang)
        return await self._page(
            request, pool, me, request_id, form=form, posted=posted, errors=errors, problem=problem
        )

    async def _page(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        request_id: UUID,
        *,
        form: str | None = None,
        posted: Mapping[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        problem: str | None = None,
        done: str | None = None,
    ) -> Template:
        row = await visits.get_visit_request(pool, me, request_id)
        lab = await catalog.get_lab(pool, row.lab_slug)
        equipment = await catalog.list_equipment(pool, row.lab_slug, include_archived=False)
        hours = await catalog.get_opening_hours(pool, row.lab_slug)
        shown = visit_request_shown(row)
        windows = [
            await _around(pool, me, request, lab, equipment, hours, starts_at, ends_at)
            for starts_at, ends_at in shown["windows"]
        ]
        proposal = (
            await _around(
                pool, me, request, lab, equipment, hours, row.proposal.starts_at, row.proposal.ends_at
            )
            if row.proposal is not None
            else None
        )
        return render(
            request,
            "manager/visit_detail.html",
            r=shown,
            lab=lab,
            equipment=equipment,
            windows=windows,
            proposal=proposal,
            organization_name=(await _organization_names(pool, {row.organization_slug})).get(
                row.organization_slug
            ),
            form=form,
            values=posted or {},
            errors=errors or {},
            problem=problem,
            done=done,
        )


async def _organization_names(pool: asyncpg.Pool, slugs: set[str]) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for slug in slugs:
        try:
            names[slug] = (await catalog.get_organization(pool, slug)).name
        except LabbookError:
            continue
    return names


route_handlers: list[Any] = [ManagerVisitPages]
