//! API token rows. Only argon2id hashes are stored.

use super::{uuid, AuditedTx, Result, Store, StoreError};
use crate::domain::audit::AuditEntry;
use crate::domain::role::Role;
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

/// A token as stored: never the token itself.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// argon2id PHC string.
    pub hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, name, role, hash, created_at, revoked_at";

impl Store {
    /// Store a new token and its audit event.
    pub async fn insert_token(&self, token: &TokenRecord, audit: &AuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        insert(&mut tx, token).await?;
        tx.record(audit).await?;
        tx.commit().await
    }

    /// Store `token` only if there is no token at all yet (first start).
    /// `deliver` hands the token to the operator inside the transaction:
    /// when it fails, nothing is stored, so the next start tries again and
    /// no admin token exists that nobody holds. On PostgreSQL the table is
    /// locked for the check, so two processes starting on one empty
    /// database create one token between them.
    pub async fn bootstrap_admin<E>(
        &self,
        token: &TokenRecord,
        audit: &AuditEntry,
        deliver: impl FnOnce() -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<bool, E>> {
        let mut tx = self.begin_audited().await?;
        if self.backend == super::Backend::Postgres {
            sqlx::query("LOCK TABLE api_tokens IN SHARE ROW EXCLUSIVE MODE")
                .execute(tx.conn())
                .await?;
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens")
            .fetch_one(tx.conn())
            .await?;
        if n > 0 {
            tx.rollback().await?;
            return Ok(Ok(false));
        }
        insert(&mut tx, token).await?;
        tx.record(audit).await?;
        if let Err(e) = deliver() {
            tx.rollback().await?;
            return Ok(Err(e));
        }
        tx.commit().await?;
        Ok(Ok(true))
    }

    pub async fn token(&self, id: Uuid) -> Result<Option<TokenRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(self.reader()?)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens ORDER BY created_at, id");
        let rows = sqlx::query(&sql).fetch_all(self.reader()?).await?;
        rows.iter().map(from_row).collect()
    }

    /// Revoke a live token. `None` when there is no such token; an already
    /// revoked token is returned unchanged and nothing is recorded.
    pub async fn revoke_token(&self, id: Uuid, audit: &AuditEntry) -> Result<Option<TokenRecord>> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let sql = format!(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(now)
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
        match row {
            Some(row) => {
                let record = from_row(&row)?;
                tx.record(audit).await?;
                tx.commit().await?;
                Ok(Some(record))
            }
            None => {
                tx.rollback().await?;
                self.token(id).await
            }
        }
    }
}

async fn insert(tx: &mut AuditedTx, t: &TokenRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, name, role, hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t.id.to_string())
    .bind(&t.name)
    .bind(t.role.as_str())
    .bind(&t.hash)
    .bind(t.created_at)
    .bind(t.revoked_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

fn from_row(row: &AnyRow) -> Result<TokenRecord> {
    let role: String = row.try_get("role")?;
    Ok(TokenRecord {
        id: uuid(&row.try_get::<String, _>("id")?)?,
        name: row.try_get("name")?,
        role: role
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("unknown role {role:?}")))?,
        hash: row.try_get("hash")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}
