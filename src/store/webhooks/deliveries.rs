//! Webhook deliveries (SPEC §11): taken by a dispatcher, sent, recorded.
//!
//! **One holder per endpoint.** A dispatcher takes an *endpoint* — a lease on its row, one
//! conditional statement (`SKIP LOCKED` on PostgreSQL) — with that endpoint's due
//! deliveries, oldest change first, each under the same lease. While one dispatcher (in
//! any process) holds an endpoint, no other takes any of its deliveries: they arrive in
//! commit order with several processes, and after a crash (the lease runs out, the next
//! holder starts again from the oldest pending one).
//!
//! **A failing endpoint backs off as a whole.** A failed attempt (a refusal, a timeout, a
//! connection that was never made) ends the holder's turn and sets the endpoint's
//! `retry_at` to that delivery's next attempt: none of its deliveries is due before then,
//! so a dead receiver takes no dispatcher lane while it waits, and its later deliveries
//! never overtake the failed one. An endpoint's consecutive `failures` order the queue:
//! endpoints that answer go first to free lanes.
//!
//! *Over 400 lines:* the endpoint lease and the delivery statements that rely on it are one protocol, kept in one file.

use super::{new_id, placeholders, DeliveryRow, Due, SendResult};
use crate::domain::audit::AuditEntry;
use crate::store::{Backend, Result, Store, StoreError};
use sqlx::Row;
use std::collections::HashMap;

/// What a dispatcher took: leases on some endpoints and their due deliveries.
#[derive(Debug, Clone, Default)]
pub struct Taken {
    /// The lease held on every endpoint (and delivery) below.
    pub lease_id: String,
    pub lease_until: i64,
    pub endpoints: Vec<TakenEndpoint>,
}

/// One endpoint a dispatcher holds, and its due deliveries in commit order.
#[derive(Debug, Clone)]
pub struct TakenEndpoint {
    pub id: String,
    /// Its last attempt failed (it is answered after the endpoints that answer).
    pub failing: bool,
    pub deliveries: Vec<Due>,
}

/// What a dispatcher reports for an endpoint it holds.
#[derive(Debug, Clone)]
pub enum Record {
    /// An attempt and what it came to.
    Sent {
        due: Due,
        result: SendResult,
        /// The endpoint was failing before this attempt.
        was_failing: bool,
    },
    /// The holder is done with the endpoint: `untried` go back to the queue at once, and
    /// the endpoint's lease is released (if it is still `lease_id`).
    Done {
        endpoint_id: String,
        lease_id: String,
        untried: Vec<Due>,
    },
}

impl Store {
    /// Deliveries of an endpoint, newest first (at most `limit`).
    pub async fn list_deliveries(&self, endpoint_id: &str, limit: i64) -> Result<Vec<DeliveryRow>> {
        let rows = sqlx::query(
            "SELECT d.id, d.message_id, m.type, d.status, d.attempts, d.next_attempt_at, d.last_status, \
             d.last_error, d.created_at, d.updated_at FROM webhook_deliveries d \
             JOIN webhook_messages m ON m.id = d.message_id WHERE d.endpoint_id = $1 \
             ORDER BY d.created_at DESC, d.id DESC LIMIT $2",
        )
        .bind(endpoint_id)
        .bind(limit)
        .fetch_all(self.reader()?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRow {
                    id: r.try_get("id")?,
                    message_id: r.try_get("message_id")?,
                    kind: r.try_get("type")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    last_status: r.try_get("last_status")?,
                    last_error: r.try_get("last_error")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// `…/retry`: make a delivery due now, whatever its state — unless a dispatcher holds
    /// it right now (its lease is live): then nothing changes and the answer is
    /// [`Retried::Busy`]. The endpoint's back-off ends too (the operator asked for an
    /// attempt now). Audited with `audit`.
    pub async fn retry_delivery(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        audit: &AuditEntry,
    ) -> Result<Retried> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let n = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, \
             locked_until = NULL, updated_at = $1 \
             WHERE id = $2 AND endpoint_id = $3 AND (locked_until IS NULL OR locked_until <= $1)",
        )
        .bind(now)
        .bind(delivery_id)
        .bind(endpoint_id)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if n != 1 {
            let exists: Option<String> = sqlx::query_scalar(
                "SELECT id FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2",
            )
            .bind(delivery_id)
            .bind(endpoint_id)
            .fetch_optional(tx.conn())
            .await?;
            tx.rollback().await?;
            return Ok(if exists.is_some() {
                Retried::Busy
            } else {
                Retried::NotFound
            });
        }
        sqlx::query("UPDATE webhook_endpoints SET retry_at = NULL WHERE id = $1")
            .bind(endpoint_id)
            .execute(tx.conn())
            .await?;
        tx.record(audit).await?;
        tx.mark_queued();
        tx.commit().await?;
        Ok(Retried::Queued)
    }

    /// Take up to `max_endpoints` endpoints with due deliveries — those that answer first,
    /// at most `max_failing` of those whose last attempt failed — under one lease of
    /// `lease_ms`, with up to `per_endpoint` of each one's due deliveries in commit order.
    /// Endpoints another dispatcher holds, backing off, or disabled are not taken.
    pub async fn take_due(
        &self,
        max_endpoints: usize,
        max_failing: usize,
        per_endpoint: i64,
        lease_ms: i64,
    ) -> Result<Taken> {
        let now = self.now_ms();
        let until = now.saturating_add(lease_ms);
        let lease_id = new_id()?.to_string();
        let mut taken = Taken {
            lease_id: lease_id.clone(),
            lease_until: until,
            endpoints: Vec::new(),
        };
        if max_endpoints == 0 {
            return Ok(taken);
        }
        let skip = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE OF e SKIP LOCKED",
        };
        let mut tx = self.begin().await?;
        // Free endpoints with a due delivery: answering ones first, then by their oldest
        // pending change.
        let sql = format!(
            "SELECT e.id, e.failures FROM webhook_endpoints e \
             WHERE e.enabled = 1 AND (e.lease_until IS NULL OR e.lease_until <= $1) \
             AND (e.retry_at IS NULL OR e.retry_at <= $1) \
             AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id \
               AND d.status = 'pending' AND d.next_attempt_at <= $1 \
               AND (d.locked_until IS NULL OR d.locked_until <= $1)) \
             ORDER BY CASE WHEN e.failures > 0 THEN 1 ELSE 0 END, \
               (SELECT MIN(d.seq) FROM webhook_deliveries d \
                WHERE d.endpoint_id = e.id AND d.status = 'pending'), e.id \
             LIMIT $2{skip}"
        );
        let limit = i64::try_from(max_endpoints.saturating_add(max_failing)).unwrap_or(64);
        let candidates: Vec<(String, i64)> = sqlx::query_as(&sql)
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let mut chosen: Vec<(String, bool)> = Vec::new();
        let mut failing_taken = 0;
        for (id, failures) in candidates {
            if chosen.len() >= max_endpoints {
                break;
            }
            let failing = failures > 0;
            if failing {
                if failing_taken >= max_failing {
                    continue;
                }
                failing_taken += 1;
            }
            chosen.push((id, failing));
        }
        if chosen.is_empty() {
            tx.commit().await?;
            return Ok(taken);
        }
        let sql = format!(
            "UPDATE webhook_endpoints SET lease_id = $1, lease_until = $2 \
             WHERE (lease_until IS NULL OR lease_until <= $3) AND id IN ({}) RETURNING id",
            placeholders(4, chosen.len())
        );
        let mut update = sqlx::query_scalar::<_, String>(&sql)
            .bind(&lease_id)
            .bind(until)
            .bind(now);
        for (id, _) in &chosen {
            update = update.bind(id);
        }
        let held: Vec<String> = update.fetch_all(&mut *tx).await?;
        chosen.retain(|(id, _)| held.contains(id));
        if chosen.is_empty() {
            tx.commit().await?;
            return Ok(taken);
        }
        // Their due deliveries, oldest change first, a bounded number per endpoint, leased
        // with the endpoint.
        let list = placeholders(4, chosen.len());
        let sql = format!(
            "UPDATE webhook_deliveries SET locked_until = $1 WHERE id IN ( \
               SELECT id FROM (SELECT d.id, ROW_NUMBER() OVER \
                 (PARTITION BY d.endpoint_id ORDER BY d.seq, d.id) AS n \
                 FROM webhook_deliveries d WHERE d.endpoint_id IN ({list}) \
                 AND d.status = 'pending' AND d.next_attempt_at <= $2 \
                 AND (d.locked_until IS NULL OR d.locked_until <= $2)) ranked \
               WHERE ranked.n <= $3) \
             RETURNING id, endpoint_id, message_id, attempts, seq"
        );
        let mut update = sqlx::query_as::<_, (String, String, String, i64, i64)>(&sql)
            .bind(until)
            .bind(now)
            .bind(per_endpoint);
        for (id, _) in &chosen {
            update = update.bind(id);
        }
        let mut rows = update.fetch_all(&mut *tx).await?;
        rows.sort_by(|a, b| (a.4, &a.0).cmp(&(b.4, &b.0)));
        let mut bodies: HashMap<String, String> = HashMap::with_capacity(rows.len());
        if !rows.is_empty() {
            let mut message_ids: Vec<&str> = rows.iter().map(|t| t.2.as_str()).collect();
            message_ids.sort_unstable();
            message_ids.dedup();
            let sql = format!(
                "SELECT id, body FROM webhook_messages WHERE id IN ({})",
                placeholders(1, message_ids.len())
            );
            let mut select = sqlx::query_as::<_, (String, String)>(&sql);
            for id in message_ids {
                select = select.bind(id);
            }
            bodies.extend(select.fetch_all(&mut *tx).await?);
        }
        let mut by_endpoint: HashMap<String, Vec<Due>> = HashMap::new();
        for (id, endpoint_id, message_id, attempts, _) in rows {
            let body = bodies.get(&message_id).cloned().ok_or_else(|| {
                StoreError::Corrupt("a webhook delivery without its message".into())
            })?;
            by_endpoint
                .entry(endpoint_id.clone())
                .or_default()
                .push(Due {
                    id,
                    endpoint_id,
                    message_id,
                    body,
                    attempts,
                    lease_until: until,
                });
        }
        for (id, failing) in chosen {
            let deliveries = by_endpoint.remove(&id).unwrap_or_default();
            taken.endpoints.push(TakenEndpoint {
                id,
                failing,
                deliveries,
            });
        }
        tx.commit().await?;
        Ok(taken)
    }

    /// Record what a dispatcher reports, a whole batch in one transaction: one commit, not
    /// one per delivery. An attempt is recorded only while its lease is the one it was
    /// taken under (for each, `false` when the lease was lost: someone else has it now);
    /// a failure backs its endpoint off, a success after failures clears that; a 410
    /// disables the endpoint. A crash before the commit only means those are sent again:
    /// at least once.
    pub async fn record_dispatch(&self, records: &[Record]) -> Result<Vec<bool>> {
        let now = self.now_ms();
        let mut tx = self.begin().await?;
        let mut done = Vec::with_capacity(records.len());
        for record in records {
            match record {
                Record::Sent {
                    due,
                    result,
                    was_failing,
                } => {
                    let held = record_attempt(&mut tx, now, due, result, *was_failing).await?;
                    done.push(held);
                }
                Record::Done {
                    endpoint_id,
                    lease_id,
                    untried,
                } => {
                    if let Some(first) = untried.first() {
                        let sql = format!(
                            "UPDATE webhook_deliveries SET locked_until = NULL \
                             WHERE locked_until = $1 AND status = 'pending' AND id IN ({})",
                            placeholders(2, untried.len())
                        );
                        let mut update = sqlx::query(&sql).bind(first.lease_until);
                        for due in untried {
                            update = update.bind(&due.id);
                        }
                        update.execute(&mut *tx).await?;
                    }
                    sqlx::query(
                        "UPDATE webhook_endpoints SET lease_id = NULL, lease_until = NULL \
                         WHERE id = $1 AND lease_id = $2",
                    )
                    .bind(endpoint_id)
                    .bind(lease_id)
                    .execute(&mut *tx)
                    .await?;
                    done.push(true);
                }
            }
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Pending deliveries of enabled endpoints (the queue depth): a disabled endpoint's
    /// wait for it to be enabled again, and are no work queued.
    pub async fn pending_deliveries(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_deliveries d JOIN webhook_endpoints e \
             ON e.id = d.endpoint_id WHERE d.status = 'pending' AND e.enabled = 1",
        )
        .fetch_one(self.reader()?)
        .await?)
    }

    /// Forget deliveries older than `age_ms` that are finished — or still pending for an
    /// endpoint that is disabled — and messages nobody needs any more.
    pub async fn prune_deliveries(&self, age_ms: i64) -> Result<u64> {
        let cutoff = self.now_ms().saturating_sub(age_ms);
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE updated_at <= $1 AND (status <> 'pending' \
             OR endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = 0))",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "DELETE FROM webhook_messages WHERE created_at <= $1 AND NOT EXISTS \
             (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = webhook_messages.id)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The notifier a dispatcher in this process waits on.
    pub fn outbox_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.outbox.clone()
    }
}

/// What `…/retry` came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retried {
    /// Due now.
    Queued,
    /// A dispatcher is sending it right now: nothing changed (409).
    Busy,
    NotFound,
}

async fn record_attempt(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    now: i64,
    due: &Due,
    result: &SendResult,
    was_failing: bool,
) -> Result<bool> {
    let (status, next, last_status, error) = match result {
        SendResult::Succeeded(code) => ("succeeded", None, Some(*code), None),
        SendResult::Failed {
            status,
            error,
            next_attempt_at,
            ..
        } => (
            if next_attempt_at.is_some() {
                "pending"
            } else {
                "failed"
            },
            *next_attempt_at,
            *status,
            Some(error.as_str()),
        ),
        SendResult::Gone => (
            "failed",
            None,
            Some(410),
            Some("410 Gone: endpoint disabled"),
        ),
    };
    let n = sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, next_attempt_at = $2, \
         last_status = $3, last_error = $4, locked_until = NULL, updated_at = $5 \
         WHERE id = $6 AND locked_until = $7",
    )
    .bind(status)
    .bind(next)
    .bind(last_status)
    .bind(error)
    .bind(now)
    .bind(&due.id)
    .bind(due.lease_until)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Ok(false);
    }
    match result {
        SendResult::Succeeded(_) if was_failing => {
            sqlx::query("UPDATE webhook_endpoints SET failures = 0, retry_at = NULL WHERE id = $1")
                .bind(&due.endpoint_id)
                .execute(&mut **tx)
                .await?;
        }
        SendResult::Succeeded(_) => {}
        SendResult::Failed {
            endpoint_retry_at, ..
        } => {
            sqlx::query(
                "UPDATE webhook_endpoints SET failures = failures + 1, retry_at = $1 WHERE id = $2",
            )
            .bind(endpoint_retry_at)
            .bind(&due.endpoint_id)
            .execute(&mut **tx)
            .await?;
        }
        SendResult::Gone => {
            sqlx::query(
                "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2 \
                 WHERE id = $3",
            )
            .bind("the endpoint answered 410 Gone")
            .bind(now)
            .bind(&due.endpoint_id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(true)
}
