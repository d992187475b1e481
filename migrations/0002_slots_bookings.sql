-- Slots, series, bookings, visit requests, idempotency keys, feed tokens, rate limits.

-- A recurring series; each occurrence is materialized as a row of slots.
create table slot_series (
    id uuid not null default gen_random_uuid(),
    lab_id integer not null,
    kind text not null,
    title jsonb not null,
    description jsonb not null default '{}',
    timezone text not null,
    -- first occurrence, local wall-clock time in `timezone`
    local_start timestamp not null,
    duration interval not null,
    freq text not null,
    interval integer not null default 1,
    weekdays smallint[] not null default '{}',
    count integer,
    until timestamptz,
    capacity integer not null,
    visibility text not null default 'public',
    organization_id integer,
    instructor_id uuid,
    requires_approval boolean not null default false,
    status text not null default 'active',
    sequence integer not null default 0,
    created_by uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint pk_slot_series primary key (id),
    constraint fk_slot_series_lab foreign key (lab_id) references labs (id),
    constraint fk_slot_series_organization foreign key (organization_id) references organizations (id),
    constraint fk_slot_series_instructor foreign key (instructor_id) references people (id),
    constraint fk_slot_series_created_by foreign key (created_by) references people (id),
    constraint ck_slot_series_freq check (freq in ('daily', 'weekly')),
    constraint ck_slot_series_interval check (interval between 1 and 52),
    constraint ck_slot_series_end check (count is not null or until is not null),
    constraint ck_slot_series_status check (status in ('active', 'cancelled'))
);

create table slots (
    id uuid not null default gen_random_uuid(),
    lab_id integer not null,
    series_id uuid,
    -- the occurrence's original start (RECURRENCE-ID) for slots of a series
    occurrence_start timestamptz,
    kind text not null,
    title jsonb not null,
    description jsonb not null default '{}',
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    during tstzrange generated always as (tstzrange(starts_at, ends_at, '[)')) stored,
    capacity integer not null,
    seats_taken integer not null default 0,
    visibility text not null default 'public',
    organization_id integer,
    booking_deadline timestamptz,
    requires_approval boolean not null default false,
    is_outside_hours boolean not null default false,
    instructor_id uuid,
    status text not null default 'active',
    sequence integer not null default 0,
    created_by uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint pk_slots primary key (id),
    constraint fk_slots_lab foreign key (lab_id) references labs (id),
    constraint fk_slots_series foreign key (series_id) references slot_series (id),
    constraint fk_slots_organization foreign key (organization_id) references organizations (id),
    constraint fk_slots_instructor foreign key (instructor_id) references people (id),
    constraint fk_slots_created_by foreign key (created_by) references people (id),
    constraint ck_slots_kind check (kind in ('tour', 'training', 'event', 'maintenance', 'closure')),
    constraint ck_slots_title check (jsonb_typeof(title) = 'object'),
    constraint ck_slots_order check (ends_at > starts_at),
    constraint ck_slots_capacity check (capacity >= 0),
    -- invariant 2: confirmed + pending headcount never exceeds capacity
    constraint ck_slots_seats check (seats_taken >= 0 and seats_taken <= capacity),
    constraint ck_slots_visibility check (
        (visibility = 'public' and organization_id is null)
        or (visibility = 'private' and organization_id is not null)
    ),
    constraint ck_slots_status check (status in ('active', 'cancelled')),
    constraint ck_slots_series check ((series_id is null) = (occurrence_start is null))
);
-- Overlap queries per lab: match this expression to use the index on both columns.
create index ix_slots_lab_during on slots using gist (int4range(lab_id, lab_id, '[]'), during);
create index ix_slots_series on slots (series_id, occurrence_start);
create index ix_slots_updated on slots (lab_id, updated_at);

-- Equipment units held by a slot. Invariant 1: a unit is never held by two active slots at once.
create table slot_units (
    slot_id uuid not null,
    unit_id integer not null,
    during tstzrange not null,
    is_active boolean not null default true,
    constraint pk_slot_units primary key (slot_id, unit_id),
    constraint fk_slot_units_slot foreign key (slot_id) references slots (id),
    constraint fk_slot_units_unit foreign key (unit_id) references equipment_units (id),
    constraint ex_slot_units_overlap exclude using gist (
        int4range(unit_id, unit_id, '[]') with =,
        during with &&
    ) where (is_active)
);
create index ix_slot_units_unit on slot_units (unit_id);

create table bookings (
    id uuid not null default gen_random_uuid(),
    slot_id uuid not null,
    organization_id integer not null,
    booked_by uuid,
    -- bookings made together for every remaining occurrence of a series share a group id
    group_id uuid,
    headcount integer not null,
    contact_name text not null,
    contact_email text,
    contact_phone text,
    language text not null,
    age_group text,
    notes text,
    status text not null,
    status_message text,
    sequence integer not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint pk_bookings primary key (id),
    constraint fk_bookings_slot foreign key (slot_id) references slots (id),
    constraint fk_bookings_organization foreign key (organization_id) references organizations (id),
    constraint fk_bookings_booked_by foreign key (booked_by) references people (id),
    constraint ck_bookings_headcount check (headcount > 0),
    constraint ck_bookings_language check (language in ('kk', 'ru', 'en')),
    constraint ck_bookings_status check (
        status in ('pending', 'confirmed', 'declined', 'cancelled', 'waitlisted')
    )
);
create index ix_bookings_slot on bookings (slot_id, status, created_at);
create index ix_bookings_organization on bookings (organization_id, updated_at);
create index ix_bookings_group on bookings (group_id) where group_id is not null;

create table visit_requests (
    id uuid not null default gen_random_uuid(),
    lab_id integer not null,
    organization_id integer not null,
    requested_by uuid,
    kind text not null,
    -- up to three preferred windows: [{"starts_at": ..., "ends_at": ...}]
    windows jsonb not null,
    headcount integer not null,
    age_group text,
    language text not null,
    purpose text not null,
    contact_name text not null,
    contact_email text,
    contact_phone text,
    status text not null default 'pending',
    response_message text,
    accepted_window integer,
    slot_id uuid,
    booking_id uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint pk_visit_requests primary key (id),
    constraint fk_visit_requests_lab foreign key (lab_id) references labs (id),
    constraint fk_visit_requests_organization foreign key (organization_id) references organizations (id),
    constraint fk_visit_requests_requested_by foreign key (requested_by) references people (id),
    constraint fk_visit_requests_slot foreign key (slot_id) references slots (id),
    constraint fk_visit_requests_booking foreign key (booking_id) references bookings (id),
    constraint ck_visit_requests_kind check (kind in ('tour', 'training', 'event')),
    constraint ck_visit_requests_headcount check (headcount > 0),
    constraint ck_visit_requests_language check (language in ('kk', 'ru', 'en')),
    constraint ck_visit_requests_windows check (
        jsonb_typeof(windows) = 'array' and jsonb_array_length(windows) between 1 and 3
    ),
    constraint ck_visit_requests_status check (status in ('pending', 'accepted', 'declined', 'cancelled'))
);
create index ix_visit_requests_lab on visit_requests (lab_id, status, created_at);

-- Replays of POSTs that carried an Idempotency-Key. scope is a hash of the caller's credentials.
create table idempotency_keys (
    scope bytea not null,
    key text not null,
    method text not null,
    path text not null,
    request_hash bytea not null,
    status_code integer,
    response_headers jsonb,
    response_body bytea,
    created_at timestamptz not null default now(),
    constraint pk_idempotency_keys primary key (scope, key)
);
create index ix_idempotency_keys_created on idempotency_keys (created_at);

-- Private calendar feed tokens. Only a SHA-256 of the secret is kept.
create table feed_tokens (
    id uuid not null default gen_random_uuid(),
    person_id uuid not null,
    kind text not null,
    name text not null default '',
    token_hash bytea not null,
    prefix text not null,
    last_used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz not null default now(),
    constraint pk_feed_tokens primary key (id),
    constraint fk_feed_tokens_person foreign key (person_id) references people (id),
    constraint uq_feed_tokens_hash unique (token_hash),
    constraint ck_feed_tokens_kind check (kind in ('organization', 'lab_manager', 'person'))
);
create index ix_feed_tokens_person on feed_tokens (person_id);

-- Fixed-window counters shared by every worker (e.g. misses on private feed URLs).
create table rate_limits (
    bucket text not null,
    window_start timestamptz not null,
    hits integer not null default 0,
    constraint pk_rate_limits primary key (bucket)
);
