-- The ETag each feed was last served with, and when that content first appeared.
-- Last-Modified comes from here rather than from max(updated_at) over the feed's rows, because an event
-- can also leave a feed (moved to another lab, reassigned, out of the window), which no remaining row shows.
create table feed_versions (
    feed text not null,
    etag text not null,
    changed_at timestamptz not null,
    constraint pk_feed_versions primary key (feed)
);

-- Personal feeds select an instructor's slots.
create index ix_slots_instructor on slots (instructor_id, starts_at) where instructor_id is not null;
