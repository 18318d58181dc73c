-- Links by e-mail and reminders (SPEC §15, §8.14).
-- drops.send_to: where the link was last e-mailed (shown to staff, never logged);
-- link_sent_at: when a message with its current link last reached the mail server;
-- reminded_at: when its one reminder was queued (NULL: none yet).
ALTER TABLE drops ADD COLUMN send_to TEXT;
ALTER TABLE drops ADD COLUMN link_sent_at INTEGER;
ALTER TABLE drops ADD COLUMN reminded_at INTEGER;
CREATE INDEX drops_reminder_due ON drops (expires_at)
    WHERE state = 'open' AND send_to IS NOT NULL AND reminded_at IS NULL;

-- Links replaced by a newer one (send again, reminder): only the old token's hash, so that
-- the old link answers 410 "a newer link was sent to you" instead of 404.
CREATE TABLE replaced_links (
    token_hash   TEXT PRIMARY KEY,
    drop_id      TEXT NOT NULL,
    replaced_at  INTEGER NOT NULL
);
CREATE INDEX replaced_links_drop ON replaced_links (drop_id);

-- The mail outbox: one row per message, written in the transaction that rotated or created
-- the link. The link itself is sealed under the keyring (bound to the row) until the mail
-- server took the message, then destroyed (sealed_link NULL); the message text is composed
-- at sending and never stored.
CREATE TABLE mail_outbox (
    id               TEXT PRIMARY KEY,
    drop_id          TEXT NOT NULL,
    purpose          TEXT NOT NULL,          -- 'link' | 'reminder'
    recipient        TEXT NOT NULL,
    key_version      INTEGER,
    sealed_link      BLOB,
    state            TEXT NOT NULL,          -- 'queued' | 'sent' | 'failed' | 'cancelled'
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    give_up_at       INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    created_by       TEXT NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE state = 'queued';
CREATE INDEX mail_outbox_drop ON mail_outbox (drop_id, created_at);
