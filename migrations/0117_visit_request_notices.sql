-- Visit requests tell people what happened, like bookings do (0101): a request that is made or
-- changes status enqueues a `visit_request_changed` job in the same transaction. The job names the
-- request, the status it reached and when (`changed_at` is the row's `updated_at`, so a handler can
-- tell that a later change overtook it); the worker reads the rest after the commit.
create function fn_visit_requests_enqueue_notice() returns trigger language plpgsql as $$
begin
    if tg_op = 'UPDATE' and new.status is not distinct from old.status then
        return null;
    end if;
    insert into pgqueuer (priority, entrypoint, status, payload)
    values (
        0,
        'visit_request_changed',
        'queued',
        convert_to(
            json_build_object(
                'visit_request_id', new.id,
                'status', new.status,
                'previous_status', case when tg_op = 'UPDATE' then old.status end,
                'changed_at', new.updated_at
            )::text,
            'UTF8'
        )
    );
    return null;
end
$$;

create trigger tg_visit_requests_enqueue_notice
after insert or update of status on visit_requests
for each row execute function fn_visit_requests_enqueue_notice();

-- A booking's notice asks whether a visit request made it (that request's notice tells it instead).
create index ix_visit_requests_booking on visit_requests (booking_id) where booking_id is not null;

-- Webhook endpoints may also subscribe to slot and visit-request events.
alter table webhook_endpoints drop constraint ck_webhook_endpoints_events;
alter table webhook_endpoints add constraint ck_webhook_endpoints_events check (
    cardinality(events) > 0
    and events <@ array[
        'booking.created', 'booking.confirmed', 'booking.declined', 'booking.cancelled',
        'slot.changed', 'slot.cancelled', 'visit_request.created', 'visit_request.answered'
    ]
);
