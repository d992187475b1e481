-- A booking changes only its slot's seat count (and with it the slot's `sequence` and `updated_at`).
-- A notice sent by the booking's own commit costs every booking a turn: PostgreSQL lets one notifying
-- transaction commit at a time, holding its lock through the commit's disk flush. So the slots
-- trigger of 0116 now stays quiet when nothing but those three columns changed; the worker that
-- answered the booking announces `slots` after the commit instead (labbook.changes), from a
-- transaction that writes nothing. Every other change to a slot still notifies at its commit.
drop trigger tg_slots_notify_change on slots;

create trigger tg_slots_notify_change after insert or delete or truncate on slots
    for each statement execute function notify_change();

create trigger tg_slots_notify_update after update on slots
    for each row
    when ((to_jsonb(old) - '{seats_taken,sequence,updated_at}'::text[])
          is distinct from (to_jsonb(new) - '{seats_taken,sequence,updated_at}'::text[]))
    execute function notify_change();
