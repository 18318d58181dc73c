-- keydrop schema, version 9 (sqlite): what a red team and a code review
-- found (issue 16). Same version in both folders. Times are Unix ms.

-- "Connect with Greenhouse" is bound to the browser that started it: the
-- hash of a random nonce kept in that browser's cookie. A callback that
-- comes back to another browser (or none) finds no state.
ALTER TABLE oauth_states ADD COLUMN browser_hash TEXT;
