-- keydrop schema, version 12 (PostgreSQL); same version as sqlite/0012.
-- The staff console (SPEC §13): sessions and single-use sign-in links, each stored only as a
-- hash of its 256-bit secret. Times are Unix ms.
CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'issuer', 'auditor')),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    ip           TEXT
);
CREATE INDEX console_sessions_live ON console_sessions (revoked_at, expires_at);

CREATE TABLE console_links (
    token_hash TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'issuer', 'auditor')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
