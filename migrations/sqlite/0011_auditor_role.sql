-- keydrop schema, version 11 (SQLite); same version as postgres/0011.
-- The `auditor` role (SPEC §5): reads drops, credential metadata and the audit log, changes
-- nothing. SQLite cannot change a CHECK constraint in place: the table is rebuilt, rows kept.
-- And indexes for the audit filters by actor and by time.
CREATE TABLE api_tokens_new (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'issuer', 'worker', 'auditor')),
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
INSERT INTO api_tokens_new (id, name, role, hash, created_at, revoked_at)
    SELECT id, name, role, hash, created_at, revoked_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;

-- The audit filters `actor`, `since` and `until` (GET /api/v1/audit, `audit export`).
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_at ON audit_events (at);
