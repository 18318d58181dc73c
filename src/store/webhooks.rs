//! Webhook rows (SPEC §11): endpoints, the outbox of messages, and their
//! deliveries. Messages are written by [`enqueue`] inside the audited
//! transaction of the change they report; the dispatcher then takes due
//! deliveries under a short lease (one conditional statement, `SKIP LOCKED`
//! on PostgreSQL) and records each result in a plain transaction, so
//! sending never holds the audit chain's head lock.

use super::{uuid, Result, Store, StoreError};
use crate::crypto::cipher::SealedSecret;
use crate::domain::webhook::Message;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// An endpoint as stored (its secrets sealed).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    /// `None`: every type.
    pub events: Option<Vec<String>>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub secret_generation: i64,
    pub secret: SealedSecret,
    /// The secret before the last rotation, and until when it still signs.
    pub previous: Option<(i64, SealedSecret, i64)>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Endpoint {
    pub fn wants(&self, kind: &str) -> bool {
        self.events
            .as_ref()
            .map_or(true, |e| e.iter().any(|t| t == kind))
    }
}

/// A delivery as listed (`GET …/deliveries`).
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: String,
    pub message_id: String,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A delivery taken by a dispatcher: what to send, and the lease it holds.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: String,
    pub endpoint_id: String,
    pub message_id: String,
    pub body: String,
    pub attempts: i64,
    pub lease_until: i64,
}

/// What one send attempt came to.
#[derive(Debug, Clone)]
pub enum SendResult {
    /// A 2xx.
    Succeeded(i64),
    /// Anything else; retried at `next_attempt_at`, or given up when `None`.
    Failed {
        status: Option<i64>,
        error: String,
        next_attempt_at: Option<i64>,
    },
    /// 410 Gone: the endpoint asked never to be called again.
    Gone,
}

const ENDPOINT: &str =
    "id, url, description, events, enabled, disabled_reason, secret_generation, \
     secret_version, secret_sealed, previous_generation, previous_version, previous_sealed, \
     previous_until, created_at, updated_at";

/// Write the outbox rows of `messages` (each with the audit seq of its
/// change) and one delivery per enabled endpoint that wants its type.
/// Runs inside the audited transaction. `true` when a delivery was queued.
pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    now: i64,
    messages: &[(i64, &Message)],
) -> Result<bool> {
    let sql = format!("SELECT {ENDPOINT} FROM webhook_endpoints WHERE enabled = 1");
    let endpoints: Vec<Endpoint> = sqlx::query(&sql)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(endpoint_from_row)
        .collect::<Result<_>>()?;
    let mut queued = false;
    for (i, (seq, m)) in messages.iter().enumerate() {
        // Commit order, and within one change the order of its messages.
        let order = seq
            .saturating_mul(1000)
            .saturating_add(i64::try_from(i).unwrap_or(999));
        let to: Vec<&Endpoint> = endpoints.iter().filter(|e| e.wants(m.kind)).collect();
        if to.is_empty() {
            continue;
        }
        let data = with_subject(conn, &m.data).await?;
        let id = insert_message(conn, m.kind, &data, now).await?;
        for e in to {
            insert_delivery(conn, &id, &e.id, order, now).await?;
        }
        queued = true;
    }
    Ok(queued)
}

/// A message's `data` with what identifies its subject for a receiver (SPEC §11): the
/// drop's (and credential's) ids, `org`, `external_id` (or null), `kind` and `release`,
/// read in the change's own transaction — so exactly what was true when it committed, and
/// a receiver never needs an API call to file an event under its customer. Data that names
/// neither a drop nor a credential (`webhook.ping`) is left as it is.
async fn with_subject(conn: &mut AnyConnection, data: &Value) -> Result<Value> {
    let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_owned);
    let row = if let Some(credential) = text("credential_id") {
        sqlx::query(
            "SELECT drop_id, org, external_id, kind, release FROM credentials WHERE id = $1",
        )
        .bind(credential)
        .fetch_optional(&mut *conn)
        .await?
    } else if let Some(drop) = text("drop_id") {
        sqlx::query(
            "SELECT id AS drop_id, org, external_id, kind, release FROM drops WHERE id = $1",
        )
        .bind(drop)
        .fetch_optional(&mut *conn)
        .await?
    } else {
        None
    };
    let Some(row) = row else {
        return Ok(data.clone());
    };
    let mut data = data.clone();
    if let Some(map) = data.as_object_mut() {
        map.insert(
            "drop_id".into(),
            Value::from(row.try_get::<String, _>("drop_id")?),
        );
        map.insert("org".into(), Value::from(row.try_get::<String, _>("org")?));
        map.insert(
            "external_id".into(),
            row.try_get::<Option<String>, _>("external_id")?
                .map_or(Value::Null, Value::from),
        );
        map.insert(
            "kind".into(),
            Value::from(row.try_get::<String, _>("kind")?),
        );
        map.insert(
            "release".into(),
            Value::from(row.try_get::<String, _>("release")?),
        );
    }
    Ok(data)
}

/// Store a message: its id (the `webhook-id`) and the exact body every
/// attempt sends. Returns the id.
async fn insert_message(
    conn: &mut AnyConnection,
    kind: &str,
    data: &Value,
    now: i64,
) -> Result<String> {
    let id = format!("msg_{}", new_id()?.simple());
    let body = serde_json::json!({
        "type": kind,
        "timestamp": crate::clock::rfc3339(crate::clock::from_millis(now)),
        "data": data,
    })
    .to_string();
    sqlx::query(
        "INSERT INTO webhook_messages (id, type, body, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(kind)
    .bind(&body)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

async fn insert_delivery(
    conn: &mut AnyConnection,
    message_id: &str,
    endpoint_id: &str,
    seq: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, message_id, endpoint_id, seq, status, attempts, \
         next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)",
    )
    .bind(new_id()?.to_string())
    .bind(message_id)
    .bind(endpoint_id)
    .bind(seq)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// A new endpoint (audited by the caller's event in the same transaction).
    pub async fn insert_endpoint(
        &self,
        e: &Endpoint,
        audit: &crate::domain::audit::AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, url, description, events, enabled, secret_generation, \
             secret_version, secret_sealed, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $8)",
        )
        .bind(&e.id)
        .bind(&e.url)
        .bind(e.description.as_deref())
        .bind(events_json(e.events.as_ref()))
        .bind(e.secret_generation)
        .bind(e.secret.key_version)
        .bind(e.secret.sealed.clone())
        .bind(tx.now_ms())
        .execute(tx.conn())
        .await?;
        tx.record(audit).await?;
        tx.commit().await
    }

    pub async fn endpoint(&self, id: &str) -> Result<Option<Endpoint>> {
        let sql = format!("SELECT {ENDPOINT} FROM webhook_endpoints WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.reader()?)
            .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    pub async fn list_endpoints(&self) -> Result<Vec<Endpoint>> {
        let sql = format!("SELECT {ENDPOINT} FROM webhook_endpoints ORDER BY created_at, id");
        let rows = sqlx::query(&sql).fetch_all(self.reader()?).await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    /// Change what an endpoint hears and whether it is on. `None`: no such endpoint.
    pub async fn update_endpoint(
        &self,
        id: &str,
        events: Option<Option<&Vec<String>>>,
        description: Option<Option<&str>>,
        enabled: Option<bool>,
        audit: &crate::domain::audit::AuditEntry,
    ) -> Result<Option<Endpoint>> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let n = sqlx::query(
            "UPDATE webhook_endpoints SET \
             events = CASE WHEN $1 = 1 THEN $2 ELSE events END, \
             description = CASE WHEN $3 = 1 THEN $4 ELSE description END, \
             enabled = CASE WHEN $5 = 1 THEN $6 ELSE enabled END, \
             disabled_reason = CASE WHEN $5 = 1 AND $6 = 1 THEN NULL ELSE disabled_reason END, \
             updated_at = $7 WHERE id = $8",
        )
        .bind(i64::from(events.is_some()))
        .bind(events.and_then(|e| events_json(e)))
        .bind(i64::from(description.is_some()))
        .bind(description.flatten())
        .bind(i64::from(enabled.is_some()))
        .bind(i64::from(enabled.unwrap_or(false)))
        .bind(now)
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        tx.record(audit).await?;
        tx.commit().await?;
        self.endpoint(id).await
    }

    /// Install a new signing secret; the current one keeps signing until
    /// `previous_until`.
    pub async fn rotate_endpoint_secret(
        &self,
        id: &str,
        generation: i64,
        secret: &SealedSecret,
        previous_until: i64,
        audit: &crate::domain::audit::AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let n = sqlx::query(
            "UPDATE webhook_endpoints SET previous_generation = secret_generation, \
             previous_version = secret_version, previous_sealed = secret_sealed, previous_until = $1, \
             secret_generation = $2, secret_version = $3, secret_sealed = $4, updated_at = $5 \
             WHERE id = $6 AND secret_generation = $2 - 1",
        )
        .bind(previous_until)
        .bind(generation)
        .bind(secret.key_version)
        .bind(secret.sealed.clone())
        .bind(tx.now_ms())
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_if(n == 1, audit).await
    }

    /// Replace the sealed current secret (same secret, sealed under
    /// `new.key_version`) if it is still generation `generation` under
    /// `old_version`. Audited; `false` when the row moved on meanwhile.
    pub async fn reseal_endpoint_secret(
        &self,
        id: &str,
        generation: i64,
        old_version: i64,
        new: &SealedSecret,
        audit: &crate::domain::audit::AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let n = sqlx::query(
            "UPDATE webhook_endpoints SET secret_version = $1, secret_sealed = $2 \
             WHERE id = $3 AND secret_generation = $4 AND secret_version = $5",
        )
        .bind(new.key_version)
        .bind(new.sealed.clone())
        .bind(id)
        .bind(generation)
        .bind(old_version)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_if(n == 1, audit).await
    }

    /// Replace the sealed previous secret (still signing during its overlap
    /// after a rotation) if it is still generation `generation` under
    /// `old_version`. Audited; `false` when the row moved on meanwhile.
    pub async fn reseal_previous_endpoint_secret(
        &self,
        id: &str,
        generation: i64,
        old_version: i64,
        new: &SealedSecret,
        audit: &crate::domain::audit::AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let n = sqlx::query(
            "UPDATE webhook_endpoints SET previous_version = $1, previous_sealed = $2 \
             WHERE id = $3 AND previous_generation = $4 AND previous_version = $5",
        )
        .bind(new.key_version)
        .bind(new.sealed.clone())
        .bind(id)
        .bind(generation)
        .bind(old_version)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_if(n == 1, audit).await
    }

    /// Forget previous signing secrets whose overlap is over: they sign
    /// nothing any more, and must not keep an old master key version in use.
    pub async fn drop_expired_previous_secrets(&self) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE webhook_endpoints SET previous_generation = NULL, previous_version = NULL, \
             previous_sealed = NULL, previous_until = NULL \
             WHERE previous_until IS NOT NULL AND previous_until <= $1",
        )
        .bind(self.now_ms())
        .execute(&self.write)
        .await?
        .rows_affected())
    }

    /// Delete an endpoint and its deliveries. `false`: no such endpoint.
    pub async fn delete_endpoint(
        &self,
        id: &str,
        audit: &crate::domain::audit::AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?;
        let n = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit_if(n == 1, audit).await
    }

    /// Queue `message` for one endpoint only (a ping), audited.
    pub async fn enqueue_for(
        &self,
        endpoint_id: &str,
        message: &Message,
        audit: &crate::domain::audit::AuditEntry,
    ) -> Result<Option<String>> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let event = tx.record(audit).await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM webhook_endpoints WHERE id = $1")
                .bind(endpoint_id)
                .fetch_optional(tx.conn())
                .await?;
        if exists.is_none() {
            tx.rollback().await?;
            return Ok(None);
        }
        let id = insert_message(tx.conn(), message.kind, &message.data, now).await?;
        insert_delivery(
            tx.conn(),
            &id,
            endpoint_id,
            event.seq.saturating_mul(1000),
            now,
        )
        .await?;
        tx.mark_queued();
        tx.commit().await?;
        Ok(Some(id))
    }

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

    /// Make a delivery due now (`…/retry`), whatever its state. `false`: none such.
    pub async fn retry_delivery(&self, endpoint_id: &str, delivery_id: &str) -> Result<bool> {
        let now = self.now_ms();
        let n = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, locked_until = NULL, \
             updated_at = $1 WHERE id = $2 AND endpoint_id = $3",
        )
        .bind(now)
        .bind(delivery_id)
        .bind(endpoint_id)
        .execute(&self.write)
        .await?
        .rows_affected();
        if n == 1 {
            self.outbox.notify_one();
        }
        Ok(n == 1)
    }

    /// Take up to `limit` due deliveries of enabled endpoints, oldest
    /// change first, under a lease of `lease_ms`: one conditional statement,
    /// so two dispatchers never hold the same delivery. None of the `busy`
    /// endpoints' (those this dispatcher is sending to now).
    pub async fn take_due(&self, limit: i64, lease_ms: i64, busy: &[&str]) -> Result<Vec<Due>> {
        let now = self.now_ms();
        let until = now.saturating_add(lease_ms);
        let skip = match self.backend {
            super::Backend::Sqlite => "",
            super::Backend::Postgres => " FOR UPDATE OF d SKIP LOCKED",
        };
        let not_busy = if busy.is_empty() {
            String::new()
        } else {
            format!(
                " AND d.endpoint_id NOT IN ({})",
                placeholders(3, busy.len())
            )
        };
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
             AND (d.locked_until IS NULL OR d.locked_until <= $1) AND e.enabled = 1{not_busy} \
             ORDER BY d.seq, d.id LIMIT $2{skip}"
        );
        let mut select = sqlx::query_scalar(&sql).bind(now).bind(limit);
        for endpoint in busy {
            select = select.bind(*endpoint);
        }
        let ids: Vec<String> = select.fetch_all(&mut *tx).await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        // The lease on all of them in one statement, their bodies in another.
        let list = placeholders(3, ids.len());
        let sql = format!(
            "UPDATE webhook_deliveries SET locked_until = $1 WHERE id IN ({list}) \
             AND status = 'pending' AND (locked_until IS NULL OR locked_until <= $2) \
             RETURNING id, endpoint_id, message_id, attempts, seq"
        );
        let mut update = sqlx::query_as::<_, (String, String, String, i64, i64)>(&sql)
            .bind(until)
            .bind(now);
        for id in &ids {
            update = update.bind(id);
        }
        let mut taken = update.fetch_all(&mut *tx).await?;
        taken.sort_by(|a, b| (a.4, &a.0).cmp(&(b.4, &b.0)));
        let mut bodies: std::collections::HashMap<String, String> =
            std::collections::HashMap::with_capacity(taken.len());
        if !taken.is_empty() {
            let mut message_ids: Vec<&str> = taken.iter().map(|t| t.2.as_str()).collect();
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
        let mut out = Vec::with_capacity(taken.len());
        for (id, endpoint_id, message_id, attempts, _) in taken {
            let body = bodies.get(&message_id).cloned().ok_or_else(|| {
                StoreError::Corrupt("a webhook delivery without its message".into())
            })?;
            out.push(Due {
                id,
                endpoint_id,
                message_id,
                body,
                attempts,
                lease_until: until,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Record send attempts of deliveries this dispatcher holds (by their
    /// leases), a whole batch in one transaction: one commit, not one per
    /// delivery. For each, `false` when its lease was lost (someone else has
    /// it now).
    /// A crash before the commit only means those are sent again: at least once.
    pub async fn record_sends(&self, results: &[(Due, SendResult)]) -> Result<Vec<bool>> {
        let now = self.now_ms();
        let mut tx = self.begin().await?;
        let mut done = Vec::with_capacity(results.len());
        for (due, result) in results {
            let (status, next, last_status, error) = match result {
                SendResult::Succeeded(code) => ("succeeded", None, Some(*code), None),
                SendResult::Failed {
                    status,
                    error,
                    next_attempt_at,
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
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 && matches!(result, SendResult::Gone) {
                sqlx::query(
                    "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2 WHERE id = $3",
                )
                .bind("the endpoint answered 410 Gone")
                .bind(now)
                .bind(&due.endpoint_id)
                .execute(&mut *tx)
                .await?;
            }
            done.push(n == 1);
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Give back the leases of deliveries taken but not attempted (a lane
    /// that stopped early, or had no room to start), so they are taken again
    /// at once rather than when the leases run out. Only where the lease is
    /// still the one `taken` says.
    pub async fn release_leases(&self, taken: &[Due]) -> Result<()> {
        let Some(first) = taken.first() else {
            return Ok(());
        };
        let sql = format!(
            "UPDATE webhook_deliveries SET locked_until = NULL \
             WHERE locked_until = $1 AND status = 'pending' AND id IN ({})",
            placeholders(2, taken.len())
        );
        let mut update = sqlx::query(&sql).bind(first.lease_until);
        for due in taken {
            update = update.bind(&due.id);
        }
        let mut tx = self.begin().await?;
        update.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Pending deliveries (the queue depth).
    pub async fn pending_deliveries(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
                .fetch_one(self.reader()?)
                .await?,
        )
    }

    /// Forget finished deliveries (and messages nobody needs) older than `age_ms`.
    pub async fn prune_deliveries(&self, age_ms: i64) -> Result<u64> {
        let cutoff = self.now_ms().saturating_sub(age_ms);
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND updated_at <= $1",
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

/// `$first, $first+1, …` for `n` bound values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn new_id() -> Result<uuid::Uuid> {
    crate::crypto::random::uuid().map_err(|e| StoreError::Config(e.to_string()))
}

fn events_json(events: Option<&Vec<String>>) -> Option<String> {
    events.map(|e| serde_json::Value::from(e.clone()).to_string())
}

fn endpoint_from_row(r: &AnyRow) -> Result<Endpoint> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("webhook endpoint {what}"));
    let id: String = r.try_get("id")?;
    uuid(&id)?;
    let events: Option<String> = r.try_get("events")?;
    let events = events
        .map(|t| serde_json::from_str::<Vec<String>>(&t).map_err(|_| corrupt("events")))
        .transpose()?;
    let enabled: i64 = r.try_get("enabled")?;
    let previous = match (
        r.try_get::<Option<i64>, _>("previous_generation")?,
        r.try_get::<Option<i64>, _>("previous_version")?,
        r.try_get::<Option<Vec<u8>>, _>("previous_sealed")?,
        r.try_get::<Option<i64>, _>("previous_until")?,
    ) {
        (Some(g), Some(v), Some(s), Some(until)) => Some((
            g,
            SealedSecret {
                key_version: v,
                sealed: s,
            },
            until,
        )),
        _ => None,
    };
    Ok(Endpoint {
        id,
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        events,
        enabled: enabled != 0,
        disabled_reason: r.try_get("disabled_reason")?,
        secret_generation: r.try_get("secret_generation")?,
        secret: SealedSecret {
            key_version: r.try_get("secret_version")?,
            sealed: r.try_get("secret_sealed")?,
        },
        previous,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}
