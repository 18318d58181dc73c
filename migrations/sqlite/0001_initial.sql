-- keydrop schema, version 1 (SQLite). Kept at the same version as
-- migrations/postgres/0001_initial.sql; never edit once released.
-- Times are Unix milliseconds (UTC); ids are UUID text; JSON is text.

-- One-time upload links. Only a SHA-256 of the link token is stored.
CREATE TABLE drops (
    id            TEXT PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    org           TEXT NOT NULL,
    note          TEXT,
    kind          TEXT NOT NULL,
    profile       TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('open', 'submitted', 'expired', 'revoked', 'locked')),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    -- submissions being checked right now (their attempts are taken)
    checking      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    credential_id TEXT,
    created_by    TEXT NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX drops_state_expires ON drops (state, expires_at);
CREATE INDEX drops_created ON drops (created_at, id);

-- Accepted credentials. The secret exists only as ciphertext under a
-- per-credential data key, itself wrapped by master key `key_version`;
-- all three are NULL once the credential is destroyed.
CREATE TABLE credentials (
    id               TEXT PRIMARY KEY,
    drop_id          TEXT NOT NULL UNIQUE REFERENCES drops (id),
    org              TEXT NOT NULL,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'verified', 'insufficient', 'invalid')),
    hint             TEXT NOT NULL,
    verification     TEXT NOT NULL,
    delivery         TEXT NOT NULL CHECK (delivery IN ('waiting', 'leased', 'delivered', 'destroyed')),
    key_version      INTEGER,
    wrapped_key      BLOB,
    ciphertext       BLOB,
    lease_id         TEXT,
    lease_expires_at INTEGER,
    next_check_at    INTEGER,
    check_failures   INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER,
    destroyed_at     INTEGER,
    CHECK ((delivery = 'destroyed') = (ciphertext IS NULL AND wrapped_key IS NULL AND key_version IS NULL))
);
CREATE INDEX credentials_claim ON credentials (status, delivery, created_at);
CREATE INDEX credentials_key_version ON credentials (key_version);
CREATE INDEX credentials_next_check ON credentials (next_check_at);

-- Staff and worker API tokens, stored only as argon2id PHC strings.
CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'issuer', 'worker')),
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- The hash-chained audit log and its head (last seq and hash). Every
-- audited transaction first updates the head row, which serializes appends.
CREATE TABLE audit_events (
    seq     INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    ip      TEXT,
    details TEXT NOT NULL,
    hash    TEXT NOT NULL
);
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- One check value per master key version ever used with this database.
CREATE TABLE key_checks (
    version     INTEGER PRIMARY KEY,
    check_value TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
