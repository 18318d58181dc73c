-- keydrop schema, version 7 (postgres): webhooks (SPEC §11). Same version in
-- both folders. Times are Unix ms.

-- Registered endpoints. Signing secrets are sealed under the keyring (the
-- service-secret envelope, named webhook:<id>:<generation>); during a
-- rotation the previous one also signs until previous_until.
CREATE TABLE webhook_endpoints (
    id                TEXT PRIMARY KEY,
    url               TEXT NOT NULL,
    description       TEXT,
    -- JSON array of event types; NULL = every type
    events            TEXT,
    enabled           BIGINT NOT NULL DEFAULT 1,
    disabled_reason   TEXT,
    secret_generation BIGINT NOT NULL,
    secret_version    BIGINT NOT NULL,
    secret_sealed     BYTEA NOT NULL,
    previous_generation BIGINT,
    previous_version  BIGINT,
    previous_sealed   BYTEA,
    previous_until    BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- The outbox: one row per webhook message, written in the same transaction
-- as the change it reports. Its id is the webhook-id, the same on every
-- retry; body is the exact JSON sent (signatures cover it).
CREATE TABLE webhook_messages (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One delivery of a message to an endpoint. seq orders deliveries by commit:
-- the change's audit seq × 1000 + the message's place within the change; locked_until is a dispatcher's lease, so
-- several processes never send one delivery at the same time.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    message_id      TEXT NOT NULL REFERENCES webhook_messages (id),
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    locked_until    BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at, seq);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
