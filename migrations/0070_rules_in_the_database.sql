-- Rules that PostgreSQL states itself, so that no writer can get around them.

-- No active slot overlaps an active closure of its lab. Each active slot has a span here, kept by
-- the trigger below: only writes that move, re-kind or (un)cancel a slot touch it, never the seat
-- counter's updates, so taking seats pays nothing for this rule. Stock PostgreSQL has no
-- btree_gist, so the lab is compared as a one-point int4range with =, as in ix_slots_lab_during.
create table slot_spans (
    slot_id uuid not null,
    lab_id integer not null,
    during tstzrange not null,
    is_closure boolean not null,
    constraint pk_slot_spans primary key (slot_id),
    constraint fk_slot_spans_slot foreign key (slot_id) references slots (id) on delete cascade,
    -- A closure overlaps no other closure...
    constraint ex_slot_spans_closure_overlap exclude using gist (
        int4range(lab_id, lab_id, '[]') with =,
        during with &&
    ) where (is_closure),
    -- ...and no slot of another kind. A closure stands for the range [0,1), every other kind for
    -- [1,2): two of these ranges are adjacent (-|-) exactly when one is a closure and the other not.
    constraint ex_slot_spans_closed_lab exclude using gist (
        int4range(lab_id, lab_id, '[]') with =,
        during with &&,
        (case when is_closure then int4range(0, 1) else int4range(1, 2) end) with -|-
    )
);

create function slots_keep_span() returns trigger
language plpgsql
as $$
begin
    if tg_op = 'UPDATE' then
        delete from slot_spans where slot_id = old.id;
    end if;
    if new.status = 'active' then
        insert into slot_spans (slot_id, lab_id, during, is_closure)
        values (new.id, new.lab_id, new.during, new.kind = 'closure');
    end if;
    return null;
end
$$;

create trigger tg_slots_span
after insert or update of lab_id, starts_at, ends_at, kind, status on slots
for each row execute function slots_keep_span();

insert into slot_spans (slot_id, lab_id, during, is_closure)
select id, lab_id, during, kind = 'closure' from slots where status = 'active';

-- Whether a slot takes a booking of `seats` for organization `for_organization` in `in_language`
-- at the instant `at`: null when it does, otherwise the first reason it does not, as a code.
-- The conditional UPDATE that takes seats admits a booking only when this is null, and a refused
-- booking is explained from the same code, so the rule is written here and nowhere else.
-- A plain SQL expression, so the planner inlines it into the statements that use it.
create function booking_refusal(
    s slots, l labs, for_organization integer, seats integer, in_language text, at timestamptz
) returns text
language sql stable
as $$
    select case
        when s.visibility = 'private' and s.organization_id is distinct from for_organization
            then 'private'
        when not (in_language = any(l.languages)) then 'language'
        when s.status <> 'active' or l.is_archived then 'cancelled'
        when s.kind not in ('tour', 'training', 'event') then 'kind'
        when s.booking_deadline is not null and at >= s.booking_deadline then 'deadline'
        when s.starts_at < at + make_interval(hours => l.min_notice_hours) then 'notice'
        when s.starts_at > at + make_interval(days => l.max_advance_days) then 'advance'
        when s.seats_taken + seats > s.capacity then 'full'
    end
$$;

-- Who sees a slot (or a series): everyone a public one; a private one, its organization, the
-- managers of its lab and admins. Every query that lists or fetches slots for a viewer asks this.
create function slot_is_visible(
    visibility text,
    organization_id integer,
    lab_id integer,
    viewer_organization integer,
    viewer_labs integer[],
    viewer_sees_all boolean
) returns boolean
language sql immutable
as $$
    select coalesce(
        visibility = 'public'
            or viewer_sees_all
            or organization_id = viewer_organization
            or lab_id = any(viewer_labs),
        false
    )
$$;
