-- keydrop schema, version 8 (PostgreSQL); same version as sqlite/0008.
-- Release modes and access-token vending (SPEC §3), partner OAuth grants
-- (SPEC §1.5) and the `disconnected` status. Times are Unix ms.

-- How a drop's credential will be released: the secret itself (`handoff`)
-- or short-lived access tokens only (`vend`).
ALTER TABLE drops ADD COLUMN release TEXT NOT NULL DEFAULT 'handoff'
    CHECK (release IN ('handoff', 'vend'));

ALTER TABLE credentials DROP CONSTRAINT credentials_status_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_status_check
    CHECK (status IN ('pending', 'verified', 'insufficient', 'invalid', 'disconnected'));

--   access_sealed      the current access token and its expiry, sealed under
--                      the credential's own data key (purpose "access")
--   access_expires_at  when that token expires (not a secret)
--   token_lease_id/_until  who may mint or refresh right now (one at a time
--                      across every process; SPEC §8.9)
--   refresh_due_at     next keep-alive refresh of a partner grant
--   refresh_failures   consecutive transient refresh failures (backoff)
ALTER TABLE credentials ADD COLUMN release TEXT NOT NULL DEFAULT 'handoff'
    CHECK (release IN ('handoff', 'vend'));
ALTER TABLE credentials ADD COLUMN access_sealed BYTEA;
ALTER TABLE credentials ADD COLUMN access_expires_at BIGINT;
ALTER TABLE credentials ADD COLUMN token_lease_id TEXT;
ALTER TABLE credentials ADD COLUMN token_lease_until BIGINT;
ALTER TABLE credentials ADD COLUMN refresh_due_at BIGINT;
ALTER TABLE credentials ADD COLUMN refresh_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE credentials ADD CONSTRAINT credentials_destroyed_access
    CHECK (delivery <> 'destroyed' OR access_sealed IS NULL);

-- Retention skips `vend` credentials (they live until staff destroy them).
DROP INDEX credentials_retention;
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
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);
