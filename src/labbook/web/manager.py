"""Pages for lab managers: what needs an answer, and who is coming this week."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.accounts import service as accounts
from labbook.attendance import service as attendance
from labbook.bookings import service as bookings
from labbook.bookings.schemas import BookingFilter, StatusChange
from labbook.catalog import service as catalog
from labbook.catalog.rows import LabRow
from labbook.core.access import MANAGERS
from labbook.core.principal import Principal
from labbook.errors import LabbookError
from labbook.schemas import LANGUAGES
from labbook.slots import recurrence
from labbook.slots import service as slots
from labbook.slots.schemas import SlotCreate
from labbook.timezones import zone
from labbook.visits import service as visits
from labbook.visits.schemas import VisitDecision
from labbook.web import forms
from labbook.web.forms import N_
from labbook.web.i18n import Gettext
from labbook.web.pages import now_of, page_lang, render, see_other, visit_request_shown
from labbook.web.problems import explain
from labbook.web.public import KIND_NAMES

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]
Count = Annotated[int | None, QueryParameter(ge=0, le=10_000)]

# What a manager answers in one sitting; a longer queue is worked through page by page.
QUEUE_LIMIT = 100
# A week of visits, several labs: far below this.
WEEK_LIMIT = 500
EXPECTED = ("pending", "confirmed")
# Schools and colleges that book one university's labs: hundreds, not tens of thousands.
ORGANIZATIONS = 5000
ACTIONS = ("confirm", "decline")
NOTHING_CHOSEN = N_("Tick at least one booking, or use the buttons on its row.")
WHEN_INCOMPLETE = N_("Give the date, the start and the end.")
WHEN_ORDER = N_("The end must be after the start.")
NO_TITLE = N_("Give the session a title in at least one language.")
NO_LAB = N_("Choose one of your labs.")
UNITS = N_("Enter how many stations: a whole number from 0.")
DEADLINE = N_("Give the deadline as a date and a time.")
CHECK_FIRST = N_("Give the date, the start and the end, then check again.")
PUBLISHED_KINDS = ("training", "tour", "event", "maintenance", "closure")
DOWNTIME_KINDS = ("maintenance", "closure")
TEACHING_ROLES = ("instructor", "lab_manager")
ACTIVE_BOOKINGS = ("pending", "confirmed", "waitlisted")
# A session holds at most a few dozen groups; a change reaching more is shown in part.
BOOKINGS_PER_SLOT = 200
# Sessions one closure or maintenance can meet: a few a day, over days at most.
AFFECTED_LIMIT = 200
# The teaching staff of one university: tens, hundreds at most.
STAFF = 500


def _sessions(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """This week's bookings grouped by session, soonest first, with the people expected at each."""
    by_slot: dict[UUID, dict[str, Any]] = {}
    for row in rows:
        if row["status"] not in EXPECTED:
            continue
        session = by_slot.setdefault(
            row["slot_id"],
            {
                "starts_at": row["starts_at"],
                "ends_at": row["ends_at"],
                "lab_timezone": row["lab_timezone"],
                "lab_slug": row["lab_slug"],
                "title": row["title"],
                "confirmed": 0,
                "pending": 0,
                "groups": [],
            },
        )
        session[row["status"]] += row["headcount"]
        session["groups"].append(row)
    return sorted(by_slot.values(), key=lambda s: s["starts_at"])


async def organization_names(pool: asyncpg.Pool) -> dict[str, Any]:
    """Every organization's name by slug, read once for the page."""
    rows, _ = await catalog.list_organizations(
        pool, kind=None, q=None, include_archived=True, limit=ORGANIZATIONS, offset=0
    )
    return {row.slug: row.name for row in rows}


def _chosen(posted: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """The action and the bookings it is for: one row's own button, or the ticked rows."""
    for action in ACTIONS:
        if posted.get(f"{action}_one"):
            return action, [str(posted[f"{action}_one"])]
    picked = posted.get("action")
    return (str(picked) if picked in ACTIONS else None), list(posted.get("booking") or [])


class ManagerPages(Controller):
    """The manager's dashboard and its pending queue."""

    path = "/{lang:str}/manage"
    opt = {"access": MANAGERS}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/")
    async def dashboard(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        confirmed: Count = None,
        declined: Count = None,
        request_declined: Count = None,
    ) -> Template:
        return await self._dashboard(
            request,
            pool,
            me,
            confirmed=confirmed or 0,
            declined=declined or 0,
            request_declined=bool(request_declined),
        )

    @post("/visit-requests/{request_id:uuid}/decline")
    async def decline_request(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, request_id: FromPath[UUID]
    ) -> Template | Redirect:
        """Decline a visit request with a message the school or college reads on its request."""
        lang = page_lang(request)
        posted = await forms.values(request)
        try:
            data = forms.decode({"message": posted.get("message")}, VisitDecision, lang)
            await visits.decline_visit_request(pool, me, request_id, data.message)
        except forms.FormInvalid as exc:
            return await self._dashboard(request, pool, me, errors=exc.errors, posted=posted)
        except LabbookError as exc:
            if exc.status in (403, 404):
                raise  # not this manager's request: the error page, with its status
            problem, _ = explain(exc, lang)
            return await self._dashboard(request, pool, me, problem=problem, posted=posted)
        return see_other(f"/{lang}/manage/?request_declined=1")

    @post("/bookings")
    async def answer(self, request: Request[Any, Any, Any], pool: Pool, me: Me) -> Template | Redirect:
        """Confirm or decline one pending booking, or every ticked one, with an optional message."""
        lang = request.path_params["lang"]
        posted = await forms.values(request, lists=("booking",))
        action, chosen = _chosen(posted)
        if action is None or not chosen:
            return await self._dashboard(
                request, pool, me, problem=Gettext(lang).plain(NOTHING_CHOSEN), posted=posted
            )
        try:
            message = forms.decode({"message": posted.get("message")}, StatusChange, lang).message
        except forms.FormInvalid as exc:
            return await self._dashboard(request, pool, me, errors=exc.errors, posted=posted)
        done = 0
        failed: list[str] = []
        for booking_id in dict.fromkeys(chosen):
            try:
                await bookings.change_status(pool, me, UUID(booking_id), action, message)
                done += 1
            except ValueError:
                continue
            except LabbookError as exc:
                problem, _ = explain(exc, lang)
                failed.append(problem)
        if failed:
            return await self._dashboard(
                request,
                pool,
                me,
                confirmed=done if action == "confirm" else 0,
                declined=done if action == "decline" else 0,
                problem=" ".join(dict.fromkeys(failed)),
                posted=posted,
            )
        return see_other(f"/{lang}/manage/?{'confirmed' if action == 'confirm' else 'declined'}={done}")

    async def _dashboard(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        *,
        confirmed: int = 0,
        declined: int = 0,
        request_declined: bool = False,
        problem: str | None = None,
        errors: dict[str, str] | None = None,
        posted: Mapping[str, Any] | None = None,
    ) -> Template:
        now = now_of(request)
        pending, pending_total = await bookings.list_bookings(
            pool, me, BookingFilter(status="pending", starts_from=now, limit=QUEUE_LIMIT)
        )
        week, _ = await bookings.list_bookings(
            pool, me, BookingFilter(starts_from=now, starts_to=now + timedelta(days=7), limit=WEEK_LIMIT)
        )
        rows, requests_total = await visits.list_visit_requests(
            pool, me, status="pending", lab=None, limit=QUEUE_LIMIT, offset=0
        )
        requests = [visit_request_shown(row) for row in rows]
        shown = [*pending, *week]
        labs = await catalog.labs_run_by(pool, me)
        downtime = await _downtime(pool, me, labs, now)
        return render(
            request,
            "manager/dashboard.html",
            pending=pending,
            pending_total=pending_total,
            sessions=_sessions(week),
            requests=requests,
            requests_total=requests_total,
            lab_names=await catalog.lab_names(
                pool, {*(row["lab_slug"] for row in shown), *(row.lab_slug for row in rows)}
            ),
            organization_names=await organization_names(pool),
            confirmed=confirmed,
            declined=declined,
            request_declined=request_declined,
            problem=problem,
            errors=errors or {},
            values=posted or {},
            ticked=set((posted or {}).get("booking") or []),
            my_labs=labs,
            downtime=downtime,
            kind_names=KIND_NAMES,
            # how often each asking organization failed to come, next to its booking
            no_shows={r.organization_slug: r for r in await attendance.no_show_rates(pool, me) if r.no_shows},
        )


async def _downtime(
    pool: asyncpg.Pool, me: Principal, labs: list[LabRow], now: datetime
) -> list[dict[str, Any]]:
    """Maintenance and closures in the manager's labs over the next 7 days, soonest first."""
    found: list[dict[str, Any]] = []
    for lab in labs:
        for kind in DOWNTIME_KINDS:
            rows, _ = await slots.list_slots(
                pool,
                me,
                lab=lab.slug,
                starts_at=now,
                ends_at=now + timedelta(days=7),
                kind=kind,
                has_seats=False,
                include_cancelled=False,
                limit=WEEK_LIMIT,
                offset=0,
                now=now,
            )
            found.extend({**dict(row), "lab_name": lab.name} for row in rows)
    return sorted(found, key=lambda row: row["starts_at"])


def put_when(
    body: dict[str, Any], errors: dict[str, str], posted: Mapping[str, Any], timezone: str, gettext: Gettext
) -> None:
    """The form's date, start and end, in the lab's local time, as the API's ``starts_at`` and
    ``ends_at`` instants in ``body``; what is missing or out of order goes to ``errors["when"]``."""
    tz = zone(timezone)
    try:
        day = date.fromisoformat(str(posted.get("date") or ""))
        starts_at = recurrence.to_instant(
            datetime.combine(day, time.fromisoformat(str(posted.get("starts_at")))), tz
        )
        ends_at = recurrence.to_instant(
            datetime.combine(day, time.fromisoformat(str(posted.get("ends_at")))), tz
        )
    except ValueError:
        errors["when"] = gettext.plain(WHEN_INCOMPLETE)
        return
    if ends_at <= starts_at:
        errors["when"] = gettext.plain(WHEN_ORDER)
    body["starts_at"], body["ends_at"] = starts_at.isoformat(), ends_at.isoformat()


async def my_labs(pool: asyncpg.Pool, me: Principal) -> list[LabRow]:
    return await catalog.labs_run_by(pool, me)


async def teaching_staff(pool: asyncpg.Pool, me: Principal, host: str) -> list[Any]:
    """Staff of the lab's host who may teach: the only people a session may name as instructor."""
    found: dict[Any, Any] = {}
    for role in TEACHING_ROLES:
        rows, _ = await accounts.list_people(
            pool, me, organization_slug=host, role=role, q=None, limit=STAFF, offset=0
        )
        found.update({row.id: row for row in rows if row.is_active})
    return sorted(found.values(), key=lambda row: row.full_name or "")


def slot_body(posted: Mapping[str, Any], timezone: str, lang: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The API's slot body from the form: local date and times, titles by language, stations."""
    gettext = Gettext(lang)
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        key: posted.get(key)
        for key in ("lab", "kind", "capacity", "instructor_id", "requires_approval", "outside_hours")
    }
    body["title"] = {code: posted[f"title.{code}"] for code in LANGUAGES if posted.get(f"title.{code}")}
    if not body["title"]:
        errors["title"] = gettext.plain(NO_TITLE)
    put_when(body, errors, posted, timezone, gettext)
    body["visibility"] = posted.get("visibility") or "public"
    if posted.get("organization"):
        body["organization"] = posted["organization"]
    if posted.get("booking_deadline"):
        try:
            local = datetime.fromisoformat(str(posted["booking_deadline"]))
        except ValueError:
            errors["booking_deadline"] = gettext.plain(DEADLINE)
        else:
            body["booking_deadline"] = recurrence.to_instant(
                local.replace(tzinfo=None), zone(timezone)
            ).isoformat()
    body["equipment"] = []
    for key, value in posted.items():
        if not key.startswith("units.") or value in ("", "0"):
            continue
        if not str(value).isdigit():
            errors[key] = gettext.plain(UNITS)
        else:
            body["equipment"].append({"equipment": key.removeprefix("units."), "units": int(value)})
    return body, errors


async def affected_bookings(pool: asyncpg.Pool, me: Principal, slot_ids: Sequence[UUID]) -> list[Any]:
    """The active bookings (pending, confirmed, waiting) of the slots a change reaches, by session."""
    found: list[Any] = []
    for slot_id in slot_ids:
        rows, _ = await bookings.list_bookings(pool, me, BookingFilter(slot=slot_id, limit=BOOKINGS_PER_SLOT))
        found += [row for row in rows if row["status"] in ACTIVE_BOOKINGS]
    return found


async def blocked_slots(
    pool: asyncpg.Pool, me: Principal, body: Mapping[str, Any], now: datetime
) -> list[Any]:
    """The active slots a closure or maintenance would meet: for a closure every one in the lab
    at that time, for maintenance those holding stations of the equipment it takes."""
    rows, _ = await slots.list_slots(
        pool,
        me,
        lab=body["lab"],
        starts_at=datetime.fromisoformat(body["starts_at"]),
        ends_at=datetime.fromisoformat(body["ends_at"]),
        kind=None,
        has_seats=False,
        include_cancelled=False,
        limit=AFFECTED_LIMIT,
        offset=0,
        now=now,
    )
    if body.get("kind") == "maintenance":
        taken = {item["equipment"] for item in body.get("equipment") or []}
        rows = [row for row in rows if taken & {unit["equipment"] for unit in row["units"]}]
    return [row for row in rows if row["kind"] != body.get("kind") or row["kind"] == "closure"]


class PublishPages(Controller):
    """Publishing one session: a training, a tour, an event, or time the lab is not open to visitors."""

    path = "/{lang:str}/manage/slots"
    opt = {"access": MANAGERS}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/new")
    async def form(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        lab: Annotated[str | None, QueryParameter()] = None,
    ) -> Template:
        return await self._page(request, pool, me, {"lab": lab or "", "kind": "training"}, {}, None)

    @post("/")
    async def publish(self, request: Request[Any, Any, Any], pool: Pool, me: Me) -> Template | Redirect:
        lang = page_lang(request)
        posted = await forms.values(request)
        labs = {row.slug: row for row in await my_labs(pool, me)}
        lab = labs.get(str(posted.get("lab") or ""))
        if lab is None:
            return await self._page(request, pool, me, posted, {}, Gettext(lang).plain(NO_LAB))
        body, errors = slot_body(posted, lab.timezone, lang)
        checking = bool(posted.get("check"))
        blocking = body.get("kind") in slots.BLOCKING_KINDS and not posted.get("confirm")
        if (checking or blocking) and not errors.get("when"):
            return await self._page(
                request, pool, me, posted, errors, None, check=await self._check(request, pool, me, body)
            )
        if checking:
            return await self._page(request, pool, me, posted, errors, Gettext(lang).plain(CHECK_FIRST))
        try:
            data = forms.decode(
                {k: v for k, v in body.items() if k not in errors},
                SlotCreate,
                lang,
                checkboxes=("requires_approval", "outside_hours"),
            )
            if errors:
                raise forms.FormInvalid(errors)
            slot = await slots.publish_slot(pool, me, data, now=now_of(request))
        except forms.FormInvalid as exc:
            return await self._page(request, pool, me, posted, {**exc.errors, **errors}, None)
        except LabbookError as exc:
            problem, field_errors = explain(exc, lang)
            return await self._page(request, pool, me, posted, field_errors, problem)
        return see_other(f"/{lang}/slots/{slot['id']}")

    async def _check(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """What the chosen time holds: free stations per equipment and, for a closure or maintenance,
        the sessions and bookings it would meet."""
        starts_at, ends_at = (
            datetime.fromisoformat(body["starts_at"]),
            datetime.fromisoformat(body["ends_at"]),
        )
        met = (
            await blocked_slots(pool, me, body, now_of(request))
            if body.get("kind") in slots.BLOCKING_KINDS
            else []
        )
        return {
            "free": await slots.free_stations(pool, body["lab"], starts_at, ends_at),
            "blocking": body.get("kind") in slots.BLOCKING_KINDS,
            "slots": met,
            "bookings": await affected_bookings(pool, me, [row["id"] for row in met]),
            "names": await organization_names(pool),
        }

    async def _page(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        values: Mapping[str, Any],
        errors: dict[str, str],
        problem: str | None,
        *,
        check: dict[str, Any] | None = None,
    ) -> Template:
        labs = await my_labs(pool, me)
        chosen = next((row for row in labs if row.slug == values.get("lab")), labs[0] if labs else None)
        equipment = await catalog.list_equipment(pool, chosen.slug, include_archived=False) if chosen else []
        teachers = await teaching_staff(pool, me, chosen.host) if chosen else []
        return render(
            request,
            "manager/publish.html",
            labs=labs,
            lab=chosen,
            equipment=equipment,
            teachers=teachers,
            kinds=PUBLISHED_KINDS,
            organizations=sorted((await organization_names(pool)).items(), key=lambda item: item[0]),
            values={"lab": chosen.slug if chosen else "", "visibility": "public", **values},
            errors=errors,
            problem=problem,
            check=check,
        )


route_handlers: list[Any] = [ManagerPages, PublishPages]
