"""SQL for visit requests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from labbook.core.rows import many, maybe, one
from labbook.schemas import Language
from labbook.visits.rows import ProposalRow, VisitRequestRow

_COLUMNS = """
v.id, v.lab_id, v.organization_id, v.requested_by, v.kind, v.windows, v.headcount, v.age_group,
v.language, v.purpose, v.contact_name, v.contact_email, v.contact_phone, v.status, v.response_message,
v.accepted_window, v.slot_id, v.booking_id, v.created_at, v.updated_at
"""
_NAMES = """
(select l.slug from labs l where l.id = v.lab_id) as lab_slug,
(select l.timezone from labs l where l.id = v.lab_id) as lab_timezone,
(select o.slug from organizations o where o.id = v.organization_id) as organization_slug,
(select to_jsonb(p) from visit_proposals p where p.visit_request_id = v.id
 order by p.created_at desc, p.id limit 1) as proposal
"""
_PROPOSAL_COLUMNS = """
id, visit_request_id, proposed_by, starts_at, ends_at, title, equipment, instructor_id, is_outside_hours,
message, status, answer_message, answered_by, created_at, answered_at
"""

INSERT = f"""
insert into visit_requests as v (lab_id, organization_id, requested_by, kind, windows, headcount,
                                 age_group, language, purpose, contact_name, contact_email, contact_phone)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
returning {_COLUMNS}, {_NAMES}
"""
GET = f"select {_COLUMNS}, {_NAMES} from visit_requests v where v.id = $1"
LOCK = GET + " for update of v"
# Only a request in one of the statuses given changes: of two concurrent decisions exactly one matches.
DECIDE = f"""
update visit_requests v
set status = $2, response_message = $3, accepted_window = $4,
    slot_id = $5, booking_id = $6, updated_at = now()
where v.id = $1 and v.status = any($7::text[])
returning {_COLUMNS}, {_NAMES}
"""
INSERT_PROPOSAL = f"""
insert into visit_proposals (visit_request_id, proposed_by, starts_at, ends_at, title, equipment,
                             instructor_id, is_outside_hours, message)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
returning {_PROPOSAL_COLUMNS}
"""
# Only the open proposal is answered, once: a second answer finds nothing to update.
ANSWER_PROPOSAL = f"""
update visit_proposals
set status = $2, answer_message = $3, answered_by = $4, answered_at = now()
where visit_request_id = $1 and status = 'open'
returning {_PROPOSAL_COLUMNS}
"""
_VISIBLE = """
from visit_requests v
join labs l on l.id = v.lab_id
where ($1::boolean or v.organization_id = $2 or v.lab_id = any($3::int[]))
  and ($4::text is null or v.status = $4)
  and ($5::text is null or l.slug = $5)
"""
LIST = f"select {_COLUMNS}, {_NAMES} {_VISIBLE} order by v.created_at, v.id limit $6 offset $7"
COUNT = f"select count(*) {_VISIBLE}"


async def insert_request(
    conn: asyncpg.Connection,
    *,
    lab_id: int,
    organization_id: int,
    requested_by: UUID,
    kind: str,
    windows: list[dict[str, Any]],
    headcount: int,
    age_group: str | None,
    language: str,
    purpose: str,
    contact_name: str,
    contact_email: str | None,
    contact_phone: str | None,
) -> VisitRequestRow:
    row = await conn.fetchrow(
        INSERT,
        lab_id,
        organization_id,
        requested_by,
        kind,
        windows,
        headcount,
        age_group,
        language,
        purpose,
        contact_name,
        contact_email,
        contact_phone,
    )
    return one(VisitRequestRow, row)


async def get_request(
    conn: asyncpg.Connection, request_id: UUID, *, lock: bool = False
) -> VisitRequestRow | None:
    return maybe(VisitRequestRow, await conn.fetchrow(LOCK if lock else GET, request_id))


async def decide(
    conn: asyncpg.Connection,
    request_id: UUID,
    *,
    status: str,
    message: str | None,
    accepted_window: int | None = None,
    slot_id: UUID | None = None,
    booking_id: UUID | None = None,
    from_statuses: tuple[str, ...] = ("pending",),
) -> VisitRequestRow | None:
    row = await conn.fetchrow(
        DECIDE, request_id, status, message, accepted_window, slot_id, booking_id, list(from_statuses)
    )
    return maybe(VisitRequestRow, row)


async def insert_proposal(
    conn: asyncpg.Connection,
    request_id: UUID,
    *,
    proposed_by: UUID,
    starts_at: datetime,
    ends_at: datetime,
    title: Mapping[Language, str] | None,
    equipment: list[dict[str, Any]],
    instructor_id: UUID | None,
    is_outside_hours: bool,
    message: str | None,
) -> ProposalRow:
    row = await conn.fetchrow(
        INSERT_PROPOSAL,
        request_id,
        proposed_by,
        starts_at,
        ends_at,
        title,
        equipment,
        instructor_id,
        is_outside_hours,
        message,
    )
    return one(ProposalRow, row)


async def answer_proposal(
    conn: asyncpg.Connection, request_id: UUID, *, status: str, message: str | None, answered_by: UUID
) -> ProposalRow | None:
    row = await conn.fetchrow(ANSWER_PROPOSAL, request_id, status, message, answered_by)
    return maybe(ProposalRow, row)


async def list_requests(
    conn: asyncpg.Connection,
    *,
    see_all: bool,
    organization_id: int | None,
    lab_ids: list[int],
    status: str | None,
    lab: str | None,
    limit: int,
    offset: int,
) -> tuple[list[VisitRequestRow], int]:
    args = (see_all, organization_id, lab_ids, status, lab)
    total: int = await conn.fetchval(COUNT, *args)
    rows = await conn.fetch(LIST, *args, limit, offset) if total else []
    return many(VisitRequestRow, rows), total
