-- A series' instructor hears of the series as a whole: a `series_changed` job comes, in the change's
-- own transaction, when a series is published with an instructor, and whenever its sequence, status
-- or instructor moves. The slots service raises a series' sequence with every change to it or to one
-- of its occurrences (a moved, edited or cancelled occurrence, a new end), so an occurrence's change
-- reaches the series' instructor through the series, once, not once per occurrence; the occurrence's
-- own `slot_changed` job (0118) still tells its visitors. A transaction that rewrites many
-- occurrences may raise the sequence many times: the worker writes for the series as it is when the
-- job runs, once per instructor and resulting sequence.
--
-- `published` also holds for a series created earlier in the same transaction (its created_at is the
-- transaction's start): the following part of a split is new to its instructor, whatever is done to
-- it before the commit, so nobody is sent a cancellation of an event they never had.
create function fn_slot_series_enqueue_notice() returns trigger language plpgsql as $$
begin
    insert into pgqueuer (priority, entrypoint, status, payload)
    values (
        0,
        'series_changed',
        'queued',
        convert_to(
            json_build_object(
                'series_id', new.id,
                'sequence', new.sequence,
                'status', new.status,
                'published', tg_op = 'INSERT' or new.created_at = now(),
                'instructor_id', new.instructor_id,
                'previous_instructor_id', case when tg_op = 'UPDATE' then old.instructor_id end
            )::text,
            'UTF8'
        )
    );
    return null;
end
$$;

create trigger tg_slot_series_enqueue_assignment
after insert on slot_series
for each row
when (new.instructor_id is not null and new.status = 'active')
execute function fn_slot_series_enqueue_notice();

create trigger tg_slot_series_enqueue_notice
after update of sequence, status, instructor_id on slot_series
for each row
when ((new.instructor_id is not null or old.instructor_id is not null)
      and (old.sequence is distinct from new.sequence
           or old.status is distinct from new.status
           or old.instructor_id is distinct from new.instructor_id))
execute function fn_slot_series_enqueue_notice();
