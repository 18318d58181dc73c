//! "Connect with Greenhouse" states (SPEC §1.5): one row per authorize redirect, holding only
//! the hash of its `state` and the hash of the nonce in the starting browser's cookie, bound
//! to its drop, single-use and short-lived.

use super::{Result, Store};
use crate::domain::audit::AuditEntry;

impl Store {
    /// Remember a new `state` (its hash) for `drop_id` and the browser whose cookie nonce
    /// hashes to `browser_hash`, until `ttl_ms` from now, with its audit event (`drop.connect`).
    pub async fn insert_oauth_state(
        &self,
        state_hash: &str,
        browser_hash: &str,
        drop_id: &str,
        ttl_ms: i64,
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        // Spent and expired states are of no use to anyone: sweep a few on the way.
        sqlx::query(
            "DELETE FROM oauth_states WHERE state_hash IN (SELECT state_hash FROM oauth_states \
             WHERE expires_at <= $1 LIMIT 100)",
        )
        .bind(now)
        .execute(tx.conn())
        .await?;
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, browser_hash, drop_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(state_hash)
        .bind(browser_hash)
        .bind(drop_id)
        .bind(now)
        .bind(now.saturating_add(ttl_ms))
        .execute(tx.conn())
        .await?;
        tx.record(audit).await?;
        tx.commit().await
    }

    /// Use a `state` (by its hash) coming back to the browser whose nonce hashes to
    /// `browser_hash`: its drop id if it exists for that browser, is unused and unexpired —
    /// and from now on it is used. Looked up on the read pool first, so forged callbacks
    /// never take a write connection; then one conditional statement, so a state is used at
    /// most once however many callbacks race.
    pub async fn take_oauth_state(
        &self,
        state_hash: &str,
        browser_hash: &str,
    ) -> Result<Option<String>> {
        let now = self.now_ms();
        let known: Option<String> = sqlx::query_scalar(
            "SELECT drop_id FROM oauth_states WHERE state_hash = $1 AND browser_hash = $2 \
             AND used_at IS NULL AND expires_at > $3",
        )
        .bind(state_hash)
        .bind(browser_hash)
        .bind(now)
        .fetch_optional(self.reader()?)
        .await?;
        if known.is_none() {
            return Ok(None);
        }
        let mut conn = self.write.acquire().await?;
        Ok(sqlx::query_scalar(
            "UPDATE oauth_states SET used_at = $1 \
             WHERE state_hash = $2 AND browser_hash = $3 AND used_at IS NULL AND expires_at > $1 \
             RETURNING drop_id",
        )
        .bind(now)
        .bind(state_hash)
        .bind(browser_hash)
        .fetch_optional(&mut *conn)
        .await?)
    }
}
