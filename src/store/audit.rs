//! Audit appends and reads. An [`AuditedTx`] is the only way to change
//! state: it locks the chain's head when it begins, records events as the
//! change proceeds, and writes the new head in the same commit.

use super::{Backend, Result, Store, StoreError};
use crate::crypto::audit::AuditKey;
use crate::domain::audit::{
    canonical, chain_hash, ActionFilter, AuditEntry, AuditEvent, AuditFilter, ChainError,
    ChainHead, ChainVerifier,
};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};

/// A write transaction that carries its audit events.
pub struct AuditedTx {
    tx: Transaction<'static, Any>,
    seq: i64,
    hash: String,
    head_seq: i64,
    /// Where keying began; set by this change when it is the first one keyed.
    keyed_from: Option<i64>,
    head_keyed_from: Option<i64>,
    key: Option<AuditKey>,
    now_ms: i64,
    /// Woken after a commit that queued webhook deliveries.
    outbox: std::sync::Arc<tokio::sync::Notify>,
    queued: bool,
}

impl std::fmt::Debug for AuditedTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditedTx").field("seq", &self.seq).finish()
    }
}

impl Store {
    /// Begin a state change. The audit head row is locked (PostgreSQL) or the
    /// database write-locked (SQLite) until commit or rollback, so appends
    /// from every process form one chain.
    ///
    /// "Now" for the change is the database's clock, read in the same
    /// statement (no extra round trip), when this process runs on its
    /// system clock: every process then stamps leases and expiries by one
    /// clock (SPEC §8.11). With a test clock, the test clock.
    pub async fn begin_audited(&self) -> Result<AuditedTx> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT seq, hash, keyed_from, {} AS db_now FROM audit_head WHERE id = 1{}",
            self.backend.now_ms_sql(),
            self.backend.for_update()
        );
        let row = sqlx::query(&sql).fetch_one(&mut *tx).await?;
        let seq: i64 = row.try_get("seq")?;
        let db_now: i64 = row.try_get("db_now")?;
        let head_keyed_from: Option<i64> = row.try_get("keyed_from")?;
        let key = self.audit_key();
        // The first change written with the key starts the keyed part of the chain.
        let keyed_from = match (&key, head_keyed_from) {
            (Some(_), None) => Some(seq + 1),
            (_, from) => from,
        };
        Ok(AuditedTx {
            tx,
            seq,
            head_seq: seq,
            keyed_from,
            head_keyed_from,
            key,
            hash: row.try_get("hash")?,
            now_ms: self.observe_db_now(db_now),
            outbox: self.outbox.clone(),
            queued: false,
        })
    }

    /// Events after `after`, oldest first.
    pub async fn list_audit(&self, after: i64, limit: i64) -> Result<Vec<AuditEvent>> {
        self.search_audit(&AuditFilter::default(), after, limit)
            .await
    }

    /// Events after `after` that pass `filter`, oldest first.
    pub async fn search_audit(
        &self,
        filter: &AuditFilter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEvent>> {
        let (sql, texts) = audit_query(self.backend, filter);
        let mut query = sqlx::query(&sql).bind(after);
        for t in texts {
            query = query.bind(t);
        }
        let rows = query.bind(limit).fetch_all(self.reader()?).await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Walk the whole chain. `Ok(Ok(n))`: `n` intact events; `Ok(Err(e))`: the
    /// first place it breaks.
    ///
    /// Streams: keyset pages by `seq`, at most two in memory, so a chain of
    /// any length verifies in constant memory. The next page is read while
    /// the previous one is hashed on a blocking thread, so the database read
    /// and the hashing overlap instead of taking turns.
    ///
    /// The MACs are checked with this store's audit key ([`Store::use_audit_key`]); a
    /// keyed chain without it is [`ChainError::KeyNeeded`].
    pub async fn verify_audit(&self) -> Result<Result<i64, ChainError>> {
        // The head first: events appended while we read are past it and are
        // left for the next run, so a live database verifies cleanly.
        let head = self.audit_head().await?;
        let head_seq = head.seq;
        let mut verifier = ChainVerifier::new(self.audit_key());
        let mut after = 0;
        let mut checking: Option<tokio::task::JoinHandle<(ChainVerifier, Result<(), ChainError>)>> =
            None;
        loop {
            let page = if after < head_seq {
                self.verify_page(after, VERIFY_PAGE).await?
            } else {
                Vec::new()
            };
            if let Some(check) = checking.take() {
                let (v, outcome) = check
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("audit verification stopped: {e}")))?;
                if let Err(err) = outcome {
                    return Ok(Err(err));
                }
                verifier = v;
            }
            let Some(last) = page.last() else { break };
            after = last.seq;
            let mut v = std::mem::take(&mut verifier);
            checking = Some(tokio::task::spawn_blocking(move || {
                let outcome = page
                    .iter()
                    .take_while(|e| e.seq <= head_seq)
                    .try_for_each(|e| v.push(e));
                (v, outcome)
            }));
        }
        Ok(verifier.finish(&head))
    }

    /// The chain's head as stored.
    pub async fn audit_head(&self) -> Result<ChainHead> {
        let row = sqlx::query("SELECT seq, hash, mac, keyed_from FROM audit_head WHERE id = 1")
            .fetch_one(self.reader()?)
            .await?;
        Ok(ChainHead {
            seq: row.try_get("seq")?,
            hash: row.try_get("hash")?,
            mac: row.try_get("mac")?,
            keyed_from: row.try_get("keyed_from")?,
        })
    }
}

impl Store {
    /// A page for [`Store::verify_audit`]: [`Store::list_audit`], except
    /// that on SQLite the page comes back as ONE row, a JSON array built
    /// inside SQLite. The SQLite driver hands each row over from its worker
    /// thread separately, and over ten million events those hand-offs cost
    /// more than the hashing.
    async fn verify_page(&self, after: i64, limit: i64) -> Result<Vec<AuditEvent>> {
        if self.backend != super::Backend::Sqlite {
            return self.list_audit(after, limit).await;
        }
        let page: String = sqlx::query_scalar(
            "SELECT json_group_array(json_array(seq, at, actor, action, subject, ip, details, hash, \
             mac) ORDER BY seq) FROM (SELECT seq, at, actor, action, subject, ip, details, hash, mac \
             FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2)",
        )
        .bind(after)
        .bind(limit)
        .fetch_one(self.reader()?)
        .await?;
        type Raw = (
            i64,
            i64,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            Option<String>,
        );
        let rows: Vec<Raw> = serde_json::from_str(&page)
            .map_err(|_| StoreError::Corrupt("an audit event has a malformed column".into()))?;
        rows.into_iter()
            .map(
                |(seq, at, actor, action, subject, ip, details, hash, mac)| {
                    Ok(AuditEvent {
                        seq,
                        at,
                        actor,
                        action,
                        subject,
                        ip,
                        details: serde_json::from_str(&details).map_err(|_| {
                            StoreError::Corrupt("audit details are not JSON".into())
                        })?,
                        hash,
                        mac,
                    })
                },
            )
            .collect()
    }
}

/// Events per page read by [`Store::verify_audit`].
const VERIFY_PAGE: i64 = 1000;

impl AuditedTx {
    /// The connection, for the statements of the change itself.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Wake this process's webhook dispatcher once this change commits.
    pub(crate) fn mark_queued(&mut self) {
        self.queued = true;
    }

    /// The time this change happens at (Unix ms), the same for all its rows.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Append an event to the chain.
    pub async fn record(&mut self, entry: &AuditEntry) -> Result<AuditEvent> {
        let mut events = self.record_many(std::slice::from_ref(entry)).await?;
        events
            .pop()
            .ok_or_else(|| StoreError::Corrupt("no audit event was written".into()))
    }

    /// Append several events in one statement (group commit of releases).
    pub async fn record_many(&mut self, entries: &[AuditEntry]) -> Result<Vec<AuditEvent>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut events = Vec::with_capacity(entries.len());
        let (mut seq, mut prev) = (self.seq, self.hash.clone());
        for entry in entries {
            seq += 1;
            let content = canonical(
                seq,
                self.now_ms,
                &entry.actor,
                &entry.action,
                &entry.subject,
                entry.ip.as_deref(),
                &entry.details,
            );
            prev = chain_hash(&prev, &content);
            events.push(AuditEvent {
                seq,
                at: self.now_ms,
                actor: entry.actor.clone(),
                action: entry.action.clone(),
                subject: entry.subject.clone(),
                ip: entry.ip.clone(),
                details: entry.details.clone(),
                mac: self.key.as_ref().map(|k| k.event_mac(seq, &prev)),
                hash: prev.clone(),
            });
        }
        let mut sql = String::from(
            "INSERT INTO audit_events (seq, at, actor, action, subject, ip, details, hash, mac) \
             VALUES ",
        );
        for i in 0..events.len() {
            let b = i * 9;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for k in 1..=9 {
                if k > 1 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", b + k));
            }
            sql.push(')');
        }
        let mut query = sqlx::query(&sql);
        for e in &events {
            query = query
                .bind(e.seq)
                .bind(e.at)
                .bind(e.actor.clone())
                .bind(e.action.clone())
                .bind(e.subject.clone())
                .bind(e.ip.clone())
                .bind(e.details.to_string())
                .bind(e.hash.clone())
                .bind(e.mac.clone());
        }
        query.execute(&mut *self.tx).await?;
        self.seq = seq;
        self.hash = prev;
        let messages: Vec<(i64, &crate::domain::webhook::Message)> = events
            .iter()
            .zip(entries)
            .flat_map(|(e, entry)| entry.webhooks.iter().map(move |m| (e.seq, m)))
            .collect();
        if !messages.is_empty() {
            let now = self.now_ms;
            if super::webhooks::enqueue(&mut self.tx, now, &messages).await? {
                self.queued = true;
            }
        }
        Ok(events)
    }

    /// Move the head (with its MAC when this process holds the audit key; without one,
    /// the head is left unauthenticated, which `audit verify` reports) and commit the
    /// change with its events.
    pub async fn commit(mut self) -> Result<()> {
        if self.seq != self.head_seq || self.keyed_from != self.head_keyed_from {
            let mac = match (&self.key, self.keyed_from) {
                (Some(k), Some(from)) => Some(k.head_mac(self.seq, &self.hash, from)),
                _ => None,
            };
            sqlx::query(
                "UPDATE audit_head SET seq = $1, hash = $2, mac = $3, keyed_from = $4 WHERE id = 1",
            )
            .bind(self.seq)
            .bind(&self.hash)
            .bind(mac)
            .bind(self.keyed_from)
            .execute(&mut *self.tx)
            .await?;
        }
        self.tx.commit().await?;
        if self.queued {
            self.outbox.notify_one();
        }
        Ok(())
    }

    /// Commit with `audit` when the change's statement `changed` a row;
    /// otherwise roll back and answer `false` (the row was not in the state
    /// the transition needs).
    pub async fn commit_if(mut self, changed: bool, audit: &AuditEntry) -> Result<bool> {
        if !changed {
            self.rollback().await?;
            return Ok(false);
        }
        self.record(audit).await?;
        self.commit().await?;
        Ok(true)
    }

    /// Abandon the change and its events.
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

/// The statement behind [`Store::search_audit`] and its text parameters in
/// order: `$1` is `after`, then one per filter, then the limit. Only the
/// filters in use are written, so each shape is planned on its own and can
/// use `audit_events_subject (subject, seq)`, `audit_events_action
/// (action, seq)`, `audit_events_actor (actor, seq)` or `audit_events_at (at)`. Actions compare bytewise (PostgreSQL: `COLLATE "C"`, as
/// its index is built) so a prefix is the range `[prefix, prefix_range.1)`.
pub fn audit_query(backend: Backend, filter: &AuditFilter) -> (String, Vec<String>) {
    let action = match backend {
        Backend::Sqlite => "action",
        Backend::Postgres => "action COLLATE \"C\"",
    };
    let mut sql = String::from(
        "SELECT seq, at, actor, action, subject, ip, details, hash, mac FROM audit_events WHERE seq > $1",
    );
    let mut texts = Vec::new();
    let mut param = |sql: &mut String, condition: &str, value: String| {
        texts.push(value);
        sql.push_str(&condition.replace('?', &format!("${}", texts.len() + 1)));
    };
    if let Some(subject) = &filter.subject {
        param(&mut sql, " AND subject = ?", subject.clone());
    }
    if let Some(actor) = &filter.actor {
        param(&mut sql, " AND actor = ?", actor.clone());
    }
    // Times go in as text and are cast, so every parameter is one type.
    if let Some(since) = filter.since {
        param(&mut sql, " AND at >= CAST(? AS BIGINT)", since.to_string());
    }
    if let Some(until) = filter.until {
        param(&mut sql, " AND at < CAST(? AS BIGINT)", until.to_string());
    }
    match &filter.action {
        None => {}
        Some(ActionFilter::Exact(a)) => param(&mut sql, &format!(" AND {action} = ?"), a.clone()),
        Some(f @ ActionFilter::Prefix(_)) => {
            if let Some((from, to)) = f.prefix_range() {
                param(&mut sql, &format!(" AND {action} >= ?"), from);
                param(&mut sql, &format!(" AND {action} < ?"), to);
            }
        }
    }
    let limit = texts.len() + 2;
    sql.push_str(&format!(" ORDER BY seq LIMIT ${limit}"));
    (sql, texts)
}

fn event_from_row(row: &AnyRow) -> Result<AuditEvent> {
    let details: String = row.try_get("details")?;
    Ok(AuditEvent {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject: row.try_get("subject")?,
        ip: row.try_get("ip")?,
        details: serde_json::from_str(&details)
            .map_err(|_| StoreError::Corrupt("audit details are not JSON".into()))?,
        hash: row.try_get("hash")?,
        mac: row.try_get("mac")?,
    })
}
