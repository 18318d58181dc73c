-- keydrop schema, version 4 (PostgreSQL); same version as sqlite/0004.
-- Secrets of the service itself (the form-token key), each 32 random bytes
-- sealed under a master key version like a credential's data key, so every
-- process on the database shares them and a key rotation does not change them.
CREATE TABLE service_secrets (
    name        TEXT PRIMARY KEY,
    key_version BIGINT NOT NULL,
    sealed      BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
