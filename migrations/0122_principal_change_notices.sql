-- Every worker keeps the principals behind the access tokens it has seen (labbook.accounts.security),
-- so that a burst of requests with one token asks the database once. A change to a token, a person
-- or who manages which lab notifies `labbook_changes` like the tables of 0116, and every worker drops
-- them: a revoked token or a person switched off stops working as soon as the commit is announced.
-- A token's `last_used_at`, written at most once a minute while it is used, changes no principal and
-- announces nothing.
create trigger tg_people_notify_change after insert or update or delete or truncate on people
    for each statement execute function notify_change();
create trigger tg_lab_managers_notify_change after insert or update or delete or truncate on lab_managers
    for each statement execute function notify_change();
create trigger tg_access_tokens_notify_change after insert or delete or truncate on access_tokens
    for each statement execute function notify_change();
create trigger tg_access_tokens_notify_update
    after update of person_id, token_hash, revoked_at, expires_at on access_tokens
    for each statement execute function notify_change();
