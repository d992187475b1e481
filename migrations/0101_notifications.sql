-- Notifications: the transactional outbox for bookings, and the e-mail messages labbook writes.
--
-- A booking that is created or changes status enqueues a `booking_changed` job in the job queue
-- (0100) from a trigger, so the job commits or rolls back with the change that caused it, whichever
-- path made it: the one-statement booking, a confirmation, a waitlist promotion, an accepted visit
-- request, the demo loader. The job names the booking and the status it reached; the worker reads the
-- rest after the commit.

create function fn_bookings_enqueue_notice() returns trigger language plpgsql as $$
begin
    if tg_op = 'UPDATE' and new.status is not distinct from old.status then
        return null;
    end if;
    insert into pgqueuer (priority, entrypoint, status, payload)
    values (
        0,
        'booking_changed',
        'queued',
        convert_to(
            json_build_object(
                'booking_id', new.id,
                'status', new.status,
                'previous_status', case when tg_op = 'UPDATE' then old.status end,
                'sequence', new.sequence
            )::text,
            'UTF8'
        )
    );
    return null;
end
$$;

create trigger tg_bookings_enqueue_notice
after insert or update of status on bookings
for each row execute function fn_bookings_enqueue_notice();

-- One row per e-mail message: written once, whole (the RFC 5322 text in `raw`), then delivered.
-- `dedupe_key` names what the message is about and for whom, so a job that runs twice writes it
-- once; `message_id` is its Message-ID header, the same on every delivery attempt.
-- status: queued (waiting for SMTP), outbox (kept here: no SMTP configured), sent, dead (gave up).
create table mail_messages (
    id uuid not null default gen_random_uuid(),
    dedupe_key text not null,
    message_id text not null,
    kind text not null,
    recipient text not null,
    language text not null,
    subject text not null,
    raw bytea not null,
    booking_id uuid,
    status text not null default 'queued',
    attempts integer not null default 0,
    last_error text,
    created_at timestamptz not null default now(),
    sent_at timestamptz,
    constraint pk_mail_messages primary key (id),
    constraint uq_mail_messages_dedupe_key unique (dedupe_key),
    constraint uq_mail_messages_message_id unique (message_id),
    constraint fk_mail_messages_booking foreign key (booking_id) references bookings (id),
    constraint ck_mail_messages_language check (language in ('kk', 'ru', 'en')),
    constraint ck_mail_messages_status check (status in ('queued', 'outbox', 'sent', 'dead')),
    constraint ck_mail_messages_sent check ((status = 'sent') = (sent_at is not null)),
    constraint ck_mail_messages_attempts check (attempts >= 0)
);
create index ix_mail_messages_created on mail_messages (created_at desc, id);
create index ix_mail_messages_booking on mail_messages (booking_id) where booking_id is not null;
