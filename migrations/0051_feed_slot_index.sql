-- Feeds select a lab's slots that end after the window's start; the included columns are what the
-- feed's version aggregates, so revalidating a feed (a 304) can be answered from the index alone.
create index ix_slots_feed on slots (lab_id, ends_at)
    include (starts_at, id, series_id, status, sequence, seats_taken, updated_at);
