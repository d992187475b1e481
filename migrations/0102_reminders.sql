-- Reminders before a visit: how many hours ahead each lab's visitors are reminded (0: never).
-- The reminder and the lab managers' daily digest are written by scheduled jobs; each message's
-- dedupe_key (0101) makes them once-only however many workers run the schedule.
alter table labs add column reminder_hours integer not null default 24;
alter table labs add constraint ck_labs_reminder_hours check (reminder_hours between 0 and 168);
