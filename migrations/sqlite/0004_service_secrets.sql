-- keydrop schema, version 4 (SQLite); same version as postgres/0004.
-- Secrets of the service itself (the form-token key), each 32 random bytes
-- sealed under a master key version like a credential's data key, so every
-- process on the database shares them and a key rotation does not change them.
CREATE TABLE service_secrets (
    name        TEXT PRIMARY KEY,
    key_version INTEGER NOT NULL,
    sealed      BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
