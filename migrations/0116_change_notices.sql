-- Every worker keeps a small cache of public reads (a lab by its slug, a public feed's version) and
-- listens on `labbook_changes` to drop it. A statement on a table those reads come from notifies the
-- channel with the table's name; PostgreSQL delivers it when the writing transaction commits (never
-- on rollback), and folds the identical notices of one transaction into one.
create function notify_change() returns trigger language plpgsql as $$
begin
    perform pg_notify('labbook_changes', tg_table_name);
    return null;
end;
$$;

do $$
declare
    watched text;
begin
    foreach watched in array array['organizations', 'labs', 'equipment', 'slots', 'slot_series', 'feed_versions']
    loop
        execute format(
            'create trigger %I after insert or update or delete or truncate on %I'
            ' for each statement execute function notify_change()',
            'tg_' || watched || '_notify_change', watched
        );
    end loop;
end;
$$;
