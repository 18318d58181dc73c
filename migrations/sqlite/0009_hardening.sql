-- keydrop schema, version 9 (sqlite): what a red team and a code review
-- found (issue 16). Same version in both folders. Times are Unix ms.

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
ALTER TABLE webhook_endpoints ADD COLUMN lease_until INTEGER;
ALTER TABLE webhook_endpoints ADD COLUMN retry_at INTEGER;
ALTER TABLE webhook_endpoints ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;

-- The audit chain is keyed (SPEC §8.6): each event and the head carry an
-- HMAC under the audit key (a service secret sealed by the keyring), as
-- "<key version>:<hex>". keyed_from is the first seq written with the key;
-- events before it (written by earlier versions) are vouched for by the
-- first keyed event, whose hash commits to them.
ALTER TABLE audit_events ADD COLUMN mac TEXT;
ALTER TABLE audit_head ADD COLUMN mac TEXT;
ALTER TABLE audit_head ADD COLUMN keyed_from INTEGER;
