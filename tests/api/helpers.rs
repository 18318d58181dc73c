//! Test support: a fresh database per test on either backend, the real
//! application on port 0, and a capture of every log line the suite emits.
#![allow(dead_code)] // not every helper is used by every feature module

use keydrop::clock::{ManualClock, SharedClock, SystemClock};
use keydrop::config::{DatabaseUrl, ServeSettings, StoreSettings};
use keydrop::startup::Application;
use keydrop::store::Store;
use sqlx::{Connection, Executor};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use time::macros::datetime;

/// The environment variable that turns on the PostgreSQL half of the suite.
pub const PG_ENV: &str = "KEYDROP_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Run a test body once per backend; PostgreSQL is skipped, with the reason
/// printed, when `KEYDROP_TEST_POSTGRES_URL` is unset.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::helpers::postgres_url().is_none() {
                        println!("skipped: set {} to run this test on PostgreSQL", $crate::helpers::PG_ENV);
                        return;
                    }
                    super::$name($crate::helpers::Backend::Postgres).await;
                }
            )*
        }
    };
}

pub fn postgres_url() -> Option<String> {
    std::env::var(PG_ENV).ok().filter(|u| !u.is_empty())
}

/// A fresh, empty database and a data directory.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        init_logs();
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("keydrop.db").display()),
            Backend::Postgres => fresh_postgres_database().await,
        };
        Self { backend, url, dir }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    pub fn store_settings(&self) -> StoreSettings {
        StoreSettings {
            data_dir: self.data_dir(),
            database_url: DatabaseUrl::new(self.url.clone()),
            keyring_file: self.dir.path().join("keyring.json"),
            keyring_file_set: false,
            master_key: None,
        }
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.url, Arc::new(SystemClock)).await.unwrap()
    }

    pub async fn store_with_clock(&self, clock: SharedClock) -> Store {
        Store::open(&self.url, clock).await.unwrap()
    }

    /// A raw connection, bypassing keydrop, to look at or tamper with rows.
    pub async fn raw(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.url).await.unwrap()
    }

    /// Everything the database holds, as bytes: the SQLite files themselves,
    /// or every PostgreSQL row rendered as text (bytea as hex).
    pub async fn raw_dump(&self) -> Vec<u8> {
        match self.backend {
            Backend::Sqlite => {
                let mut all = Vec::new();
                for entry in std::fs::read_dir(self.dir.path()).unwrap() {
                    let path = entry.unwrap().path();
                    if path
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("keydrop.db")
                    {
                        all.extend(std::fs::read(&path).unwrap());
                    }
                }
                all
            }
            Backend::Postgres => {
                let mut conn = self.raw().await;
                let mut all = Vec::new();
                for table in [
                    "drops",
                    "credentials",
                    "api_tokens",
                    "audit_events",
                    "audit_head",
                    "key_checks",
                ] {
                    let rows: Vec<String> =
                        sqlx::query_scalar(&format!("SELECT row_to_json(t)::text FROM {table} t"))
                            .fetch_all(&mut conn)
                            .await
                            .unwrap();
                    for r in rows {
                        all.extend(r.into_bytes());
                        all.push(b'\n');
                    }
                }
                all
            }
        }
    }
}

async fn fresh_postgres_database() -> String {
    let base = postgres_url().unwrap();
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&base).await.unwrap();
    let name = format!("keydrop_test_{}", uuid::Uuid::new_v4().simple());
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (prefix, _) = base.split_once('?').unwrap_or((&base, ""));
    let root = prefix.rsplit_once('/').map_or(prefix, |(r, _)| r);
    format!("{root}/{name}")
}

/// A running keydrop.
pub struct TestApp {
    pub address: String,
    pub admin_token: String,
    pub db: TestDb,
    pub store: Store,
    pub http: reqwest::Client,
}

pub fn serve_settings() -> ServeSettings {
    ServeSettings {
        bind: "127.0.0.1:0".parse().unwrap(),
        public_url: "http://127.0.0.1".into(),
        brand_name: "Acme Analytics".into(),
        greenhouse_auth_url: "http://127.0.0.1:9".into(),
        greenhouse_api_url: "http://127.0.0.1:9".into(),
        greenhouse_timeout: Duration::from_millis(500),
        greenhouse_budget: Duration::from_secs(2),
        retain_after_delivery: Duration::from_secs(7 * 86_400),
        rate_limit: None,
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    let db = TestDb::new(backend).await;
    spawn_app_on(db, Arc::new(SystemClock)).await
}

pub async fn spawn_app_on(db: TestDb, clock: SharedClock) -> TestApp {
    let app = Application::build(&db.store_settings(), serve_settings(), clock.clone())
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let admin_token = app
        .bootstrap_token
        .as_ref()
        .map(|t| t.reveal().to_owned())
        .expect("a fresh database gets a bootstrap admin token");
    remember_secret(&admin_token);
    let store = app.store().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        admin_token,
        db,
        store,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

pub fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-11-23 09:00 UTC)))
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        with_token(self.http.get(self.url(path)), token)
    }

    pub fn post(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        with_token(self.http.post(self.url(path)), token)
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        with_token(self.http.delete(self.url(path)), token)
    }

    /// Create a token through the API; returns `(id, token)`.
    pub async fn create_token(&self, name: &str, role: &str) -> (String, String) {
        let res = self
            .post("/api/v1/tokens", Some(&self.admin_token))
            .json(&serde_json::json!({ "name": name, "role": role }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: serde_json::Value = res.json().await.unwrap();
        let token = body["token"].as_str().unwrap().to_owned();
        remember_secret(&token);
        (body["id"].as_str().unwrap().to_owned(), token)
    }
}

fn with_token(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

// ---- log capture -------------------------------------------------------------

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Capture every log line of the whole suite, at TRACE, in memory.
pub fn init_logs() {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter("trace,sqlx=trace,h2=info,hyper=info,reqwest=info,rustls=info")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    });
}

/// Everything logged so far.
pub fn captured_logs() -> String {
    LOGS.get()
        .map(|b| String::from_utf8_lossy(&b.lock().unwrap()).into_owned())
        .unwrap_or_default()
}

/// Note a secret the suite used, for the final leak scans.
pub fn remember_secret(s: &str) {
    SECRETS.lock().unwrap().push(s.to_owned());
}

pub fn remembered_secrets() -> Vec<String> {
    SECRETS.lock().unwrap().clone()
}

/// Assert that no secret appears in `haystack`.
pub fn assert_no_secret_in(haystack: &[u8], secrets: &[String], what: &str) {
    for s in secrets {
        assert!(
            !haystack.windows(s.len()).any(|w| w == s.as_bytes()),
            "a secret ({}…) was found in {what}",
            &s[..6.min(s.len())]
        );
    }
}
