-- Rules that PostgreSQL states itself, so that no writer can get around them.

-- No active slot overlaps an active closure of its lab. Stock PostgreSQL has no btree_gist, so the
-- lab is compared as a one-point int4range with =, as in ix_slots_lab_during.
-- A closure overlaps no other closure:
alter table slots add constraint ex_slots_closure_overlap exclude using gist (
    int4range(lab_id, lab_id, '[]') with =,
    during with &&
) where (status = 'active' and kind = 'closure');

-- ...and no slot of another kind. A closure stands for the range [0,1), every other kind for [1,2):
-- two of these ranges are adjacent (-|-) exactly when one slot is a closure and the other is not.
alter table slots add constraint ex_slots_closed_lab exclude using gist (
    int4range(lab_id, lab_id, '[]') with =,
    during with &&,
    (case when kind = 'closure' then int4range(0, 1) else int4range(1, 2) end) with -|-
) where (status = 'active');

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
