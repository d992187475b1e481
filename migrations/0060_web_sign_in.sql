-- Sign-in for people in a browser: passwords, server-side sessions, one-time links.

-- argon2id hash in PHC string form; null means the person cannot sign in with a password yet.
alter table people add column password_hash text;
-- The language a person reads labbook in (pages, later e-mail).
alter table people add column language text not null default 'kk';
alter table people add constraint ck_people_language check (language in ('kk', 'ru', 'en'));

-- A browser session. The cookie holds a 256-bit random secret; only its SHA-256 is kept here.
create table web_sessions (
    id uuid not null default gen_random_uuid(),
    secret_hash bytea not null,
    person_id uuid not null,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    -- absolute expiry; the idle limit is a setting, compared with last_seen_at
    expires_at timestamptz not null,
    user_agent text,
    constraint pk_web_sessions primary key (id),
    constraint uq_web_sessions_secret unique (secret_hash),
    constraint fk_web_sessions_person foreign key (person_id) references people (id) on delete cascade
);
create index ix_web_sessions_person on web_sessions (person_id);

-- One-time links: an invitation to set a first password, or a password reset.
create table one_time_links (
    id uuid not null default gen_random_uuid(),
    token_hash bytea not null,
    person_id uuid not null,
    purpose text not null,
    created_by uuid,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz,
    constraint pk_one_time_links primary key (id),
    constraint uq_one_time_links_token unique (token_hash),
    constraint fk_one_time_links_person foreign key (person_id) references people (id) on delete cascade,
    constraint fk_one_time_links_created_by foreign key (created_by) references people (id),
    constraint ck_one_time_links_purpose check (purpose in ('invitation', 'password_reset'))
);
create index ix_one_time_links_person on one_time_links (person_id);
