//! The outbox (SPEC §11): one message per webhook event, written in the same transaction as
//! the change it reports, and one delivery per endpoint that wants it.

use super::{endpoint_from_row, new_id, Endpoint, ENDPOINT};
use crate::domain::webhook::Message;
use crate::store::{Result, Store};
use serde_json::Value;
use sqlx::{AnyConnection, Row};

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
}
