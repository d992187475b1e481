"""Pages for lab managers: publishing a series after a preview, and changing a session or a series.

A series is previewed before anything is written (``POST /api/v1/series/preview`` behind the page),
then published whole or with its collisions skipped. A change to a session, or to it and the
following ones, or to the whole series, first shows the bookings it reaches and is applied only
once confirmed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.catalog import service as catalog
from labbook.catalog.rows import LabRow
from labbook.core.access import MANAGERS
from labbook.core.principal import Principal
from labbook.errors import Forbidden, LabbookError
from labbook.schemas import LANGUAGES
from labbook.slots import recurrence
from labbook.slots import service as slots
from labbook.slots.schemas import SeriesCancel, SeriesCreate, SeriesUpdate, SlotUpdate
from labbook.timezones import zone
from labbook.web import forms
from labbook.web.forms import N_
from labbook.web.i18n import Gettext
from labbook.web.manager import (
    PUBLISHED_KINDS,
    affected_bookings,
    my_labs,
    organization_names,
    slot_body,
    teaching_staff,
)
from labbook.web.pages import now_of, page_lang, render, see_other
from labbook.web.problems import SENTENCES, explain

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]
Count = Annotated[int | None, QueryParameter(ge=0, le=10_000)]

WEEKDAYS = "recurrence.weekdays"
SERIES_CHECKBOXES = ("requires_approval", "outside_hours", "skip_conflicts")
SCOPES = ("one", "following", "all")
COLLISION_SLUGS = ("lab-closed", "outside-opening-hours", "lab-capacity", "unit-taken")
NO_LAB = N_("Choose one of your labs.")
NO_END = N_("Give the number of sessions or the last date.")
WHOLE_NUMBER = N_("Enter a whole number from 1.")
LAST_DATE = N_("Give the last date as a date.")
CONFLICTS_LEFT = N_(
    "Some sessions collide, so nothing was published. "
    "Publish the others and skip those, or change the series."
)
NOTHING_FITS = N_("No session of this series fits. Change the time, the days or the stations.")


def _collision_words(gettext: Gettext) -> dict[str, str]:
    """What an occurrence collides with, in words, by problem type (the sentences forms show)."""
    return {f"/problems/{slug}": gettext.plain(SENTENCES[slug]) for slug in COLLISION_SLUGS}


ISO_WEEKDAYS = {str(day): day for day in range(1, 8)}


def _weekdays(posted: Mapping[str, Any]) -> list[int]:
    return sorted({ISO_WEEKDAYS[str(day)] for day in posted.get(WEEKDAYS) or [] if str(day) in ISO_WEEKDAYS})


def series_body(posted: Mapping[str, Any], timezone: str, lang: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The API's series body from the form: the first session, its weekdays and interval, and a
    number of sessions or a last date (the whole of that day in the lab's time zone)."""
    gettext = Gettext(lang)
    body, errors = slot_body(posted, timezone, lang)
    body.pop("booking_deadline", None)
    rule: dict[str, Any] = {"freq": "weekly", "weekdays": _weekdays(posted)}
    for name in ("interval", "count"):
        text = str(posted.get(f"recurrence.{name}") or "")
        if text and not (text.isdigit() and int(text) >= 1):
            errors[f"recurrence.{name}"] = gettext.plain(WHOLE_NUMBER)
        elif text:
            rule[name] = int(text)
    until = str(posted.get("recurrence.until") or "")
    if until:
        try:
            last = date.fromisoformat(until)
        except ValueError:
            errors["recurrence.until"] = gettext.plain(LAST_DATE)
        else:
            end_of_day = datetime.combine(last + timedelta(days=1), time()) - timedelta(seconds=1)
            rule["until"] = recurrence.to_instant(end_of_day, zone(timezone)).isoformat()
    if (
        "count" not in rule
        and "until" not in rule
        and not errors.keys() & {"recurrence.count", "recurrence.until"}
    ):
        errors["recurrence.count"] = gettext.plain(NO_END)
    body["recurrence"] = rule
    for key in ("booking_deadline_hours", "skip_conflicts"):
        if posted.get(key):
            body[key] = posted[key]
    return body, errors


def _decoded_series(posted: Mapping[str, Any], lab: LabRow, lang: str) -> SeriesCreate:
    body, errors = series_body(posted, lab.timezone, lang)
    try:
        data = forms.decode(
            {k: v for k, v in body.items() if k not in errors},
            SeriesCreate,
            lang,
            checkboxes=SERIES_CHECKBOXES,
        )
    except forms.FormInvalid as exc:
        raise forms.FormInvalid({**_nested(exc.errors), **errors}) from None
    if errors:
        raise forms.FormInvalid(errors)
    return data


def _nested(errors: dict[str, str]) -> dict[str, str]:
    """A refusal of the ``recurrence`` object shown next to the number of sessions."""
    shown = dict(errors)
    if "recurrence" in shown:
        shown["recurrence.count"] = shown.pop("recurrence")
    return shown


def _problem_errors(exc: LabbookError, lang: str) -> tuple[str, dict[str, str]]:
    problem, errors = explain(exc, lang)
    if exc.slug == "validation":
        for item in exc.members.get("errors") or []:
            name = str(item.get("field", ""))
            if name.startswith("recurrence."):
                errors[name] = Gettext(lang).plain(forms.GENERIC)
    return problem, _nested(errors)


def _in_the_way(conflicts: list[dict[str, object]]) -> list[dict[str, Any]]:
    """What an occurrence collides with, one entry per slot in the way, with the stations it holds."""
    found: dict[str, dict[str, Any]] = {}
    for c in conflicts:
        if "starts_at" not in c or "ends_at" not in c:
            continue
        entry = found.setdefault(
            str(c.get("slot_id")),
            {
                "kind": c.get("kind"),
                "units": [],
                "starts_at": datetime.fromisoformat(str(c["starts_at"])),
                "ends_at": datetime.fromisoformat(str(c["ends_at"])),
            },
        )
        if c.get("unit") is not None:
            entry["units"].append(c["unit"])
    return list(found.values())


class SeriesPages(Controller):
    """A series: the form, the preview of every session, publishing, and the series afterwards."""

    path = "/{lang:str}/manage/series"
    opt = {"access": MANAGERS}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/new")
    async def form(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        lab: Annotated[str | None, QueryParameter()] = None,
    ) -> Template:
        values = {"lab": lab or "", "kind": "training", "recurrence.interval": "1", "recurrence.count": "8"}
        return await self._form(request, pool, me, values, {}, None)

    @post("/preview")
    async def preview(self, request: Request[Any, Any, Any], pool: Pool, me: Me) -> Template:
        """Every session the series would publish, each with what it collides with; nothing is written."""
        lang = page_lang(request)
        posted = await forms.values(request, lists=(WEEKDAYS,))
        lab = await self._lab(pool, me, posted)
        if lab is None:
            return await self._form(request, pool, me, posted, {}, Gettext(lang).plain(NO_LAB))
        if posted.get("back"):
            return await self._form(request, pool, me, posted, {}, None)
        try:
            data = _decoded_series(posted, lab, lang)
            return await self._preview(request, pool, me, posted, lab, data, None)
        except forms.FormInvalid as exc:
            return await self._form(request, pool, me, posted, exc.errors, None)
        except LabbookError as exc:
            if exc.status in (403, 404):
                raise
            problem, errors = _problem_errors(exc, lang)
            return await self._form(request, pool, me, posted, errors, problem)

    @post("/")
    async def publish(self, request: Request[Any, Any, Any], pool: Pool, me: Me) -> Template | Redirect:
        """Publish every session, or (``skip_conflicts``) those that fit."""
        lang = page_lang(request)
        posted = await forms.values(request, lists=(WEEKDAYS,))
        lab = await self._lab(pool, me, posted)
        if lab is None:
            return await self._form(request, pool, me, posted, {}, Gettext(lang).plain(NO_LAB))
        try:
            data = _decoded_series(posted, lab, lang)
        except forms.FormInvalid as exc:
            return await self._form(request, pool, me, posted, exc.errors, None)
        try:
            result = await slots.create_series(pool, me, data, now=now_of(request))
        except slots.SeriesConflict:
            # The preview again, as the lab's calendar stands now, with the sessions in the way.
            sentence = NOTHING_FITS if data.skip_conflicts else CONFLICTS_LEFT
            return await self._preview(request, pool, me, posted, lab, data, Gettext(lang).plain(sentence))
        except LabbookError as exc:
            if exc.status in (403, 404):
                raise
            problem, errors = _problem_errors(exc, lang)
            return await self._form(request, pool, me, posted, errors, problem)
        series_id = result.series.row["id"]
        return see_other(
            f"/{lang}/manage/series/{series_id}?created={len(result.created)}&skipped={len(result.skipped)}"
        )

    @get("/{series_id:uuid}")
    async def show(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        series_id: FromPath[UUID],
        created: Count = None,
        skipped: Count = None,
    ) -> Template:
        view = await slots.get_series_for(pool, me, series_id)
        me.require_lab(view.row["lab_id"])
        row = view.row
        return render(
            request,
            "manager/series_show.html",
            series=row,
            lab_slug=view.lab_slug,
            lab_names=await catalog.lab_names(pool, {view.lab_slug}),
            occurrences=view.occurrences,
            weekdays=list(row["weekdays"]),
            created=created,
            skipped=skipped,
        )

    async def _lab(self, pool: asyncpg.Pool, me: Principal, posted: Mapping[str, Any]) -> LabRow | None:
        labs = {row.slug: row for row in await my_labs(pool, me)}
        return labs.get(str(posted.get("lab") or ""))

    async def _preview(
        self,
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        posted: Mapping[str, Any],
        lab: LabRow,
        data: SeriesCreate,
        problem: str | None,
    ) -> Template:
        preview = await slots.preview_series(pool, me, data, now=now_of(request))
        lang = page_lang(request)
        carried = [
            (key, item)
            for key, value in posted.items()
            if key not in ("back", "skip_conflicts")
            for item in (value if isinstance(value, list) else [value])
        ]
        occurrences = [
            {**msgspec.structs.asdict(o), "conflicts": _in_the_way(o.conflicts)} for o in preview.occurrences
        ]
        return render(
            request,
            "manager/series_preview.html",
            lab=lab,
            preview=preview,
            occurrences=occurrences,
            carried=carried,
            collision_words=_collision_words(Gettext(lang)),
            problem=problem,
        )

    async def _form(
        self,
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        values: Mapping[str, Any],
        errors: dict[str, str],
        problem: str | None,
    ) -> Template:
        labs = await my_labs(pool, me)
        chosen = next((row for row in labs if row.slug == values.get("lab")), labs[0] if labs else None)
        equipment = await catalog.list_equipment(pool, chosen.slug, include_archived=False) if chosen else []
        return render(
            request,
            "manager/series_new.html",
            labs=labs,
            lab=chosen,
            equipment=equipment,
            teachers=await teaching_staff(pool, me, chosen.host) if chosen else [],
            kinds=PUBLISHED_KINDS,
            organizations=sorted((await organization_names(pool)).items()),
            values={"lab": chosen.slug if chosen else "", "visibility": "public", **values},
            ticked={str(day) for day in values.get(WEEKDAYS) or []},
            errors=errors,
            problem=problem,
        )


def _change_values(slot: Mapping[str, Any]) -> dict[str, Any]:
    """The edit form filled with the session as it is, in the lab's local time."""
    tz = zone(slot["timezone"])
    starts, ends = slot["starts_at"].astimezone(tz), slot["ends_at"].astimezone(tz)
    values: dict[str, Any] = {
        "date": starts.date().isoformat(),
        "starts_at": starts.strftime("%H:%M"),
        "ends_at": ends.strftime("%H:%M"),
        "capacity": str(slot["capacity"]),
        "scope": "one",
    }
    values.update({f"title.{code}": text for code, text in slot["title"].items() if code in LANGUAGES})
    return values


class SlotManagePages(Controller):
    """One session for its lab's managers: who is booked, and changing or cancelling it (or its series)."""

    path = "/{lang:str}/manage/slots/{slot_id:uuid}"
    opt = {"access": MANAGERS}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/")
    async def show(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        slot_id: FromPath[UUID],
        changed: Count = None,
        cancelled: Count = None,
    ) -> Template:
        slot = await self._slot(pool, me, slot_id)
        return await self._page(request, pool, me, slot, _change_values(slot), {}, None, changed, cancelled)

    @post("/edit")
    async def edit(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, slot_id: FromPath[UUID]
    ) -> Template | Redirect:
        """Change the session, it and the following ones, or the whole series, once the bookings it
        reaches have been shown and the change confirmed."""
        lang = page_lang(request)
        slot = await self._slot(pool, me, slot_id)
        posted = await forms.values(request)
        scope = self._scope(slot, posted)
        body, errors = slot_body({**posted, "lab": slot["lab"], "kind": slot["kind"]}, slot["timezone"], lang)
        try:
            if errors:
                raise forms.FormInvalid(errors)
            change: SlotUpdate | SeriesUpdate
            if scope == "one":
                fields: dict[str, Any] = {k: body[k] for k in ("starts_at", "ends_at", "title") if k in body}
                change = forms.decode({**fields, "capacity": posted.get("capacity")}, SlotUpdate, lang)
            else:
                starts = datetime.fromisoformat(body["starts_at"])
                minutes = int((datetime.fromisoformat(body["ends_at"]) - starts).total_seconds() // 60)
                change = forms.decode(
                    {
                        "scope": scope,
                        "from_occurrence": slot["occurrence_start"] if scope == "following" else None,
                        "start_time": starts.astimezone(zone(slot["timezone"])).strftime("%H:%M"),
                        "duration_minutes": minutes,
                        "capacity": posted.get("capacity"),
                        "title": body["title"],
                    },
                    SeriesUpdate,
                    lang,
                )
            if not posted.get("confirm"):
                return await self._confirm(request, pool, me, slot, posted, scope, "edit")
            if isinstance(change, SlotUpdate):
                await slots.update_slot(pool, me, slot_id, change, now=now_of(request))
            else:
                await slots.update_series(pool, me, slot["series_id"], change, now=now_of(request))
        except forms.FormInvalid as exc:
            return await self._page(request, pool, me, slot, posted, exc.errors, None)
        except LabbookError as exc:
            if exc.status in (403, 404):
                raise
            problem, field_errors = explain(exc, lang)
            return await self._page(request, pool, me, slot, posted, field_errors, problem)
        return see_other(f"/{lang}/manage/slots/{slot_id}?changed=1")

    @post("/cancel")
    async def cancel(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, slot_id: FromPath[UUID]
    ) -> Template | Redirect:
        """Cancel the session, it and the following ones, or the whole series, once confirmed."""
        lang = page_lang(request)
        slot = await self._slot(pool, me, slot_id)
        posted = await forms.values(request)
        scope = self._scope(slot, posted)
        values = {**_change_values(slot), **posted}
        try:
            reason = posted.get("reason") or None
            if not posted.get("confirm"):
                forms.decode({"reason": reason or ""}, SeriesCancel, lang)
                return await self._confirm(request, pool, me, slot, posted, scope, "cancel")
            if scope == "one":
                await slots.cancel_slot(pool, me, slot_id, reason)
            else:
                data = forms.decode(
                    {
                        "scope": scope,
                        "from_occurrence": slot["occurrence_start"] if scope == "following" else None,
                        "reason": reason or "",
                    },
                    SeriesCancel,
                    lang,
                )
                await slots.cancel_series(pool, me, slot["series_id"], data, now=now_of(request))
        except forms.FormInvalid as exc:
            return await self._page(request, pool, me, slot, values, exc.errors, None)
        except LabbookError as exc:
            if exc.status in (403, 404):
                raise
            problem, field_errors = explain(exc, lang)
            return await self._page(request, pool, me, slot, values, field_errors, problem)
        return see_other(f"/{lang}/manage/slots/{slot_id}?cancelled=1")

    async def _slot(self, pool: asyncpg.Pool, me: Principal, slot_id: UUID) -> asyncpg.Record:
        slot = await slots.get_slot_for(pool, me, slot_id)
        if not me.manages(slot["lab_id"]):
            raise Forbidden("only this lab's managers or an admin may do that")
        return slot

    def _scope(self, slot: Mapping[str, Any], posted: Mapping[str, Any]) -> str:
        scope = str(posted.get("scope") or "one")
        return scope if scope in SCOPES and slot["series_id"] is not None else "one"

    async def _reached(
        self, request: Request[Any, Any, Any], pool: asyncpg.Pool, me: Principal, slot: Any, scope: str
    ) -> list[Any]:
        """The active sessions a change of ``scope`` reaches, soonest first."""
        if scope == "one":
            return [slot]
        view = await slots.get_series_for(pool, me, slot["series_id"])
        now = now_of(request)
        return [
            row
            for row in view.occurrences
            if row["status"] == "active"
            and (
                row["occurrence_start"] >= slot["occurrence_start"]
                if scope == "following"
                else row["ends_at"] > now
            )
        ]

    async def _confirm(
        self,
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        slot: Any,
        posted: Mapping[str, Any],
        scope: str,
        action: str,
    ) -> Template:
        reached = await self._reached(request, pool, me, slot, scope)
        found = await affected_bookings(pool, me, [row["id"] for row in reached])
        return render(
            request,
            "manager/series_confirm.html",
            slot=slot,
            action=action,
            scope=scope,
            check={"slots": reached, "bookings": found, "names": await organization_names(pool)},
            people=sum(row["headcount"] for row in found),
            carried=[(k, v) for k, v in posted.items() if k != "confirm"],
        )

    async def _page(
        self,
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        slot: Any,
        values: Mapping[str, Any],
        errors: dict[str, str],
        problem: str | None,
        changed: int | None = None,
        cancelled: int | None = None,
    ) -> Template:
        found = await affected_bookings(pool, me, [slot["id"]])
        return render(
            request,
            "manager/series_slot.html",
            slot=slot,
            check={"slots": [slot], "bookings": found, "names": await organization_names(pool)},
            values=values,
            errors=errors,
            problem=problem,
            changed=changed,
            cancelled=cancelled,
        )


route_handlers: list[Any] = [SeriesPages, SlotManagePages]
