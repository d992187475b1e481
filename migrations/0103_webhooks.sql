-- Webhooks: endpoints admins register for booking events, and the log of every delivery.
-- A delivery row is written with the e-mail of the same change (one job, one transaction), keeps
-- its webhook-id over retries and replays, and stays as the delivery log.
create table webhook_endpoints (
    id uuid not null default gen_random_uuid(),
    url text not null,
    secret text not null,
    events text[] not null,
    description text,
    is_active boolean not null default true,
    created_by uuid,
    created_at timestamptz not null default now(),
    constraint pk_webhook_endpoints primary key (id),
    constraint fk_webhook_endpoints_created_by foreign key (created_by) references people (id),
    constraint ck_webhook_endpoints_events check (
        cardinality(events) > 0
        and events <@ array['booking.created', 'booking.confirmed', 'booking.declined', 'booking.cancelled']
    ),
    constraint ck_webhook_endpoints_url check (url ~ '^https?://')
);

create table webhook_deliveries (
    id uuid not null default gen_random_uuid(),
    endpoint_id uuid not null,
    event_type text not null,
    webhook_id text not null,
    dedupe_key text not null,
    payload jsonb not null,
    status text not null default 'pending',
    attempts integer not null default 0,
    last_status_code integer,
    last_error text,
    created_at timestamptz not null default now(),
    delivered_at timestamptz,
    constraint pk_webhook_deliveries primary key (id),
    constraint fk_webhook_deliveries_endpoint foreign key (endpoint_id) references webhook_endpoints (id),
    constraint uq_webhook_deliveries_dedupe_key unique (dedupe_key),
    constraint ck_webhook_deliveries_status check (status in ('pending', 'delivered', 'dead')),
    constraint ck_webhook_deliveries_delivered check ((status = 'delivered') = (delivered_at is not null))
);
create index ix_webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, created_at desc);
