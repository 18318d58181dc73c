-- keydrop schema, version 10 (PostgreSQL); same version as sqlite/0010.
-- Settings a running service records for the other processes and the CLI on the same
-- database: `public_url`, the base of the links `keydrop serve` hands out, so that
-- `keydrop drop create` prints links that lead to it.
CREATE TABLE instance_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
