-- Reports read a lab's sessions by start time: one index range scan per lab for any date range.
create index ix_slots_lab_starts on slots (lab_id, starts_at);
-- Inductions granted in a date range.
create index ix_inductions_granted on inductions (granted_at);
