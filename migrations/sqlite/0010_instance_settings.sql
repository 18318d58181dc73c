-- keydrop schema, version 10 (SQLite); same version as postgres/0010.
-- Settings a running service records for the other processes and the CLI on the same
-- database: `public_url`, the base of the links `keydrop serve` hands out, so that
-- `keydrop drop create` prints links that lead to it.
CREATE TABLE instance_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
