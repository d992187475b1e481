-- A lab's name, address, building, room, time zone and languages are written into every event of its
-- feeds (LOCATION, ORGANIZER, the text's language, TZID), and an equipment's name into every event of
-- its equipment feed. Calendar clients take an edited event only when its SEQUENCE rises, so these
-- counters, which only ever go up, are added to each event's own. Triggers, rather than the catalog's
-- statements, keep them because they must move with any edit of those columns whoever makes it; they
-- only fire on edits of a lab or an equipment row, never on the booking path.
alter table labs add column revision integer not null default 0;
alter table equipment add column revision integer not null default 0;

create function labs_feed_revision() returns trigger language plpgsql as $$
begin
    new.revision := old.revision + 1;
    return new;
end;
$$;

create trigger tg_labs_feed_revision
    before update of name, address, building, room, timezone, languages on labs
    for each row
    when ((old.name, old.address, old.building, old.room, old.timezone, old.languages)
          is distinct from (new.name, new.address, new.building, new.room, new.timezone, new.languages))
    execute function labs_feed_revision();

create trigger tg_equipment_feed_revision
    before update of name on equipment
    for each row
    when (old.name is distinct from new.name)
    execute function labs_feed_revision();
