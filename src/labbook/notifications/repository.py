"""SQL of notifications: what a booking notice needs to know, and the e-mail messages labbook keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

import asyncpg

from labbook.core.rows import Row, many, maybe, one

BOOKING_NOTICE = """
select b.id, b.status, b.status_message, b.headcount, b.language, b.contact_name, b.contact_email,
       b.contact_phone, b.notes, b.organization_id, b.sequence,
       s.title, s.starts_at, s.ends_at, s.kind,
       l.id as lab_id, l.slug as lab_slug, l.name as lab_name, l.timezone as lab_timezone,
       l.building, l.room, l.address,
       o.name as organization_name,
       (select p.language from people p
        where lower(p.email) = lower(b.contact_email) and p.is_active
        limit 1) as contact_language,
       exists (select 1 from visit_requests v where v.booking_id = b.id) as from_visit_request
from bookings b
join slots s on s.id = b.slot_id
join labs l on l.id = s.lab_id
join organizations o on o.id = b.organization_id
where b.id = $1
"""
LAB_MANAGERS = """
select p.email, p.full_name, p.language
from lab_managers m join people p on p.id = m.person_id
where m.lab_id = $1 and p.is_active
order by lower(p.email)
"""
# The bookings of a slot whose visitors expect to come.
SLOT_BOOKINGS = """
select b.id from bookings b
where b.slot_id = $1 and b.status in ('pending', 'confirmed')
order by b.created_at, b.id
"""
# A visit request with what its notices show: the lab, the organization, who asked (and in which
# language they read), and the lab's latest counter-proposal.
VISIT_NOTICE = """
select v.id, v.status, v.kind, v.windows, v.headcount, v.language, v.purpose, v.contact_name,
       v.contact_email, v.contact_phone, v.response_message, v.accepted_window, v.booking_id,
       v.organization_id, v.updated_at,
       l.id as lab_id, l.slug as lab_slug, l.name as lab_name, l.timezone as lab_timezone,
       l.building, l.room, l.address,
       o.name as organization_name,
       p.email as requester_email, p.full_name as requester_name, p.language as requester_language,
       (select c.language from people c
        where lower(c.email) = lower(v.contact_email) and c.is_active
        limit 1) as contact_language,
       pr.starts_at as proposal_starts_at, pr.ends_at as proposal_ends_at, pr.title as proposal_title,
       pr.message as proposal_message, pr.answer_message as proposal_answer, pr.id as proposal_id
from visit_requests v
join labs l on l.id = v.lab_id
join organizations o on o.id = v.organization_id
left join people p on p.id = v.requested_by and p.is_active
left join lateral (
    select x.id, x.starts_at, x.ends_at, x.title, x.message, x.answer_message from visit_proposals x
    where x.visit_request_id = v.id
    order by x.created_at desc, x.id desc
    limit 1
) pr on true
where v.id = $1
"""
# A slot as its instructor's notice shows it.
SESSION_NOTICE = """
select s.id, s.series_id, s.kind, s.title, s.starts_at, s.ends_at, s.status, s.sequence, s.capacity,
       s.seats_taken, s.instructor_id,
       l.id as lab_id, l.slug as lab_slug, l.name as lab_name, l.timezone as lab_timezone,
       l.building, l.room, l.address
from slots s join labs l on l.id = s.lab_id
where s.id = $1
"""
# A series as its instructor's notice shows it: the rule, and the first and last of the occurrences
# still to take place (of all of them, once none is).
SERIES_NOTICE = """
select r.id, r.kind, r.title, r.status, r.sequence, r.instructor_id, r.freq, r.interval, r.weekdays,
       r.local_start, r.duration,
       coalesce(o.first_active, o.first_any) as starts_at, coalesce(o.last_active, o.last_any) as ends_at,
       l.id as lab_id, l.slug as lab_slug, l.name as lab_name, r.timezone as lab_timezone,
       l.building, l.room, l.address
from slot_series r
join labs l on l.id = r.lab_id
cross join lateral (
    select min(s.starts_at) filter (where s.status = 'active') as first_active,
           max(s.ends_at) filter (where s.status = 'active') as last_active,
           min(s.starts_at) as first_any, max(s.ends_at) as last_any
    from slots s where s.series_id = r.id
) o
where r.id = $1 and o.first_any is not null
"""
ACTIVE_PERSON = "select email, full_name, language from people where id = $1 and is_active"
# Who cancelled decides who is told: the organization that booked, or the lab.
CANCELLED_BY_ORGANIZATION = """
select p.organization_id
from audit_events a join people p on p.id = a.actor_id
where a.object_type = 'booking' and a.object_id = $1::text and a.action = 'booking.cancel'
order by a.id desc
limit 1
"""
# Confirmed bookings whose lab's reminder time has come, not reminded yet for this start time, and
# booked before that time (a booking made inside the window was just confirmed: no reminder needed).
DUE_REMINDERS = """
select b.id, b.sequence
from bookings b
join slots s on s.id = b.slot_id
join labs l on l.id = s.lab_id
where b.status = 'confirmed' and s.status = 'active' and l.reminder_hours > 0
  and s.starts_at > now()
  and s.starts_at <= now() + make_interval(hours => l.reminder_hours)
  and b.created_at < s.starts_at - make_interval(hours => l.reminder_hours)
  and not exists (
      select 1 from mail_messages m
      where m.booking_id = b.id and m.kind = 'booking_reminder'
        and m.dedupe_key
            like 'booking_reminder:' || b.id || ':' || extract(epoch from s.starts_at)::bigint || ':%'
  )
  and not exists (
      select 1 from mail_opt_outs x where x.email = lower(b.contact_email) and x.kind = 'booking_reminder'
  )
order by s.starts_at
limit $1
"""
# Labs whose local day has reached the digest time: their local date, and tomorrow's span.
DUE_DIGESTS = """
select l.id, l.name, l.timezone, (now() at time zone l.timezone)::date as today,
       ((now() at time zone l.timezone)::date + 1)::timestamp at time zone l.timezone as starts,
       ((now() at time zone l.timezone)::date + 2)::timestamp at time zone l.timezone as ends
from labs l
where not l.is_archived
  and (now() at time zone l.timezone)::time >= $1::time
  and exists (
      select 1 from lab_managers m join people p on p.id = m.person_id
      where m.lab_id = l.id and p.is_active
        and not exists (
            select 1 from mail_opt_outs x where x.email = lower(p.email) and x.kind = 'lab_digest'
        )
  )
  and not exists (
      select 1 from mail_messages m
      where m.kind = 'lab_digest'
        and m.dedupe_key like 'lab_digest:' || l.id || ':' || (now() at time zone l.timezone)::date || ':%'
  )
"""
TOMORROWS_VISITS = """
select s.starts_at, s.ends_at, s.title, o.name as organization_name, b.headcount, b.status,
       b.contact_name, b.contact_email, b.contact_phone
from bookings b
join slots s on s.id = b.slot_id
join organizations o on o.id = b.organization_id
where s.lab_id = $1 and s.status = 'active' and b.status in ('pending', 'confirmed')
  and s.starts_at >= $2 and s.starts_at < $3
order by s.starts_at, b.created_at, b.id
"""
_MESSAGE_COLUMNS = """
id, message_id, kind, recipient, language, subject, booking_id, status, attempts, last_error,
created_at, sent_at
"""
INSERT_MESSAGE = f"""
insert into mail_messages (dedupe_key, message_id, kind, recipient, language, subject, raw, booking_id,
                           unsubscribe_hash, status)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
on conflict (dedupe_key) do nothing
returning {_MESSAGE_COLUMNS}
"""
# A message being delivered stays locked until its outcome is written: a second worker holding the
# same job skips it rather than send it again.
CLAIM_MESSAGE = f"""
select {_MESSAGE_COLUMNS}, raw from mail_messages where id = $1 for update skip locked
"""
MARK_SENT = "update mail_messages set status = 'sent', sent_at = now(), attempts = attempts + 1 where id = $1"
KEEP_IN_OUTBOX = "update mail_messages set status = 'outbox' where id = $1 and status = 'queued'"
MARK_FAILED = f"""
update mail_messages
set attempts = attempts + 1, last_error = $2,
    status = case when attempts + 1 >= $3 then 'dead' else status end
where id = $1
returning {_MESSAGE_COLUMNS}
"""
# A job for pgqueuer's workers, written like the trigger in migrations/0101 writes one: inside the
# caller's transaction. (pgqueuer's own ``enqueue`` sends its JSON as text, which this pool's JSON
# codec would encode a second time.)
ENQUEUE_JOB = "insert into pgqueuer (priority, entrypoint, status, payload) values (0, $1, 'queued', $2)"
LIST_MESSAGES = f"""
select {_MESSAGE_COLUMNS} from mail_messages
where ($1::text is null or status = $1)
order by created_at desc, id
limit $2 offset $3
"""
COUNT_MESSAGES = "select count(*) from mail_messages where ($1::text is null or status = $1)"
GET_MESSAGE = f"select {_MESSAGE_COLUMNS}, raw from mail_messages where id = $1"


_ENDPOINT_COLUMNS = "id, url, events, description, is_active, created_at"
INSERT_ENDPOINT = f"""
insert into webhook_endpoints (url, secret, events, description, created_by)
values ($1, $2, $3, $4, $5)
returning {_ENDPOINT_COLUMNS}
"""
LIST_ENDPOINTS = f"select {_ENDPOINT_COLUMNS} from webhook_endpoints order by created_at, id"
GET_ENDPOINT = f"select {_ENDPOINT_COLUMNS} from webhook_endpoints where id = $1"
SUBSCRIBED_ENDPOINTS = "select id from webhook_endpoints where is_active and $1 = any(events) order by id"
_DELIVERY_COLUMNS = """
id, endpoint_id, event_type, webhook_id, status, attempts, last_status_code, last_error, created_at,
delivered_at
"""
INSERT_DELIVERY = f"""
insert into webhook_deliveries (endpoint_id, event_type, webhook_id, dedupe_key, payload)
values ($1, $2, $3, $4, $5)
on conflict (dedupe_key) do nothing
returning {_DELIVERY_COLUMNS}
"""
CLAIM_DELIVERY = """
select d.id, d.endpoint_id, d.event_type, d.webhook_id, d.status, d.attempts, d.last_status_code,
       d.last_error, d.created_at, d.delivered_at, d.payload::text as body, e.url, e.secret
from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
where d.id = $1
for update of d skip locked
"""
MARK_DELIVERED = """
update webhook_deliveries
set status = 'delivered', delivered_at = now(), attempts = attempts + 1, last_status_code = $2,
    last_error = null
where id = $1
"""
MARK_DELIVERY_FAILED = f"""
update webhook_deliveries
set attempts = attempts + 1, last_status_code = $2, last_error = $3,
    status = case when attempts + 1 >= $4 then 'dead' else status end
where id = $1
returning {_DELIVERY_COLUMNS}
"""
REPLAY_DELIVERY = f"""
update webhook_deliveries set status = 'pending', delivered_at = null where id = $1
returning {_DELIVERY_COLUMNS}
"""
LIST_DELIVERIES = f"""
select {_DELIVERY_COLUMNS} from webhook_deliveries where endpoint_id = $1
order by created_at desc, id limit $2 offset $3
"""


class Endpoint(Row):
    id: UUID
    url: str
    events: list[str]
    description: str | None
    is_active: bool
    created_at: datetime


class Delivery(Row):
    id: UUID
    endpoint_id: UUID
    event_type: str
    webhook_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryToSend(Delivery):
    body: str
    url: str
    secret: str


class AtLab(Row):
    """What every notice shows of the lab: its name, time zone and where it is."""

    lab_id: int
    lab_slug: str
    lab_name: dict[str, str]
    lab_timezone: str
    building: str | None
    room: str | None
    address: str | None


class BookingNotice(AtLab):
    id: UUID
    status: str
    status_message: str | None
    headcount: int
    language: str
    contact_name: str
    contact_email: str | None
    contact_phone: str | None
    notes: str | None
    organization_id: int
    sequence: int
    title: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    kind: str
    organization_name: dict[str, str]
    contact_language: str | None
    from_visit_request: bool


class VisitNotice(AtLab):
    id: UUID
    status: str
    kind: str
    windows: list[dict[str, str]]
    headcount: int
    language: str
    purpose: str
    contact_name: str
    contact_email: str | None
    contact_phone: str | None
    response_message: str | None
    accepted_window: int | None
    booking_id: UUID | None
    organization_id: int
    updated_at: datetime
    organization_name: dict[str, str]
    requester_email: str | None
    requester_name: str | None
    requester_language: str | None
    contact_language: str | None
    proposal_starts_at: datetime | None
    proposal_ends_at: datetime | None
    proposal_title: dict[str, str] | None
    proposal_message: str | None
    proposal_answer: str | None
    proposal_id: UUID | None


class SessionNotice(AtLab):
    id: UUID
    series_id: UUID | None
    kind: str
    title: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    status: str
    sequence: int
    capacity: int
    seats_taken: int
    instructor_id: UUID | None


class SeriesNotice(AtLab):
    """A series: its rule (``local_start`` is the wall-clock start in the lab's zone), and
    ``starts_at``/``ends_at`` of its first and last occurrence."""

    id: UUID
    kind: str
    title: dict[str, str]
    status: str
    sequence: int
    instructor_id: UUID | None
    freq: str
    interval: int
    weekdays: list[int]
    local_start: datetime
    duration: timedelta
    starts_at: datetime
    ends_at: datetime


class DueReminder(Row):
    id: UUID
    sequence: int


class DueDigest(Row):
    id: int
    name: dict[str, str]
    timezone: str
    today: date
    starts: datetime
    ends: datetime


class Visit(Row):
    starts_at: datetime
    ends_at: datetime
    title: dict[str, str]
    organization_name: dict[str, str]
    headcount: int
    status: str
    contact_name: str
    contact_email: str | None
    contact_phone: str | None


class Recipient(Row):
    email: str
    full_name: str
    language: str


class Message(Row):
    id: UUID
    message_id: str
    kind: str
    recipient: str
    language: str
    subject: str
    booking_id: UUID | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class MessageText(Message):
    raw: bytes


async def get_booking_notice(conn: asyncpg.Connection, booking_id: UUID) -> BookingNotice | None:
    return maybe(BookingNotice, await conn.fetchrow(BOOKING_NOTICE, booking_id))


async def get_visit_notice(conn: asyncpg.Connection, request_id: UUID) -> VisitNotice | None:
    return maybe(VisitNotice, await conn.fetchrow(VISIT_NOTICE, request_id))


async def get_session_notice(conn: asyncpg.Connection, slot_id: UUID) -> SessionNotice | None:
    return maybe(SessionNotice, await conn.fetchrow(SESSION_NOTICE, slot_id))


async def get_series_notice(conn: asyncpg.Connection, series_id: UUID) -> SeriesNotice | None:
    return maybe(SeriesNotice, await conn.fetchrow(SERIES_NOTICE, series_id))


async def get_active_person(conn: asyncpg.Connection, person_id: UUID) -> Recipient | None:
    return maybe(Recipient, await conn.fetchrow(ACTIVE_PERSON, person_id))


async def list_due_reminders(conn: asyncpg.Connection, *, limit: int) -> list[DueReminder]:
    return many(DueReminder, await conn.fetch(DUE_REMINDERS, limit))


async def list_due_digests(conn: asyncpg.Connection, *, at: time) -> list[DueDigest]:
    return many(DueDigest, await conn.fetch(DUE_DIGESTS, at))


async def list_visits(conn: asyncpg.Connection, lab_id: int, starts: datetime, ends: datetime) -> list[Visit]:
    return many(Visit, await conn.fetch(TOMORROWS_VISITS, lab_id, starts, ends))


async def list_slot_bookings(conn: asyncpg.Connection, slot_id: UUID) -> list[UUID]:
    return [r["id"] for r in await conn.fetch(SLOT_BOOKINGS, slot_id)]


async def list_lab_managers(conn: asyncpg.Connection, lab_id: int) -> list[Recipient]:
    return many(Recipient, await conn.fetch(LAB_MANAGERS, lab_id))


async def get_canceller_organization(conn: asyncpg.Connection, booking_id: UUID) -> int | None:
    organization_id: int | None = await conn.fetchval(CANCELLED_BY_ORGANIZATION, str(booking_id))
    return organization_id


async def insert_message(
    conn: asyncpg.Connection,
    *,
    status: str,
    dedupe_key: str,
    message_id: str,
    kind: str,
    recipient: str,
    language: str,
    subject: str,
    raw: bytes,
    booking_id: UUID | None,
    unsubscribe_hash: bytes | None = None,
) -> Message | None:
    """The new message (``queued`` to be sent, or kept in the ``outbox``), or ``None`` when one with
    ``dedupe_key`` was written before."""
    record = await conn.fetchrow(
        INSERT_MESSAGE,
        dedupe_key,
        message_id,
        kind,
        recipient,
        language,
        subject,
        raw,
        booking_id,
        unsubscribe_hash,
        status,
    )
    return maybe(Message, record)


async def claim_message(conn: asyncpg.Connection, message_id: UUID) -> MessageText | None:
    """Lock one message for delivery; ``None`` when it is gone or another worker holds it."""
    return maybe(MessageText, await conn.fetchrow(CLAIM_MESSAGE, message_id))


async def mark_sent(conn: asyncpg.Connection, message_id: UUID) -> None:
    await conn.execute(MARK_SENT, message_id)


async def keep_in_outbox(conn: asyncpg.Connection, message_id: UUID) -> None:
    await conn.execute(KEEP_IN_OUTBOX, message_id)


async def mark_failed(
    conn: asyncpg.Connection, message_id: UUID, error: str, *, max_attempts: int
) -> Message | None:
    return maybe(Message, await conn.fetchrow(MARK_FAILED, message_id, error, max_attempts))


# Writing a change's messages, or keeping one in the outbox, need not wait for the disk: the job that
# asked for it is marked done only after this commit, and WAL is flushed in order, so a commit lost in
# a server crash takes the job's completion with it; the job runs again and finds what is left to do
# (dedupe keys, the message's status). Handing a message to SMTP keeps waiting for the disk.
COMMIT_WITHOUT_WAITING = "set local synchronous_commit = off"


async def commit_without_waiting(conn: asyncpg.Connection) -> None:
    await conn.execute(COMMIT_WITHOUT_WAITING)


async def enqueue_job(conn: asyncpg.Connection, entrypoint: str, payload: bytes) -> None:
    await conn.execute(ENQUEUE_JOB, entrypoint, payload)


async def list_messages(
    conn: asyncpg.Connection, *, status: str | None, limit: int, offset: int
) -> tuple[list[Message], int]:
    rows = many(Message, await conn.fetch(LIST_MESSAGES, status, limit, offset))
    total: int = await conn.fetchval(COUNT_MESSAGES, status)
    return rows, total


async def get_message(conn: asyncpg.Connection, message_id: UUID) -> MessageText | None:
    return maybe(MessageText, await conn.fetchrow(GET_MESSAGE, message_id))


async def insert_endpoint(
    conn: asyncpg.Connection,
    *,
    url: str,
    secret: str,
    events: list[str],
    description: str | None,
    created_by: UUID | None,
) -> Endpoint:
    return one(Endpoint, await conn.fetchrow(INSERT_ENDPOINT, url, secret, events, description, created_by))


async def list_endpoints(conn: asyncpg.Connection) -> list[Endpoint]:
    return many(Endpoint, await conn.fetch(LIST_ENDPOINTS))


async def get_endpoint(conn: asyncpg.Connection, endpoint_id: UUID) -> Endpoint | None:
    return maybe(Endpoint, await conn.fetchrow(GET_ENDPOINT, endpoint_id))


async def list_subscribed_endpoints(conn: asyncpg.Connection, event_type: str) -> list[UUID]:
    return [r["id"] for r in await conn.fetch(SUBSCRIBED_ENDPOINTS, event_type)]


async def insert_delivery(
    conn: asyncpg.Connection,
    *,
    endpoint_id: UUID,
    event_type: str,
    webhook_id: str,
    dedupe_key: str,
    payload: dict[str, object],
) -> Delivery | None:
    record = await conn.fetchrow(INSERT_DELIVERY, endpoint_id, event_type, webhook_id, dedupe_key, payload)
    return maybe(Delivery, record)


async def claim_delivery(conn: asyncpg.Connection, delivery_id: UUID) -> DeliveryToSend | None:
    return maybe(DeliveryToSend, await conn.fetchrow(CLAIM_DELIVERY, delivery_id))


async def mark_delivered(conn: asyncpg.Connection, delivery_id: UUID, status_code: int) -> None:
    await conn.execute(MARK_DELIVERED, delivery_id, status_code)


async def mark_delivery_failed(
    conn: asyncpg.Connection, delivery_id: UUID, status_code: int | None, error: str, *, max_attempts: int
) -> Delivery:
    return one(
        Delivery, await conn.fetchrow(MARK_DELIVERY_FAILED, delivery_id, status_code, error, max_attempts)
    )


async def replay_delivery(conn: asyncpg.Connection, delivery_id: UUID) -> Delivery | None:
    return maybe(Delivery, await conn.fetchrow(REPLAY_DELIVERY, delivery_id))


async def list_deliveries(
    conn: asyncpg.Connection, endpoint_id: UUID, *, limit: int, offset: int
) -> list[Delivery]:
    return many(Delivery, await conn.fetch(LIST_DELIVERIES, endpoint_id, limit, offset))


# ---- the messages people turn off ---------------------------------------------------------------

IS_OPTED_OUT = "select exists (select 1 from mail_opt_outs where email = lower($1) and kind = $2)"
LIST_OPT_OUTS = "select kind from mail_opt_outs where email = lower($1) order by kind"
ADD_OPT_OUT = "insert into mail_opt_outs (email, kind) values (lower($1), $2) on conflict do nothing"
REMOVE_OPT_OUT = "delete from mail_opt_outs where email = lower($1) and kind = $2"
PERSON_EMAIL = "select email from people where id = $1"
UNSUBSCRIBE_TARGET = """
select m.recipient, m.kind, m.language,
       exists (select 1 from mail_opt_outs x where x.email = lower(m.recipient) and x.kind = m.kind) as is_off
from mail_messages m
where m.unsubscribe_hash = $1
"""


class UnsubscribeTarget(Row):
    """What one unsubscribe link turns off: one kind of message to one address."""

    recipient: str
    kind: str
    language: str
    is_off: bool


# Other sessions of this database running a statement now, or that finished one within the last $2
# seconds (sampling only "now" would miss most of a burst of short statements); the job workers' own
# sessions do not count.
READ_LOAD = """
select (select count(*) from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid()
          and backend_type = 'client backend' and application_name <> $1
          and (state = 'active' or state_change > clock_timestamp() - make_interval(secs => $2))) as working,
       min(execute_after) <= now() as due,
       min(execute_after) <= now() - $3::interval as overdue
from pgqueuer where status = 'queued'
"""


@dataclass(frozen=True)
class Load:
    """How busy the database is: other sessions working lately, and whether a job is due, or overdue."""

    working: int
    due: bool
    overdue: bool


async def read_load(pool: asyncpg.Pool, application_name: str, within: float, patience: timedelta) -> Load:
    row = await pool.fetchrow(READ_LOAD, application_name, within, patience)
    return Load(working=row["working"], due=bool(row["due"]), overdue=bool(row["overdue"]))


async def is_opted_out(conn: asyncpg.Connection, email: str, kind: str) -> bool:
    found: bool = await conn.fetchval(IS_OPTED_OUT, email, kind)
    return found


async def list_opt_outs(conn: asyncpg.Connection, email: str) -> set[str]:
    return {row["kind"] for row in await conn.fetch(LIST_OPT_OUTS, email)}


async def add_opt_out(conn: asyncpg.Connection, email: str, kind: str) -> None:
    await conn.execute(ADD_OPT_OUT, email, kind)


async def remove_opt_out(conn: asyncpg.Connection, email: str, kind: str) -> None:
    await conn.execute(REMOVE_OPT_OUT, email, kind)


async def get_person_email(conn: asyncpg.Connection, person_id: UUID) -> str | None:
    email: str | None = await conn.fetchval(PERSON_EMAIL, person_id)
    return email


async def get_unsubscribe_target(conn: asyncpg.Connection, token_hash: bytes) -> UnsubscribeTarget | None:
    return maybe(UnsubscribeTarget, await conn.fetchrow(UNSUBSCRIBE_TARGET, token_hash))
