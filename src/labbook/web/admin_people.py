"""The admin console's people: invitations, roles, the labs each manager runs, switching off and on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.accounts import service as accounts
from labbook.accounts import signin
from labbook.accounts.rows import PersonRow
from labbook.accounts.schemas import InvitationCreate, PersonCreate, PersonUpdate
from labbook.catalog import service as catalog
from labbook.core.access import ADMIN
from labbook.core.kinds import HOST_KIND
from labbook.core.roles import Role
from labbook.errors import LabbookError
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
    worded,
)
from labbook.web.pages import now_of, page_lang, render, see_other, settings_of

ROLES = tuple(Role)
# Labs a form offers for managers to run: a few universities' labs, tens at most.
LAB_CHOICES = 1000


async def _host_labs(pool: Any) -> list[Any]:
    rows, _ = await catalog.list_labs(
        pool,
        host=None,
        language=None,
        equipment_kind=None,
        q=None,
        include_archived=False,
        limit=LAB_CHOICES,
        offset=0,
    )
    return rows


def _invitation_body(posted: Mapping[str, Any]) -> dict[str, Any]:
    body = {key: posted.get(key) for key in ("organization", "email", "full_name", "phone")}
    body["roles"] = list(posted.get("roles") or [])
    body["managed_labs"] = list(posted.get("managed_labs") or [])
    return body


class PeoplePages(Controller):
    """Everyone who signs in to labbook, whatever organization they belong to."""

    path = "/{lang:str}/admin/people"
    opt = {"access": ADMIN}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/")
    async def list_people(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        q: Text = None,
        organization: Annotated[str | None, QueryParameter(max_length=80)] = None,
        role: Annotated[str | None, QueryParameter(max_length=20)] = None,
        offset: Offset = 0,
    ) -> Template:
        chosen_role = role if role in ROLES else None
        rows, total = await accounts.list_people(
            pool,
            me,
            organization_slug=organization or None,
            role=chosen_role,
            q=q or None,
            limit=PAGE_SIZE,
            offset=offset,
        )
        organizations = await organization_choices(pool)
        return render(
            request,
            "admin/people.html",
            people=rows,
            total=total,
            offset=offset,
            page_size=PAGE_SIZE,
            roles=ROLES,
            organizations=organizations,
            organization_names={row.slug: row.name for row in organizations},
            lab_names=await catalog.lab_names(pool, {slug for row in rows for slug in row.managed_labs}),
            filters={"q": q or "", "organization": organization or "", "role": chosen_role or ""},
        )

    @get("/new")
    async def new_person(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        organization: Annotated[str | None, QueryParameter(max_length=80)] = None,
    ) -> Template:
        values = {"organization": organization or "", "roles": ["director"], "days": "7"}
        return await self._invite_form(request, pool, values, {}, None)

    @post("/")
    async def invite_person(self, request: Request[Any, Any, Any], pool: Pool, me: Me) -> Template:
        """Add a person and show the one-time link that lets them set a password and sign in."""
        lang = page_lang(request)
        posted = await forms.values(request, lists=("roles", "managed_labs"))
        body = _invitation_body(posted)
        try:
            data = forms.decode(
                body, PersonCreate, lang, extra={"roles": body["roles"], "managed_labs": body["managed_labs"]}
            )
            days = forms.decode({"days": posted.get("days")}, InvitationCreate, lang).days
            url, person = await signin.invite_new_person(
                pool, me, settings_of(request), data, days=days, now=now_of(request)
            )
        except forms.FormInvalid as exc:
            return await self._invite_form(request, pool, posted, worded(exc.errors, lang), None)
        except LabbookError as exc:
            problem, errors = refusal(exc, lang)
            return await self._invite_form(request, pool, posted, errors, problem)
        # The link is shown on this answer only, as the API shows it once: it is stored hashed.
        return render(request, "admin/invitation.html", person=person, url=url, days=days)

    @get("/{person_id:uuid}")
    async def person(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        me: Me,
        person_id: FromPath[UUID],
        done: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        row = await accounts.get_person(pool, me, person_id)
        values = {
            "full_name": row.full_name,
            "phone": row.phone or "",
            "roles": row.roles,
            "managed_labs": row.managed_labs,
        }
        return await self._person_page(request, pool, row, values, {}, None, done=done)

    @post("/{person_id:uuid}")
    async def update_person(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, person_id: FromPath[UUID]
    ) -> Template | Redirect:
        lang = page_lang(request)
        row = await accounts.get_person(pool, me, person_id)
        posted = await forms.values(request, lists=("roles", "managed_labs"))
        body = {key: posted.get(key) for key in ("full_name", "phone")}
        lists = {
            "roles": list(posted.get("roles") or []),
            "managed_labs": list(posted.get("managed_labs") or []),
        }
        try:
            data = forms.decode(
                body, PersonUpdate, lang, extra={**lists, **blank_as_none(posted, ("phone",))}
            )
            await accounts.update_person(pool, me, person_id, data)
        except forms.FormInvalid as exc:
            return await self._person_page(request, pool, row, posted, worded(exc.errors, lang), None)
        except LabbookError as exc:
            problem, errors = refusal(exc, lang)
            return await self._person_page(request, pool, row, posted, errors, problem)
        return see_other(f"/{lang}/admin/people/{person_id}?done=saved")

    @post("/{person_id:uuid}/deactivate")
    async def deactivate_person(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, person_id: FromPath[UUID]
    ) -> Template | Redirect:
        return await self._switch(request, pool, me, person_id, on=False)

    @post("/{person_id:uuid}/reactivate")
    async def reactivate_person(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, person_id: FromPath[UUID]
    ) -> Template | Redirect:
        return await self._switch(request, pool, me, person_id, on=True)

    @post("/{person_id:uuid}/invitations")
    async def new_link(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, person_id: FromPath[UUID]
    ) -> Template:
        """A fresh one-time link for someone already here (a lost invitation, a reactivated person)."""
        lang = page_lang(request)
        row = await accounts.get_person(pool, me, person_id)
        posted = await forms.values(request)
        try:
            days = forms.decode({"days": posted.get("days")}, InvitationCreate, lang).days
            url, _, _ = await signin.invite_person(
                pool, me, settings_of(request), person_id, days=days, now=now_of(request)
            )
        except forms.FormInvalid as exc:
            return await self._person_page(
                request, pool, row, self._values(row), worded(exc.errors, lang), None
            )
        except LabbookError as exc:
            problem, _ = refusal(exc, lang)
            return await self._person_page(request, pool, row, self._values(row), {}, problem)
        return render(request, "admin/invitation.html", person=row, url=url, days=days)

    async def _switch(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, person_id: UUID, *, on: bool
    ) -> Template | Redirect:
        lang = page_lang(request)
        try:
            if on:
                await accounts.reactivate_person(pool, me, person_id)
            else:
                await accounts.deactivate_person(pool, me, person_id)
        except LabbookError as exc:
            if exc.status == 404:
                raise
            row = await accounts.get_person(pool, me, person_id)
            problem, _ = refusal(exc, lang)
            return await self._person_page(request, pool, row, self._values(row), {}, problem)
        return see_other(f"/{lang}/admin/people/{person_id}?done={'reactivated' if on else 'deactivated'}")

    @staticmethod
    def _values(row: PersonRow) -> dict[str, Any]:
        return {
            "full_name": row.full_name,
            "phone": row.phone or "",
            "roles": row.roles,
            "managed_labs": row.managed_labs,
        }

    async def _invite_form(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        values: Mapping[str, Any],
        errors: dict[str, str],
        problem: str | None,
    ) -> Template:
        organizations = await organization_choices(pool)
        labs = await _host_labs(pool)
        return render(
            request,
            "admin/person_new.html",
            organizations=organizations,
            labs=labs,
            roles=ROLES,
            values=values,
            errors=errors,
            problem=problem,
        )

    async def _person_page(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        person: PersonRow,
        values: Mapping[str, Any],
        errors: dict[str, str],
        problem: str | None,
        *,
        done: str | None = None,
    ) -> Template:
        organization = await catalog.get_organization(pool, person.organization_slug)
        labs = [lab for lab in await _host_labs(pool) if lab.host == person.organization_slug]
        # An archived lab they still run stays on the form, so that saving does not quietly drop it.
        shown = {lab.slug for lab in labs}
        labs += [await catalog.get_lab(pool, slug) for slug in person.managed_labs if slug not in shown]
        return render(
            request,
            "admin/person.html",
            person=person,
            organization=organization,
            is_host=organization.kind == HOST_KIND,
            labs=labs,
            roles=ROLES,
            values=values,
            errors=errors,
            problem=problem,
            done=done,
        )


route_handlers: list[Any] = [PeoplePages]
