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

create trigger tg_organizations_notify_change
    after insert or update or delete or truncate on organizations
    for each statement execute function notify_change();

create trigger tg_labs_notify_change
    after insert or update or delete or truncate on labs
    for each statement execute function notify_change();

create trigger tg_equipment_notify_change
    after insert or update or delete or truncate on equipment
    for each statement execute function notify_change();

create trigger tg_slots_notify_change
    after insert or update or delete or truncate on slots
    for each statement execute function notify_change();

create trigger tg_slot_series_notify_change
    after insert or update or delete or truncate on slot_series
    for each statement execute function notify_change();

create trigger tg_feed_versions_notify_change
    after insert or update or delete or truncate on feed_versions
    for each statement execute function notify_change();
