//! Background sweeps over credentials: lapsed leases back to `waiting`, and
//! destruction of delivered ciphertext once retention has passed. Each row
//! changed gets its audit event in the sweep's transaction.

use super::{Result, Store};
use crate::domain::audit::AuditEntry;
use serde_json::json;

impl Store {
    /// Put credentials whose lease ran out back to `waiting`. Returns how many.
    pub async fn expire_leases(&self, limit: i64) -> Result<usize> {
        let select = format!(
            "SELECT id FROM credentials{} WHERE delivery = 'leased' AND lease_expires_at <= $1 \
             ORDER BY lease_expires_at, id LIMIT $2",
            self.backend.indexed_by("credentials_leases")
        );
        self.sweep(
            &select,
            "UPDATE credentials SET delivery = 'waiting', lease_id = NULL, lease_expires_at = NULL \
             WHERE id = $2 AND delivery = 'leased' AND lease_expires_at <= $1",
            "credential.lease_expired",
            0,
            limit,
        )
        .await
    }

    /// Destroy delivered credentials older than `retain_ms` since delivery.
    pub async fn destroy_retained(&self, retain_ms: i64, limit: i64) -> Result<usize> {
        let select = format!(
            "SELECT id FROM credentials{} WHERE delivery = 'delivered' AND delivered_at <= $1 \
             ORDER BY delivered_at, id LIMIT $2",
            self.backend.indexed_by("credentials_retention")
        );
        self.sweep(
            &select,
            "UPDATE credentials SET delivery = 'destroyed', destroyed_at = $3, key_version = NULL, wrapped_key = NULL, \
             ciphertext = NULL WHERE id = $2 AND delivery = 'delivered' AND delivered_at <= $1",
            "credential.destroy",
            retain_ms,
            limit,
        )
        .await
    }

    /// Select due rows (cut-off = now − `age_ms`), update each with the same
    /// condition, one audit event per row changed, one transaction. Due rows
    /// are taken (and locked) longest-due first, in the order of the partial
    /// index that finds them (migration 0005): ordered by `id` instead,
    /// PostgreSQL's generic plan for the prepared statement walked the whole
    /// table by primary key while holding the audit head, seconds at a
    /// million rows, every pass.
    async fn sweep(
        &self,
        select: &str,
        update: &str,
        action: &str,
        age_ms: i64,
        limit: i64,
    ) -> Result<usize> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let cutoff = now.saturating_sub(age_ms);
        let select = format!("{select}{}", self.backend.for_update());
        let ids: Vec<String> = sqlx::query_scalar(&select)
            .bind(cutoff)
            .bind(limit)
            .fetch_all(tx.conn())
            .await?;
        let mut n = 0;
        for id in &ids {
            let mut q = sqlx::query(update).bind(cutoff).bind(id);
            if update.contains("$3") {
                q = q.bind(now);
            }
            if q.execute(tx.conn()).await?.rows_affected() == 1 {
                let details = if action == "credential.destroy" {
                    json!({"reason": "retention"})
                } else {
                    json!({})
                };
                tx.record(
                    &AuditEntry::new("system", action, format!("credential:{id}")).details(details),
                )
                .await?;
                n += 1;
            }
        }
        tx.commit().await?;
        Ok(n)
    }
}
