"""Pages anyone may see: the language choice, the labs, a lab, its week, a slot, a series."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from labbook.accounts.security import PUBLIC
from labbook.catalog import service as catalog
from labbook.web.i18n import negotiate
from labbook.web.pages import LANG_COOKIE, render

HOST_KIND = "host_university"
# Every lab on one page: a university has tens of labs, not thousands.
LABS_PER_PAGE = 200


@get("/", opt={"access": PUBLIC}, include_in_schema=False)
async def choose_language(request: Request[Any, Any, Any]) -> Redirect:
    """``/`` sends people to their language: the ``lang`` cookie, the browser's wish, else Kazakh."""
    lang = negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    return Redirect(f"/{lang}/", status_code=303)


class PublicPages(Controller):
    path = "/{lang:str}"
    opt = {"access": PUBLIC}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/", name="home")
    async def home(
        self,
        request: Request[Any, Any, Any],
        pool: NamedDependency[asyncpg.Pool],
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        host: Annotated[str | None, QueryParameter(max_length=80)] = None,
    ) -> Template:
        """The labs, with search in any language and a host filter."""
        labs, _ = await catalog.list_labs(
            pool,
            host=host or None,
            language=None,
            equipment_kind=None,
            q=q or None,
            include_archived=False,
            limit=LABS_PER_PAGE,
            offset=0,
        )
        hosts, _ = await catalog.list_organizations(
            pool, kind=HOST_KIND, q=None, include_archived=False, limit=LABS_PER_PAGE, offset=0
        )
        return render(
            request,
            "public/home.html",
            labs=labs,
            hosts=hosts,
            host_names={h["slug"]: h["name"] for h in hosts},
            q=q or "",
            host=host or "",
        )
