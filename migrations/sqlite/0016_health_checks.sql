-- Health checks (SPEC §15): every live credential is re-checked every KEYDROP_HEALTH_CHECK_EVERY.
-- health_due_at: when its next check is due (spread evenly over the period; NULL = not yet
-- scheduled); last_checked_at: its last check; health_failures: checks in a row Greenhouse could
-- not answer (a transient failure never demotes a verified credential; staff see "last check
-- failed").
ALTER TABLE credentials ADD COLUMN health_due_at INTEGER;
ALTER TABLE credentials ADD COLUMN last_checked_at INTEGER;
ALTER TABLE credentials ADD COLUMN health_failures INTEGER NOT NULL DEFAULT 0;
CREATE INDEX credentials_health_due ON credentials (health_due_at)
    WHERE status = 'verified' AND delivery <> 'destroyed';
