//! "Connect with Greenhouse" states (SPEC §1.5): one row per authorize redirect, holding only
//! the hash of its `state`, bound to its drop, single-use and short-lived.

use super::{Result, Store};
use crate::domain::audit::AuditEntry;

impl Store {
    /// Remember a new `state` (its hash) for `drop_id` until `ttl_ms` from now, with its
    /// audit event (`drop.connect`).
    pub async fn insert_oauth_state(
        &self,
        state_hash: &str,
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
            "INSERT INTO oauth_states (state_hash, drop_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(state_hash)
        .bind(drop_id)
        .bind(now)
        .bind(now.saturating_add(ttl_ms))
        .execute(tx.conn())
        .await?;
        tx.record(audit).await?;
        tx.commit().await
    }

    /// Use a `state` (by its hash): its drop id if it exists, is unused and unexpired — and
    /// from now on it is used. One conditional statement, so a state is used at most once
    /// however many callbacks race.
    pub async fn take_oauth_state(&self, state_hash: &str) -> Result<Option<String>> {
        let now = self.now_ms();
        let mut conn = self.write.acquire().await?;
        Ok(sqlx::query_scalar(
            "UPDATE oauth_states SET used_at = $1 \
             WHERE state_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING drop_id",
        )
        .bind(now)
        .bind(state_hash)
        .fetch_optional(&mut *conn)
        .await?)
    }
}
