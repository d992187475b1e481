-- A slot whose times change enqueues a `slot_changed` job in the same transaction, like bookings do
-- (0101): its visitors are told, with an invitation that updates their calendar.
create function fn_slots_enqueue_notice() returns trigger language plpgsql as $$
begin
    insert into pgqueuer (priority, entrypoint, status, payload)
    values (
        0,
        'slot_changed',
        'queued',
        convert_to(json_build_object('slot_id', new.id, 'sequence', new.sequence)::text, 'UTF8')
    );
    return null;
end
$$;

create trigger tg_slots_enqueue_notice
after update of starts_at, ends_at on slots
for each row
when (new.status = 'active'
      and (old.starts_at is distinct from new.starts_at or old.ends_at is distinct from new.ends_at))
execute function fn_slots_enqueue_notice();
