"""Pages for directors: booking seats and whole courses, our bookings, visit requests, the account."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.accounts import signin
from labbook.accounts.rows import ProfileRow
from labbook.accounts.schemas import PasswordChange, ProfileUpdate
from labbook.accounts.security import SESSION_COOKIE
from labbook.attendance import service as attendance
from labbook.bookings import service as bookings
from labbook.bookings.schemas import BookingCreate, BookingFilter, Cancellation
from labbook.catalog import service as catalog
from labbook.catalog.rows import LabRow, OpeningHoursRow, OrganizationRow
from labbook.clock import Clock
from labbook.core.access import AUTHENTICATED, BOOKERS, DIRECTORS
from labbook.core.kinds import HOST_KIND
from labbook.core.principal import Principal
from labbook.core.roles import Role
from labbook.errors import LabbookError, NotFound, SlotFull, ValidationFailed
from labbook.feeds import service as feeds
from labbook.feeds.schemas import FeedTokenCreate
from labbook.notifications import service as mail
from labbook.notifications.schemas import MessageChoicesUpdate
from labbook.schemas import LANGUAGES
from labbook.settings import Settings
from labbook.slots import service as slots
from labbook.timezones import DEFAULT_TIMEZONE, zone
from labbook.visits import service as visits
from labbook.visits.schemas import VisitCancellation, VisitDecision, VisitRequestCreate
from labbook.web import forms
from labbook.web.auth import MESSAGE_KINDS
from labbook.web.forms import N_
from labbook.web.i18n import LANGUAGE_NAMES, Gettext
from labbook.web.pages import cookie, now_of, page_lang, render, see_other, visit_request_shown
from labbook.web.problems import SENTENCES, explain

S = TypeVar("S", bound=msgspec.Struct)

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]
# ``?created=1`` and the like: what the previous step did, for a notice.
Flag = Annotated[int | None, QueryParameter(ge=0, le=10_000)]

CANCELLABLE = ("pending", "confirmed", "waitlisted")
# A director's lists fit on one page: an organization books tens of sessions a term, not thousands.
LIST_LIMIT = 200
# An admin picks the organization a booking is for from one list; browsers let people type to jump.
ORGANIZATION_CHOICES = 5000
WINDOWS = 3
# What a visit-request link may carry over from a refused booking, to fill the request in.
REQUEST_PREFILL = (
    "headcount",
    "language",
    "kind",
    "purpose",
    "contact_name",
    "contact_email",
    "contact_phone",
    "age_group",
)

# Why one occurrence of a course cannot be booked, by problem slug (the course page lists them all).
FAILURE_REASONS = {
    "booking-window": N_("Booking for this session is closed or not open yet."),
    "slot-not-bookable": N_("This session takes no bookings."),
    "lab-closed": N_("The lab is closed at that time."),
}
FAILURE_GENERIC = N_("This session cannot be booked.")
WINDOW_INCOMPLETE = N_("Give the date, the start and the end, or leave all three empty.")
WINDOW_ORDER = N_("The end must be after the start.")
WINDOW_PAST = N_("Choose a time that is still ahead.")
NO_SUCH_LAB = N_("Choose a lab from the list.")
NO_ORGANIZATION = N_("Choose the organization this is for.")
MESSAGE_TOO_LONG = N_("The message is too long.")


def _seats_left(lang: str, seats_left: int) -> str:
    ngettext = Gettext(lang).plain_n
    return ngettext("Only %(num)s seat is left.", "Only %(num)s seats are left.", seats_left)


def _capacity(lang: str, capacity: int) -> str:
    ngettext = Gettext(lang).plain_n
    return ngettext(
        "The lab holds at most %(num)s person at a time.",
        "The lab holds at most %(num)s people at a time.",
        capacity,
    )


def _contact(profile: ProfileRow) -> dict[str, str]:
    return {
        "contact_name": profile.full_name or "",
        "contact_email": profile.email or "",
        "contact_phone": profile.phone or "",
    }


def _default_language(offered: Iterable[str], lang: str) -> str:
    offered = list(offered)
    return lang if lang in offered or not offered else offered[0]


def _language_options(offered: Iterable[str], lang: str) -> list[tuple[str, str]]:
    gettext = Gettext(lang)
    return [(code, gettext.language(code)) for code in offered if code in LANGUAGE_NAMES]


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def _organizations(
    pool: asyncpg.Pool, me: Principal, errors: dict[str, str], lang: str
) -> list[OrganizationRow]:
    """Organizations an admin may book for; a director always books for their own (no choice shown)."""
    if Role.DIRECTOR in me.roles or not me.is_admin:
        return []
    if "organization" in errors:
        errors["organization"] = Gettext(lang).plain(NO_ORGANIZATION)
    rows, _ = await catalog.list_organizations(
        pool, kind=None, q=None, include_archived=False, limit=ORGANIZATION_CHOICES, offset=0
    )
    return [row for row in rows if row.kind != HOST_KIND]


async def _lab_names(pool: asyncpg.Pool, slugs: Iterable[str]) -> dict[str, dict[str, str]]:
    """The names of the labs a list mentions, read once for the whole list."""
    return await catalog.lab_names(pool, slugs)


async def _closed_reason(
    pool: asyncpg.Pool, me: Principal, slot: Mapping[str, Any], lab: LabRow, lang: str, now: datetime
) -> str | None:
    """Why a slot's booking form is not offered at all, in words; ``None`` while it takes bookings."""
    closed = await bookings.closed_to_booking(pool, me, slot["id"], language=lab.languages[0], now=now)
    return None if closed is None else Gettext(lang).plain(SENTENCES[closed.slug])


def _visit_request_link(lang: str, slot: Mapping[str, Any], posted: Mapping[str, Any]) -> str:
    """A visit request filled in from a booking the slot could not take."""
    params = {
        "lab": slot["lab"],
        "headcount": posted.get("headcount"),
        "language": posted.get("language"),
        "kind": slot["kind"],
        "purpose": posted.get("notes"),
        "contact_name": posted.get("contact_name"),
        "contact_email": posted.get("contact_email"),
        "contact_phone": posted.get("contact_phone"),
        "age_group": posted.get("age_group"),
        "date": slot["starts_at"].astimezone(zone(slot["timezone"])).date().isoformat(),
    }
    return f"/{lang}/visit-requests/new?" + urlencode({k: v for k, v in params.items() if v})


def _failures(exc: LabbookError, lang: str) -> list[dict[str, Any]]:
    """A course's occurrences that cannot be booked, each with its reason in words."""
    gettext = Gettext(lang)
    found = []
    for failure in exc.members.get("failures") or []:
        slug = str(failure.get("type", "")).rsplit("/", 1)[-1]
        if slug == "slot-full" and isinstance(failure.get("seats_left"), int):
            reason = _seats_left(lang, failure["seats_left"])
        else:
            reason = gettext.plain(FAILURE_REASONS.get(slug, FAILURE_GENERIC))
        found.append(
            {
                "slot_id": failure["slot_id"],
                "starts_at": datetime.fromisoformat(failure["starts_at"]),
                "reason": reason,
            }
        )
    return found


async def _newest(
    pool: asyncpg.Pool, me: Principal, query: BookingFilter
) -> tuple[list[asyncpg.Record], int]:
    """The latest ``LIST_LIMIT`` bookings of a filter, newest first (the list reads oldest first)."""
    rows, total = await bookings.list_bookings(pool, me, query)
    if total > len(rows):
        rows, total = await bookings.list_bookings(
            pool, me, msgspec.structs.replace(query, offset=total - query.limit)
        )
    return list(reversed(rows)), total


def _cancellable(row: Mapping[str, Any], now: datetime) -> bool:
    return row["status"] in CANCELLABLE and row["starts_at"] > now


def _reference(booking_id: UUID) -> str:
    """A short reference to read out on the phone; the full id stays on the page too."""
    return booking_id.hex[:8].upper()


class BookingPages(Controller):
    """Booking a session or a whole course, our bookings, one booking's confirmation, cancelling."""

    path = "/{lang:str}"
    opt = {"access": BOOKERS}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/slots/{slot_id:uuid}/book")
    async def book_form(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, slot_id: FromPath[UUID]
    ) -> Template:
        lang = page_lang(request)
        slot = await slots.get_slot_for(pool, me, slot_id)
        lab = await catalog.get_lab(pool, slot["lab"])
        profile = await signin.get_profile(pool, me)
        values = {**_contact(profile), "language": _default_language(lab.languages, lang)}
        if slot["seats_left"] <= 0:
            # Someone opening a full session's form has come for its waiting list.
            values["waitlist"] = "1"
        return await self._book_page(request, pool, me, slot, lab, values, {}, None)

    @post("/slots/{slot_id:uuid}/book")
    async def book(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        clock: NamedDependency[Clock],
        slot_id: FromPath[UUID],
    ) -> Template | Redirect:
        lang = page_lang(request)
        slot = await slots.get_slot_for(pool, me, slot_id)
        lab = await catalog.get_lab(pool, slot["lab"])
        posted = await forms.values(request)
        try:
            data = forms.decode(posted, BookingCreate, lang, checkboxes=("waitlist",))
            booking = await bookings.book_seats(pool, me, slot_id, data, now=clock())
        except forms.FormInvalid as exc:
            return await self._book_page(request, pool, me, slot, lab, posted, exc.errors, None)
        except LabbookError as exc:
            problem, errors = explain(exc, lang)
            return await self._book_page(request, pool, me, slot, lab, posted, errors, problem, refusal=exc)
        return see_other(f"/{lang}/bookings/{booking['id']}?created=1")

    @staticmethod
    async def _book_page(
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        slot: Mapping[str, Any],
        lab: LabRow,
        values: Mapping[str, Any],
        errors: dict[str, str],
        problem: str | None,
        *,
        refusal: LabbookError | None = None,
    ) -> Template:
        lang = page_lang(request)
        headcount = _as_int(values.get("headcount"))
        full = isinstance(refusal, SlotFull)
        too_big = headcount is not None and headcount > slot["capacity"]
        seats_left = refusal.members.get("seats_left") if full and refusal else None
        if isinstance(seats_left, int):
            errors.setdefault("headcount", _seats_left(lang, seats_left))
        return render(
            request,
            "director/book.html",
            slot=slot,
            lab=lab,
            values=values,
            errors=errors,
            problem=problem,
            closed=await _closed_reason(pool, me, slot, lab, lang, now_of(request)),
            languages_offered=_language_options(lab.languages, lang),
            organizations=await _organizations(pool, me, errors, page_lang(request)),
            offer_waitlist=(slot["seats_left"] <= 0 or full) and not too_big,
            visit_request=_visit_request_link(lang, slot, values) if full or too_big else None,
        )

    @get("/series/{series_id:uuid}/book")
    async def book_series_form(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, series_id: FromPath[UUID]
    ) -> Template:
        lang = page_lang(request)
        series = await slots.get_series_for(pool, me, series_id)
        lab = await catalog.get_lab(pool, series.lab_slug)
        profile = await signin.get_profile(pool, me)
        values = {**_contact(profile), "language": _default_language(lab.languages, lang)}
        return await self._series_page(request, pool, me, series, lab, values, {}, None, [])

    @post("/series/{series_id:uuid}/book")
    async def book_series(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        clock: NamedDependency[Clock],
        series_id: FromPath[UUID],
    ) -> Template | Redirect:
        lang = page_lang(request)
        series = await slots.get_series_for(pool, me, series_id)
        lab = await catalog.get_lab(pool, series.lab_slug)
        posted = await forms.values(request)
        posted.pop("waitlist", None)
        try:
            data = forms.decode(posted, BookingCreate, lang)
            _, booked = await bookings.book_series(pool, me, series_id, data, now=clock())
        except forms.FormInvalid as exc:
            return await self._series_page(request, pool, me, series, lab, posted, exc.errors, None, [])
        except LabbookError as exc:
            problem, errors = explain(exc, lang)
            failures = _failures(exc, lang)
            return await self._series_page(request, pool, me, series, lab, posted, errors, problem, failures)
        return see_other(f"/{lang}/bookings?created={len(booked)}")

    @staticmethod
    async def _series_page(
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        series: slots.SeriesView,
        lab: LabRow,
        values: Mapping[str, Any],
        errors: dict[str, str],
        problem: str | None,
        failures: list[dict[str, Any]],
    ) -> Template:
        now = now_of(request)
        remaining = [s for s in series.occurrences if s["status"] == "active" and s["starts_at"] > now]
        return render(
            request,
            "director/book_series.html",
            series=series.row,
            occurrences=remaining,
            lab=lab,
            values=values,
            errors=errors,
            problem=problem,
            failures=failures,
            bookable=series.row["status"] == "active" and bool(remaining) and not lab.is_archived,
            languages_offered=_language_options(lab.languages, page_lang(request)),
            organizations=await _organizations(pool, me, errors, page_lang(request)),
        )

    @get("/bookings")
    async def list_bookings(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        created: Flag = None,
        cancelled: Flag = None,
    ) -> Template:
        """Upcoming (soonest first) and past (latest first): a constant number of queries."""
        now = now_of(request)
        upcoming, upcoming_total = await bookings.list_bookings(
            pool, me, BookingFilter(starts_from=now, limit=LIST_LIMIT)
        )
        past, past_total = await _newest(pool, me, BookingFilter(starts_to=now, limit=LIST_LIMIT))
        return render(
            request,
            "director/bookings.html",
            upcoming=upcoming,
            upcoming_total=upcoming_total,
            past=past,
            past_total=past_total,
            lab_names=await _lab_names(pool, (row["lab_slug"] for row in [*upcoming, *past])),
            created=created or 0,
            cancelled=bool(cancelled),
        )

    @get("/bookings/{booking_id:uuid}")
    async def booking(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        booking_id: FromPath[UUID],
        created: Flag = None,
    ) -> Template:
        """The booking's confirmation, made to be printed."""
        row = await bookings.get_booking(pool, me, booking_id)
        lab = await catalog.get_lab(pool, row["lab_slug"])
        organization = await catalog.get_organization(pool, row["organization_slug"])
        session = await attendance.get_booking(pool, me, booking_id)
        return render(
            request,
            "director/booking.html",
            roster=await attendance.get_roster(pool, me, booking_id) if session.kind == "training" else None,
            roster_editable=attendance.may_edit_roster(me, session, now_of(request)),
            booking=row,
            lab=lab,
            organization=organization,
            reference=_reference(row["id"]),
            cancellable=_cancellable(row, now_of(request)),
            created=bool(created),
        )

    @get("/bookings/{booking_id:uuid}/cancel")
    async def cancel_form(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, booking_id: FromPath[UUID]
    ) -> Template:
        row = await bookings.get_booking(pool, me, booking_id)
        return await self._cancel_page(request, pool, row, {}, {}, None)

    @post("/bookings/{booking_id:uuid}/cancel")
    async def cancel(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, booking_id: FromPath[UUID]
    ) -> Template | Redirect:
        lang = page_lang(request)
        row = await bookings.get_booking(pool, me, booking_id)
        posted = await forms.values(request)
        try:
            data = forms.decode(posted, Cancellation, lang)
            await bookings.change_status(pool, me, booking_id, "cancel", data.reason)
        except forms.FormInvalid as exc:
            return await self._cancel_page(request, pool, row, posted, exc.errors, None)
        except LabbookError as exc:
            problem, errors = explain(exc, lang)
            return await self._cancel_page(request, pool, row, posted, errors, problem)
        return see_other(f"/{lang}/bookings?cancelled=1")

    @staticmethod
    async def _cancel_page(
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        row: Mapping[str, Any],
        values: Mapping[str, Any],
        errors: dict[str, str],
        problem: str | None,
    ) -> Template:
        lab = await catalog.get_lab(pool, row["lab_slug"])
        return render(
            request,
            "director/cancel.html",
            booking=row,
            lab=lab,
            reference=_reference(row["id"]),
            cancellable=_cancellable(row, now_of(request)),
            values=values,
            errors=errors,
            problem=problem,
        )


def _window_values(posted: Mapping[str, Any]) -> list[dict[str, str]]:
    """The three windows as typed, for the form (missing ones empty)."""
    columns = [list(posted.get(name) or []) for name in ("date", "starts_at", "ends_at")]
    return [
        {
            name: (column[index] if index < len(column) else "")
            for name, column in zip(("date", "starts_at", "ends_at"), columns, strict=True)
        }
        for index in range(WINDOWS)
    ]


def _windows(
    typed: list[dict[str, str]], timezone: str, lang: str, now: datetime
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Windows picked in the lab's wall-clock time, as aware instants; errors by ``window-<n>``."""
    gettext = Gettext(lang)
    tz = zone(timezone)
    windows: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    for index, window in enumerate(typed):
        parts = (window["date"], window["starts_at"], window["ends_at"])
        if not any(parts):
            continue
        try:
            day = date.fromisoformat(parts[0])
            starts_at = datetime.combine(day, time.fromisoformat(parts[1]), tzinfo=tz)
            ends_at = datetime.combine(day, time.fromisoformat(parts[2]), tzinfo=tz)
        except ValueError:
            errors[f"window-{index}"] = gettext.plain(WINDOW_INCOMPLETE)
            continue
        if ends_at <= starts_at:
            errors[f"window-{index}"] = gettext.plain(WINDOW_ORDER)
        elif starts_at <= now:
            errors[f"window-{index}"] = gettext.plain(WINDOW_PAST)
        else:
            windows.append({"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()})
    if not windows and not errors:
        errors["windows"] = gettext.plain(forms.FIELD_MESSAGES["windows"])
    return windows, errors


def _service_errors(exc: LabbookError, lab: LabRow, lang: str) -> dict[str, str]:
    """A refused visit request's field errors, saying what the lab's limits are where we know them."""
    gettext = Gettext(lang)
    errors = forms.field_errors(exc, lang)
    if isinstance(exc, ValidationFailed):
        for error in exc.members.get("errors") or []:
            field = str(error.get("field", ""))
            if field.startswith("windows[") and field[8:-1].isdigit():
                errors.pop("windows", None)
                errors[f"window-{field[8:-1]}"] = gettext.plain(WINDOW_PAST)
    if "headcount" in errors:
        errors["headcount"] = _capacity(lang, lab.capacity)
    return errors


class VisitRequestPages(Controller):
    """Asking a lab for a visit of our own when no published session suits, and our requests."""

    path = "/{lang:str}"
    opt = {"access": BOOKERS}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/visit-requests/new")
    async def new_request(self, request: Request[Any, Any, Any], pool: Pool, me: Me) -> Template:
        """The form, filled in from the query (a refused booking links here with its values)."""
        lang = page_lang(request)
        query = request.query_params
        lab_slug = query.get("lab") or ""
        prefill = {k: str(query.get(k) or "") for k in REQUEST_PREFILL}
        try:
            lab = await catalog.get_lab(pool, lab_slug) if lab_slug else None
        except NotFound:
            lab = None
        if lab is None or lab.is_archived:
            labs, _ = await catalog.list_labs(
                pool,
                host=None,
                language=None,
                equipment_kind=None,
                q=None,
                include_archived=False,
                limit=LIST_LIMIT,
                offset=0,
            )
            error = {"lab": Gettext(lang).plain(NO_SUCH_LAB)} if lab_slug else {}
            keep = {**prefill, "date": str(query.get("date") or "")}
            return render(request, "director/choose_lab.html", labs=labs, prefill=keep, errors=error)
        profile = await signin.get_profile(pool, me)
        values: dict[str, Any] = {
            **_contact(profile),
            **{k: v for k, v in prefill.items() if v},
        }
        values.setdefault("kind", "tour")
        if values.get("language") not in lab.languages:
            values["language"] = _default_language(lab.languages, lang)
        typed = _window_values({"date": [str(query.get("date") or "")]})
        return await self._request_page(request, pool, me, lab, values, typed, {}, None)

    @post("/visit-requests")
    async def create_request(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me
    ) -> Template | Redirect:
        lang = page_lang(request)
        posted = await forms.values(request, lists=("date", "starts_at", "ends_at"))
        lab = await catalog.get_lab(pool, str(posted.get("lab") or ""))
        typed = _window_values(posted)
        fields = {k: v for k, v in posted.items() if k not in ("date", "starts_at", "ends_at")}
        windows, errors = _windows(typed, lab.timezone, lang, now_of(request))
        try:
            # Windows were checked above, field by field; the decoder checks the rest.
            data = forms.decode(
                fields, VisitRequestCreate, lang, extra={"windows": windows} if windows else None
            )
            if errors:
                raise forms.FormInvalid({})
            await visits.request_visit(pool, me, data, now=now_of(request))
        except forms.FormInvalid as exc:
            errors = {**exc.errors, **errors}
            if "headcount" in exc.errors and _as_int(fields.get("headcount")):
                errors["headcount"] = _capacity(lang, lab.capacity)
            return await self._request_page(request, pool, me, lab, fields, typed, errors, None)
        except LabbookError as exc:
            problem, _ = explain(exc, lang)
            errors = _service_errors(exc, lab, lang)
            return await self._request_page(request, pool, me, lab, fields, typed, errors, problem)
        return see_other(f"/{lang}/visit-requests?created=1")

    @staticmethod
    async def _request_page(
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        lab: LabRow,
        values: Mapping[str, Any],
        windows: list[dict[str, str]],
        errors: dict[str, str],
        problem: str | None,
    ) -> Template:
        hours = await catalog.get_opening_hours(pool, lab.slug)
        by_day: dict[int, list[OpeningHoursRow]] = {}
        for row in hours:
            by_day.setdefault(row.weekday, []).append(row)
        return render(
            request,
            "director/visit_new.html",
            lab=lab,
            values=values,
            windows=windows,
            errors=errors,
            problem=problem,
            hours=[(day, by_day.get(day, [])) for day in range(1, 8)],
            languages_offered=_language_options(lab.languages, page_lang(request)),
            organizations=await _organizations(pool, me, errors, page_lang(request)),
            today=now_of(request).astimezone(zone(lab.timezone)).date().isoformat(),
        )

    @get("/visit-requests")
    async def list_requests(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        created: Flag = None,
        cancelled: Flag = None,
        proposal_accepted: Flag = None,
        proposal_declined: Flag = None,
    ) -> Template:
        return await self._requests(
            request,
            pool,
            me,
            created=bool(created),
            cancelled=bool(cancelled),
            proposal_accepted=bool(proposal_accepted),
            proposal_declined=bool(proposal_declined),
        )

    async def _requests(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, problem: str | None = None, **flags: bool
    ) -> Template:
        rows, total = await visits.list_visit_requests(
            pool, me, status=None, lab=None, limit=LIST_LIMIT, offset=0
        )
        if total > len(rows):
            rows, total = await visits.list_visit_requests(
                pool, me, status=None, lab=None, limit=LIST_LIMIT, offset=total - LIST_LIMIT
            )
        requests = [visit_request_shown(row) for row in reversed(rows)]
        return render(
            request,
            "director/visit_requests.html",
            requests=requests,
            total=total,
            lab_names=await _lab_names(pool, (row.lab_slug for row in rows)),
            problem=problem,
            **{
                "created": False,
                "cancelled": False,
                "proposal_accepted": False,
                "proposal_declined": False,
                **flags,
            },
        )

    @post("/visit-requests/{request_id:uuid}/proposal")
    async def answer_proposal(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, request_id: FromPath[UUID]
    ) -> Template | Redirect:
        """Accept or decline the other time the lab proposed (the button says which)."""
        lang = page_lang(request)
        posted = await forms.values(request)
        accept = posted.get("answer") == "accept"
        try:
            data = forms.decode({"message": posted.get("message")}, VisitDecision, lang)
            if accept:
                await visits.accept_visit_proposal(pool, me, request_id, data.message, now=now_of(request))
            else:
                await visits.decline_visit_proposal(pool, me, request_id, data.message)
        except forms.FormInvalid:
            return await self._requests(request, pool, me, problem=Gettext(lang).plain(MESSAGE_TOO_LONG))
        except LabbookError as exc:
            if exc.status in (403, 404):
                raise
            return await self._requests(request, pool, me, problem=explain(exc, lang)[0])
        return see_other(f"/{lang}/visit-requests?proposal_{'accepted' if accept else 'declined'}=1")

    @post("/visit-requests/{request_id:uuid}/cancel")
    async def cancel_request(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, request_id: FromPath[UUID]
    ) -> Redirect:
        lang = page_lang(request)
        try:
            data = forms.decode(await forms.values(request), VisitCancellation, lang)
        except forms.FormInvalid:
            data = VisitCancellation()
        await visits.cancel_visit_request(pool, me, request_id, data.reason)
        return see_other(f"/{lang}/visit-requests?cancelled=1")


FEED_KIND = "organization"


def _offered(me: Principal) -> list[str]:
    """The optional messages a person may choose: the evening list of visits only for lab managers."""
    return [kind for kind in MESSAGE_KINDS if kind != "lab_digest" or Role.LAB_MANAGER in me.roles]


class AccountPages(Controller):
    """My profile and password, signing out everywhere, and my organization's calendar feed."""

    path = "/{lang:str}"
    opt = {"access": AUTHENTICATED}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/account")
    async def account(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        saved: Flag = None,
        password: Flag = None,
        revoked: Flag = None,
        messages: Flag = None,
    ) -> Template:
        notice = (
            N_("Your profile is saved.")
            if saved
            else N_("Your password is changed. Other devices were signed out.")
            if password
            else N_("The calendar address is turned off.")
            if revoked
            else N_("Your choice of messages is saved.")
            if messages
            else None
        )
        return await self._page(request, pool, me, notice=notice)

    @post("/account")
    async def save_profile(self, request: Request[Any, Any, Any], pool: Pool, me: Me) -> Template | Redirect:
        lang = page_lang(request)
        posted = await forms.values(request)
        try:
            data = forms.decode(posted, ProfileUpdate, lang)
            await signin.update_profile(pool, me, data)
        except forms.FormInvalid as exc:
            return await self._page(request, pool, me, profile_values=posted, profile_errors=exc.errors)
        except LabbookError as exc:
            problem, errors = explain(exc, lang)
            return await self._page(
                request, pool, me, profile_values=posted, profile_errors=errors, problem=problem
            )
        return see_other(f"/{data.language}/account?saved=1")

    @post("/account/password")
    async def change_password(
        self, request: Request[Any, Any, Any], pool: Pool, settings: NamedDependency[Settings], me: Me
    ) -> Template | Redirect:
        lang = page_lang(request)
        posted = await forms.values(request)
        try:
            data = forms.decode(posted, PasswordChange, lang)
            secret = await signin.change_password(
                pool, settings, me, data, user_agent=request.headers.get("user-agent")
            )
        except forms.FormInvalid as exc:
            return await self._page(request, pool, me, password_errors=exc.errors)
        except LabbookError as exc:
            _, errors = explain(exc, lang)
            return await self._page(request, pool, me, password_errors=errors)
        # Every session ended with the old password; this browser carries on in a new one.
        max_age = settings.session_max_days * 24 * 3600
        return see_other(
            f"/{lang}/account?password=1",
            cookies=[cookie(settings, SESSION_COOKIE, secret, max_age=max_age)],
        )

    @post("/account/messages")
    async def choose_messages(self, request: Request[Any, Any, Any], pool: Pool, me: Me) -> Redirect:
        """The optional messages this person is offered: a box left unticked turns its kind off."""
        lang = page_lang(request)
        posted = await forms.values(request)
        data = forms.decode(posted, MessageChoicesUpdate, lang, checkboxes=_offered(me))
        await mail.choose_messages(pool, me, data)
        return see_other(f"/{lang}/account?messages=1#messages-title")

    @post("/account/feed", opt={"access": DIRECTORS})
    async def create_feed(
        self, request: Request[Any, Any, Any], pool: Pool, settings: NamedDependency[Settings], me: Me
    ) -> Template:
        """The new address is shown on this answer only: it holds the secret, so it is never redirected to."""
        lang = page_lang(request)
        posted = await forms.values(request)
        try:
            data = forms.decode(posted, FeedTokenCreate, lang, extra={"kind": FEED_KIND})
        except forms.FormInvalid as exc:
            return await self._page(request, pool, me, feed_values=posted, feed_errors=exc.errors)
        row, secret = await feeds.create_feed_token(pool, me, data.kind, data.name)
        # The subscribe block adds ?lang= for the page's language itself.
        url = feeds.feed_url(settings, f"/feeds/private/{secret}.ics")
        return await self._page(request, pool, me, new_feed={"row": row, "url": url})

    @post("/account/feed/{token_id:uuid}/revoke")
    async def revoke_feed(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, token_id: FromPath[UUID]
    ) -> Redirect:
        await feeds.revoke_feed_token(pool, me, token_id)
        return see_other(f"/{page_lang(request)}/account?revoked=1")

    @staticmethod
    async def _page(
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        *,
        notice: str | None = None,
        problem: str | None = None,
        profile_values: Mapping[str, Any] | None = None,
        profile_errors: dict[str, str] | None = None,
        password_errors: dict[str, str] | None = None,
        feed_values: Mapping[str, Any] | None = None,
        feed_errors: dict[str, str] | None = None,
        new_feed: dict[str, Any] | None = None,
    ) -> Template:
        profile = await signin.get_profile(pool, me)
        tokens = [t for t in await feeds.list_feed_tokens(pool, me) if t["revoked_at"] is None]
        choices = msgspec.structs.asdict(await mail.get_message_choices(pool, me))
        return render(
            request,
            "director/account.html",
            profile=profile,
            notice=notice,
            problem=problem,
            profile_values=profile_values
            or {
                "full_name": profile["full_name"],
                "phone": profile["phone"] or "",
                "language": profile["language"],
            },
            profile_errors=profile_errors or {},
            password_errors=password_errors or {},
            feed_values=feed_values or {},
            feed_errors=feed_errors or {},
            new_feed=new_feed,
            tokens=tokens,
            message_kinds=[(kind, *MESSAGE_KINDS[kind], choices[kind]) for kind in _offered(me)],
            is_director=Role.DIRECTOR in me.roles,
            language_choices=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            timezone=DEFAULT_TIMEZONE,
        )


route_handlers: list[Any] = [BookingPages, VisitRequestPages, AccountPages]
