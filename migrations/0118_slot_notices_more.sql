-- A slot's `slot_changed` job (0104) now also comes when its title changes, when its instructor
-- changes, when it is cancelled, and when a one-off slot is published with an instructor; the
-- payload says what changed, so the worker tells visitors of a new time or title, the instructor of
-- the session (or the one taken off it), and webhook endpoints. Jobs already queued by 0104's
-- trigger (slot_id and sequence only) still read as a change of time.
create or replace function fn_slots_enqueue_notice() returns trigger language plpgsql as $$
begin
    insert into pgqueuer (priority, entrypoint, status, payload)
    values (
        0,
        'slot_changed',
        'queued',
        convert_to(
            json_build_object(
                'slot_id', new.id,
                'sequence', new.sequence,
                'status', new.status,
                'previous_status', case when tg_op = 'UPDATE' then old.status end,
                'published', tg_op = 'INSERT',
                'moved', tg_op = 'UPDATE'
                         and (old.starts_at is distinct from new.starts_at
                              or old.ends_at is distinct from new.ends_at),
                'retitled', tg_op = 'UPDATE' and old.title is distinct from new.title,
                'instructor_id', new.instructor_id,
                'previous_instructor_id', case when tg_op = 'UPDATE' then old.instructor_id end
            )::text,
            'UTF8'
        )
    );
    return null;
end
$$;

drop trigger tg_slots_enqueue_notice on slots;
create trigger tg_slots_enqueue_notice
after update of starts_at, ends_at, title, instructor_id, status on slots
for each row
when ((new.status = 'active'
       and (old.starts_at is distinct from new.starts_at or old.ends_at is distinct from new.ends_at
            or old.title is distinct from new.title or old.instructor_id is distinct from new.instructor_id))
      or (old.status = 'active' and new.status = 'cancelled'))
execute function fn_slots_enqueue_notice();

-- A series' occurrences are left out: one message per occurrence is not how an instructor should
-- hear of a term of weekly sessions.
create trigger tg_slots_enqueue_assignment
after insert on slots
for each row
when (new.instructor_id is not null and new.status = 'active' and new.series_id is null)
execute function fn_slots_enqueue_notice();
