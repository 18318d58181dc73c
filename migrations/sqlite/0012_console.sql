-- keydrop schema, version 12 (SQLite); same version as postgres/0012.
-- The staff console (SPEC §13): sessions and single-use sign-in links, each stored only as a
-- hash of its 256-bit secret. Times are Unix ms.
CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'issuer', 'auditor')),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    ip           TEXT
);
CREATE INDEX console_sessions_live ON console_sessions (revoked_at, expires_at);

CREATE TABLE console_links (
    token_hash TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'issuer', 'auditor')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
