-- Messages people may turn off, and the one-click links in those messages that turn them off.
--
-- An opt-out belongs to an address (kept in lower case), not to an account: the contact named on a
-- booking may have no account and must be able to unsubscribe too; a person's account page shows
-- and changes the opt-outs of their own address. Which kinds may be turned off is decided in
-- labbook.notifications.messages (OPTIONAL); messages about a booking's fate, invitations and
-- password resets are always sent.
create table mail_opt_outs (
    email text not null,
    kind text not null,
    created_at timestamptz not null default now(),
    constraint pk_mail_opt_outs primary key (email, kind),
    constraint ck_mail_opt_outs_email check (email = lower(email))
);

-- An optional message carries an unsubscribe link whose 256-bit secret only the message holds; the
-- message row keeps the secret's SHA-256, and its recipient and kind say what the link turns off.
alter table mail_messages add column unsubscribe_hash bytea;
create unique index uq_mail_messages_unsubscribe on mail_messages (unsubscribe_hash)
    where unsubscribe_hash is not null;
