-- keydrop schema, version 9 (PostgreSQL); same version as sqlite/0009.
-- What a red team and a code review found (issue 16). Times are Unix ms.

-- "Connect with Greenhouse" is bound to the browser that started it: the
-- hash of a random nonce kept in that browser's cookie. A callback that
-- comes back to another browser (or none) finds no state.
ALTER TABLE oauth_states ADD COLUMN browser_hash TEXT;

-- Webhook endpoints are served by one dispatcher at a time across every
-- process (lease_id/lease_until: commit order holds with several
-- processes and after a crash), and a failing endpoint backs off as a
-- whole: none of its deliveries is due before retry_at, and failures
-- (consecutive) lets answering endpoints go first to free lanes.
ALTER TABLE webhook_endpoints ADD COLUMN lease_id TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN lease_until BIGINT;
ALTER TABLE webhook_endpoints ADD COLUMN retry_at BIGINT;
ALTER TABLE webhook_endpoints ADD COLUMN failures BIGINT NOT NULL DEFAULT 0;
