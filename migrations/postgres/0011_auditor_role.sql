-- keydrop schema, version 11 (PostgreSQL); same version as sqlite/0011.
-- The `auditor` role (SPEC §5): reads drops, credential metadata and the audit log, changes
-- nothing.
ALTER TABLE api_tokens DROP CONSTRAINT IF EXISTS api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('admin', 'issuer', 'worker', 'auditor'));

-- The audit filters `actor`, `since` and `until` (GET /api/v1/audit, `audit export`).
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_at ON audit_events (at);
