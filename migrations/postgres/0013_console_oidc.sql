-- keydrop schema, version 13 (PostgreSQL); same version as sqlite/0013.
-- OpenID Connect sign-ins under way (SPEC §13, §8.12): the `state` handed to the provider and
-- the browser that started the sign-in, each stored only as a hash; taken once at the callback.
-- The PKCE verifier and the nonce are derived from the browser's secret, never stored.
CREATE TABLE console_oidc_states (
    state_hash   TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    next_path    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX console_oidc_states_expiry ON console_oidc_states (expires_at);
