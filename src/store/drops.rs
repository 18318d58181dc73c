//! DropRecord rows. Every transition is one conditional statement inside an
//! audited transaction; "0 rows" means the drop was not in the state the
//! transition needs, never "read, check, then write".

use super::{Cursor, Result, Store, StoreError};
use crate::domain::audit::AuditEntry;
use crate::domain::contact::Contact;
use crate::domain::drop::{DropRecord, DropState, Metadata};
use crate::domain::event::{Event, Origin};
use crate::domain::release::Release;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A drop to create. The link token itself is never here: only its hash.
#[derive(Debug, Clone)]
pub struct NewDrop {
    pub id: String,
    pub token_hash: String,
    pub org: String,
    pub note: Option<String>,
    pub kind: String,
    pub profile_json: String,
    pub expires_at: i64,
    pub max_attempts: i64,
    pub created_by: String,
    pub contact: Option<Contact>,
    pub external_id: Option<String>,
    /// The metadata object as JSON.
    pub metadata_json: Option<String>,
    pub release: Release,
    /// The credential this drop's credential will replace (a relink, SPEC §15).
    pub replaces: Option<String>,
    /// Its link's first e-mail (SPEC §15), queued in the same transaction.
    pub mail: Option<super::mail::NewMail>,
}

/// Which drops a listing returns; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct DropFilter {
    pub state: Option<DropState>,
    pub external_id: Option<String>,
    /// Exactly this kind (`harvest_v3`, …).
    pub kind: Option<String>,
    /// The org or the external_id starts with this text (the console's search; any case).
    pub prefix: Option<String>,
}

/// Below this many drops with a prefix, the search goes through the prefix indexes.
const PREFIX_SPARSE: i64 = 1000;

enum Bind {
    Text(String),
    Int(i64),
}

/// The lower-cased org and external_id as the prefix indexes hold them (`indexed`), or as
/// an expression no index matches (so the planner walks the drops newest first instead).
fn prefix_columns(backend: super::Backend, indexed: bool) -> (&'static str, &'static str) {
    match (backend, indexed) {
        // Byte order, as the indexes are built: a prefix is then a range.
        (super::Backend::Postgres, true) => (
            "lower(org) COLLATE \"C\"",
            "lower(external_id) COLLATE \"C\"",
        ),
        (super::Backend::Postgres, false) => (
            "lower(org || '') COLLATE \"C\"",
            "lower(external_id || '') COLLATE \"C\"",
        ),
        (super::Backend::Sqlite, true) => ("lower(org)", "lower(external_id)"),
        (super::Backend::Sqlite, false) => ("lower(org || '')", "lower(external_id || '')"),
    }
}

/// The range `[lo, hi)` of lower-cased texts that start with `prefix`, lower-cased as the
/// backend's `lower()` does it (SQLite: ASCII letters only; PostgreSQL: every letter).
fn prefix_range(backend: super::Backend, prefix: &str) -> (String, String) {
    let lo = match backend {
        super::Backend::Sqlite => prefix.to_ascii_lowercase(),
        super::Backend::Postgres => prefix.to_lowercase(),
    };
    // The smallest text above every text that starts with `lo`: its last character one up
    // (a character that cannot go up is dropped and the one before it goes up instead).
    let mut chars: Vec<char> = lo.chars().collect();
    let hi = loop {
        match chars.pop() {
            None => break String::from(char::MAX),
            Some(c) => {
                let next = (u32::from(c) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
                if let Some(n) = next {
                    chars.push(n);
                    break chars.into_iter().collect();
                }
            }
        }
    };
    (lo, hi)
}

/// The listing statement with only the filters given, and its parameters in order.
fn drops_query(
    backend: super::Backend,
    filter: &DropFilter,
    prefix: Option<&(String, String, bool)>,
    after: Option<&Cursor>,
    limit: i64,
) -> (String, Vec<Bind>) {
    let mut sql = format!("SELECT {COLUMNS} FROM drops WHERE TRUE");
    let mut binds = Vec::new();
    let next = |b: Bind, binds: &mut Vec<Bind>| {
        binds.push(b);
        format!("${}", binds.len())
    };
    if let Some(state) = filter.state {
        let p = next(Bind::Text(state.as_str().to_owned()), &mut binds);
        sql.push_str(&format!(" AND state = {p}"));
    }
    if let Some(x) = &filter.external_id {
        let p = next(Bind::Text(x.clone()), &mut binds);
        sql.push_str(&format!(" AND external_id = {p}"));
    }
    if let Some(kind) = &filter.kind {
        let p = next(Bind::Text(kind.clone()), &mut binds);
        sql.push_str(&format!(" AND kind = {p}"));
    }
    if let Some((lo, hi, sparse)) = prefix {
        let (org, ext) = prefix_columns(backend, *sparse);
        let lo = next(Bind::Text(lo.clone()), &mut binds);
        let hi = next(Bind::Text(hi.clone()), &mut binds);
        sql.push_str(&format!(
            " AND (({org} >= {lo} AND {org} < {hi}) OR ({ext} >= {lo} AND {ext} < {hi}))"
        ));
    }
    if let Some(c) = after {
        let at = next(Bind::Int(c.created_at), &mut binds);
        let id = next(Bind::Text(c.id.clone()), &mut binds);
        sql.push_str(&format!(
            // The first term is a plain range on the index's leading column: PostgreSQL does
            // not seek on the OR alone, and a deep page then read half the table.
            " AND created_at <= {at} AND (created_at < {at} OR id < {id})"
        ));
    }
    let l = next(Bind::Int(limit), &mut binds);
    sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT {l}"));
    (sql, binds)
}

/// The unique index that keeps an `external_id` to one drop that is not revoked.
const LIVE_EXTERNAL_ID: &str = "drops_external_id_live";

/// The checks of a drop still in flight at `now` (a bound parameter): the
/// counter, while its expiry has not passed. One rule for every statement.
pub(crate) fn live_checks(now: &str) -> String {
    format!("(CASE WHEN checking_until > {now} THEN checking ELSE 0 END)")
}

pub(super) const COLUMNS: &str =
    "id, org, note, kind, profile, state, created_at, expires_at, attempts, max_attempts, credential_id, \
     contact_name, contact_email, external_id, metadata, release, replaces, send_to, link_sent_at, token_hash";

/// Whether an insert failed on [`LIVE_EXTERNAL_ID`]: PostgreSQL names the
/// index; SQLite names the column it covers.
fn is_live_external_id_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            db.constraint() == Some(LIVE_EXTERNAL_ID)
                || db.message().contains(LIVE_EXTERNAL_ID)
                || db.message().contains("drops.external_id")
        }
        _ => false,
    }
}

impl Store {
    /// How many drops there are in each state, for the console's dashboard.
    pub async fn drop_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows =
            sqlx::query("SELECT state, COUNT(*) AS n FROM drops GROUP BY state ORDER BY state")
                .fetch_all(self.reader()?)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }

    /// Insert an open drop with its audit event. [`StoreError::Conflict`]
    /// when another drop that is not revoked has the same `external_id`:
    /// the database's unique index decides, so two creations at the same
    /// moment cannot both pass.
    pub async fn insert_drop(&self, d: &NewDrop, audit: &AuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let inserted = sqlx::query(
            "INSERT INTO drops (id, token_hash, org, note, kind, profile, state, created_at, expires_at, \
             attempts, max_attempts, credential_id, created_by, updated_at, \
             contact_name, contact_email, external_id, metadata, release, replaces, send_to, \
             emailed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, 0, $9, NULL, $10, $7, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(&d.id)
        .bind(&d.token_hash)
        .bind(&d.org)
        .bind(d.note.as_deref())
        .bind(&d.kind)
        .bind(&d.profile_json)
        .bind(now)
        .bind(d.expires_at)
        .bind(d.max_attempts)
        .bind(&d.created_by)
        .bind(d.contact.as_ref().map(|c| c.name.as_str()))
        .bind(d.contact.as_ref().map(|c| c.email.as_str()))
        .bind(d.external_id.as_deref())
        .bind(d.metadata_json.as_deref())
        .bind(d.release.as_str())
        .bind(d.replaces.as_deref())
        .bind(d.mail.as_ref().map(|m| m.recipient.as_str()))
        .bind(d.mail.as_ref().map(|_| now))
        .execute(tx.conn())
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_live_external_id_violation(&e) => {
                tx.rollback().await?;
                return Err(StoreError::Conflict(
                    "another open drop has this external_id; revoke it first".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(mail) = &d.mail {
            super::mail::insert_mail(tx.conn(), mail, now).await?;
        }
        tx.record(audit).await?;
        tx.commit().await
    }

    pub async fn drop_by_id(&self, id: &str) -> Result<Option<DropRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM drops WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.reader()?)
            .await?;
        row.as_ref().map(drop_from_row).transpose()
    }

    pub async fn drop_by_token_hash(&self, hash: &str) -> Result<Option<DropRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM drops WHERE token_hash = $1");
        let row = sqlx::query(&sql)
            .bind(hash)
            .fetch_optional(self.reader()?)
            .await?;
        row.as_ref().map(drop_from_row).transpose()
    }

    /// The drop whose link `hash` was, before a newer link replaced it (SPEC §15).
    pub async fn drop_by_replaced_link(&self, hash: &str) -> Result<Option<DropRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM drops WHERE id = \
             (SELECT drop_id FROM replaced_links WHERE token_hash = $1)"
        );
        let row = sqlx::query(&sql)
            .bind(hash)
            .fetch_optional(self.reader()?)
            .await?;
        row.as_ref().map(drop_from_row).transpose()
    }

    /// Newest first, filtered, after a cursor. Only the filters given are in the statement,
    /// so each can use its index: `(state, created_at, id)`, `(kind, created_at, id)`,
    /// `external_id`, and for the prefix search the indexes on `lower(org)` and
    /// `lower(external_id)`. A prefix that few drops have (fewer than [`PREFIX_SPARSE`]) is
    /// found through those indexes and its matches sorted; one that many have is found by
    /// walking the drops newest first (matches are dense there, so a page fills quickly).
    /// Either way a page costs a bounded amount of work, on any page.
    pub async fn list_drops(
        &self,
        filter: &DropFilter,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<DropRecord>> {
        let prefix = match filter.prefix.as_deref() {
            Some(p) => {
                let (lo, hi) = prefix_range(self.backend, p);
                let sparse = self.prefix_count(&lo, &hi).await? < PREFIX_SPARSE;
                Some((lo, hi, sparse))
            }
            None => None,
        };
        let (sql, binds) = drops_query(self.backend, filter, prefix.as_ref(), after, limit);
        let mut query = sqlx::query(&sql);
        for b in binds {
            query = match b {
                Bind::Text(t) => query.bind(t),
                Bind::Int(n) => query.bind(n),
            };
        }
        let rows = query.fetch_all(self.reader()?).await?;
        rows.iter().map(drop_from_row).collect()
    }

    /// How many drops (up to [`PREFIX_SPARSE`]) an org or external_id prefix range holds,
    /// read from the two indexes alone (ordered by the indexed expression, so no planner
    /// prefers a table scan; on PostgreSQL an index-only scan, the indexes holding the column).
    async fn prefix_count(&self, lo: &str, hi: &str) -> Result<i64> {
        let (org, ext) = prefix_columns(self.backend, true);
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM drops WHERE {org} >= $1 AND {org} < $2 \
             ORDER BY {org} LIMIT $3) a) \
             + (SELECT COUNT(*) FROM (SELECT 1 FROM drops WHERE {ext} >= $1 AND {ext} < $2 \
             ORDER BY {ext} LIMIT $3) b) AS n"
        );
        let row = sqlx::query(&sql)
            .bind(lo)
            .bind(hi)
            .bind(PREFIX_SPARSE)
            .fetch_one(self.reader()?)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Move an open, unexpired drop to `to` (revoked by staff). `Ok(drop)`
    /// when it moved; `Err(current)` when it was no longer open.
    pub async fn close_drop(
        &self,
        id: &str,
        to: DropState,
        audit: &AuditEntry,
    ) -> Result<Option<std::result::Result<DropRecord, DropRecord>>> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let sql = format!(
            "UPDATE drops SET state = $1, updated_at = $2 WHERE id = $3 AND state = 'open' AND expires_at > $2 \
             RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(now)
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
        match row {
            Some(row) => {
                let d = drop_from_row(&row)?;
                tx.record(audit).await?;
                tx.commit().await?;
                Ok(Some(Ok(d)))
            }
            None => {
                tx.rollback().await?;
                Ok(self.drop_by_id(id).await?.map(Err))
            }
        }
    }

    /// Take one of an open drop's attempts before its submission is checked,
    /// so no more than `max_attempts` checks ever run for one link, however
    /// many arrive at once. The check counts as in flight for `hold_ms`
    /// (longer than a check can take); if this process dies before it ends,
    /// it simply stops counting then. `None`: the drop is closed or its
    /// attempts are all taken.
    pub async fn reserve_attempt(
        &self,
        drop: &DropRecord,
        hold_ms: i64,
        audit: &AuditEntry,
    ) -> Result<Option<DropRecord>> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        // Through the link it was posted to: a link replaced meanwhile (send again, a
        // reminder) takes nothing.
        let sql = format!(
            "UPDATE drops SET attempts = attempts + 1, checking = {} + 1, checking_until = $3, updated_at = $1 \
             WHERE id = $2 AND token_hash = $4 AND state = 'open' AND expires_at > $1 \
             AND attempts < max_attempts RETURNING {COLUMNS}",
            live_checks("$1")
        );
        let Some(row) = sqlx::query(&sql)
            .bind(now)
            .bind(&drop.id)
            .bind(now.saturating_add(hold_ms))
            .bind(&drop.link_hash)
            .fetch_optional(tx.conn())
            .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        let d = drop_from_row(&row)?;
        tx.record(audit).await?;
        tx.commit().await?;
        Ok(Some(d))
    }

    /// Record that a reserved attempt failed, locking the drop when every
    /// attempt is used and no other is still being checked (that one may yet
    /// be accepted). `None` when the drop no longer accepts input.
    pub async fn record_failed_attempt(
        &self,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<Option<DropRecord>> {
        self.end_check(id, false, audit).await
    }

    /// Give back a reserved attempt whose check keydrop itself could not
    /// finish (a fault of ours must not cost the customer an attempt).
    pub async fn return_attempt(&self, id: &str, audit: &AuditEntry) -> Result<Option<DropRecord>> {
        self.end_check(id, true, audit).await
    }

    async fn end_check(
        &self,
        id: &str,
        give_back: bool,
        audit: &AuditEntry,
    ) -> Result<Option<DropRecord>> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let live = live_checks("$1");
        let attempts = if give_back {
            "CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
        } else {
            "attempts"
        };
        let sql = format!(
            "UPDATE drops SET updated_at = $1, attempts = {attempts}, \
             checking = CASE WHEN {live} > 0 THEN {live} - 1 ELSE 0 END, \
             state = CASE WHEN {attempts} >= max_attempts AND {live} <= 1 THEN 'locked' ELSE state END \
             WHERE id = $2 AND state = 'open' RETURNING {COLUMNS}"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(now)
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        let d = drop_from_row(&row)?;
        tx.record(audit).await?;
        if d.state == DropState::Locked {
            tx.record(&Origin::system().entry(Event::DropLocked {
                drop: id.to_owned(),
                attempts: d.attempts,
            }))
            .await?;
        }
        tx.commit().await?;
        Ok(Some(d))
    }

    /// Lock open drops whose attempts are all used and none of whose checks
    /// is still in flight (at most `limit`, or just `only`), one audit event
    /// each: the time-based end of checks whose process died. Returns ids.
    pub async fn lock_exhausted(&self, only: Option<&str>, limit: i64) -> Result<Vec<String>> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let live = live_checks("$1");
        let sql = format!(
            "SELECT id FROM drops WHERE state = 'open' AND attempts >= max_attempts AND {live} = 0 \
             AND (CAST($2 AS TEXT) IS NULL OR id = $2) ORDER BY id LIMIT $3{}",
            self.backend.for_update()
        );
        let ids: Vec<String> = sqlx::query_scalar(&sql)
            .bind(now)
            .bind(only)
            .bind(limit)
            .fetch_all(tx.conn())
            .await?;
        let mut locked = Vec::with_capacity(ids.len());
        for id in ids {
            let sql = format!(
                "UPDATE drops SET state = 'locked', checking = 0, updated_at = $1 \
                 WHERE id = $2 AND state = 'open' AND attempts >= max_attempts AND {live} = 0 \
                 RETURNING attempts"
            );
            let attempts: Option<i64> = sqlx::query_scalar(&sql)
                .bind(now)
                .bind(&id)
                .fetch_optional(tx.conn())
                .await?;
            if let Some(attempts) = attempts {
                tx.record(&Origin::system().entry(Event::DropLocked {
                    drop: id.clone(),
                    attempts,
                }))
                .await?;
                locked.push(id);
            }
        }
        tx.commit().await?;
        Ok(locked)
    }

    /// Whether [`Self::lock_exhausted`] would lock this drop now (open, every
    /// attempt used, no check in flight), without locking it: for a `HEAD`
    /// of its link, which answers as a `GET` and changes nothing.
    pub async fn would_lock(&self, id: &str) -> Result<bool> {
        let live = live_checks("$1");
        let sql = format!(
            "SELECT COUNT(*) FROM drops \
             WHERE id = $2 AND state = 'open' AND attempts >= max_attempts AND {live} = 0"
        );
        let n: i64 = sqlx::query_scalar(&sql)
            .bind(self.now_ms())
            .bind(id)
            .fetch_one(self.reader()?)
            .await?;
        Ok(n > 0)
    }

    /// Mark open drops past their expiry as `expired` (at most `limit`, or
    /// just `only` when given), one audit event each. Returns their ids.
    pub async fn expire_drops(&self, only: Option<&str>, limit: i64) -> Result<Vec<String>> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let sql = format!(
            "SELECT id FROM drops WHERE state = 'open' AND expires_at <= $1 AND (CAST($2 AS TEXT) IS NULL OR id = $2) \
             ORDER BY expires_at LIMIT $3{}",
            self.backend.for_update()
        );
        let ids: Vec<String> = sqlx::query_scalar(&sql)
            .bind(now)
            .bind(only)
            .bind(limit)
            .fetch_all(tx.conn())
            .await?;
        for id in &ids {
            sqlx::query("UPDATE drops SET state = 'expired', updated_at = $1 WHERE id = $2 AND state = 'open'")
                .bind(now)
                .bind(id)
                .execute(tx.conn())
                .await?;
            tx.record(&Origin::system().entry(Event::DropExpired { drop: id.clone() }))
                .await?;
        }
        tx.commit().await?;
        Ok(ids)
    }
}

pub(crate) fn drop_from_row(row: &AnyRow) -> Result<DropRecord> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("drop {what}"));
    let kind: String = row.try_get("kind")?;
    let profile: String = row.try_get("profile")?;
    let state: String = row.try_get("state")?;
    let contact_name: Option<String> = row.try_get("contact_name")?;
    let contact_email: Option<String> = row.try_get("contact_email")?;
    let metadata: Option<String> = row.try_get("metadata")?;
    let release: String = row.try_get("release")?;
    Ok(DropRecord {
        id: row.try_get("id")?,
        org: row.try_get("org")?,
        note: row.try_get("note")?,
        kind: kind.parse().map_err(|_| corrupt("kind"))?,
        profile: serde_json::from_str(&profile).map_err(|_| corrupt("profile"))?,
        release: Release::parse(&release).ok_or_else(|| corrupt("release"))?,
        contact: match (contact_name, contact_email) {
            (Some(name), Some(email)) => Some(Contact { name, email }),
            (None, None) => None,
            _ => return Err(corrupt("contact")),
        },
        external_id: row.try_get("external_id")?,
        metadata: metadata
            .map(|m| serde_json::from_str::<Metadata>(&m))
            .transpose()
            .map_err(|_| corrupt("metadata"))?,
        state: DropState::parse(&state).ok_or_else(|| corrupt("state"))?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        credential_id: row.try_get("credential_id")?,
        replaces: row.try_get("replaces")?,
        send_to: row.try_get("send_to")?,
        link_sent_at: row.try_get("link_sent_at")?,
        link_hash: row.try_get("token_hash")?,
    })
}
