"""The admin console's labs: adding one to a host university, its details, its managers, archiving."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.accounts import service as accounts
from labbook.catalog import service as catalog
from labbook.catalog.rows import LabRow
from labbook.catalog.schemas import LabCreate, LabUpdate
from labbook.core.access import ADMIN
from labbook.core.kinds import HOST_KIND
from labbook.core.roles import Role
from labbook.errors import LabbookError
from labbook.schemas import LANGUAGES
from labbook.web import forms
from labbook.web.admin import (
    PAGE_SIZE,
    Me,
    Offset,
    Pool,
    Text,
    blank_as_none,
    organization_choices,
    refusal,
    text_fields,
    texts,
    worded,
)
from labbook.web.i18n import N_, Gettext
from labbook.web.pages import now_of, page_lang, render, see_other

# A host university's staff: hundreds at most.
STAFF = 1000
PLAIN_FIELDS = (
    "capacity",
    "building",
    "room",
    "address",
    "timezone",
    "min_visitor_age",
    "accessibility",
    "min_notice_hours",
    "max_advance_days",
)
OPTIONAL_FIELDS = ("building", "room", "address", "min_visitor_age", "accessibility")
NO_PERSON = N_("Choose a person from the lab's university.")


def _lab_body(posted: Mapping[str, Any]) -> dict[str, Any]:
    """The API's lab body from the form: texts in three languages, the languages of its visits."""
    body: dict[str, Any] = {key: posted.get(key) for key in PLAIN_FIELDS}
    body["name"] = texts(posted, "name")
    body["description"] = texts(posted, "description")
    body["safety_notes"] = texts(posted, "safety_notes")
    return body


def _lab_values(lab: LabRow) -> dict[str, Any]:
    values: dict[str, Any] = {
        key: "" if getattr(lab, key) is None else str(getattr(lab, key)) for key in PLAIN_FIELDS
    }
    values.update(text_fields("name", lab.name))
    values.update(text_fields("description", lab.description))
    values.update(text_fields("safety_notes", lab.safety_notes))
    values["languages"] = lab.languages
    return values


class LabPages(Controller):
    """Labs of the host universities, archived ones included."""

    path = "/{lang:str}/admin/labs"
    opt = {"access": ADMIN}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/")
    async def list_labs(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        q: Text = None,
        host: Annotated[str | None, QueryParameter(max_length=80)] = None,
        include_archived: Annotated[str | None, QueryParameter(max_length=5)] = None,
        offset: Offset = 0,
    ) -> Template:
        rows, total = await catalog.list_labs(
            pool,
            host=host or None,
            language=None,
            equipment_kind=None,
            q=q or None,
            include_archived=bool(include_archived),
            limit=PAGE_SIZE,
            offset=offset,
        )
        hosts = await organization_choices(pool, kind=HOST_KIND)
        return render(
            request,
            "admin/labs.html",
            labs=rows,
            total=total,
            offset=offset,
            page_size=PAGE_SIZE,
            hosts=hosts,
            host_names={row.slug: row.name for row in hosts},
            filters={"q": q or "", "host": host or "", "include_archived": include_archived or ""},
        )

    @get("/new")
    async def new_lab(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        host: Annotated[str | None, QueryParameter(max_length=80)] = None,
    ) -> Template:
        values = {
            "host": host or "",
            "timezone": "Asia/Almaty",
            "languages": ["kk", "ru"],
            "min_notice_hours": "24",
            "max_advance_days": "365",
        }
        return await self._new_form(request, pool, values, {}, None)

    @post("/")
    async def create_lab(self, request: Request[Any, Any, Any], pool: Pool, me: Me) -> Template | Redirect:
        lang = page_lang(request)
        posted = await forms.values(request, lists=("languages",))
        body = {**_lab_body(posted), "slug": posted.get("slug"), "host": posted.get("host")}
        try:
            data = forms.decode(
                body, LabCreate, lang, extra={"languages": list(posted.get("languages") or [])}
            )
            lab = await catalog.create_lab(pool, me, data)
        except forms.FormInvalid as exc:
            return await self._new_form(request, pool, posted, worded(exc.errors, lang), None)
        except LabbookError as exc:
            problem, errors = refusal(exc, lang)
            return await self._new_form(request, pool, posted, errors, problem)
        return see_other(f"/{lang}/admin/labs/{lab.slug}?done=created")

    @get("/{slug:str}")
    async def lab(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        slug: FromPath[str],
        done: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        row = await catalog.get_lab(pool, slug)
        return await self._lab_page(request, pool, me, row, _lab_values(row), {}, None, done=done)

    @post("/{slug:str}")
    async def update_lab(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, slug: FromPath[str]
    ) -> Template | Redirect:
        lang = page_lang(request)
        row = await catalog.get_lab(pool, slug)
        posted = await forms.values(request, lists=("languages",))
        try:
            data = forms.decode(
                _lab_body(posted),
                LabUpdate,
                lang,
                extra={
                    "languages": list(posted.get("languages") or []),
                    **blank_as_none(posted, OPTIONAL_FIELDS),
                },
            )
            await catalog.update_lab(pool, me, slug, data, now=now_of(request))
        except forms.FormInvalid as exc:
            return await self._lab_page(request, pool, me, row, posted, worded(exc.errors, lang), None)
        except LabbookError as exc:
            problem, errors = refusal(exc, lang)
            return await self._lab_page(request, pool, me, row, posted, errors, problem)
        return see_other(f"/{lang}/admin/labs/{slug}?done=saved")

    @post("/{slug:str}/archive")
    async def archive_lab(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, slug: FromPath[str]
    ) -> Redirect:
        await catalog.archive_lab(pool, me, slug)
        return see_other(f"/{page_lang(request)}/admin/labs/{slug}?done=archived")

    @post("/{slug:str}/managers")
    async def set_manager(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, slug: FromPath[str]
    ) -> Template | Redirect:
        """Add one of the host's staff to the lab's managers, or take the lab from a manager."""
        lang = page_lang(request)
        lab = await catalog.get_lab(pool, slug)
        posted = await forms.values(request)
        staff = {str(person.id): person for person in await self._staff(pool, me, lab)}
        chosen = staff.get(str(posted.get("remove") or posted.get("person_id") or ""))
        if chosen is None:
            errors = {"person_id": Gettext(lang).plain(NO_PERSON)}
            return await self._lab_page(request, pool, me, lab, _lab_values(lab), errors, None)
        try:
            await accounts.set_lab_manager(
                pool, me, UUID(str(chosen.id)), slug, manages=not posted.get("remove")
            )
        except LabbookError as exc:
            problem, _ = refusal(exc, lang)
            return await self._lab_page(request, pool, me, lab, _lab_values(lab), {}, problem)
        return see_other(f"/{lang}/admin/labs/{slug}?done=managers")

    @staticmethod
    async def _staff(pool: Pool, me: Me, lab: LabRow) -> list[Any]:
        rows, _ = await accounts.list_people(
            pool, me, organization_slug=lab.host, role=None, q=None, limit=STAFF, offset=0
        )
        return [row for row in rows if row.is_active]

    async def _new_form(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        values: Mapping[str, Any],
        errors: dict[str, str],
        problem: str | None,
    ) -> Template:
        return render(
            request,
            "admin/lab.html",
            lab=None,
            hosts=await organization_choices(pool, kind=HOST_KIND),
            lab_languages=LANGUAGES,
            values=values,
            errors=errors,
            problem=problem,
            managers=[],
            candidates=[],
            done=None,
        )

    async def _lab_page(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        lab: LabRow,
        values: Mapping[str, Any],
        errors: dict[str, str],
        problem: str | None,
        *,
        done: str | None = None,
    ) -> Template:
        staff = await self._staff(pool, me, lab)
        managers = [p for p in staff if Role.LAB_MANAGER in p.roles and lab.slug in p.managed_labs]
        return render(
            request,
            "admin/lab.html",
            lab=lab,
            host=await catalog.get_organization(pool, lab.host),
            hosts=[],
            lab_languages=LANGUAGES,
            values=values,
            errors=errors,
            problem=problem,
            managers=managers,
            candidates=[p for p in staff if p not in managers],
            done=done,
        )


route_handlers: list[Any] = [LabPages]
