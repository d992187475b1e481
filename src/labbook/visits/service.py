"""Visit requests: the lab accepts one window (private slot + confirmed booking) or declines."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from labbook import db
from labbook.audit import service as audit
from labbook.bookings import service as bookings
from labbook.bookings.schemas import BookingCreate
from labbook.catalog import service as catalog
from labbook.catalog.rows import EquipmentRow
from labbook.core.principal import Principal
from labbook.core.roles import Role
from labbook.errors import IllegalTransition, NotFound, TooFewStations, ValidationFailed
from labbook.schemas import Language
from labbook.slots import service as slots
from labbook.slots.schemas import SlotCreate, UnitRequest
from labbook.timezones import check_dates
from labbook.visits import repository
from labbook.visits.rows import VisitRequestRow
from labbook.visits.schemas import VisitAcceptance, VisitProposalCreate, VisitRequestCreate

TITLE_LENGTH = 120


def _illegal(row: VisitRequestRow | None, verb: str) -> IllegalTransition:
    status = row.status if row else None
    return IllegalTransition(f"a {status} visit request cannot be {verb}", current_status=status)


async def request_visit(
    pool: asyncpg.Pool, me: Principal, data: VisitRequestCreate, *, now: datetime
) -> VisitRequestRow:
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


def _stations_check(
    kind: str, headcount: int, equipment: list[UnitRequest], catalog_rows: list[EquipmentRow]
) -> None:
    """A training group must fit on the stations it is given: units × trainees per unit, summed."""
    if kind != "training" or not equipment:
        return
    per_unit = {row.slug: row.seats_per_unit for row in catalog_rows}
    if any(r.equipment not in per_unit for r in equipment):
        return  # equipment the lab lacks: the slot's own rules name it (422)
    parts = [(r.equipment, r.units, per_unit.get(r.equipment, 0)) for r in equipment]
    places = sum(units * seats for _, units, seats in parts)
    if headcount <= places:
        return
    stations = " + ".join(f"{units} {slug} × {seats}" for slug, units, seats in parts)
    raise TooFewStations(
        f"{headcount} trainees do not fit on {stations} trainees per station ({places} places)",
        headcount=headcount,
        places=places,
        stations=sum(units for _, units, _ in parts),
        equipment=[
            {"equipment": slug, "units": units, "trainees_per_unit": seats} for slug, units, seats in parts
        ],
    )


def _slot_for(
    row: VisitRequestRow,
    *,
    starts_at: datetime,
    ends_at: datetime,
    title: dict[Language, str] | None,
    equipment: list[UnitRequest],
    instructor_id: UUID | None,
    outside_hours: bool,
) -> SlotCreate:
    """The private slot a visit gets: the whole group's seats, the stations the lab gives it."""
    return SlotCreate(
        lab=row.lab_slug,
        kind=row.kind,
        title=title or {row.language: row.purpose[:TITLE_LENGTH]},
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=row.headcount,
        equipment=equipment,
        visibility="private",
        organization=row.organization_slug,
        outside_hours=outside_hours,
        instructor_id=instructor_id,
    )


async def _place_visit(
    conn: asyncpg.Connection,
    me: Principal,
    row: VisitRequestRow,
    data: SlotCreate,
    *,
    agreed_by_lab: bool = False,
    now: datetime | None = None,
) -> tuple[asyncpg.Record, dict[str, Any]]:
    """Publish the visit's slot (holding its stations) and book it whole, confirmed, in ``conn``."""
    lab = await catalog.find_lab(conn, row.lab_slug)
    assert lab is not None
    _stations_check(
        row.kind,
        row.headcount,
        data.equipment,
        await catalog.list_equipment(conn, row.lab_slug, include_archived=False),
    )
    slot = await slots.create_slot_in(conn, me, lab, data, agreed_by_lab=agreed_by_lab, now=now)
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
    return slot, booking


async def accept_visit_request(
    pool: asyncpg.Pool, me: Principal, request_id: UUID, data: VisitAcceptance, *, now: datetime
) -> VisitRequestRow:
    """Make a private slot for the requesting organization, holding the stations the manager chose,
    and book it whole, in one transaction.

    Any collision (closure, lab capacity, opening hours, equipment) comes from the slots rules with
    what it collides with, and nothing is written.
    """
    async with db.transaction(pool) as conn:
        row = await _locked(conn, me, request_id)
        me.require_lab(row.lab_id)
        if row.status != "pending":
            raise _illegal(row, "accepted")
        windows = row.windows
        if data.window_number > len(windows):
            raise ValidationFailed.field(
                "window_number", f"the request has {len(windows)} window(s), numbered 1 to {len(windows)}"
            )
        window = windows[data.window_number - 1]
        slot, booking = await _place_visit(
            conn,
            me,
            row,
            _slot_for(
                row,
                starts_at=datetime.fromisoformat(window["starts_at"]),
                ends_at=datetime.fromisoformat(window["ends_at"]),
                title=data.title,
                equipment=data.equipment,
                instructor_id=data.instructor_id,
                outside_hours=data.outside_hours,
            ),
            now=now,
        )
        accepted = await repository.decide(
            conn,
            request_id,
            status="accepted",
            message=data.message,
            accepted_window=data.window_number - 1,
            slot_id=slot["id"],
            booking_id=booking["id"],
        )
        assert accepted is not None
        await audit.record(
            conn, me, "visit_request.accept", "visit_request", request_id, before=row, after=accepted
        )
        return accepted


class _DryRun(Exception):
    """Undoes a trial placement: the rules were met, nothing is to be kept."""


async def propose_visit_time(
    pool: asyncpg.Pool, me: Principal, request_id: UUID, data: VisitProposalCreate, *, now: datetime
) -> VisitRequestRow:
    """Offer the organization another time. It is checked now as accepting it would be (stations,
    closures, hours, lab capacity), so the lab offers only what it can give; the slot itself is made
    when the organization accepts, and the rules are checked again then."""
    async with db.transaction(pool) as conn:
        return await propose_visit_time_in(conn, me, request_id, data, now=now)


async def propose_visit_time_in(
    conn: asyncpg.Connection,
    me: Principal,
    request_id: UUID,
    data: VisitProposalCreate,
    *,
    now: datetime | None = None,
) -> VisitRequestRow:
    """``propose_visit_time`` inside the caller's transaction, as of ``now`` (the clock's time)."""
    check_dates(starts_at=data.starts_at, ends_at=data.ends_at)
    if data.ends_at <= data.starts_at:
        raise ValidationFailed.field("ends_at", "must be after starts_at")
    row = await _locked(conn, me, request_id)
    me.require_lab(row.lab_id)
    if row.status != "pending":
        raise _illegal(row, "answered with another time")
    slot = _slot_for(
        row,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        title=data.title,
        equipment=data.equipment,
        instructor_id=data.instructor_id,
        outside_hours=data.outside_hours,
    )
    try:
        async with conn.transaction():
            await _place_visit(conn, me, row, slot, now=now)
            raise _DryRun
    except _DryRun:
        pass
    await repository.insert_proposal(
        conn,
        request_id,
        proposed_by=me.person_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        title=data.title,
        equipment=[msgspec.to_builtins(e) for e in data.equipment],
        instructor_id=data.instructor_id,
        is_outside_hours=data.outside_hours,
        message=data.message,
    )
    proposed = await repository.decide(conn, request_id, status="proposed", message=data.message)
    assert proposed is not None
    await audit.record(
        conn, me, "visit_request.propose", "visit_request", request_id, before=row, after=proposed
    )
    return proposed


async def accept_visit_proposal(
    pool: asyncpg.Pool, me: Principal, request_id: UUID, message: str | None, *, now: datetime
) -> VisitRequestRow:
    """The organization takes the lab's other time: the slot and the confirmed booking are made now.

    Both answers lock the request row and update only an open proposal, so of two answers given at
    once exactly one lands; the other finds the request no longer ``proposed``.
    """
    async with db.transaction(pool) as conn:
        row = await _locked(conn, me, request_id)
        me.require_organization(row.organization_id)
        if row.status != "proposed" or row.proposal is None:
            raise _illegal(row, "accepted: no time proposed by the lab waits for an answer")
        proposal = await repository.answer_proposal(
            conn, request_id, status="accepted", message=message, answered_by=me.person_id
        )
        if proposal is None:
            raise _illegal(row, "accepted")
        slot, booking = await _place_visit(
            conn,
            me,
            row,
            _slot_for(
                row,
                starts_at=proposal.starts_at,
                ends_at=proposal.ends_at,
                title=proposal.title,
                equipment=[msgspec.convert(e, UnitRequest) for e in proposal.equipment],
                instructor_id=proposal.instructor_id,
                outside_hours=proposal.is_outside_hours,
            ),
            agreed_by_lab=True,
            now=now,
        )
        accepted = await repository.decide(
            conn,
            request_id,
            status="accepted",
            message=proposal.message,
            slot_id=slot["id"],
            booking_id=booking["id"],
            from_statuses=("proposed",),
        )
        if accepted is None:
            raise _illegal(row, "accepted")
        await audit.record(
            conn, me, "visit_request.accept_proposal", "visit_request", request_id, before=row, after=accepted
        )
        return accepted


async def decline_visit_proposal(
    pool: asyncpg.Pool, me: Principal, request_id: UUID, message: str | None
) -> VisitRequestRow:
    """The organization turns the lab's other time down: no slot is made, and the request waits
    for the lab again (it may accept one of the windows asked for, offer another time, or decline)."""
    async with db.transaction(pool) as conn:
        row = await _locked(conn, me, request_id)
        me.require_organization(row.organization_id)
        if row.status != "proposed":
            raise _illegal(row, "answered: no time proposed by the lab waits for an answer")
        proposal = await repository.answer_proposal(
            conn, request_id, status="declined", message=message, answered_by=me.person_id
        )
        reopened = await repository.decide(
            conn, request_id, status="pending", message=None, from_statuses=("proposed",)
        )
        if proposal is None or reopened is None:
            raise _illegal(row, "answered")
        await audit.record(
            conn,
            me,
            "visit_request.decline_proposal",
            "visit_request",
            request_id,
            before=row,
            after=reopened,
        )
        return reopened


async def _close(
    pool: asyncpg.Pool, me: Principal, request_id: UUID, *, action: str, status: str, message: str | None
) -> VisitRequestRow:
    async with db.transaction(pool) as conn:
        row = await _locked(conn, me, request_id)
        if status == "declined":
            me.require_lab(row.lab_id)
        else:
            me.require_organization(row.organization_id)
        if row.status == "proposed":
            # The lab's open offer goes with the request it answered.
            await repository.answer_proposal(
                conn, request_id, status="withdrawn", message=None, answered_by=me.person_id
            )
        closed = await repository.decide(
            conn, request_id, status=status, message=message, from_statuses=("pending", "proposed")
        )
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
