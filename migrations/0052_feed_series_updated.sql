-- A public feed's cheap version is the latest change to its lab's slots (ix_slots_updated) and series
-- (here): two index probes, whatever the size of the feed.
create index ix_slot_series_updated on slot_series (lab_id, updated_at);
