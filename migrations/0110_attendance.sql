-- Attendance, trainee rosters and safety inductions.

-- How long an induction on this equipment stays valid after the session that granted it.
alter table equipment
    add column induction_valid_months integer not null default 12,
    add constraint ck_equipment_induction_valid_months check (induction_valid_months between 1 and 120);

-- A training session that itself inducts those who attend it.
alter table slots
    add column is_induction boolean not null default false,
    add constraint ck_slots_is_induction check (not is_induction or kind = 'training');

-- How two spellings of a trainee's name are compared: letter case and runs of spaces do not count.
create function trainee_name_key(full_name text) returns text
language sql immutable
as $$ select lower(regexp_replace(btrim(full_name), '\s+', ' ', 'g')) $$;

-- People trained, known to labbook only by their organization and full name. Two spellings that
-- differ only in letter case or spacing are the same trainee (name_key); other duplicates are
-- merged by a manager.
create table trainees (
    id uuid not null default gen_random_uuid(),
    organization_id integer not null,
    full_name text not null,
    name_key text generated always as (trainee_name_key(full_name)) stored,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint pk_trainees primary key (id),
    constraint fk_trainees_organization foreign key (organization_id) references organizations (id),
    constraint uq_trainees_name unique (organization_id, name_key),
    constraint ck_trainees_full_name check (length(full_name) between 1 and 200 and full_name ~ '\S')
);

-- Who a training booking brings. `attended` is null until attendance is marked.
create table roster_entries (
    booking_id uuid not null,
    trainee_id uuid not null,
    study_group text,
    attended boolean,
    created_at timestamptz not null default now(),
    constraint pk_roster_entries primary key (booking_id, trainee_id),
    constraint fk_roster_entries_booking foreign key (booking_id) references bookings (id),
    constraint fk_roster_entries_trainee foreign key (trainee_id) references trainees (id),
    constraint ck_roster_entries_study_group check (length(study_group) <= 100)
);
create index ix_roster_entries_trainee on roster_entries (trainee_id);

-- Whether a booked group came, and how many of them.
create table attendance (
    booking_id uuid not null,
    outcome text not null,
    headcount integer,
    marked_by uuid,
    marked_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint pk_attendance primary key (booking_id),
    constraint fk_attendance_booking foreign key (booking_id) references bookings (id),
    constraint fk_attendance_marked_by foreign key (marked_by) references people (id),
    constraint ck_attendance_outcome check (
        (outcome = 'arrived' and headcount > 0) or (outcome = 'no_show' and headcount is null)
    )
);

-- Inductions held, granted by attending an induction session (booking_id) or by hand (reason).
-- Nothing is deleted: a revoked or expired induction stays as history.
create table inductions (
    id uuid not null default gen_random_uuid(),
    trainee_id uuid not null,
    equipment_id integer not null,
    granted_at timestamptz not null,
    expires_at timestamptz not null,
    booking_id uuid,
    granted_by uuid,
    reason text,
    revoked_at timestamptz,
    revoked_by uuid,
    revoke_reason text,
    constraint pk_inductions primary key (id),
    constraint fk_inductions_trainee foreign key (trainee_id) references trainees (id),
    constraint fk_inductions_equipment foreign key (equipment_id) references equipment (id),
    constraint fk_inductions_booking foreign key (booking_id) references bookings (id),
    constraint fk_inductions_granted_by foreign key (granted_by) references people (id),
    constraint fk_inductions_revoked_by foreign key (revoked_by) references people (id),
    constraint ck_inductions_order check (expires_at > granted_at),
    constraint ck_inductions_source check (booking_id is not null or length(reason) > 0),
    constraint ck_inductions_revoked check ((revoked_at is null) = (revoke_reason is null))
);
create index ix_inductions_trainee on inductions (trainee_id, equipment_id, expires_at);
-- Attendance marked twice grants once.
create unique index uq_inductions_attendance on inductions (booking_id, trainee_id, equipment_id)
    where booking_id is not null and revoked_at is null;

-- The equipment of a slot that a trainee may not train on there: equipment that requires an
-- induction, held by a training slot that is not itself an induction session, for which the trainee
-- holds no unrevoked induction lasting past the session's start. `expired_at` is when the latest
-- unrevoked one ran out (null: never held, or revoked). The roster's trigger and the refusal the
-- service words both ask this, so the rule is written once.
create function missing_inductions(for_trainee uuid, for_slot uuid)
returns table (equipment_id integer, expired_at timestamptz)
language sql stable
as $$
    select distinct e.id,
           (select max(i.expires_at) from inductions i
            where i.trainee_id = for_trainee and i.equipment_id = e.id and i.revoked_at is null)
    from slots s
    join slot_units su on su.slot_id = s.id and su.is_active
    join equipment_units u on u.id = su.unit_id
    join equipment e on e.id = u.equipment_id
    where s.id = for_slot
      and s.kind = 'training'
      and not s.is_induction
      and e.requires_induction
      and not exists (
          select 1 from inductions i
          where i.trainee_id = for_trainee and i.equipment_id = e.id
            and i.revoked_at is null and i.expires_at > s.starts_at
      )
$$;

-- No trainee joins a roster without the inductions its session needs. The trainee's row is locked
-- first: revoking an induction locks it too, so a revocation and a roster entry cannot pass each other.
create function roster_entries_check_induction() returns trigger
language plpgsql
as $$
begin
    perform 1 from trainees where id = new.trainee_id for share;
    if exists (
        select 1 from bookings b, missing_inductions(new.trainee_id, b.slot_id)
        where b.id = new.booking_id
    ) then
        raise exception 'trainee % lacks an induction for booking %', new.trainee_id, new.booking_id
            using errcode = 'check_violation', constraint = 'ck_roster_entries_inducted';
    end if;
    return new;
end
$$;

create trigger tg_roster_entries_inducted
before insert on roster_entries
for each row execute function roster_entries_check_induction();
