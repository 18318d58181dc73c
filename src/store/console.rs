//! The staff console's sessions and single-use sign-in links (SPEC §13, §8.12): each row
//! holds only a hash of its 256-bit secret; every transition is one conditional statement,
//! audited in the same transaction.

use super::{Result, Store};
use crate::domain::audit::AuditEntry;
use crate::domain::role::Role;
use sqlx::Row;

/// A signed-in person, as a live session names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub email: String,
    pub role: Role,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// A new session: its id's hash, who, until when at most.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: String,
    pub email: String,
    pub role: Role,
    pub expires_at: i64,
    pub ip: Option<String>,
}

/// What the dashboard's "needs attention" list shows (at most [`ATTENTION`] of each).
#[derive(Debug, Clone, Default)]
pub struct Attention {
    /// Credentials not (or no longer) verified: drop id, org, status.
    pub credentials: Vec<(String, String, String)>,
    /// Links that expired or locked in the last 30 days with nothing received: drop id, org,
    /// state (`expired` also for an open drop past its expiry).
    pub links: Vec<(String, String, String)>,
    /// Webhook endpoints that are disabled or whose deliveries fail: id, url, enabled,
    /// deliveries failed or being retried.
    pub webhooks: Vec<(String, String, bool, i64)>,
    /// Credentials a health check found broken in the last 30 days and nothing replaced yet
    /// (SPEC §15: relink them): drop id, org, status.
    pub broken: Vec<(String, String, String)>,
    /// Link e-mails given up in the last 30 days: drop id, org, recipient.
    pub undelivered: Vec<(String, String, String)>,
}

/// Rows of each sort the dashboard lists.
pub const ATTENTION: i64 = 20;

fn role_of(text: &str) -> Result<Role> {
    text.parse()
        .map_err(|_| super::StoreError::Corrupt(format!("unknown console role {text:?}")))
}

impl Store {
    /// Store a sign-in link for `email` as `role` until `expires_at`; audited.
    pub async fn insert_console_link(
        &self,
        token_hash: &str,
        email: &str,
        role: Role,
        expires_at: i64,
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        sqlx::query(
            "INSERT INTO console_links (token_hash, email, role, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(email)
        .bind(role.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(tx.conn())
        .await?;
        tx.record(audit).await?;
        tx.commit().await
    }

    /// Whether a sign-in link is there to be used (unused, not expired): who it signs in.
    pub async fn console_link(&self, token_hash: &str) -> Result<Option<(String, Role)>> {
        let now = self.now_ms();
        let row = sqlx::query(
            "SELECT email, role FROM console_links \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.reader()?)
        .await?;
        row.map(|r| {
            Ok((
                r.try_get("email")?,
                role_of(&r.try_get::<String, _>("role")?)?,
            ))
        })
        .transpose()
    }

    /// Use a sign-in link and start the session it grants, in one transaction: the link is
    /// taken by one conditional update (so it signs in once, however many posts race), the
    /// session stored, `audit(email, role)` written. `None` when the link is unknown, used or
    /// expired.
    pub async fn sign_in_with_link(
        &self,
        token_hash: &str,
        session: impl FnOnce(&str, Role) -> NewSession,
        audit: impl FnOnce(&str, Role) -> AuditEntry,
    ) -> Result<Option<NewSession>> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let row = sqlx::query(
            "UPDATE console_links SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING email, role",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(tx.conn())
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let email: String = row.try_get("email")?;
        let role = role_of(&row.try_get::<String, _>("role")?)?;
        let new = session(&email, role);
        insert_session(&mut tx, &new, now).await?;
        tx.record(&audit(&email, role)).await?;
        tx.commit().await?;
        Ok(Some(new))
    }

    /// The live session with id hash `id_hash` — not revoked, not past its absolute end, and
    /// seen within `idle_ms` — marked as seen now. `None` otherwise. Reading is a read; the
    /// mark is written only when the last one is older than a small part of `idle_ms` (at
    /// most 30 s), so a busy person's page views are not each a database write.
    pub async fn console_session(&self, id_hash: &str, idle_ms: i64) -> Result<Option<SessionRow>> {
        let now = self.now_ms();
        let row = sqlx::query(
            "SELECT email, role, created_at, last_seen_at, expires_at FROM console_sessions \
             WHERE id_hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND last_seen_at > $3",
        )
        .bind(id_hash)
        .bind(now)
        .bind(now.saturating_sub(idle_ms))
        .fetch_optional(self.reader()?)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut session = SessionRow {
            email: row.try_get("email")?,
            role: role_of(&row.try_get::<String, _>("role")?)?,
            created_at: row.try_get("created_at")?,
            last_seen_at: row.try_get("last_seen_at")?,
            expires_at: row.try_get("expires_at")?,
        };
        let touch_every = (idle_ms / 4).min(30_000);
        if now.saturating_sub(session.last_seen_at) >= touch_every {
            // A touch is not a state change worth an audit event; it is a write all the same.
            // Conditional, so a revocation committed meanwhile is not undone and wins.
            let mut tx = self.begin().await?;
            let touched = sqlx::query(
                "UPDATE console_sessions SET last_seen_at = $1 \
                 WHERE id_hash = $2 AND revoked_at IS NULL AND last_seen_at < $1",
            )
            .bind(now)
            .bind(id_hash)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            if touched.rows_affected() == 1 {
                session.last_seen_at = now;
            }
        }
        Ok(Some(session))
    }

    /// What needs a person's attention (SPEC §13's dashboard): each list newest first.
    pub async fn attention(&self) -> Result<Attention> {
        let now = self.now_ms();
        let db = self.reader()?;
        let credentials = sqlx::query(
            "SELECT drop_id, org, status FROM credentials \
             WHERE status IN ('pending', 'insufficient', 'invalid', 'disconnected') \
             AND delivery <> 'destroyed' ORDER BY created_at DESC LIMIT $1",
        )
        .bind(ATTENTION)
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("drop_id")?,
                r.try_get("org")?,
                r.try_get("status")?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
        let links = sqlx::query(
            "SELECT id, org, state FROM drops WHERE credential_id IS NULL \
             AND (state IN ('expired', 'locked') OR (state = 'open' AND expires_at <= $1)) \
             AND expires_at > $2 ORDER BY expires_at DESC LIMIT $3",
        )
        .bind(now)
        .bind(now.saturating_sub(30 * 86_400_000))
        .bind(ATTENTION)
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| {
            let state: String = r.try_get("state")?;
            let state = if state == "open" {
                "expired".to_owned()
            } else {
                state
            };
            Ok((r.try_get("id")?, r.try_get("org")?, state))
        })
        .collect::<Result<Vec<_>>>()?;
        let webhooks = sqlx::query(
            "SELECT e.id, e.url, e.enabled, \
             (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id \
              AND (d.status = 'failed' OR (d.status = 'pending' AND d.attempts > 0)) \
              AND d.updated_at > $1) AS failing \
             FROM webhook_endpoints e ORDER BY e.created_at",
        )
        .bind(now.saturating_sub(86_400_000))
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| {
            let enabled: i64 = r.try_get("enabled")?;
            Ok((
                r.try_get("id")?,
                r.try_get("url")?,
                enabled != 0,
                r.try_get("failing")?,
            ))
        })
        .collect::<Result<Vec<(String, String, bool, i64)>>>()?
        .into_iter()
        .filter(|w| !w.2 || w.3 > 0)
        .collect();
        let month_ago = now.saturating_sub(30 * 86_400_000);
        let triples = |rows: Vec<sqlx::any::AnyRow>, cols: [&str; 3]| {
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get(cols[0])?,
                        r.try_get(cols[1])?,
                        r.try_get(cols[2])?,
                    ))
                })
                .collect::<Result<Vec<(String, String, String)>>>()
        };
        let broken = triples(
            sqlx::query(
                "SELECT drop_id, org, status FROM credentials \
                 WHERE status IN ('insufficient', 'invalid') AND delivery = 'destroyed' \
                 AND last_checked_at IS NOT NULL AND superseded_by IS NULL \
                 AND destroyed_at > $1 ORDER BY destroyed_at DESC LIMIT $2",
            )
            .bind(month_ago)
            .bind(ATTENTION)
            .fetch_all(db)
            .await?,
            ["drop_id", "org", "status"],
        )?;
        let undelivered = triples(
            sqlx::query(
                "SELECT m.drop_id, d.org, m.recipient FROM mail_outbox m \
                 JOIN drops d ON d.id = m.drop_id \
                 WHERE m.state = 'failed' AND m.created_at > $1 \
                 ORDER BY m.created_at DESC LIMIT $2",
            )
            .bind(month_ago)
            .bind(ATTENTION)
            .fetch_all(db)
            .await?,
            ["drop_id", "org", "recipient"],
        )?;
        Ok(Attention {
            credentials,
            links,
            webhooks,
            broken,
            undelivered,
        })
    }

    /// Start session `new` for a person the identity provider vouched for; audited.
    pub async fn start_console_session(&self, new: &NewSession, audit: &AuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        insert_session(&mut tx, new, now).await?;
        tx.record(audit).await?;
        tx.commit().await
    }

    /// Record an audit event that changes nothing else (a refused sign-in).
    pub async fn record_only(&self, audit: &AuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        tx.record(audit).await?;
        tx.commit().await
    }

    /// Remember an OpenID Connect sign-in under way until `expires_at`: its `state`'s hash,
    /// the hash of the browser's secret, the console page to land on. Sign-ins abandoned
    /// more than an hour ago are swept in the same statement's transaction.
    pub async fn insert_oidc_state(
        &self,
        state_hash: &str,
        browser_hash: &str,
        next_path: &str,
        expires_at: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let now = self.now_ms();
        sqlx::query("DELETE FROM console_oidc_states WHERE expires_at < $1")
            .bind(now.saturating_sub(3_600_000))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO console_oidc_states \
             (state_hash, browser_hash, next_path, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(state_hash)
        .bind(browser_hash)
        .bind(next_path)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Take a sign-in under way by its `state`'s hash, once: the browser hash and the page
    /// to land on. `None` when unknown, used or expired — however many callbacks race.
    pub async fn take_oidc_state(&self, state_hash: &str) -> Result<Option<(String, String)>> {
        let now = self.now_ms();
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "UPDATE console_oidc_states SET used_at = $1 \
             WHERE state_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING browser_hash, next_path",
        )
        .bind(now)
        .bind(state_hash)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.map(|r| Ok((r.try_get("browser_hash")?, r.try_get("next_path")?)))
            .transpose()
    }

    /// The live sessions (not revoked, not past their end, seen within `idle_ms`), most
    /// recently seen first, with their id hashes (for revoking; never the ids).
    pub async fn live_console_sessions(
        &self,
        idle_ms: i64,
    ) -> Result<Vec<(String, SessionRow, Option<String>)>> {
        let now = self.now_ms();
        let rows = sqlx::query(
            "SELECT id_hash, email, role, created_at, last_seen_at, expires_at, ip \
             FROM console_sessions \
             WHERE revoked_at IS NULL AND expires_at > $1 AND last_seen_at > $2 \
             ORDER BY last_seen_at DESC LIMIT 500",
        )
        .bind(now)
        .bind(now.saturating_sub(idle_ms))
        .fetch_all(self.reader()?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id_hash")?,
                    SessionRow {
                        email: r.try_get("email")?,
                        role: role_of(&r.try_get::<String, _>("role")?)?,
                        created_at: r.try_get("created_at")?,
                        last_seen_at: r.try_get("last_seen_at")?,
                        expires_at: r.try_get("expires_at")?,
                    },
                    r.try_get("ip")?,
                ))
            })
            .collect()
    }

    /// Who session `id_hash` belongs to, if it is live.
    pub async fn console_session_owner(&self, id_hash: &str) -> Result<Option<String>> {
        let now = self.now_ms();
        let row = sqlx::query(
            "SELECT email FROM console_sessions \
             WHERE id_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(self.reader()?)
        .await?;
        row.map(|r| r.try_get("email"))
            .transpose()
            .map_err(Into::into)
    }

    /// End session `id_hash` (sign-out, or revoked by an admin); audited. `false` when it
    /// was not live.
    pub async fn end_console_session(&self, id_hash: &str, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let ended = sqlx::query(
            "UPDATE console_sessions SET revoked_at = $1 \
             WHERE id_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id_hash)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        tx.commit_if(ended, audit).await
    }
}

async fn insert_session(
    tx: &mut super::audit::AuditedTx,
    new: &NewSession,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO console_sessions \
         (id_hash, email, role, created_at, last_seen_at, expires_at, ip) \
         VALUES ($1, $2, $3, $4, $4, $5, $6)",
    )
    .bind(&new.id_hash)
    .bind(&new.email)
    .bind(new.role.as_str())
    .bind(now)
    .bind(new.expires_at)
    .bind(&new.ip)
    .execute(tx.conn())
    .await?;
    Ok(())
}
