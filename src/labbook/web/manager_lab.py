"""A lab's settings for its manager: details, opening hours, equipment, booking rules, the private feed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.catalog import service as catalog
from labbook.catalog.rows import LabRow
from labbook.catalog.schemas import EquipmentUpdate, LabUpdate, OpeningHours
from labbook.core.access import MANAGERS
from labbook.core.principal import Principal
from labbook.errors import LabbookError, NotFound
from labbook.feeds import service as feeds
from labbook.feeds.schemas import FeedTokenCreate
from labbook.schemas import LANGUAGES
from labbook.settings import Settings
from labbook.slots import service as slots
from labbook.web import forms
from labbook.web.i18n import LANGUAGE_NAMES, N_, Formats, Gettext
from labbook.web.manager_calendar import managed_lab
from labbook.web.pages import now_of, page_lang, render, see_other
from labbook.web.problems import explain
from labbook.web.public import KIND_NAMES, weekly_hours

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]

FEED_KIND = "lab_manager"
# Windows a day offers in the opening-hours grid: a morning and an afternoon, or more if the lab has them.
WINDOWS_PER_DAY = 2
LOCALIZED = ("name", "description", "safety_notes")
OPTIONAL_TEXTS = ("building", "room", "address", "accessibility", "min_visitor_age")
CHECKBOXES = ("requires_induction", "is_out_of_service")
RULES = ("min_notice_hours", "max_advance_days", "reminder_hours")

SAVED = {
    "details": N_("The lab's details are saved."),
    "rules": N_("The booking rules are saved."),
    "hours": N_("The opening hours are saved."),
    "equipment": N_("The equipment is saved."),
}
MESSAGES = {
    "name": N_("Give the lab's name in at least one language."),
    "capacity": N_("Enter how many people the lab holds at once: a whole number from 1."),
    "languages": N_("Tick at least one language of tours."),
    "min_visitor_age": N_("Enter an age in years from 0 to 100, or leave it empty."),
    "min_notice_hours": N_("Enter the notice in hours: a whole number from 0 to 8760."),
    "max_advance_days": N_("Enter the days: a whole number from 1 to 3650."),
    "reminder_hours": N_("Enter the hours: a whole number from 0 to 168."),
    "units": N_("Enter how many stations: a whole number from 1 to 1000."),
    "seats_per_unit": N_("Enter how many trainees share a station: a whole number from 1 to 1000."),
    "induction_valid_months": N_("Enter how many months an induction lasts: a whole number from 1 to 120."),
}
HOURS_BOTH = N_("Give both the opening and the closing time, or neither.")
HOURS_TIME = N_("Enter a time such as 09:00.")
HOURS_ORDER = N_("It must close after it opens.")
HOURS_OVERLAP = N_("This overlaps another window on the same day.")
AT_LEAST_STATIONS = N_("There must be at least %(num)s stations.")
CAPACITY_PEAK = N_(
    "On %(when)s the sessions already published hold %(peak)s people, so the capacity cannot be lower. "
    "Lower their capacity or cancel them first."
)
UNITS_HELD = N_(
    "These stations are held by sessions to come, so there must be at least as many. "
    "Cancel or move those sessions first."
)


@dataclass(slots=True)
class Section:
    """One form of the page as it is shown again: the entered values, messages, and a sentence on top."""

    values: Mapping[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    conflicts: list[dict[str, Any]] = field(default_factory=list)


def _details(lab: LabRow) -> dict[str, Any]:
    values: dict[str, Any] = {
        f"{name}.{code}": getattr(lab, name).get(code, "") for name in LOCALIZED for code in LANGUAGES
    }
    values.update({name: "" if getattr(lab, name) is None else getattr(lab, name) for name in OPTIONAL_TEXTS})
    values["capacity"] = lab.capacity
    values["languages"] = list(lab.languages)
    return values


def _messages(errors: Mapping[str, str], lang: str) -> dict[str, str]:
    """The decoder's messages, with our own words for the fields it has none for."""
    gettext = Gettext(lang)
    return {
        name: gettext.plain(MESSAGES[name]) if name in MESSAGES else text for name, text in errors.items()
    }


def _lab_update(posted: Mapping[str, Any], lang: str) -> LabUpdate:
    body: dict[str, Any] = {}
    for name in LOCALIZED:
        body[name] = {code: posted[f"{name}.{code}"] for code in LANGUAGES if posted.get(f"{name}.{code}")}
    body["capacity"] = posted.get("capacity")
    body["languages"] = list(posted.get("languages") or [])
    blanks = {name: None for name in OPTIONAL_TEXTS if not posted.get(name)}
    body.update({name: posted[name] for name in OPTIONAL_TEXTS if posted.get(name)})
    errors: dict[str, str] = {}
    if not body["name"]:
        errors["name"] = Gettext(lang).plain(MESSAGES["name"])
        body.pop("name")
    try:
        data = forms.decode(body, LabUpdate, lang, extra=blanks)
    except forms.FormInvalid as exc:
        raise forms.FormInvalid({**_messages(exc.errors, lang), **errors}) from None
    if errors:
        raise forms.FormInvalid(errors)
    return data


@dataclass(frozen=True, slots=True)
class HoursDay:
    weekday: int
    windows: list[tuple[str, str]]


def hours_grid(values: Mapping[str, Any], *, spare: bool = False) -> list[HoursDay]:
    """The week grid's rows: each weekday with its windows, padded with empty ones to add a window in
    (with ``spare``, one more than the busiest day uses, so a page without scripts can always add one)."""
    used = 0
    while any(f"opens_at.{weekday}.{used}" in values for weekday in range(1, 8)):
        used += 1
    width = max(WINDOWS_PER_DAY, used + 1 if spare else used)
    return [
        HoursDay(
            weekday,
            [
                (
                    str(values.get(f"opens_at.{weekday}.{n}", "")),
                    str(values.get(f"closes_at.{weekday}.{n}", "")),
                )
                for n in range(width)
            ],
        )
        for weekday in range(1, 8)
    ]


def hours_values(rows: list[Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for weekday, windows in weekly_hours(rows).items():
        for n, (opens, closes) in enumerate(windows):
            values[f"opens_at.{weekday}.{n}"] = opens.strftime("%H:%M")
            values[f"closes_at.{weekday}.{n}"] = closes.strftime("%H:%M")
    return values


def _schedule(posted: Mapping[str, Any], lang: str) -> tuple[list[OpeningHours], list[str]]:
    """The API's schedule from the grid, and the grid cell each entry came from; a half-filled
    window is refused here, the rest by the catalog service."""
    gettext = Gettext(lang)
    entries: list[OpeningHours] = []
    keys: list[str] = []
    errors: dict[str, str] = {}
    for day in hours_grid(posted):
        for n, (opens, closes) in enumerate(day.windows):
            if not opens and not closes:
                continue
            key = f"{day.weekday}.{n}"
            if not opens or not closes:
                errors[key] = gettext.plain(HOURS_BOTH)
                continue
            entries.append(OpeningHours(weekday=day.weekday, opens_at=opens[:5], closes_at=closes[:5]))
            keys.append(key)
    if errors:
        raise forms.FormInvalid(errors)
    return entries, keys


def _schedule_errors(exc: LabbookError, keys: list[str], lang: str) -> dict[str, str]:
    """The service's refusal of a schedule ("[2].closes_at ...") next to the grid cell it is about."""
    gettext = Gettext(lang)
    found: dict[str, str] = {}
    for error in exc.members.get("errors") or []:
        where = str(error.get("field", ""))
        index = int(where[1 : where.index("]")]) if where.startswith("[") and "]" in where else None
        if index is None or index >= len(keys):
            continue
        message = str(error.get("message", ""))
        text = (
            HOURS_OVERLAP
            if "overlaps" in message
            else HOURS_ORDER
            if "close after" in message
            else HOURS_TIME
        )
        found[keys[index]] = gettext.plain(text)
    return found


async def _described(
    pool: asyncpg.Pool, me: Principal, conflicts: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The sessions a refusal names, once each with the stations it holds, so the page can say which
    and when. A long series in the way is named in full: the manager has to move every one of them."""
    by_slot: dict[str, dict[str, Any]] = {}
    for conflict in conflicts:
        slot_id = str(conflict["slot_id"])
        if slot_id not in by_slot:
            try:
                slot = await slots.get_slot_for(pool, me, UUID(slot_id))
            except (NotFound, ValueError):
                continue
            by_slot[slot_id] = {"slot": slot, "units": []}
        if conflict.get("unit"):
            by_slot[slot_id]["units"].append(conflict["unit"])
    return list(by_slot.values())


class LabSettingsPages(Controller):
    """Everything about one lab that its manager looks after, one form per part."""

    path = "/{lang:str}/manage/labs/{lab:str}/settings"
    opt = {"access": MANAGERS}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/")
    async def settings(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        lab: FromPath[str],
        saved: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        found = await managed_lab(pool, me, lab)
        return await self._page(request, pool, me, found, notice=SAVED.get(saved or ""))

    @post("/details")
    async def save_details(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, lab: FromPath[str]
    ) -> Template | Redirect:
        """Name, description and safety notes in kk, ru and en; where the lab is; who it takes."""
        found = await managed_lab(pool, me, lab)
        lang = page_lang(request)
        posted = await forms.values(request, lists=("languages",))
        try:
            await catalog.update_lab(pool, me, lab, _lab_update(posted, lang), now=now_of(request))
        except forms.FormInvalid as exc:
            return await self._page(request, pool, me, found, details=Section(posted, exc.errors))
        except LabbookError as exc:
            problem, errors = explain(exc, lang)
            if exc.slug == "lab-capacity":
                at = dt.datetime.fromisoformat(str(exc.members["at"]))
                problem = Gettext(lang).plain(
                    CAPACITY_PEAK, when=Formats(lang).datetime(at, found.timezone), peak=exc.members["peak"]
                )
                errors = {"capacity": Gettext(lang).plain(MESSAGES["capacity"])}
            return await self._page(request, pool, me, found, details=Section(posted, errors, problem))
        return see_other(f"/{lang}/manage/labs/{lab}/settings/?saved=details#details")

    @post("/booking-rules")
    async def save_rules(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, lab: FromPath[str]
    ) -> Template | Redirect:
        """How much notice a booking needs, how far ahead it may be made, and when groups are reminded."""
        found = await managed_lab(pool, me, lab)
        lang = page_lang(request)
        posted = await forms.values(request)
        fields = {name: posted.get(name) for name in RULES}
        # All are required here, although the API's PATCH leaves alone what is not sent.
        missing = {name: Gettext(lang).plain(MESSAGES[name]) for name, value in fields.items() if not value}
        try:
            data = forms.decode(fields, LabUpdate, lang)
            if missing:
                raise forms.FormInvalid({})
            await catalog.update_lab(pool, me, lab, data, now=now_of(request))
        except forms.FormInvalid as exc:
            errors = {**_messages(exc.errors, lang), **missing}
            return await self._page(request, pool, me, found, rules=Section(posted, errors))
        except LabbookError as exc:
            problem, errors = explain(exc, lang)
            return await self._page(request, pool, me, found, rules=Section(posted, errors, problem))
        return see_other(f"/{lang}/manage/labs/{lab}/settings/?saved=rules#rules")

    @post("/opening-hours")
    async def save_hours(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, lab: FromPath[str]
    ) -> Template | Redirect:
        """The whole week at once, as the API's ``PUT /labs/{lab}/opening-hours`` takes it."""
        found = await managed_lab(pool, me, lab)
        lang = page_lang(request)
        posted = await forms.values(request)
        keys: list[str] = []
        try:
            entries, keys = _schedule(posted, lang)
            await catalog.set_opening_hours(pool, me, lab, entries)
        except forms.FormInvalid as exc:
            return await self._page(request, pool, me, found, hours=Section(posted, exc.errors))
        except LabbookError as exc:
            conflicts = await _described(pool, me, exc.members.get("conflicts") or [])
            # With sessions in the way, the page counts them in a sentence of its own.
            problem = None if conflicts else explain(exc, lang)[0]
            section = Section(posted, _schedule_errors(exc, keys, lang), problem, conflicts)
            return await self._page(request, pool, me, found, hours=section)
        return see_other(f"/{lang}/manage/labs/{lab}/settings/?saved=hours#hours")

    @post("/equipment/{equipment:str}")
    async def save_equipment(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        lab: FromPath[str],
        equipment: FromPath[str],
    ) -> Template | Redirect:
        """Stations, trainees per station, whether an induction is needed and how long one lasts,
        whether it is out of service."""
        found = await managed_lab(pool, me, lab)
        lang = page_lang(request)
        posted = await forms.values(request)
        # A box left unticked posts nothing; ``decode`` reads its absence as ``False``.
        numbers = ("units", "seats_per_unit", "induction_valid_months")
        fields = {name: posted[name] for name in (*numbers, *CHECKBOXES) if name in posted}
        try:
            data = forms.decode(fields, EquipmentUpdate, lang, checkboxes=CHECKBOXES)
            await catalog.update_equipment(pool, me, lab, equipment, data)
        except forms.FormInvalid as exc:
            section = Section(posted, _messages(exc.errors, lang))
            return await self._page(request, pool, me, found, equipment={equipment: section})
        except LabbookError as exc:
            if exc.status == 404:
                raise
            problem, errors = explain(exc, lang)
            conflicts = await _described(pool, me, exc.members.get("conflicts") or [])
            if conflicts:
                problem = Gettext(lang).plain(UNITS_HELD)
                least = max((unit for c in conflicts for unit in c["units"]), default=1)
                errors = {"units": Gettext(lang).plain(AT_LEAST_STATIONS, num=least)}
            section = Section(posted, errors, problem, conflicts)
            return await self._page(request, pool, me, found, equipment={equipment: section})
        return see_other(f"/{lang}/manage/labs/{lab}/settings/?saved=equipment#eq-{equipment}")

    @post("/feed")
    async def create_feed(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        settings: NamedDependency[Settings],
        me: Me,
        lab: FromPath[str],
    ) -> Template:
        """The new address is shown on this answer only: it holds the secret, so it is never redirected to."""
        found = await managed_lab(pool, me, lab)
        lang = page_lang(request)
        posted = await forms.values(request)
        try:
            data = forms.decode(posted, FeedTokenCreate, lang, extra={"kind": FEED_KIND})
        except forms.FormInvalid as exc:
            return await self._page(request, pool, me, found, feed=Section(posted, exc.errors))
        _, secret = await feeds.create_feed_token(pool, me, data.kind, data.name)
        url = feeds.feed_url(settings, f"/feeds/private/{secret}.ics")
        return await self._page(request, pool, me, found, new_feed=url)

    @staticmethod
    async def _page(
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        lab: LabRow,
        *,
        notice: str | None = None,
        details: Section | None = None,
        rules: Section | None = None,
        hours: Section | None = None,
        equipment: Mapping[str, Section] | None = None,
        feed: Section | None = None,
        new_feed: str | None = None,
    ) -> Template:
        pieces = await catalog.list_equipment(pool, lab.slug, include_archived=False)
        current_hours = hours_values(await catalog.get_opening_hours(pool, lab.slug))
        tokens = [
            t
            for t in await feeds.list_feed_tokens(pool, me)
            if t["revoked_at"] is None and t["kind"] == FEED_KIND
        ]
        rules_values = {name: getattr(lab, name) for name in RULES}
        return render(
            request,
            "manager/lab_settings.html",
            lab=lab,
            labs=await catalog.labs_run_by(pool, me),
            view="settings",
            tz=lab.timezone,
            notice=notice,
            details=details or Section(_details(lab)),
            rules=rules or Section(rules_values),
            hours=hours or Section(current_hours),
            hours_grid=hours_grid(hours.values) if hours else hours_grid(current_hours, spare=True),
            equipment=pieces,
            equipment_forms=equipment or {},
            feed=feed or Section(),
            new_feed=new_feed,
            tokens=tokens,
            kind_names=KIND_NAMES,
            language_choices=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        )


route_handlers: list[Any] = [LabSettingsPages]
