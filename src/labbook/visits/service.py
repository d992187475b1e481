"""Visit requests: the lab accepts one window (private slot + confirmed booking) or declines."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import msgspec

from labbook import db
from labbook.audit import service as audit
from labbook.bookings import service as bookings
from labbook.bookings.schemas import BookingCreate
from labbook.catalog import service as catalog
from labbook.core.principal import Principal
from labbook.core.roles import Role
from labbook.errors import IllegalTransition, NotFound, ValidationFailed
from labbook.slots import service as slots
from labbook.slots.schemas import SlotCreate
from labbook.timezones import check_dates
from labbook.visits import repository
from labbook.visits.rows import VisitRequestRow
from labbook.visits.schemas import VisitAcceptance, VisitRequestCreate

TITLE_LENGTH = 120


def _illegal(row: VisitRequestRow | None, verb: str) -> IllegalTransition:
    status = row.status if row else None
    return IllegalTransition(f"a {status} visit request cannot be {verb}", current_status=status)


async def request_visit(pool: asyncpg.Pool, me: Principal, data: VisitRequestCreate) -> VisitRequestRow:
    now = datetime.now(UTC)
    for index, window in enumerate(data.windows):
        check_dates(
            **{f"windows[{index}].starts_at": window.starts_at, f"windows[{index}].ends_at": window.ends_at}
        )
        if window.ends_at <= window.starts_at:
            raise ValidationFailed.field(f"windows[{index}]", "ends_at must be after starts_at")
        if window.starts_at <= now:
            raise ValidationFailed.field(f"windows[{index}]", "the window has already begun")
    async with db.transaction(pool) as conn:
        organization_id = await bookings.organization_for(conn, me, data.organization)
        lab = await catalog.find_lab(conn, data.lab)
        if lab is None or lab.is_archived:
            raise ValidationFailed.field("lab", f"no lab {data.lab!r}")
        if data.language not in lab.languages:
            raise ValidationFailed.field(
                "language", f"this lab offers visits in {', '.join(lab.languages)}, not {data.language}"
            )
        if data.headcount > lab.capacity:
            raise ValidationFailed.field("headcount", f"the lab holds at most {lab.capacity} people")
        row = await repository.insert_request(
            conn,
            lab_id=lab.id,
            organization_id=organization_id,
            requested_by=me.person_id,
            kind=data.kind,
            windows=[msgspec.to_builtins(w) for w in data.windows],
            headcount=data.headcount,
            age_group=data.age_group,
            language=data.language,
            purpose=data.purpose,
            contact_name=data.contact_name,
            contact_email=data.contact_email,
            contact_phone=data.contact_phone,
        )
        await audit.record(conn, me, "visit_request.create", "visit_request", row.id, after=row)
        return row


async def get_visit_request(pool: asyncpg.Pool, me: Principal, request_id: UUID) -> VisitRequestRow:
    async with pool.acquire() as conn:
        row = await repository.get_request(conn, request_id)
    if row is None or not me.is_party_to(row.organization_id, row.lab_id):
        raise NotFound("no such visit request")
    return row


async def list_visit_requests(
    pool: asyncpg.Pool, me: Principal, *, status: str | None, lab: str | None, limit: int, offset: int
) -> tuple[list[VisitRequestRow], int]:
    async with pool.acquire() as conn:
        return await repository.list_requests(
            conn,
            see_all=me.is_admin,
            organization_id=me.organization_id if Role.DIRECTOR in me.roles else None,
            lab_ids=sorted(me.managed_lab_ids) if Role.LAB_MANAGER in me.roles else [],
            status=status,
            lab=lab,
            limit=limit,
            offset=offset,
        )


async def _locked(conn: asyncpg.Connection, me: Principal, request_id: UUID) -> VisitRequestRow:
    row = await repository.get_request(conn, request_id, lock=True)
    if row is None or not me.is_party_to(row.organization_id, row.lab_id):
        raise NotFound("no such visit request")
    return row


async def accept_visit_request(
    pool: asyncpg.Pool, me: Principal, request_id: UUID, data: VisitAcceptance
) -> VisitRequestRow:
    """Make a private slot for the requesting organization and book it whole, in one transaction.

    Any collision (closure, lab capacity, opening hours, equipment) comes from the slots rules with
    what it collides with, and nothing is written.
    """
    async with db.transaction(pool) as conn:
        row = await _locked(conn, me, request_id)
        me.require_lab(row.lab_id)
        if row.status != "pending":
            raise _illegal(row, "accepted")
        windows = row.windows
        if data.window >= len(windows):
            raise ValidationFailed.field(
                "window", f"the request has {len(windows)} window(s): 0..{len(windows) - 1}"
            )
        window = windows[data.window]
        lab = await catalog.find_lab(conn, row.lab_slug)
        assert lab is not None
        slot = await slots.create_slot_in(
            conn,
            me,
            lab,
            SlotCreate(
                lab=row.lab_slug,
                kind=row.kind,
                title=data.title or {row.language: row.purpose[:TITLE_LENGTH]},
                starts_at=datetime.fromisoformat(window["starts_at"]),
                ends_at=datetime.fromisoformat(window["ends_at"]),
                capacity=row.headcount,
                visibility="private",
                organization=row.organization_slug,
                outside_hours=data.outside_hours,
                instructor_id=data.instructor_id,
            ),
        )
        booking = await bookings.book_new_slot(
            conn,
            me,
            slot,
            lab=msgspec.structs.asdict(lab),
            organization_id=row.organization_id,
            contact_person=row.requested_by,
            data=BookingCreate(
                headcount=row.headcount,
                contact_name=row.contact_name,
                contact_email=row.contact_email,
                contact_phone=row.contact_phone,
                language=row.language,
                age_group=row.age_group,
                notes=row.purpose,
            ),
        )
        accepted = await repository.decide(
            conn,
            request_id,
            status="accepted",
            message=data.message,
            accepted_window=data.window,
            slot_id=slot["id"],
            booking_id=booking["id"],
        )
        assert accepted is not None
        await audit.record(
            conn, me, "visit_request.accept", "visit_request", request_id, before=row, after=accepted
        )
        return accepted


async def _close(
    pool: asyncpg.Pool, me: Principal, request_id: UUID, *, action: str, status: str, message: str | None
) -> VisitRequestRow:
    async with db.transaction(pool) as conn:
        row = await _locked(conn, me, request_id)
        if status == "declined":
            me.require_lab(row.lab_id)
        else:
            me.require_organization(row.organization_id)
        closed = await repository.decide(conn, request_id, status=status, message=message)
        if closed is None:
            raise _illegal(row, status)
        await audit.record(
            conn, me, f"visit_request.{action}", "visit_request", request_id, before=row, after=closed
        )
        return closed


async def decline_visit_request(
    pool: asyncpg.Pool, me: Principal, request_id: UUID, message: str | None
) -> VisitRequestRow:
    return await _close(pool, me, request_id, action="decline", status="declined", message=message)


async def cancel_visit_request(
    pool: asyncpg.Pool, me: Principal, request_id: UUID, reason: str | None
) -> VisitRequestRow:
    return await _close(pool, me, request_id, action="cancel", status="cancelled", message=reason)
