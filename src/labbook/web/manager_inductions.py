"""Inductions for a lab's managers: who holds one on their equipment, granting and revoking by hand
with a reason, and merging a trainee written down twice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from labbook.attendance import service as attendance
from labbook.attendance.schemas import InductionGrant, InductionRevocation, TraineeMerge
from labbook.core.principal import Principal
from labbook.core.roles import Role
from labbook.errors import LabbookError
from labbook.web import forms
from labbook.web.forms import N_
from labbook.web.i18n import Gettext
from labbook.web.pages import now_of, page_lang, render, see_other
from labbook.web.problems import explain

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]
Done = Annotated[Literal["granted", "revoked", "merged"] | None, QueryParameter()]
Form = Literal["grant", "revoke", "merge"]

CHOOSE_TRAINEE = N_("Choose a trainee.")
SAVED = {
    "granted": N_("The induction is granted."),
    "revoked": N_("The induction is revoked."),
    "merged": N_("The two records are now one trainee."),
}


def _trainee(text: Any) -> UUID | None:
    try:
        return UUID(str(text))
    except ValueError:
        return None


class InductionPages(Controller):
    path = "/{lang:str}/manage/inductions"
    opt = {"access": (Role.ADMIN, Role.LAB_MANAGER)}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/")
    async def show(self, request: Request[Any, Any, Any], pool: Pool, me: Me, done: Done = None) -> Template:
        return await self._page(request, pool, me, done=done)

    @post("/")
    async def grant(self, request: Request[Any, Any, Any], pool: Pool, me: Me) -> Template | Redirect:
        """Grant an induction by hand; the equipment is chosen as ``lab/equipment``."""
        lang = page_lang(request)
        posted = await forms.values(request)
        lab, _, equipment = str(posted.get("equipment") or "").partition("/")
        body = {
            "trainee_id": posted.get("trainee_id"),
            "lab": lab,
            "equipment": equipment,
            "reason": posted.get("reason"),
        }
        try:
            data = forms.decode(body, InductionGrant, lang)
            await attendance.grant_induction(pool, me, data, now=now_of(request))
        except forms.FormInvalid as exc:
            return await self._page(request, pool, me, form="grant", errors=exc.errors, posted=posted)
        except LabbookError as exc:
            return await self._refused(request, pool, me, exc, "grant", posted)
        return see_other(f"/{lang}/manage/inductions/?done=granted")

    @post("/{induction_id:uuid}/revoke")
    async def revoke(
        self, request: Request[Any, Any, Any], pool: Pool, me: Me, induction_id: FromPath[UUID]
    ) -> Template | Redirect:
        lang = page_lang(request)
        posted = await forms.values(request)
        try:
            data = forms.decode({"reason": posted.get("reason")}, InductionRevocation, lang)
            await attendance.revoke_induction(pool, me, induction_id, data.reason)
        except forms.FormInvalid as exc:
            return await self._page(
                request, pool, me, form="revoke", failed=induction_id, errors=exc.errors, posted=posted
            )
        except LabbookError as exc:
            return await self._refused(request, pool, me, exc, "revoke", posted, failed=induction_id)
        return see_other(f"/{lang}/manage/inductions/?done=revoked")

    @post("/merge")
    async def merge(self, request: Request[Any, Any, Any], pool: Pool, me: Me) -> Template | Redirect:
        """Merge a trainee written down twice: ``trainee_id`` goes into ``into``."""
        lang = page_lang(request)
        posted = await forms.values(request)
        duplicate = _trainee(posted.get("trainee_id"))
        try:
            data = forms.decode({"into": posted.get("into")}, TraineeMerge, lang)
            if duplicate is None:
                raise forms.FormInvalid({"trainee_id": Gettext(lang).plain(CHOOSE_TRAINEE)})
            await attendance.merge_trainees(pool, me, duplicate, data.into)
        except forms.FormInvalid as exc:
            errors = dict(exc.errors)
            if duplicate is None:
                errors["trainee_id"] = Gettext(lang).plain(CHOOSE_TRAINEE)
            return await self._page(request, pool, me, form="merge", errors=errors, posted=posted)
        except LabbookError as exc:
            return await self._refused(request, pool, me, exc, "merge", posted)
        return see_other(f"/{lang}/manage/inductions/?done=merged")

    @classmethod
    async def _refused(
        cls,
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        exc: LabbookError,
        form: Form,
        posted: Mapping[str, Any],
        *,
        failed: UUID | None = None,
    ) -> Template:
        """The page again with a service's refusal; what the caller may not see stays a 403/404."""
        if exc.status in (403, 404):
            raise exc
        problem, errors = explain(exc, page_lang(request))
        return await cls._page(
            request, pool, me, form=form, failed=failed, errors=errors, posted=posted, problem=problem
        )

    @staticmethod
    async def _page(
        request: Request[Any, Any, Any],
        pool: asyncpg.Pool,
        me: Principal,
        *,
        done: str | None = None,
        form: Form | None = None,
        failed: UUID | None = None,
        errors: dict[str, str] | None = None,
        posted: Mapping[str, Any] | None = None,
        problem: str | None = None,
    ) -> Template:
        return render(
            request,
            "manager/inductions.html",
            inductions=await attendance.list_inductions(pool, me),
            trainees=await attendance.known_trainees(pool, me),
            equipment=await attendance.inducting_equipment(pool, me),
            saved=SAVED.get(done or ""),
            form=form,
            failed=failed,
            errors=errors or {},
            posted=posted or {},
            problem=problem,
            now=now_of(request),
        )


route_handlers: list[Any] = [InductionPages]
