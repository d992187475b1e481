"""Trainee rosters, attendance, and the safety inductions that attending an induction session grants.

Who may do what:

* a roster is filled by the booking organization's director until the session starts, and corrected
  by the lab's managers until attendance closes;
* attendance is marked by the lab's managers or the session's instructor, from the start of the
  session's day until ``LATE_DAYS`` after it ends; every mark and every change is audited;
* inductions are granted by attending an induction session (``slots.is_induction``), or by a lab
  manager by hand with a reason, and revoked the same way.

The induction gate is checked where trainees are named, on the roster: a booking says how many come,
not who, so ``booking_refusal()`` has nobody to check, and the roster is what the lab admits. The
rule is the database's ``missing_inductions()`` (migrations/0110): the roster's trigger refuses an
entry it finds, under a lock on the trainee that revocations take too, and ``refusal`` words the same
rows, naming each trainee and when their induction ran out.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from typing import Any
from uuid import UUID

import asyncpg

from labbook import db
from labbook.attendance import repository
from labbook.attendance.repository import InductionRequired
from labbook.attendance.rows import (
    AttendanceRow,
    InductingEquipmentRow,
    InductionRow,
    KnownTraineeRow,
    MissingInductionRow,
    NoShowRateRow,
    RosterEntryRow,
    SessionBookingRow,
    SessionRow,
    SlotRow,
    TraineeRow,
)
from labbook.attendance.schemas import AttendanceMark, InductionGrant, RosterUpdate
from labbook.audit import service as audit
from labbook.core.principal import Principal
from labbook.core.roles import Role
from labbook.errors import Conflict, Forbidden, IllegalTransition, NotFound, ValidationFailed
from labbook.timezones import zone

__all__ = ["InductionRequired"]

# How long after a session its attendance may still be corrected.
LATE_DAYS = 7
# Inductions offered with a refusal.
NEXT_SESSIONS = 3
CORRECTED = "attendance corrected"
# One lab's sessions in a day, or every organization that ever booked: well below this.
LIST_LIMIT = 1000


class NotATraining(Conflict):
    """Only a training booking lists trainees."""

    slug = "not-a-training"
    title = "Only a training has a roster"


class AttendanceClosed(Conflict):
    """Too early (before the session's day) or too late (``LATE_DAYS`` after it) to mark attendance,
    or to change the roster."""

    slug = "attendance-closed"
    title = "Attendance cannot be marked now"


def may_see(me: Principal, booking: SessionBookingRow) -> bool:
    """The booking's organization, its lab's managers, admins, and the session's instructor."""
    return me.is_party_to(booking.organization_id, booking.lab_id) or teaches(me, booking)


def teaches(me: Principal, session: SessionRow) -> bool:
    return Role.INSTRUCTOR in me.roles and session.instructor_id == me.person_id


def may_mark(me: Principal, booking: SessionBookingRow) -> bool:
    return me.manages(booking.lab_id) or teaches(me, booking)


def attendance_window(booking: SessionBookingRow) -> tuple[datetime, datetime]:
    """From midnight of the session's day, in the lab's zone, to ``LATE_DAYS`` after it ends."""
    local = zone(booking.lab_timezone)
    day = booking.starts_at.astimezone(local).date()
    return datetime.combine(day, time(), tzinfo=local), booking.ends_at + timedelta(days=LATE_DAYS)


def may_edit_roster(me: Principal, booking: SessionBookingRow, now: datetime) -> bool:
    """Directors until the session starts; the lab's managers until attendance closes."""
    if me.manages(booking.lab_id):
        return now <= attendance_window(booking)[1]
    return me.acts_for(booking.organization_id) and now < booking.starts_at


async def _booking(
    conn: asyncpg.Connection, me: Principal, booking_id: UUID, *, lock: bool
) -> SessionBookingRow:
    booking = await repository.get_booking(conn, booking_id, lock=lock)
    if booking is None or not may_see(me, booking):
        raise NotFound("no such booking")
    return booking


async def get_booking(pool: asyncpg.Pool, me: Principal, booking_id: UUID) -> SessionBookingRow:
    async with pool.acquire() as conn:
        return await _booking(conn, me, booking_id, lock=False)


async def get_roster(pool: asyncpg.Pool, me: Principal, booking_id: UUID) -> list[RosterEntryRow]:
    """Only those party to the booking see its roster; no feed carries one."""
    async with pool.acquire() as conn:
        await _booking(conn, me, booking_id, lock=False)
        return await repository.get_roster(conn, booking_id)


def _names(missing: list[MissingInductionRow], local: tzinfo) -> str:
    """Each trainee and what they lack; the day an induction expired is the lab's day."""
    said = []
    for row in missing:
        if row.expired_at is None:
            said.append(f"{row.full_name} (no induction on {row.equipment_slug})")
        else:
            expired = row.expired_at.astimezone(local).date()
            said.append(f"{row.full_name} (induction on {row.equipment_slug} expired {expired})")
    return "; ".join(said)


async def refusal(
    conn: asyncpg.Connection, booking: SessionBookingRow, trainee_ids: list[UUID], now: datetime
) -> InductionRequired | None:
    """Who of these trainees may not train in this booking's session, and the next induction sessions."""
    missing = await repository.list_missing_inductions(conn, trainee_ids, booking.slot_id)
    if not missing:
        return None
    local = zone(booking.lab_timezone)
    sessions = await repository.next_induction_sessions(
        conn, sorted({row.equipment_id for row in missing}), now, NEXT_SESSIONS
    )
    return InductionRequired(
        f"these trainees need an induction first: {_names(missing, local)}",
        trainees=[
            {
                "trainee_id": str(row.trainee_id),
                "full_name": row.full_name,
                "equipment": row.equipment_slug,
                "equipment_name": row.equipment_name,
                "expired_at": row.expired_at.astimezone(local).isoformat() if row.expired_at else None,
            }
            for row in missing
        ],
        induction_sessions=[
            {"slot_id": str(s.id), "starts_at": s.starts_at.astimezone(local).isoformat()} for s in sessions
        ],
    )


async def save_roster(
    pool: asyncpg.Pool, me: Principal, booking_id: UUID, data: RosterUpdate, *, now: datetime
) -> list[RosterEntryRow]:
    """The booking's roster becomes ``data.trainees``; refused whole when any trainee lacks an induction."""
    try:
        async with db.transaction(pool) as conn:
            return await save_roster_in(conn, me, booking_id, data, now=now)
    except InductionRequired as exc:
        if exc.members:
            raise
    # The roster's trigger refused a trainee whose induction was revoked after our check: say who,
    # in a transaction that the refusal rolls back, so that no trainee is left behind.
    async with db.transaction(pool) as conn:
        booking = await _booking(conn, me, booking_id, lock=False)
        trainees = await repository.ensure_trainees(
            conn, booking.organization_id, [t.full_name for t in data.trainees]
        )
        why = await refusal(conn, booking, [t.id for t in trainees], now)
        raise why or InductionRequired("a trainee's induction changed while the roster was saved; try again")


async def save_roster_in(
    conn: asyncpg.Connection, me: Principal, booking_id: UUID, data: RosterUpdate, *, now: datetime
) -> list[RosterEntryRow]:
    """``save_roster`` inside the caller's transaction (the demo loader's)."""
    booking = await _booking(conn, me, booking_id, lock=True)
    if not (me.acts_for(booking.organization_id) or me.manages(booking.lab_id)):
        raise Forbidden("only the booking's organization or the lab's managers edit its roster")
    if booking.kind != "training":
        raise NotATraining(f"a {booking.kind} booking has no roster", kind=booking.kind)
    if booking.status not in ("pending", "confirmed"):
        raise IllegalTransition("the booking is no longer active", current_status=booking.status)
    if not may_edit_roster(me, booking, now):
        raise AttendanceClosed(
            "the roster can no longer be changed here; ask the lab",
            starts_at=booking.starts_at.isoformat(),
        )
    if len(data.trainees) > booking.headcount:
        raise ValidationFailed.field(
            "trainees",
            f"the booking is for {booking.headcount} people; the roster names {len(data.trainees)}",
        )
    before = await repository.get_roster(conn, booking_id)
    trainees = await repository.ensure_trainees(
        conn, booking.organization_id, [t.full_name for t in data.trainees]
    )
    ids = [t.id for t in trainees]
    repeated = sorted({t.full_name for t in trainees if ids.count(t.id) > 1})
    if repeated:
        raise ValidationFailed.field("trainees", f"named twice: {', '.join(repeated)}")
    why = await refusal(conn, booking, ids, now)
    if why is not None:
        raise why
    await repository.replace_roster(conn, booking_id, ids, [t.study_group or None for t in data.trainees])
    after = await repository.get_roster(conn, booking_id)
    # The audit log outlives rosters (it is append-only): it keeps who was listed by id, never by name.
    await audit.record(
        conn,
        me,
        "roster.update",
        "booking",
        booking_id,
        before={"trainee_ids": [str(r.trainee_id) for r in before]},
        after={"trainee_ids": [str(r.trainee_id) for r in after]},
    )
    return after


def _induction_event(row: InductionRow) -> dict[str, Any]:
    """What the audit log keeps of an induction: everything but the trainee's name."""
    return {
        "id": str(row.id),
        "trainee_id": str(row.trainee_id),
        "equipment_id": row.equipment_id,
        "granted_at": row.granted_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "booking_id": str(row.booking_id) if row.booking_id else None,
        "reason": row.reason,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "revoke_reason": row.revoke_reason,
    }


class Marked:
    """What marking attendance did: the mark, the roster as marked, the inductions it changed."""

    def __init__(
        self,
        attendance: AttendanceRow,
        roster: list[RosterEntryRow],
        granted: list[InductionRow],
        revoked: list[InductionRow],
    ) -> None:
        self.attendance = attendance
        self.roster = roster
        self.granted = granted
        self.revoked = revoked


async def mark_attendance(
    pool: asyncpg.Pool, me: Principal, booking_id: UUID, data: AttendanceMark, *, now: datetime
) -> Marked:
    """Mark a confirmed booking as arrived (with how many came) or as a no-show; change it later.

    In an induction session, the roster's trainees who attended are granted the induction on its
    equipment; a change that marks them absent revokes what this attendance granted.
    """
    async with db.transaction(pool) as conn:
        booking = await _booking(conn, me, booking_id, lock=True)
        if not may_mark(me, booking):
            raise Forbidden("only the lab's managers or the session's instructor mark attendance")
        if booking.status != "confirmed":
            raise IllegalTransition("only a confirmed booking is marked", current_status=booking.status)
        opens, closes = attendance_window(booking)
        if not opens <= now <= closes:
            raise AttendanceClosed(
                "attendance is marked from the session's day until 7 days after it",
                opens_at=opens.isoformat(),
                closes_at=closes.astimezone(opens.tzinfo).isoformat(),
            )
        if data.outcome == "arrived" and data.headcount is None:
            raise ValidationFailed.field("headcount", "say how many people came")
        if data.outcome == "no_show" and data.headcount is not None:
            raise ValidationFailed.field("headcount", "a group that did not come has no headcount")
        on_roster = {r.trainee_id for r in await repository.get_roster(conn, booking_id)}
        strangers = [str(t) for t in data.absent if t not in on_roster]
        if strangers:
            raise ValidationFailed.field("absent", f"not on this booking's roster: {', '.join(strangers)}")
        before = await repository.get_attendance(conn, booking_id)
        after = await repository.save_attendance(
            conn, booking_id, outcome=data.outcome, headcount=data.headcount, marked_by=me.person_id
        )
        await repository.mark_roster(conn, booking_id, arrived=data.outcome == "arrived", absent=data.absent)
        revoked = await repository.revoke_from_attendance(conn, booking_id, me.person_id, CORRECTED)
        granted = await repository.grant_from_attendance(conn, booking_id, me.person_id)
        await audit.record(
            conn,
            me,
            "attendance.mark" if before is None else "attendance.change",
            "booking",
            booking_id,
            before=before,
            after={**audit_attendance(after), "absent": [str(t) for t in data.absent]},
        )
        await audit.record_many(
            conn, me, "induction.grant", "induction", [(r.id, _induction_event(r)) for r in granted]
        )
        await audit.record_many(
            conn, me, "induction.revoke", "induction", [(r.id, _induction_event(r)) for r in revoked]
        )
        return Marked(after, await repository.get_roster(conn, booking_id), granted, revoked)


def audit_attendance(row: AttendanceRow) -> dict[str, Any]:
    return {"outcome": row.outcome, "headcount": row.headcount, "marked_by": str(row.marked_by)}


async def list_sessions(
    pool: asyncpg.Pool, me: Principal, *, starts_from: datetime, starts_to: datetime
) -> list[SessionBookingRow]:
    """Confirmed bookings of the sessions in a time range that the caller marks attendance for."""
    async with pool.acquire() as conn:
        return await repository.list_session_bookings(
            conn,
            starts_from=starts_from,
            starts_to=starts_to,
            see_all=me.is_admin,
            lab_ids=sorted(me.managed_lab_ids) if Role.LAB_MANAGER in me.roles else [],
            instructor_id=me.person_id,
            limit=LIST_LIMIT,
        )


async def get_session(
    pool: asyncpg.Pool, me: Principal, slot_id: UUID
) -> tuple[SessionRow, list[SessionBookingRow]]:
    """One session and its confirmed bookings, for its lab's managers and its instructor."""
    async with pool.acquire() as conn:
        session = await repository.get_session(conn, slot_id)
        if session is None or not (me.manages(session.lab_id) or teaches(me, session)):
            raise NotFound("no such session")
        return session, await repository.list_slot_bookings(conn, slot_id)


async def rosters_of(
    pool: asyncpg.Pool, me: Principal, bookings: list[SessionBookingRow]
) -> dict[UUID, list[RosterEntryRow]]:
    """The rosters of bookings the caller may see, read in one query."""
    shown = [b.id for b in bookings if may_see(me, b)]
    found: dict[UUID, list[RosterEntryRow]] = {booking_id: [] for booking_id in shown}
    async with pool.acquire() as conn:
        for row in await repository.list_rosters(conn, shown):
            found[row.booking_id].append(row)
    return found


async def no_show_rates(pool: asyncpg.Pool, me: Principal) -> list[NoShowRateRow]:
    """Each organization's marked bookings and no-shows in the caller's labs, worst first."""
    async with pool.acquire() as conn:
        return await repository.list_no_show_rates(
            conn, see_all=me.is_admin, lab_ids=sorted(me.managed_lab_ids), limit=LIST_LIMIT
        )


async def known_trainees(pool: asyncpg.Pool, me: Principal) -> list[KnownTraineeRow]:
    """The trainees listed on rosters in the caller's labs: those they may induct or merge."""
    async with pool.acquire() as conn:
        return await repository.list_known_trainees(
            conn, see_all=me.is_admin, lab_ids=sorted(me.managed_lab_ids), limit=LIST_LIMIT
        )


async def inducting_equipment(pool: asyncpg.Pool, me: Principal) -> list[InductingEquipmentRow]:
    """The equipment in the caller's labs that asks for an induction."""
    async with pool.acquire() as conn:
        return await repository.list_inducting_equipment(
            conn, see_all=me.is_admin, lab_ids=sorted(me.managed_lab_ids), limit=LIST_LIMIT
        )


async def grant_induction(
    pool: asyncpg.Pool, me: Principal, data: InductionGrant, *, now: datetime
) -> InductionRow:
    """A lab manager grants an induction on their lab's equipment by hand, with a reason."""
    async with db.transaction(pool) as conn:
        equipment = await repository.get_equipment(conn, data.lab, data.equipment)
        if equipment is None:
            raise NotFound("no such equipment")
        me.require_lab(equipment.lab_id)
        trainee = await repository.get_trainee(conn, data.trainee_id)
        # A trainee of an organization that never booked this lab does not exist to its manager.
        if trainee is None or not (
            me.is_admin or await repository.visits_labs(conn, trainee.organization_id, [equipment.lab_id])
        ):
            raise ValidationFailed.field("trainee_id", "no such trainee")
        if data.expires_at is not None and data.expires_at <= now:
            raise ValidationFailed.field("expires_at", "an induction must last past now")
        row = await repository.insert_induction(
            conn,
            trainee_id=trainee.id,
            equipment_id=equipment.id,
            granted_at=now,
            expires_at=data.expires_at,
            granted_by=me.person_id,
            reason=data.reason,
        )
        await audit.record(conn, me, "induction.grant", "induction", row.id, after=_induction_event(row))
        return row


async def revoke_induction(
    pool: asyncpg.Pool, me: Principal, induction_id: UUID, reason: str
) -> InductionRow:
    """A lab manager revokes an induction on their lab's equipment, with a reason."""
    async with db.transaction(pool) as conn:
        found = await repository.get_induction(conn, induction_id)
        if found is None or not (me.manages(found.lab_id) or me.acts_for(found.organization_id)):
            raise NotFound("no such induction")
        me.require_lab(found.lab_id)
        await repository.lock_trainee(conn, found.trainee_id)
        row = await repository.revoke_induction(conn, induction_id, me.person_id, reason)
        if row is None:
            raise IllegalTransition("the induction is already revoked", current_status="revoked")
        await audit.record(
            conn,
            me,
            "induction.revoke",
            "induction",
            row.id,
            before=_induction_event(found),
            after=_induction_event(row),
        )
        return row


async def set_induction_session(
    pool: asyncpg.Pool, me: Principal, slot_id: UUID, is_induction: bool
) -> SlotRow:
    """Make a training session an induction session (those who attend it are inducted), or not."""
    async with db.transaction(pool) as conn:
        return await set_induction_session_in(conn, me, slot_id, is_induction)


async def set_induction_session_in(
    conn: asyncpg.Connection, me: Principal, slot_id: UUID, is_induction: bool
) -> SlotRow:
    """``set_induction_session`` inside the caller's transaction (the demo loader's)."""
    slot = await repository.lock_slot(conn, slot_id)
    if slot is None or not me.manages(slot.lab_id):
        raise NotFound("no such slot")
    if slot.kind != "training":
        raise NotATraining(f"a {slot.kind} session inducts nobody", kind=slot.kind)
    row = await repository.set_induction(conn, slot_id, is_induction)
    await audit.record(conn, me, "slot.induction", "slot", slot_id, before=slot, after=row)
    return row


async def list_inductions(
    pool: asyncpg.Pool, me: Principal, *, trainee_id: UUID | None = None
) -> list[InductionRow]:
    """Inductions on the caller's labs' equipment; a director sees their own organization's trainees."""
    manager = me.is_admin or Role.LAB_MANAGER in me.roles
    async with pool.acquire() as conn:
        return await repository.list_inductions(
            conn,
            trainee_id=trainee_id,
            organization_id=None if manager else me.organization_id,
            see_all=me.is_admin or not manager,
            lab_ids=sorted(me.managed_lab_ids),
            limit=LIST_LIMIT,
        )


async def purge_rosters(pool: asyncpg.Pool, *, retention_days: int, now: datetime) -> tuple[int, int]:
    """Remove trainees' names from rosters of sessions that ended ``retention_days`` ago or more,
    leaving only how many were listed and trained (``purged_rosters``); audited without names."""
    async with db.transaction(pool) as conn:
        return await purge_rosters_in(conn, retention_days=retention_days, now=now)


async def purge_rosters_in(
    conn: asyncpg.Connection, *, retention_days: int, now: datetime
) -> tuple[int, int]:
    """``purge_rosters`` inside the caller's transaction (the command line's)."""
    removed, forgotten = await repository.purge_rosters(conn, now - timedelta(days=retention_days))
    await audit.record(
        conn,
        None,
        "roster.purge",
        "roster",
        "retention",
        after={"retention_days": retention_days, "entries": removed, "trainees_forgotten": forgotten},
    )
    return removed, forgotten


async def merge_trainees(pool: asyncpg.Pool, me: Principal, duplicate_id: UUID, kept_id: UUID) -> TraineeRow:
    """Merge two records of one person (a misspelt name) into ``kept_id``: rosters and inductions
    move over and the duplicate goes. Both must belong to the same organization, and a lab manager
    merges only the trainees of organizations that have booked a session in their labs (an admin,
    any): to another host's managers those trainees do not exist."""
    if not (me.is_admin or Role.LAB_MANAGER in me.roles):
        raise Forbidden("only lab managers or admins merge trainees")
    async with db.transaction(pool) as conn:
        # Locked before they are read: a merge of the same pair that committed first has deleted one.
        found = {t.id: t for t in await repository.lock_trainees(conn, [duplicate_id, kept_id])}
        duplicate, kept = found.get(duplicate_id), found.get(kept_id)
        if duplicate is None or kept is None:
            raise NotFound("no such trainee")
        if not me.is_admin and not await repository.visits_labs(
            conn, duplicate.organization_id, sorted(me.managed_lab_ids)
        ):
            raise NotFound("no such trainee")
        if duplicate.id == kept.id:
            raise ValidationFailed.field("into", "a trainee cannot be merged into themselves")
        if duplicate.organization_id != kept.organization_id:
            raise ValidationFailed.field("into", "trainees of different organizations are different people")
        # The roster trigger does not run on moved entries: a roster never gains a person, it only
        # learns that two of its names were one.
        await repository.merge_trainees(conn, duplicate.id, kept.id)
        await audit.record(
            conn,
            me,
            "trainee.merge",
            "trainee",
            kept.id,
            before={"duplicate_id": str(duplicate.id)},
            after={"trainee_id": str(kept.id)},
        )
        return kept
