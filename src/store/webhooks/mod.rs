//! Webhook rows (SPEC §11): endpoints (here), the outbox of messages
//! ([`outbox`]: written inside the audited transaction of the change they
//! report) and their deliveries ([`deliveries`]: taken by a dispatcher under
//! an endpoint lease, results recorded in plain transactions, so sending
//! never holds the audit chain's head lock).

mod deliveries;
mod outbox;

pub use deliveries::{Record, Retried, Taken, TakenEndpoint};
pub(crate) use outbox::enqueue;

use super::{uuid, Result, Store, StoreError};
use crate::crypto::cipher::SealedSecret;
use sqlx::any::AnyRow;
use sqlx::Row;

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
            .is_none_or(|e| e.iter().any(|t| t == kind))
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
    /// Anything else; retried at `next_attempt_at`, or given up when `None`. The whole
    /// endpoint waits until `endpoint_retry_at` (its later deliveries do not overtake
    /// this one, and a dead receiver takes no lane meanwhile).
    Failed {
        status: Option<i64>,
        error: String,
        next_attempt_at: Option<i64>,
        endpoint_retry_at: i64,
    },
    /// 410 Gone: the endpoint asked never to be called again.
    Gone,
}

const ENDPOINT: &str =
    "id, url, description, events, enabled, disabled_reason, secret_generation, \
     secret_version, secret_sealed, previous_generation, previous_version, previous_sealed, \
     previous_until, created_at, updated_at";

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
