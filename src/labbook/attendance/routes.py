"""HTTP routes for rosters, attendance and inductions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from labbook.attendance import service
from labbook.attendance.rows import InductionRow, RosterEntryRow
from labbook.attendance.schemas import (
    Attendance,
    AttendanceMark,
    Induction,
    InductionGrant,
    InductionRevocation,
    InductionSession,
    MergedTrainee,
    NoShowRate,
    Roster,
    RosterUpdate,
    SlotInduction,
    Trainee,
    TraineeMerge,
)
from labbook.clock import Clock
from labbook.core.access import AUTHENTICATED, LAB_STAFF
from labbook.core.principal import Principal
from labbook.core.roles import Role

Pool = NamedDependency[asyncpg.Pool]
Me = NamedDependency[Principal]
# Who marks attendance: the lab's managers, admins, and a session's instructor.
MARKERS = (Role.ADMIN, Role.LAB_MANAGER, Role.INSTRUCTOR)
# Who reads inductions: the labs that grant them, and directors for their own trainees.
INDUCTION_READERS = (Role.ADMIN, Role.LAB_MANAGER, Role.DIRECTOR)


def trainees_reply(rows: list[RosterEntryRow]) -> list[Trainee]:
    return [
        Trainee(id=r.trainee_id, full_name=r.full_name, study_group=r.study_group, attended=r.attended)
        for r in rows
    ]


def induction_reply(row: InductionRow) -> Induction:
    return Induction(
        id=row.id,
        trainee_id=row.trainee_id,
        full_name=row.full_name,
        equipment=row.equipment_slug,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        booking_id=row.booking_id,
        reason=row.reason,
        revoked_at=row.revoked_at,
        revoke_reason=row.revoke_reason,
    )


class RosterController(Controller):
    path = "/api/v1/bookings/{booking_id:uuid}"
    tags: Sequence[str] | None = ("attendance",)

    @get("/roster", opt={"access": AUTHENTICATED}, summary="A training booking's trainees")
    async def get_roster(self, pool: Pool, me: Me, booking_id: FromPath[UUID]) -> Roster:
        rows = await service.get_roster(pool, me, booking_id)
        return Roster(booking_id=booking_id, trainees=trainees_reply(rows))

    @put(
        "/roster",
        opt={"access": (Role.ADMIN, Role.LAB_MANAGER, Role.DIRECTOR)},
        summary="Name a training booking's trainees (replaces the list); refused if one lacks an induction",
    )
    async def save_roster(
        self,
        pool: Pool,
        me: Me,
        clock: NamedDependency[Clock],
        booking_id: FromPath[UUID],
        data: JSONBody[RosterUpdate],
    ) -> Roster:
        rows = await service.save_roster(pool, me, booking_id, data, now=clock())
        return Roster(booking_id=booking_id, trainees=trainees_reply(rows))

    @put(
        "/attendance",
        opt={"access": MARKERS},
        summary="Mark a booking as arrived (with how many came) or as a no-show; change it for 7 days",
    )
    async def mark_attendance(
        self,
        pool: Pool,
        me: Me,
        clock: NamedDependency[Clock],
        booking_id: FromPath[UUID],
        data: JSONBody[AttendanceMark],
    ) -> Attendance:
        marked = await service.mark_attendance(pool, me, booking_id, data, now=clock())
        row = marked.attendance
        return Attendance(
            booking_id=booking_id,
            outcome=row.outcome,  # type: ignore[arg-type]
            headcount=row.headcount,
            marked_at=row.marked_at,
            updated_at=row.updated_at,
            trainees=trainees_reply(marked.roster),
            inductions_granted=len(marked.granted),
            inductions_revoked=len(marked.revoked),
        )


class SlotInductionController(Controller):
    path = "/api/v1/slots/{slot_id:uuid}/induction"
    tags: Sequence[str] | None = ("attendance",)

    @put(
        "/",
        opt={"access": LAB_STAFF},
        summary="Make a training session a safety induction (attending it inducts), or not",
    )
    async def set_induction_session(
        self, pool: Pool, me: Me, slot_id: FromPath[UUID], data: JSONBody[InductionSession]
    ) -> SlotInduction:
        row = await service.set_induction_session(pool, me, slot_id, data.is_induction)
        return SlotInduction(slot_id=row.id, is_induction=row.is_induction)


class InductionController(Controller):
    path = "/api/v1/inductions"
    tags: Sequence[str] | None = ("attendance",)

    @get(
        "/",
        opt={"access": INDUCTION_READERS},
        summary="Inductions on your labs' equipment, or your trainees'",
    )
    async def list_inductions(
        self, pool: Pool, me: Me, trainee: Annotated[UUID | None, QueryParameter()] = None
    ) -> list[Induction]:
        return [induction_reply(r) for r in await service.list_inductions(pool, me, trainee_id=trainee)]

    @post("/", opt={"access": LAB_STAFF}, summary="Grant an induction by hand, with a reason")
    async def grant_induction(
        self, pool: Pool, me: Me, clock: NamedDependency[Clock], data: JSONBody[InductionGrant]
    ) -> Induction:
        return induction_reply(await service.grant_induction(pool, me, data, now=clock()))

    @post(
        "/{induction_id:uuid}/revoke",
        opt={"access": LAB_STAFF},
        status_code=HTTP_200_OK,
        summary="Revoke an induction, with a reason",
    )
    async def revoke_induction(
        self, pool: Pool, me: Me, induction_id: FromPath[UUID], data: JSONBody[InductionRevocation]
    ) -> Induction:
        return induction_reply(await service.revoke_induction(pool, me, induction_id, data.reason))


class TraineeController(Controller):
    path = "/api/v1/trainees"
    tags: Sequence[str] | None = ("attendance",)

    @post(
        "/{trainee_id:uuid}/merge",
        opt={"access": LAB_STAFF},
        status_code=HTTP_200_OK,
        summary="Merge a duplicate trainee (a misspelt name) into another of the same organization",
    )
    async def merge_trainee(
        self, pool: Pool, me: Me, trainee_id: FromPath[UUID], data: JSONBody[TraineeMerge]
    ) -> MergedTrainee:
        kept = await service.merge_trainees(pool, me, trainee_id, data.into)
        return MergedTrainee(id=kept.id, full_name=kept.full_name)


class NoShowController(Controller):
    path = "/api/v1/no-show-rates"
    tags: Sequence[str] | None = ("attendance",)

    @get("/", opt={"access": LAB_STAFF}, summary="Each organization's no-shows in your labs")
    async def list_no_show_rates(self, pool: Pool, me: Me) -> list[NoShowRate]:
        return [
            NoShowRate(
                organization=r.organization_slug,
                marked=r.marked,
                no_shows=r.no_shows,
                rate=round(r.no_shows / r.marked, 4) if r.marked else 0.0,
            )
            for r in await service.no_show_rates(pool, me)
        ]


route_handlers: list[Any] = [
    RosterController,
    SlotInductionController,
    InductionController,
    TraineeController,
    NoShowController,
]
