-- Foundation: organizations, people, access tokens, labs, equipment, opening hours, audit log.
-- Localized text (names, descriptions) is a jsonb object keyed by language: {"kk": ..., "ru": ..., "en": ...}.

create table organizations (
    id integer generated always as identity,
    slug text not null,
    name jsonb not null,
    kind text not null,
    city text,
    country text,
    website text,
    description jsonb not null default '{}',
    is_archived boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint pk_organizations primary key (id),
    constraint uq_organizations_slug unique (slug),
    constraint ck_organizations_slug check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 80),
    constraint ck_organizations_kind check (
        kind in ('host_university', 'university', 'college', 'school', 'company', 'alumni_group', 'other')
    ),
    constraint ck_organizations_name check (jsonb_typeof(name) = 'object' and name <> '{}')
);

create table people (
    id uuid not null default gen_random_uuid(),
    organization_id integer not null,
    email text not null,
    full_name text not null,
    phone text,
    roles text[] not null default '{}',
    is_active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint pk_people primary key (id),
    constraint fk_people_organization foreign key (organization_id) references organizations (id),
    constraint ck_people_roles check (roles <@ array['admin', 'lab_manager', 'director', 'instructor']::text[])
);
create unique index uq_people_email on people (lower(email));
create index ix_people_organization on people (organization_id);

-- Personal access tokens for the API. Only a SHA-256 of the secret is kept.
create table access_tokens (
    id uuid not null default gen_random_uuid(),
    person_id uuid not null,
    name text not null,
    token_hash bytea not null,
    prefix text not null,
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz not null default now(),
    constraint pk_access_tokens primary key (id),
    constraint fk_access_tokens_person foreign key (person_id) references people (id),
    constraint uq_access_tokens_hash unique (token_hash)
);
create index ix_access_tokens_person on access_tokens (person_id);

create table labs (
    id integer generated always as identity,
    slug text not null,
    organization_id integer not null,
    name jsonb not null,
    description jsonb not null default '{}',
    building text,
    room text,
    address text,
    timezone text not null default 'Asia/Almaty',
    capacity integer not null,
    languages text[] not null default '{ru}',
    min_visitor_age integer,
    safety_notes jsonb not null default '{}',
    accessibility text,
    min_notice_hours integer not null default 24,
    max_advance_days integer not null default 365,
    is_archived boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint pk_labs primary key (id),
    constraint uq_labs_slug unique (slug),
    constraint fk_labs_organization foreign key (organization_id) references organizations (id),
    constraint ck_labs_slug check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 80),
    constraint ck_labs_name check (jsonb_typeof(name) = 'object' and name <> '{}'),
    constraint ck_labs_capacity check (capacity > 0),
    constraint ck_labs_languages check (
        cardinality(languages) > 0 and languages <@ array['kk', 'ru', 'en']::text[]
    ),
    constraint ck_labs_min_visitor_age check (min_visitor_age between 0 and 100),
    constraint ck_labs_min_notice check (min_notice_hours >= 0),
    constraint ck_labs_max_advance check (max_advance_days > 0)
);
create index ix_labs_organization on labs (organization_id);

-- Lab managers are people with the lab_manager role for the labs named here.
create table lab_managers (
    lab_id integer not null,
    person_id uuid not null,
    constraint pk_lab_managers primary key (lab_id, person_id),
    constraint fk_lab_managers_lab foreign key (lab_id) references labs (id),
    constraint fk_lab_managers_person foreign key (person_id) references people (id)
);
create index ix_lab_managers_person on lab_managers (person_id);

create table equipment (
    id integer generated always as identity,
    lab_id integer not null,
    slug text not null,
    kind text not null,
    name jsonb not null,
    description jsonb not null default '{}',
    units integer not null,
    seats_per_unit integer not null default 1,
    requires_induction boolean not null default false,
    is_out_of_service boolean not null default false,
    is_archived boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint pk_equipment primary key (id),
    constraint fk_equipment_lab foreign key (lab_id) references labs (id),
    constraint uq_equipment_lab_slug unique (lab_id, slug),
    constraint ck_equipment_slug check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 80),
    constraint ck_equipment_kind check (kind ~ '^[a-z0-9]+(_[a-z0-9]+)*$'),
    constraint ck_equipment_name check (jsonb_typeof(name) = 'object' and name <> '{}'),
    constraint ck_equipment_units check (units > 0 and units <= 1000),
    constraint ck_equipment_seats_per_unit check (seats_per_unit > 0)
);
create index ix_equipment_kind on equipment (kind);

-- One row per individually bookable unit (station 1..n). Units above equipment.units are retired
-- (is_retired) rather than deleted, so history that refers to them stays intact.
create table equipment_units (
    id integer generated always as identity,
    equipment_id integer not null,
    number integer not null,
    is_retired boolean not null default false,
    constraint pk_equipment_units primary key (id),
    constraint fk_equipment_units_equipment foreign key (equipment_id) references equipment (id),
    constraint uq_equipment_units_number unique (equipment_id, number),
    constraint ck_equipment_units_number check (number > 0)
);

-- Weekly windows in the lab's local time; ISO weekday 1 = Monday.
create table opening_hours (
    id integer generated always as identity,
    lab_id integer not null,
    weekday smallint not null,
    opens_at time not null,
    closes_at time not null,
    constraint pk_opening_hours primary key (id),
    constraint fk_opening_hours_lab foreign key (lab_id) references labs (id),
    constraint ck_opening_hours_weekday check (weekday between 1 and 7),
    constraint ck_opening_hours_order check (closes_at > opens_at),
    constraint ex_opening_hours_overlap exclude using gist (
        int4range(lab_id, lab_id, '[]') with =,
        int4range(weekday, weekday, '[]') with =,
        tsrange('2000-01-01'::date + opens_at, '2000-01-01'::date + closes_at, '[)') with &&
    )
);

-- Append-only record of every write.
create table audit_events (
    id bigint generated always as identity,
    occurred_at timestamptz not null default clock_timestamp(),
    actor_id uuid,
    action text not null,
    object_type text not null,
    object_id text not null,
    before jsonb,
    after jsonb,
    request_id text,
    constraint pk_audit_events primary key (id),
    constraint fk_audit_events_actor foreign key (actor_id) references people (id)
);
create index ix_audit_events_object on audit_events (object_type, object_id, id);
create index ix_audit_events_actor on audit_events (actor_id, id);

create function audit_events_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'audit_events is append-only' using errcode = 'insufficient_privilege';
end;
$$;
create trigger tg_audit_events_append_only
    before update or delete on audit_events
    for each row execute function audit_events_append_only();
