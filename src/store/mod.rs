//! Storage: one `Store` type over SQLite and PostgreSQL (no trait: the two
//! backends share every statement, so there is one implementation).
//!
//! Both backends run the same SQL through sqlx's `Any` driver, so the
//! conformance suite (`tests/api/store.rs`) proves one implementation twice
//! rather than two implementations once. The differences that matter live
//! in [`Backend`]: how to connect, how a write transaction starts (SQLite
//! `BEGIN IMMEDIATE` on a single writer connection; PostgreSQL `BEGIN` with
//! row locks), and the migration folder. Times are stored as Unix
//! milliseconds and ids as text, so no type differs between the two.
//!
//! *Over 400 lines:* the `Store` type, its pools, backend dialect and error mapping, which every statement file uses; its unit tests are inline.

mod audit;
mod console;
mod credentials;
mod delivery;
mod drops;
pub mod instance;
mod keys;
mod lifecycle;
mod mail;
mod oauth;
mod secrets;
mod tokens;
pub mod webhooks;

pub use audit::{audit_query, AuditedTx};
pub use console::{Attention, NewSession, SessionRow};
pub use delivery::{Sealed, SecretRead, Want};
pub use drops::{DropFilter, NewDrop};
pub use lifecycle::{next_slot as next_health_slot, Need, Renewing, TokenLease};
pub use lifecycle::{AckResult, CheckBy, Lease, NewCredential, OpenFailure};
pub use mail::{ClaimedMail, MailRow, NewMail, Purpose, Rotated, SealedMail};
pub use tokens::TokenRecord;

use crate::clock::SharedClock;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Config(String),
    /// The change would break a uniqueness rule (e.g. two live drops with
    /// one `external_id`); the message says which, without the value.
    #[error("{0}")]
    Conflict(String),
    /// The connectivity probe finds the database unreachable: callers are
    /// answered at once instead of each waiting out a connection timeout.
    #[error("the database is unreachable")]
    Unavailable,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long a request waits for a database connection (a busy pool, or a
/// database that stopped answering) before it is told 503. Once the
/// connectivity probe ([`Store::probe`], every [`PROBE_EVERY`]) has seen the
/// database unreachable, requests fail at once instead.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often, and how patiently, the connectivity probe asks the database.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Whether an error (anywhere in its source chain) means the database
/// cannot be reached or is not serving right now, rather than a fault in
/// keydrop: callers answer 503 with `Retry-After` instead of 500.
pub fn is_unavailable(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(e) = e.downcast_ref::<sqlx::Error>() {
            return sqlx_unavailable(e);
        }
        if let Some(StoreError::Unavailable) = e.downcast_ref::<StoreError>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// Whether an error (anywhere in its source chain) is the database refusing
/// text it cannot store: PostgreSQL's SQLSTATE 22021 (character not in
/// repertoire: a NUL, or bytes that are not UTF-8) or 22P05 (untranslatable
/// character, e.g. `\u0000` in JSON). That is bad input, not a fault of
/// keydrop's: callers answer 422. The API refuses such text before it reaches
/// the store ([`crate::web::api::query_text`]); this is the backstop for any
/// path that does not. SQLite stores such text as it is.
pub fn is_unstorable_text(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(sqlx::Error::Database(db)) = e.downcast_ref::<sqlx::Error>() {
            return matches!(db.code().as_deref(), Some("22021" | "22P05"));
        }
        next = e.source();
    }
    false
}

fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: connection exceptions (08…), shutdown or restart
            // (57P01–57P03), too many connections (53300), read-only
            // standby (25006). SQLite: busy / locked beyond busy_timeout.
            code.starts_with("08")
                || code.starts_with("57P")
                || code == "53300"
                || code == "25006"
                || code == "5"
                || code == "6"
                || code == "517"
        }
        _ => false,
    }
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Config(
                "the database URL must start with sqlite:// or postgres://".into(),
            ))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// Row-lock suffix for a `SELECT` inside a write transaction. SQLite has
    /// none and needs none: its write transactions are exclusive.
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE",
        }
    }

    /// The database's current time in Unix milliseconds, as SQL.
    pub(crate) fn now_ms_sql(self) -> &'static str {
        match self {
            Self::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Self::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// Index hint after a table name: SQLite `INDEXED BY <index>`, nothing
    /// on PostgreSQL. keydrop never runs `ANALYZE`, and without statistics
    /// SQLite's planner prefers an equality lookup plus a sort of every
    /// matching row (or a primary-key scan for `ORDER BY id`) over a scan
    /// of an index already in the right order; at a million rows that is a
    /// full-table read per request. The hint also fails loudly should the
    /// index ever stop fitting the query. PostgreSQL plans with statistics.
    pub(crate) fn indexed_by(self, index: &str) -> String {
        match self {
            Self::Sqlite => format!(" INDEXED BY {index}"),
            Self::Postgres => String::new(),
        }
    }

    fn migrator(self) -> sqlx::migrate::Migrator {
        match self {
            Self::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Self::Postgres => sqlx::migrate!("migrations/postgres"),
        }
    }
}

/// The database, as the rest of keydrop sees it.
#[derive(Clone, Debug)]
pub struct Store {
    /// Writes (and reads inside write transactions).
    write: AnyPool,
    /// Plain reads; on PostgreSQL the same pool as `write`.
    read: AnyPool,
    backend: Backend,
    clock: SharedClock,
    /// The database's clock minus this process's (ms), as last seen by a
    /// transaction; used for the times this process compares on its own.
    db_offset_ms: Arc<AtomicI64>,
    /// Set by the connectivity probe while the database does not answer.
    down: Arc<AtomicBool>,
    /// The probe's own connection, outside the pools, so that a pool busy
    /// with work is never mistaken for a database that does not answer.
    /// Dropped (and opened again) after any failure, never reused hung.
    probe: Arc<tokio::sync::Mutex<Option<sqlx::AnyConnection>>>,
    probe_options: AnyConnectOptions,
    /// Wakes this process's webhook dispatcher after a commit that queued
    /// deliveries (other processes find them by polling).
    pub(crate) outbox: Arc<tokio::sync::Notify>,
    /// The audit chain's key, once the keyring is open ([`Store::use_audit_key`]): every
    /// event and the head are MACed with it.
    audit_key: Arc<std::sync::RwLock<Option<crate::crypto::audit::AuditKey>>>,
}

static DRIVERS: Once = Once::new();

impl Store {
    /// Open the database, creating an SQLite file (and its directory) if
    /// needed, and apply pending migrations.
    pub async fn open(url: &str, clock: SharedClock) -> Result<Self> {
        let store = Self::connect(url, clock).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Open without migrating.
    pub async fn connect(url: &str, clock: SharedClock) -> Result<Self> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = Backend::from_url(url)?;
        let (write, read, probe_options) = match backend {
            Backend::Sqlite => {
                let url = sqlite_url(url)?;
                let opts = AnyConnectOptions::from_str(&url)?;
                let write = sqlite_pool(1).connect_with(opts.clone()).await?;
                let read = sqlite_pool(8).connect_with(opts.clone()).await?;
                (write, read, opts)
            }
            Backend::Postgres => {
                let opts = AnyConnectOptions::from_str(url)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .min_connections(1)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(opts.clone())
                    .await?;
                (pool.clone(), pool, opts)
            }
        };
        let store = Self {
            write,
            read,
            backend,
            clock,
            db_offset_ms: Arc::new(AtomicI64::new(0)),
            down: Arc::new(AtomicBool::new(false)),
            probe: Arc::new(tokio::sync::Mutex::new(None)),
            probe_options,
            outbox: Arc::new(tokio::sync::Notify::new()),
            audit_key: Arc::default(),
        };
        if store.clock.is_system() {
            let sql = format!("SELECT {}", backend.now_ms_sql());
            let db_now: i64 = sqlx::query_scalar(&sql).fetch_one(&store.read).await?;
            store.observe_db_now(db_now);
        }
        Ok(store)
    }

    /// Apply pending migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize> {
        let migrator = self.backend.migrator();
        let before = self.applied_migrations().await.unwrap_or(0);
        migrator.run(&self.write).await?;
        let after = self.applied_migrations().await?;
        Ok(after.saturating_sub(before))
    }

    async fn applied_migrations(&self) -> Result<usize> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.read)
            .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// "Now" in Unix ms as this store judges it: the database's clock
    /// (this process's clock corrected by the offset last measured) on a
    /// system clock, the test clock otherwise. Transactions use the exact
    /// database time instead ([`AuditedTx::now_ms`]).
    pub fn now_ms(&self) -> i64 {
        let local = crate::clock::to_millis(self.clock.now());
        if self.clock.is_system() {
            local.saturating_add(self.db_offset_ms.load(Ordering::Relaxed))
        } else {
            local
        }
    }

    /// Take the database's time as seen in a statement: remember how far
    /// it is from ours, and return the "now" to use.
    pub(crate) fn observe_db_now(&self, db_now: i64) -> i64 {
        if !self.clock.is_system() {
            return crate::clock::to_millis(self.clock.now());
        }
        let local = crate::clock::to_millis(self.clock.now());
        self.db_offset_ms
            .store(db_now.saturating_sub(local), Ordering::Relaxed);
        db_now
    }

    /// Whether the database answers within [`PROBE_EVERY`]; for `/readyz`.
    /// Asks (and records the answer, as the probe does) unless the probe is
    /// asking right now; then its last answer stands. `/readyz` callers never
    /// queue behind one another or delay the probe.
    pub async fn ping(&self) -> bool {
        match self.probe.try_lock() {
            Ok(mut conn) => self.ask(&mut conn).await,
            Err(_) => !self.is_down(),
        }
    }

    /// The connectivity probe: ask the database, bounded by [`PROBE_EVERY`],
    /// and record the answer. While it is down, every store call fails at
    /// once with [`StoreError::Unavailable`] (503 upstream).
    ///
    /// It asks on a connection of its own: a pool whose connections are all
    /// busy (a burst of requests) is load, not an outage, and must not turn
    /// every request into a 503.
    pub async fn probe(&self) -> bool {
        let mut conn = self.probe.lock().await;
        self.ask(&mut conn).await
    }

    async fn ask(&self, conn: &mut Option<sqlx::AnyConnection>) -> bool {
        use sqlx::ConnectOptions as _;
        let asked = tokio::time::timeout(PROBE_EVERY, async {
            let c = match conn {
                Some(c) => c,
                None => conn.insert(self.probe_options.connect().await?),
            };
            sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(c).await
        })
        .await;
        let up = matches!(asked, Ok(Ok(1)));
        if !up {
            // Failed or hung: never asked again on this connection.
            *conn = None;
        }
        let was_down = self.down.swap(!up, Ordering::SeqCst);
        if was_down == up {
            if up {
                tracing::warn!("the database answers again");
            } else {
                tracing::error!("the database does not answer; answering 503 until it does");
            }
        }
        up
    }

    /// MAC every audit event and the chain's head with `key` from now on (this store and
    /// its clones). A process that writes state changes sets it once its keyring is open.
    pub fn use_audit_key(&self, key: crate::crypto::audit::AuditKey) {
        if let Ok(mut k) = self.audit_key.write() {
            *k = Some(key);
        }
    }

    pub(crate) fn audit_key(&self) -> Option<crate::crypto::audit::AuditKey> {
        self.audit_key.read().ok().and_then(|k| k.clone())
    }

    /// Whether the probe last found the database unreachable.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    fn check_up(&self) -> Result<()> {
        if self.is_down() {
            Err(StoreError::Unavailable)
        } else {
            Ok(())
        }
    }

    /// Start a write transaction.
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>> {
        self.check_up()?;
        Ok(match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.write.begin().await?,
        })
    }

    /// The pool for plain reads; fails at once while the database is down.
    pub(crate) fn reader(&self) -> Result<&AnyPool> {
        self.check_up()?;
        Ok(&self.read)
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

fn sqlite_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL for concurrent readers; FULL so every commit is on disk.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
}

/// Make sure an SQLite file can be created: its directory exists, and the
/// URL asks for read-write-create.
fn sqlite_url(url: &str) -> Result<String> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (file, query) = path.split_once('?').unwrap_or((path, ""));
    if file.is_empty() || file == ":memory:" {
        return Err(StoreError::Config(
            "an in-memory SQLite database would lose every credential; give a file path".into(),
        ));
    }
    if let Some(dir) = Path::new(file)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        create_private_dir(dir)
            .map_err(|e| StoreError::Config(format!("{}: {e}", dir.display())))?;
    }
    create_private_file(Path::new(file)).map_err(|e| StoreError::Config(format!("{file}: {e}")))?;
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{file}?{query}"))
}

/// Create a directory readable only by its owner.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Create an empty file readable only by its owner, if there is none yet;
/// SQLite gives its -wal and -shm files the same mode.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Where a newest-first listing continues: the last row seen. Shown to
/// clients as the opaque `<created_at ms>.<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id)
    }

    /// Exactly what [`Self::encode`] writes ([`Self::PATTERN`]): 1 to 18
    /// digits, a dot, a lowercase hyphenated UUID.
    pub fn decode(text: &str) -> Option<Self> {
        let (ms, id) = text.split_once('.')?;
        let digits = (1..=18).contains(&ms.len()) && ms.bytes().all(|b| b.is_ascii_digit());
        let canonical = id.len() == 36 && uuid::Uuid::parse_str(id).ok()?.to_string() == id;
        (digits && canonical).then(|| Self {
            created_at: ms.parse().unwrap_or_default(),
            id: id.to_owned(),
        })
    }

    /// [`Self::decode`] as the OpenAPI document states it.
    pub const PATTERN: &'static str =
        "^[0-9]{1,18}\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
}

/// Parse a stored UUID.
pub(crate) fn uuid(text: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(text).map_err(|_| StoreError::Corrupt(format!("bad uuid {text:?}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// Every read connection busy (a burst of requests) is load, not an
    /// outage: the probe still finds the database, and requests are not
    /// answered 503.
    #[tokio::test]
    async fn a_busy_pool_is_not_an_outage() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("k.db").display());
        let store = Store::open(&url, Arc::new(crate::clock::SystemClock))
            .await
            .unwrap();
        let mut held = Vec::new();
        for _ in 0..store.read.options().get_max_connections() {
            held.push(store.read.acquire().await.unwrap());
        }
        assert!(store.probe().await, "the probe waited for the busy pool");
        assert!(!store.is_down());
        assert!(store.ping().await);
        drop(held);
        assert!(store.reader().is_ok());
    }
}
