"""The outbox for admins: every e-mail labbook wrote, what it says, and whether it was delivered."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from labbook.core.access import ADMIN
from labbook.notifications import service as notifications
from labbook.web.forms import N_
from labbook.web.pages import render

Pool = NamedDependency[asyncpg.Pool]
PAGE = 50
# What each delivery status means to an admin.
STATUS_WORDS = {
    "queued": N_("Waiting to be sent"),
    "outbox": N_("Kept here (no mail server)"),
    "sent": N_("Sent"),
    "dead": N_("Not delivered"),
}


class OutboxPages(Controller):
    path = "/{lang:str}/admin/outbox"
    opt = {"access": ADMIN}  # noqa: RUF012 - Litestar reads it as the layer option

    @get("/")
    async def outbox(
        self,
        request: Request[Any, Any, Any],
        pool: Pool,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        offset: Annotated[int | None, QueryParameter(ge=0, le=1_000_000)] = None,
    ) -> Template:
        chosen = status if status in STATUS_WORDS else None
        rows, total = await notifications.list_messages(pool, status=chosen, limit=PAGE, offset=offset or 0)
        return render(
            request,
            "admin/outbox.html",
            messages=rows,
            total=total,
            shown=chosen,
            offset=offset or 0,
            page=PAGE,
            status_words=STATUS_WORDS,
        )

    @get("/{message_id:uuid}")
    async def message(
        self, request: Request[Any, Any, Any], pool: Pool, message_id: FromPath[UUID]
    ) -> Template:
        row, readable = await notifications.read_message(pool, message_id)
        return render(
            request, "admin/outbox_message.html", message=row, mail=readable, status_words=STATUS_WORDS
        )


route_handlers: list[Any] = [OutboxPages]
