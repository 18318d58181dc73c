-- keydrop schema, version 8 (SQLite); same version as postgres/0008.
-- Release modes and access-token vending (SPEC §3), partner OAuth grants
-- (SPEC §1.5) and the `disconnected` status. Times are Unix ms.

-- How a drop's credential will be released: the secret itself (`handoff`)
-- or short-lived access tokens only (`vend`).
ALTER TABLE drops ADD COLUMN release TEXT NOT NULL DEFAULT 'handoff'
    CHECK (release IN ('handoff', 'vend'));

-- SQLite cannot change a CHECK constraint in place: the credentials table
-- is rebuilt with `disconnected` allowed and the vending columns added.
--   access_sealed      the current access token and its expiry, sealed under
--                      the credential's own data key (purpose "access")
--   access_expires_at  when that token expires (not a secret)
--   token_lease_id/_until  who may mint or refresh right now (one at a time
--                      across every process; SPEC §8.9)
--   refresh_due_at     next keep-alive refresh of a partner grant
--   refresh_failures   consecutive transient refresh failures (backoff)
CREATE TABLE credentials_v8 (
    id                TEXT PRIMARY KEY,
    drop_id           TEXT NOT NULL UNIQUE REFERENCES drops (id),
    org               TEXT NOT NULL,
    kind              TEXT NOT NULL,
    status            TEXT NOT NULL
        CHECK (status IN ('pending', 'verified', 'insufficient', 'invalid', 'disconnected')),
    hint              TEXT NOT NULL,
    verification      TEXT NOT NULL,
    delivery          TEXT NOT NULL CHECK (delivery IN ('waiting', 'leased', 'delivered', 'destroyed')),
    key_version       INTEGER,
    wrapped_key       BLOB,
    ciphertext        BLOB,
    lease_id          TEXT,
    lease_expires_at  INTEGER,
    next_check_at     INTEGER,
    check_failures    INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    delivered_at      INTEGER,
    destroyed_at      INTEGER,
    external_id       TEXT,
    metadata          TEXT,
    release           TEXT NOT NULL DEFAULT 'handoff' CHECK (release IN ('handoff', 'vend')),
    access_sealed     BLOB,
    access_expires_at INTEGER,
    token_lease_id    TEXT,
    token_lease_until INTEGER,
    refresh_due_at    INTEGER,
    refresh_failures  INTEGER NOT NULL DEFAULT 0,
    CHECK ((delivery = 'destroyed') = (ciphertext IS NULL AND wrapped_key IS NULL AND key_version IS NULL)),
    CHECK (delivery <> 'destroyed' OR access_sealed IS NULL)
);
INSERT INTO credentials_v8 (id, drop_id, org, kind, status, hint, verification, delivery,
    key_version, wrapped_key, ciphertext, lease_id, lease_expires_at, next_check_at,
    check_failures, created_at, delivered_at, destroyed_at, external_id, metadata)
SELECT id, drop_id, org, kind, status, hint, verification, delivery,
    key_version, wrapped_key, ciphertext, lease_id, lease_expires_at, next_check_at,
    check_failures, created_at, delivered_at, destroyed_at, external_id, metadata
FROM credentials;
DROP TABLE credentials;
ALTER TABLE credentials_v8 RENAME TO credentials;

-- Every index of versions 1–7, unchanged, except that retention now skips
-- `vend` credentials (they live until staff destroy them, SPEC §3).
CREATE INDEX credentials_claim ON credentials (status, delivery, created_at);
CREATE INDEX credentials_key_version ON credentials (key_version);
CREATE INDEX credentials_next_check ON credentials (next_check_at);
CREATE INDEX credentials_claimable ON credentials (created_at, id)
    WHERE status = 'verified' AND key_version IS NOT NULL AND delivery IN ('waiting', 'leased');
CREATE INDEX credentials_created ON credentials (created_at, id);
CREATE INDEX credentials_leases ON credentials (lease_expires_at, id) WHERE delivery = 'leased';
CREATE INDEX credentials_retention ON credentials (delivered_at, id)
    WHERE delivery = 'delivered' AND release = 'handoff';
-- Keep-alive: the partner grants due for a refresh.
CREATE INDEX credentials_refresh_due ON credentials (refresh_due_at, id)
    WHERE refresh_due_at IS NOT NULL;

-- "Connect with Greenhouse" (SPEC §1.5): one row per authorize redirect.
-- Only a hash of `state` is stored; it is single-use (used_at) and bound to
-- its drop.
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    drop_id    TEXT NOT NULL REFERENCES drops (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);
