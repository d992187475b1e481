"""HTTP routes for visit requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from labbook.clock import Clock
from labbook.core.access import AUTHENTICATED, BOOKERS, MANAGERS
from labbook.core.paging import MAX_OFFSET, Page
from labbook.core.principal import Principal
from labbook.slots.schemas import UnitRequest
from labbook.timezones import zone
from labbook.visits import service
from labbook.visits.rows import ProposalRow, VisitRequestRow
from labbook.visits.schemas import (
    Proposal,
    VisitAcceptance,
    VisitCancellation,
    VisitDecision,
    VisitProposalCreate,
    VisitRequest,
    VisitRequestCreate,
    VisitStatus,
    WindowOut,
)

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]


def visit_reply(row: VisitRequestRow) -> VisitRequest:
    """A visit request as clients see it; windows in the lab's time zone, whatever offset they came in."""
    tz = zone(row.lab_timezone)
    return VisitRequest(
        id=row.id,
        lab=row.lab_slug,
        organization=row.organization_slug,
        kind=row.kind,
        windows=[
            WindowOut(
                number=number,
                starts_at=datetime.fromisoformat(w["starts_at"]).astimezone(tz),
                ends_at=datetime.fromisoformat(w["ends_at"]).astimezone(tz),
            )
            for number, w in enumerate(row.windows, start=1)
        ],
        headcount=row.headcount,
        age_group=row.age_group,
        language=row.language,
        purpose=row.purpose,
        contact_name=row.contact_name,
        contact_email=row.contact_email,
        contact_phone=row.contact_phone,
        status=row.status,
        response_message=row.response_message,
        accepted_window_number=None if row.accepted_window is None else row.accepted_window + 1,
        proposal=_proposal_reply(row.proposal, tz),
        slot_id=row.slot_id,
        booking_id=row.booking_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _proposal_reply(row: ProposalRow | None, tz: ZoneInfo) -> Proposal | None:
    if row is None:
        return None
    return Proposal(
        id=row.id,
        starts_at=row.starts_at.astimezone(tz),
        ends_at=row.ends_at.astimezone(tz),
        title=row.title,
        equipment=[msgspec.convert(e, UnitRequest) for e in row.equipment],
        instructor_id=row.instructor_id,
        outside_hours=row.is_outside_hours,
        message=row.message,
        status=row.status,
        answer_message=row.answer_message,
        created_at=row.created_at,
        answered_at=row.answered_at,
    )


class VisitRequestController(Controller):
    path = "/api/v1/visit-requests"
    tags: Sequence[str] | None = ("visit requests",)

    @post("/", opt={"access": BOOKERS}, summary="Ask a lab for a visit or training course")
    async def create_visit_request(
        self, pool: Pool, me: Me, clock: NamedDependency[Clock], data: JSONBody[VisitRequestCreate]
    ) -> VisitRequest:
        return visit_reply(await service.request_visit(pool, me, data, now=clock()))

    @get(
        "/",
        opt={"access": AUTHENTICATED},
        summary="Visit requests you may see: your organization's, your labs', or all for admins",
    )
    async def list_visit_requests(
        self,
        pool: Pool,
        me: Me,
        status: Annotated[VisitStatus | None, QueryParameter()] = None,
        lab: Annotated[str | None, QueryParameter(description="lab slug")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> Page[VisitRequest]:
        rows, total = await service.list_visit_requests(
            pool, me, status=status, lab=lab, limit=limit, offset=offset
        )
        return Page(items=[visit_reply(r) for r in rows], total=total, limit=limit, offset=offset)

    @get("/{request_id:uuid}", opt={"access": AUTHENTICATED}, summary="One visit request")
    async def get_visit_request(self, pool: Pool, me: Me, request_id: FromPath[UUID]) -> VisitRequest:
        return visit_reply(await service.get_visit_request(pool, me, request_id))

    @post(
        "/{request_id:uuid}/accept",
        opt={"access": MANAGERS},
        status_code=HTTP_200_OK,
        summary="Accept one window: a private slot and a confirmed booking, or what collides",
        description=(
            "`window_number` counts from 1, as `windows[].number` does. The slot holds the `equipment` "
            "units given, exactly as a published slot would; a training group larger than its stations "
            "hold (units × trainees per unit) is a 409 `too-few-stations`."
        ),
    )
    async def accept_visit_request(
        self,
        pool: Pool,
        me: Me,
        clock: NamedDependency[Clock],
        request_id: FromPath[UUID],
        data: JSONBody[VisitAcceptance],
    ) -> VisitRequest:
        return visit_reply(await service.accept_visit_request(pool, me, request_id, data, now=clock()))

    @post(
        "/{request_id:uuid}/propose",
        opt={"access": MANAGERS},
        status_code=HTTP_200_OK,
        summary="Offer another time instead of the windows asked for; the organization answers it",
        description=(
            "The time is checked now as accepting it would be (stations, closures, opening hours, lab "
            "capacity; a training group must fit on its stations). The request becomes `proposed`; "
            "the slot and booking are made only when the organization accepts."
        ),
    )
    async def propose_visit_time(
        self,
        pool: Pool,
        me: Me,
        clock: NamedDependency[Clock],
        request_id: FromPath[UUID],
        data: JSONBody[VisitProposalCreate],
    ) -> VisitRequest:
        return visit_reply(await service.propose_visit_time(pool, me, request_id, data, now=clock()))

    @post(
        "/{request_id:uuid}/proposal/accept",
        opt={"access": BOOKERS},
        status_code=HTTP_200_OK,
        summary="Accept the time the lab proposed: a private slot and a confirmed booking",
        description="Of two answers given at once one lands; the other is a 409 `illegal-transition`.",
    )
    async def accept_visit_proposal(
        self,
        pool: Pool,
        me: Me,
        clock: NamedDependency[Clock],
        request_id: FromPath[UUID],
        data: JSONBody[VisitDecision | None] = None,
    ) -> VisitRequest:
        message = data.message if data else None
        return visit_reply(await service.accept_visit_proposal(pool, me, request_id, message, now=clock()))

    @post(
        "/{request_id:uuid}/proposal/decline",
        opt={"access": BOOKERS},
        status_code=HTTP_200_OK,
        summary="Decline the time the lab proposed: no slot is made, the request waits for the lab again",
    )
    async def decline_visit_proposal(
        self, pool: Pool, me: Me, request_id: FromPath[UUID], data: JSONBody[VisitDecision | None] = None
    ) -> VisitRequest:
        message = data.message if data else None
        return visit_reply(await service.decline_visit_proposal(pool, me, request_id, message))

    @post(
        "/{request_id:uuid}/decline",
        opt={"access": MANAGERS},
        status_code=HTTP_200_OK,
        summary="Decline a visit request, with a message",
    )
    async def decline_visit_request(
        self, pool: Pool, me: Me, request_id: FromPath[UUID], data: JSONBody[VisitDecision | None] = None
    ) -> VisitRequest:
        message = data.message if data else None
        return visit_reply(await service.decline_visit_request(pool, me, request_id, message))

    @post(
        "/{request_id:uuid}/cancel",
        opt={"access": BOOKERS},
        status_code=HTTP_200_OK,
        summary="Withdraw a pending visit request",
    )
    async def cancel_visit_request(
        self, pool: Pool, me: Me, request_id: FromPath[UUID], data: JSONBody[VisitCancellation | None] = None
    ) -> VisitRequest:
        reason = data.reason if data else None
        return visit_reply(await service.cancel_visit_request(pool, me, request_id, reason))


route_handlers: list[Any] = [VisitRequestController]
