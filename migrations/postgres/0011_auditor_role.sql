-- keydrop schema, version 11 (PostgreSQL); same version as sqlite/0011.
-- The `auditor` role (SPEC §5): reads drops, credential metadata and the audit log, changes
-- nothing.
ALTER TABLE api_tokens DROP CONSTRAINT IF EXISTS api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('admin', 'issuer', 'worker', 'auditor'));
