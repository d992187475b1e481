-- What a purged roster leaves behind: how many trainees it listed and how many of them were trained,
-- so that reports over old sessions still add up once the names are gone.
create table purged_rosters (
    booking_id uuid not null,
    trainees integer not null,
    trained integer not null,
    purged_at timestamptz not null default now(),
    constraint pk_purged_rosters primary key (booking_id),
    constraint fk_purged_rosters_booking foreign key (booking_id) references bookings (id),
    constraint ck_purged_rosters_counts check (0 <= trained and trained <= trainees)
);
