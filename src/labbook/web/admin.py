"""The admin console: organizations, the audit log, and what the admin pages share.

People are in ``admin_people.py`` and labs in ``admin_labs.py``. Every page here is for admins only
(``opt={"access": ADMIN}``) and calls the same service verbs as the JSON API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.audit import service as audit
from labbook.catalog import service as catalog
from labbook.catalog.schemas import OrganizationCreate, OrganizationUpdate
from labbook.core.access import ADMIN
from labbook.core.paging import MAX_OFFSET
from labbook.core.principal import Principal
from labbook.errors import LabbookError
from labbook.schemas import LANGUAGES
from labbook.timezones import zone
from labbook.web import forms
from labbook.web.i18n import N_, Gettext
from labbook.web.pages import page_lang, render, see_other
from labbook.web.problems import explain

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]
Text = Annotated[str | None, QueryParameter(max_length=200)]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)]

PAGE_SIZE = 50
# Organizations a form offers to choose from: a university's partners are hundreds, not thousands.
ORGANIZATION_CHOICES = 5000
ORGANIZATION_KINDS = (
    "host_university",
    "university",
    "college",
    "school",
    "company",
    "alumni_group",
    "other",
)
# The audit log's days are the host's days; labbook's labs are in Kazakhstan unless they say otherwise.
AUDIT_ZONE = "Asia/Almaty"
AUDIT_PAGE = 50

# Messages for the admin forms' fields, by the API's field name; they win over the shared ones.
FIELD_MESSAGES = {
    "slug": N_("Use lowercase Latin letters, digits and single hyphens, such as almaty-college-3."),
    "name": N_("Give the name in at least one language."),
    "kind": N_("Choose one of the kinds."),
    "website": N_("Enter an address that starts with https:// or http://."),
    "city": N_("The text is too long."),
    "country": N_("The text is too long."),
    "description": N_("The text is too long."),
    "capacity": N_("Enter how many people the lab holds: a whole number from 1."),
    "timezone": N_("Enter a time zone such as Asia/Almaty."),
    "languages": N_("Tick at least one language."),
    "min_visitor_age": N_("Enter an age from 0 to 100, or leave it empty."),
    "min_notice_hours": N_("Enter a whole number of hours from 0."),
    "max_advance_days": N_("Enter a whole number of days from 1."),
    "host": N_("Choose the host university the lab belongs to."),
    "organization": N_("Choose an organization that is not archived."),
    "roles": N_("Admin and lab manager are roles for staff of a host university only."),
    "managed_labs": N_("Only a lab manager runs labs, and only labs of their own university."),
    "days": N_("Enter how many days the link works: from 1 to 30."),
    "building": N_("The text is too long."),
    "room": N_("The text is too long."),
    "address": N_("The text is too long."),
}
# A slug or an email that is already somebody's.
TAKEN = {
    "slug": N_("This short name is already taken; choose another."),
    "email": N_("Somebody already has this email address. Find them in the list of people."),
}
AUDIT_OBJECT = N_("Write the object as type:id, such as lab:welding-institute.")
AUDIT_DATE = N_("Enter a date such as 2027-02-15.")


def texts(posted: Mapping[str, Any], name: str) -> dict[str, str]:
    """A text in three languages from the fields ``name.kk``, ``name.ru`` and ``name.en``."""
    return {code: str(posted[f"{name}.{code}"]) for code in LANGUAGES if posted.get(f"{name}.{code}")}


def text_fields(name: str, values: Mapping[str, str] | None) -> dict[str, str]:
    """The fields ``name.kk`` ... for a form showing a stored text in three languages."""
    return {f"{name}.{code}": text for code, text in (values or {}).items()}


def worded(errors: Mapping[str, str], lang: str) -> dict[str, str]:
    """The messages next to fields, the admin forms' own where they have one."""
    gettext = Gettext(lang)
    return {
        field: gettext.plain(FIELD_MESSAGES[field]) if field in FIELD_MESSAGES else message
        for field, message in errors.items()
    }


def refusal(exc: LabbookError, lang: str) -> tuple[str, dict[str, str]]:
    """A service's refusal for the top of the form, and the messages next to the fields at fault."""
    problem, errors = explain(exc, lang)
    errors = worded(errors, lang)
    field = exc.members.get("field") or ("slug" if exc.members.get("slug") else None)
    if exc.status == 409 and field in TAKEN:
        errors[field] = Gettext(lang).plain(TAKEN[field])
    return problem, errors


def blank_as_none(posted: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Optional fields left empty: ``None``, which clears them on an edit."""
    return {name: None for name in names if not posted.get(name)}


async def organization_choices(pool: asyncpg.Pool, *, kind: str | None = None) -> list[Any]:
    rows, _ = await catalog.list_organizations(
        pool, kind=kind, q=None, include_archived=False, limit=ORGANIZATION_CHOICES, offset=0
    )
    return rows


@get("/{lang:str}/admin", opt={"access": ADMIN})
async def admin_home(request: Request[Any, Any, Any]) -> Template:
    """The console's front page: where each part of it is."""
    return render(request, "admin/home.html")


def _organization_form(posted: Mapping[str, Any]) -> dict[str, Any]:
    """The API's organization body from the form."""
    body: dict[str, Any] = {key: posted.get(key) for key in ("slug", "kind", "city", "country", "website")}
    body["name"] = texts(posted, "name")
    body["description"] = texts(posted, "description")
    return body


class OrganizationPages(Controller):
    """Organizations: the host universities and the schools, colleges and partners that visit them."""

    path = "/{lang:str}/admin/organizations"
    opt = {"access": ADMIN}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/")
    async def list_organizations(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        q: Text = None,
        kind: Annotated[str | None, QueryParameter(max_length=40)] = None,
        include_archived: Annotated[str | None, QueryParameter(max_length=5)] = None,
        offset: Offset = 0,
        done: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        chosen_kind = kind if kind in ORGANIZATION_KINDS else None
        rows, total = await catalog.list_organizations(
            pool,
            kind=chosen_kind,
            q=q or None,
            include_archived=bool(include_archived),
            limit=PAGE_SIZE,
            offset=offset,
        )
        return render(
            request,
            "admin/organizations.html",
            organizations=rows,
            total=total,
            offset=offset,
            page_size=PAGE_SIZE,
            kinds=ORGANIZATION_KINDS,
            filters={"q": q or "", "kind": chosen_kind or "", "include_archived": include_archived or ""},
            done=done,
        )

    @get("/new")
    async def new_organization(self, request: Request[Any, Any, Any]) -> Template:
        return self._form(request, None, {"kind": "school"}, {}, None)

    @post("/")
    async def create_organization(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me
    ) -> Template | Redirect:
        lang = page_lang(request)
        posted = await forms.values(request)
        try:
            data = forms.decode(_organization_form(posted), OrganizationCreate, lang)
            row = await catalog.create_organization(pool, me, data)
        except forms.FormInvalid as exc:
            return self._form(request, None, posted, worded(exc.errors, lang), None)
        except LabbookError as exc:
            problem, errors = refusal(exc, lang)
            return self._form(request, None, posted, errors, problem)
        return see_other(f"/{lang}/admin/organizations/{row.slug}?done=created")

    @get("/{slug:str}")
    async def organization(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        slug: FromPath[str],
        done: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        row = await catalog.get_organization(pool, slug)
        values = {
            "kind": row.kind,
            "city": row.city or "",
            "country": row.country or "",
            "website": row.website or "",
            **text_fields("name", row.name),
            **text_fields("description", row.description),
        }
        return self._form(request, row, values, {}, None, done=done)

    @post("/{slug:str}")
    async def update_organization(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, slug: FromPath[str]
    ) -> Template | Redirect:
        lang = page_lang(request)
        row = await catalog.get_organization(pool, slug)
        posted = await forms.values(request)
        body = {k: v for k, v in _organization_form(posted).items() if k != "slug"}
        try:
            data = forms.decode(
                body,
                OrganizationUpdate,
                lang,
                extra=blank_as_none(posted, ("city", "country", "website")),
            )
            await catalog.update_organization(pool, me, slug, data)
        except forms.FormInvalid as exc:
            return self._form(request, row, posted, worded(exc.errors, lang), None)
        except LabbookError as exc:
            problem, errors = refusal(exc, lang)
            return self._form(request, row, posted, errors, problem)
        return see_other(f"/{lang}/admin/organizations/{slug}?done=saved")

    @post("/{slug:str}/archive")
    async def archive_organization(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, slug: FromPath[str]
    ) -> Redirect:
        await catalog.archive_organization(pool, me, slug)
        return see_other(f"/{page_lang(request)}/admin/organizations/{slug}?done=archived")

    @post("/{slug:str}/unarchive")
    async def unarchive_organization(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, slug: FromPath[str]
    ) -> Redirect:
        await catalog.unarchive_organization(pool, me, slug)
        return see_other(f"/{page_lang(request)}/admin/organizations/{slug}?done=unarchived")

    @staticmethod
    def _form(
        request: Request[Any, Any, Any],
        organization: Any,
        values: Mapping[str, Any],
        errors: dict[str, str],
        problem: str | None,
        *,
        done: str | None = None,
    ) -> Template:
        return render(
            request,
            "admin/organization.html",
            organization=organization,
            kinds=ORGANIZATION_KINDS,
            values=values,
            errors=errors,
            problem=problem,
            done=done,
        )


def changes(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """What an audit entry changed: (field, old value, new value) for each field that differs."""
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    found = []
    for key in sorted(set(old) | set(new)):
        if key in ("updated_at", "created_at") or old.get(key) == new.get(key):
            continue
        found.append((key, _shown(old.get(key)), _shown(new.get(key))))
    return found


def _shown(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:199] + "…"


def _day_start(text: str | None) -> datetime | None:
    """The first instant of a day in the audit's zone; ``ValueError`` for a text that is no date."""
    if not text:
        return None
    return datetime.combine(date.fromisoformat(text), time(0), tzinfo=zone(AUDIT_ZONE))


@get("/{lang:str}/admin/audit", opt={"access": ADMIN})
async def audit_log(
    request: Request[Any, Any, Any],
    pool: Pool,
    object_ref: Annotated[str | None, QueryParameter(name="object", max_length=300)] = None,
    actor: Annotated[str | None, QueryParameter(max_length=254)] = None,
    occurred_from: Annotated[str | None, QueryParameter(name="from", max_length=10)] = None,
    occurred_to: Annotated[str | None, QueryParameter(name="to", max_length=10)] = None,
    before_id: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
) -> Template:
    """Who changed what, newest first, narrowed by object, person and days (the API's ``/audit``)."""
    lang = page_lang(request)
    gettext = Gettext(lang)
    filters = {
        "object": object_ref or "",
        "actor": actor or "",
        "from": occurred_from or "",
        "to": occurred_to or "",
    }
    errors: dict[str, str] = {}
    bounds: dict[str, datetime | None] = {}
    for name, text in (("from", occurred_from), ("to", occurred_to)):
        try:
            bounds[name] = _day_start(text)
        except ValueError:
            errors[name] = gettext.plain(AUDIT_DATE)
    end = bounds.get("to")
    rows: list[Any] = []
    next_before_id = None
    if not errors:
        try:
            rows, next_before_id = await audit.list_events(
                pool,
                object_ref=object_ref or None,
                object_type=None,
                object_id=None,
                actor=actor or None,
                before_id=before_id,
                limit=AUDIT_PAGE,
                occurred_from=bounds.get("from"),
                # the "to" day is included: the period ends when the next day begins
                occurred_to=end + timedelta(days=1) if end else None,
            )
        except LabbookError:
            errors["object"] = gettext.plain(AUDIT_OBJECT)
    return render(
        request,
        "admin/audit.html",
        entries=[(row, changes(row.before, row.after)) for row in rows],
        next_before_id=next_before_id,
        filters=filters,
        errors=errors,
        zone_name=AUDIT_ZONE,
    )


route_handlers: list[Any] = [admin_home, OrganizationPages, audit_log]
