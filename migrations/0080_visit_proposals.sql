-- A lab's counter-proposal: another time for a visit request, which the requesting organization
-- accepts (a private slot and a confirmed booking, as when the lab accepts a window) or declines.
alter table visit_requests drop constraint ck_visit_requests_status;
alter table visit_requests add constraint ck_visit_requests_status
    check (status in ('pending', 'proposed', 'accepted', 'declined', 'cancelled'));

create table visit_proposals (
    id uuid not null default gen_random_uuid(),
    visit_request_id uuid not null,
    proposed_by uuid not null,
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    title jsonb,
    -- As the slot will hold them: [{"equipment": slug, "units": n}]
    equipment jsonb not null default '[]',
    instructor_id uuid,
    is_outside_hours boolean not null default false,
    message text,
    status text not null default 'open',
    answer_message text,
    answered_by uuid,
    created_at timestamptz not null default now(),
    answered_at timestamptz,
    constraint pk_visit_proposals primary key (id),
    constraint fk_visit_proposals_request foreign key (visit_request_id) references visit_requests (id),
    constraint fk_visit_proposals_proposed_by foreign key (proposed_by) references people (id),
    constraint fk_visit_proposals_answered_by foreign key (answered_by) references people (id),
    constraint fk_visit_proposals_instructor foreign key (instructor_id) references people (id),
    constraint ck_visit_proposals_order check (ends_at > starts_at),
    constraint ck_visit_proposals_equipment check (jsonb_typeof(equipment) = 'array'),
    constraint ck_visit_proposals_status check (status in ('open', 'accepted', 'declined', 'withdrawn')),
    -- An answer and its time are there exactly when the proposal is no longer open.
    constraint ck_visit_proposals_answered check ((status = 'open') = (answered_at is null))
);
-- At most one proposal per request waits for an answer: two answers to it cannot both land.
create unique index uq_visit_proposals_open on visit_proposals (visit_request_id) where status = 'open';
create index ix_visit_proposals_request on visit_proposals (visit_request_id, created_at);
