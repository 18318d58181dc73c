-- Links by e-mail and reminders (SPEC §15, §8.14).
-- drops.send_to: where the link was last e-mailed (shown to staff, never logged);
-- emailed_at: when the current link was queued for e-mail (a reminder is due only for a link
-- e-mailed before its reminder time); link_sent_at: when a message with the current link
-- reached the mail server; reminded_at: when its one reminder was queued (NULL: none yet).
ALTER TABLE drops ADD COLUMN send_to TEXT;
ALTER TABLE drops ADD COLUMN emailed_at BIGINT;
ALTER TABLE drops ADD COLUMN link_sent_at BIGINT;
ALTER TABLE drops ADD COLUMN reminded_at BIGINT;

-- Links replaced by a newer one (send again, reminder): only the old token's hash, so that
-- the old link answers 410 "a newer link was sent to you" instead of 404. Kept while the
-- drop is open and 30 days after.
CREATE TABLE replaced_links (
    token_hash   TEXT PRIMARY KEY,
    drop_id      TEXT NOT NULL,
    replaced_at  BIGINT NOT NULL
);
CREATE INDEX replaced_links_drop ON replaced_links (drop_id);

-- The mail outbox: one row per message, written in the transaction that made or rotated
-- the link. The link itself is sealed under the keyring (bound to the row, its drop and its
-- recipient) until the mail server took the message, then destroyed (sealed_link NULL), as
-- when the row is cancelled or given up; the message text is composed at sending and never
-- stored. new_token_hash: a reminder's new link, which replaces the drop's link only once
-- the reminder reached the mail server. lease_id: the sender holding the row until
-- lease_until; only that sender may finish it. Finished rows are kept 30 days.
CREATE TABLE mail_outbox (
    id               TEXT PRIMARY KEY,
    drop_id          TEXT NOT NULL,
    purpose          TEXT NOT NULL,          -- 'link' | 'again' | 'reminder'
    recipient        TEXT NOT NULL,
    key_version      BIGINT,
    sealed_link      BYTEA,
    new_token_hash   TEXT,
    state            TEXT NOT NULL,          -- 'queued' | 'sent' | 'failed' | 'cancelled'
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_id         TEXT,
    lease_until      BIGINT,
    give_up_at       BIGINT NOT NULL,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT,
    created_by       TEXT NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE state = 'queued';
CREATE INDEX mail_outbox_drop ON mail_outbox (drop_id, created_at);
CREATE INDEX mail_outbox_failed ON mail_outbox (created_at) WHERE state = 'failed';
CREATE INDEX mail_outbox_finished ON mail_outbox (created_at) WHERE state <> 'queued';
CREATE INDEX mail_outbox_sealed ON mail_outbox (key_version) WHERE key_version IS NOT NULL;
