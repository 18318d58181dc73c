//! Test support: a fresh database per test on either backend, the real
//! application on port 0, and a capture of every log line the suite emits.
//!
//! *Over 400 lines:* the shared test harness (apps, databases, clocks, seeding, secret scans); each part is small.
#![allow(dead_code)] // not every helper is used by every feature module

use keydrop::clock::{ManualClock, SharedClock, SystemClock};
use keydrop::config::{DatabaseUrl, ServeSettings, StoreSettings};
use keydrop::crypto::keyring::{Keyring, MasterKey};
use keydrop::sandbox::{FakeGreenhouse, V3Client};
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

/// Run a test body once per backend. Built without `KEYDROP_TEST_POSTGRES_URL`
/// (see `build.rs`), the PostgreSQL copies are `#[ignore]`d with the reason,
/// so `cargo test` counts and lists them as ignored rather than passed.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(keydrop_no_postgres, ignore = "PostgreSQL: set KEYDROP_TEST_POSTGRES_URL to run")]
                async fn $name() {
                    $crate::support::helpers::require_postgres();
                    super::$name($crate::support::helpers::Backend::Postgres).await;
                }
            )*
        }
    };
}

pub fn postgres_url() -> Option<String> {
    std::env::var(PG_ENV).ok().filter(|u| !u.is_empty())
}

/// A PostgreSQL test that runs without a database fails rather than passing
/// (e.g. `cargo test -- --include-ignored` without the variable).
pub fn require_postgres() {
    assert!(
        postgres_url().is_some(),
        "this test needs PostgreSQL: set {PG_ENV}=postgres://…"
    );
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
            Backend::Postgres => {
                // keydrop generates no keyring for PostgreSQL: the operator
                // runs `keys init`, which writes this file.
                Keyring::single(MasterKey::generate().unwrap())
                    .write_new(&dir.path().join("keyring.json"))
                    .unwrap();
                fresh_postgres_database().await
            }
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
            custody: keydrop::config::CustodySettings::file(),
        }
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.url, Arc::new(SystemClock)).await.unwrap()
    }

    pub async fn store_with_clock(&self, clock: SharedClock) -> Store {
        Store::open(&self.url, clock).await.unwrap()
    }

    /// Verify the audit chain as `keydrop audit verify` does: the hashes, and the MACs
    /// under the audit key opened with this database's keyring file.
    pub async fn verify_audit(&self) -> Result<i64, keydrop::domain::audit::ChainError> {
        match Keyring::read(&self.store_settings().keyring_file) {
            Ok(ring) => self.verify_audit_with(&ring).await,
            Err(_) => self.store().await.verify_audit().await.unwrap(),
        }
    }

    /// [`TestDb::verify_audit`] with the keyring `ring`.
    pub async fn verify_audit_with(
        &self,
        ring: &Keyring,
    ) -> Result<i64, keydrop::domain::audit::ChainError> {
        let store = self.store().await;
        use_audit_key(&store, ring).await;
        store.verify_audit().await.unwrap()
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
                        // A -wal or -shm file may go away while we list (a pool closing).
                        match std::fs::read(&path) {
                            Ok(bytes) => all.extend(bytes),
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => panic!("{}: {e}", path.display()),
                        }
                    }
                }
                all
            }
            Backend::Postgres => {
                let mut conn = self.raw().await;
                let mut all = Vec::new();
                // Every table, so one added later is scanned too.
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                     ORDER BY table_name",
                )
                .fetch_all(&mut conn)
                .await
                .unwrap();
                assert!(tables.iter().any(|t| t == "credentials"), "{tables:?}");
                for table in tables {
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
    drop_stale_databases(&mut conn).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let name = format!("keydrop_test_{now}_{}", uuid::Uuid::new_v4().simple());
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (prefix, _) = base.split_once('?').unwrap_or((&base, ""));
    let root = prefix.rsplit_once('/').map_or(prefix, |(r, _)| r);
    format!("{root}/{name}")
}

/// Test databases are left behind (a test's pool may outlive it); once per
/// test process, those made over six hours ago (by their names) are dropped,
/// so they do not pile up on a developer's server. `.ci/run` drops them all.
async fn drop_stale_databases(conn: &mut sqlx::AnyConnection) {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'keydrop\\_test\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for name in names {
        let made = name
            .strip_prefix("keydrop_test_")
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(secs, _)| secs.parse::<u64>().ok());
        // Names without a time are from before this rule: stale too.
        if made.is_none_or(|made| now.saturating_sub(made) > 6 * 3600) {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                .await;
        }
    }
}

/// A running keydrop.
pub struct TestApp {
    pub address: String,
    pub admin_token: String,
    pub db: TestDb,
    pub store: Store,
    pub state: Arc<keydrop::web::AppState>,
    pub http: reqwest::Client,
    pub fake: Option<FakeGreenhouse>,
    pub clock: Option<Arc<ManualClock>>,
    /// `http://127.0.0.1:<port>` of the metrics listener, when one was configured.
    pub metrics_address: Option<String>,
    /// `http://127.0.0.1:<port>` of the console's own listener, with `KEYDROP_CONSOLE_BIND`.
    pub console_address: Option<String>,
    /// Stops the server, and with it its background tasks ([`TestApp::stop`]).
    server: actix_web::dev::ServerHandle,
    running: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Credentials the fake Greenhouse knows, for the customer-flow tests.
pub const GOOD_ID: &str = "acme-integration-4471";
pub const GOOD_SECRET: &str = "gh-secret-GOOD-8f2b1c9d7e6a5f4e3d2c";
pub const PARTIAL_ID: &str = "acme-partial-5502";
pub const PARTIAL_SECRET: &str = "gh-secret-PARTIAL-1a2b3c4d5e6f7a8b9c";

/// How to start an app for a test.
pub struct AppOptions {
    pub greenhouse: bool,
    pub manual_clock: bool,
    pub rate_limit: Option<keydrop::config::RateLimit>,
    pub retain: Option<Duration>,
    /// `KEYDROP_TRUSTED_PROXIES`, e.g. `127.0.0.1` to set client addresses
    /// with `X-Forwarded-For`.
    pub trusted_proxies: Vec<keydrop::domain::net::IpNet>,
    /// A shorter bound on receiving a request body than the real 10 s.
    pub body_timeout: Option<Duration>,
    /// Any other change to the settings (timings, budgets).
    pub tune: Option<fn(&mut ServeSettings)>,
    /// `KEYDROP_SUPPORT_EMAIL`.
    pub support_email: Option<String>,
    /// Listen on a port chosen up front and make it the public URL, so redirects that
    /// leave the app (Connect with Greenhouse) come back to it.
    pub real_public_url: bool,
    /// Another credential-kind registry (one with a test-only kind).
    pub kinds: Option<&'static keydrop::greenhouse::Registry>,
    /// An OpenID Connect provider for the console; its `redirect_uri` is made the app's.
    pub oidc: Option<keydrop::config::OidcSettings>,
    /// A mail server for e-mailed links (SPEC §15).
    pub smtp: Option<keydrop::config::SmtpSettings>,
}

impl AppOptions {
    /// The defaults, with a clock the test moves by hand.
    pub fn with_manual_clock() -> Self {
        Self {
            manual_clock: true,
            ..Self::default()
        }
    }
}

/// Send a request and read only what a test asserts on.
pub trait Fetch {
    async fn fetch_status(self) -> u16;
    async fn fetch_json(self) -> serde_json::Value;
    async fn fetch_text(self) -> String;
}

impl Fetch for reqwest::RequestBuilder {
    async fn fetch_status(self) -> u16 {
        self.send().await.unwrap().status().as_u16()
    }
    async fn fetch_json(self) -> serde_json::Value {
        self.send().await.unwrap().json().await.unwrap()
    }
    async fn fetch_text(self) -> String {
        self.send().await.unwrap().text().await.unwrap()
    }
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            greenhouse: true,
            manual_clock: false,
            rate_limit: None,
            retain: None,
            trusted_proxies: Vec::new(),
            body_timeout: None,
            tune: None,
            support_email: None,
            real_public_url: false,
            kinds: None,
            oidc: None,
            smtp: None,
        }
    }
}

/// An app wired to a fresh fake Greenhouse that knows [`GOOD_ID`] (every
/// scope) and [`PARTIAL_ID`] (only `users` and `jobs`).
pub async fn spawn_app_with(backend: Backend, opts: AppOptions) -> TestApp {
    let db = TestDb::new(backend).await;
    let fake = if opts.greenhouse {
        let fake = FakeGreenhouse::start().await.unwrap();
        fake.add_v3_client(V3Client::new(GOOD_ID, GOOD_SECRET).with_all_resources());
        fake.add_v3_client(
            V3Client::new(PARTIAL_ID, PARTIAL_SECRET).with_resources(["users", "jobs"]),
        );
        Some(fake)
    } else {
        None
    };
    for s in [GOOD_SECRET, PARTIAL_SECRET] {
        remember_secret(s);
    }
    let clock = opts.manual_clock.then(manual_clock);
    let shared: SharedClock = match &clock {
        Some(c) => c.clone(),
        None => Arc::new(SystemClock),
    };
    let mut settings = serve_settings();
    if let Some(f) = &fake {
        settings.greenhouse_auth_url = f.base_url().to_owned();
        settings.greenhouse_api_url = f.base_url().to_owned();
        settings.greenhouse_ingestion_url = f.base_url().to_owned();
        settings.greenhouse_boards_url = f.base_url().to_owned();
    }
    settings.rate_limit = opts.rate_limit;
    settings.trusted_proxies = opts.trusted_proxies;
    if let Some(r) = opts.retain {
        settings.retain_after_delivery = r;
    }
    if let Some(t) = opts.body_timeout {
        settings.body_timeout = t;
    }
    settings.smtp = opts.smtp;
    if let Some(tune) = opts.tune {
        tune(&mut settings);
    }
    settings.support_email = opts.support_email;
    if opts.real_public_url {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        settings.bind = format!("127.0.0.1:{port}").parse().unwrap();
        settings.public_url = format!("http://127.0.0.1:{port}");
    }
    if let Some(mut oidc) = opts.oidc {
        oidc.redirect_uri = format!("{}/console/oidc/callback", settings.public_url);
        settings.console.oidc = Some(oidc);
    }
    let mut app = start_with(db, shared, settings, opts.kinds).await;
    app.fake = fake;
    app.clock = clock;
    app
}

pub fn serve_settings() -> ServeSettings {
    ServeSettings {
        bind: "127.0.0.1:0".parse().unwrap(),
        public_url: "http://127.0.0.1".into(),
        brand_name: "Acme Analytics".into(),
        support_email: None,
        brand_logo: None,
        egress_ips: Vec::new(),
        greenhouse_auth_url: "http://127.0.0.1:9".into(),
        greenhouse_api_url: "http://127.0.0.1:9".into(),
        greenhouse_ingestion_url: "http://127.0.0.1:9".into(),
        greenhouse_boards_url: "http://127.0.0.1:9".into(),
        greenhouse_timeout: Duration::from_millis(500),
        greenhouse_budget: Duration::from_secs(2),
        retain_after_delivery: Duration::from_secs(7 * 86_400),
        trusted_proxies: Vec::new(),
        rate_limit: None,
        webhook_allow_private: true,
        metrics_bind: None,
        partner: None,
        partner_refresh_every: std::time::Duration::from_secs(8 * 3600),
        health_check_every: Some(std::time::Duration::from_secs(24 * 3600)),
        smtp: None,
        reminder_before: Some(std::time::Duration::from_secs(24 * 3600)),
        body_timeout: keydrop::config::BODY_TIMEOUT,
        console: keydrop::config::ConsoleSettings::default(),
        jobs: keydrop::jobs::JobSettings::default(),
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    let db = TestDb::new(backend).await;
    spawn_app_on(db, Arc::new(SystemClock)).await
}

pub async fn spawn_app_on(db: TestDb, clock: SharedClock) -> TestApp {
    start(db, clock, serve_settings()).await
}

async fn start(db: TestDb, clock: SharedClock, settings: ServeSettings) -> TestApp {
    start_with(db, clock, settings, None).await
}

async fn start_with(
    db: TestDb,
    clock: SharedClock,
    settings: ServeSettings,
    kinds: Option<&'static keydrop::greenhouse::Registry>,
) -> TestApp {
    let kinds = kinds.unwrap_or_else(keydrop::greenhouse::registry);
    let app = Application::build_with_kinds(&db.store_settings(), settings, clock.clone(), kinds)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
    let console_address = app.console_port().map(|p| format!("http://127.0.0.1:{p}"));
    let admin_token = app
        .bootstrap_token
        .as_ref()
        .map(|t| t.reveal().to_owned())
        .expect("a fresh database gets a bootstrap admin token");
    remember_secret(&admin_token);
    let store = app.store().clone();
    let state = app.state();
    let server = app.handle();
    let running = Some(tokio::spawn(app.run_until_stopped()));
    TestApp {
        address,
        admin_token,
        db,
        store,
        state,
        http: test_client(),
        fake: None,
        clock: None,
        metrics_address,
        console_address,
        server,
        running,
    }
}

/// A second keydrop process beside `app`: the same database, settings and clock, its own
/// memory (caches, single-flight locks) and background tasks; not serving HTTP. Tests run
/// its background passes against `state` to race two processes.
pub struct Beside {
    pub state: Arc<keydrop::web::AppState>,
    _app: Application,
}

pub async fn start_beside(app: &TestApp) -> Beside {
    let mut settings = app.state.settings.clone();
    settings.bind = "127.0.0.1:0".parse().unwrap();
    settings.metrics_bind = None;
    let clock: SharedClock = match &app.clock {
        Some(c) => c.clone(),
        None => Arc::new(SystemClock),
    };
    let other = Application::build_with_kinds(
        &app.db.store_settings(),
        settings,
        clock,
        app.state.checker.kinds(),
    )
    .await
    .unwrap();
    Beside {
        state: other.state(),
        _app: other,
    }
}

pub fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-11-23 09:00 UTC)))
}

impl TestApp {
    /// Stop the process at once, as a crash or `kill` would, short of
    /// losing the database: the server, then every background task; the
    /// store is closed. The database (`self.db`) stays for another start.
    pub async fn stop(&mut self) {
        self.server.stop(false).await;
        if let Some(running) = self.running.take() {
            running.await.unwrap().unwrap();
        }
        // A stopped process's connections are gone with it. A forced stop
        // does not wait for the HTTP workers, so a kept-alive connection in
        // this client's pool could still reach one for a moment: start afresh.
        self.http = test_client();
    }

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

    /// Create a drop through the API; returns the response body (with `url`).
    pub async fn create_drop(&self, body: serde_json::Value) -> serde_json::Value {
        let res = self
            .post("/api/v1/drops", Some(&self.admin_token))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: serde_json::Value = res.json().await.unwrap();
        remember_secret(link_token(body["url"].as_str().unwrap()));
        body
    }

    /// The path of a drop's link (`/d/<token>`).
    pub fn link_path(url: &str) -> String {
        format!("/d/{}", link_token(url))
    }

    /// GET the customer page; returns (status, html).
    pub async fn page(&self, path: &str) -> (u16, String) {
        let res = self.get(path, None).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// POST the customer form with a fresh CSRF token read from the page.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let (_, html) = self.page(path).await;
        let csrf = csrf_from(&html).unwrap_or_default();
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
        form.extend_from_slice(fields);
        let res = self.post(path, None).form(&form).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
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

/// The token part of a link URL.
pub fn link_token(url: &str) -> &str {
    url.rsplit_once("/d/").map(|(_, t)| t).unwrap()
}

/// The hidden `csrf_token` value in a page.
pub fn csrf_from(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\"")?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.split("value=\"").nth(1)?;
    Some(v[..v.find('"')?].to_owned())
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
    // Secrets are ASCII, so a lossy view of the bytes finds every one of them, and `str`'s
    // search (optimised even in a debug build: it is std's) keeps a scan of a process's whole
    // log for hundreds of secrets fast; comparing every window was quadratic in practice.
    let text = String::from_utf8_lossy(haystack);
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret ({}…) was found in {what}",
            &s[..6.min(s.len())]
        );
    }
}

/// The client tests talk to keydrop with: redirects are shown, not followed.
pub fn test_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A credential to write straight to the store ([`seed_verified`]).
pub struct Seed<'a> {
    pub org: String,
    pub kind: &'a str,
    pub release: keydrop::domain::release::Release,
    /// The secret's JSON, sealed under the keyring.
    pub secret: &'a str,
    pub hint: String,
    pub verification_json: &'a str,
    pub refresh_due_at: Option<i64>,
}

/// A drop and its verified credential, written straight to the store (no
/// Greenhouse check), sealed with `keyring`; the credential's id.
pub async fn seed_verified(store: &Store, keyring: &Keyring, seed: Seed<'_>) -> String {
    use keydrop::crypto::cipher::{self, Binding};
    use keydrop::domain::audit::AuditEntry;
    use keydrop::store::{NewCredential, NewDrop};
    let drop_id = uuid::Uuid::new_v4().to_string();
    let id = uuid::Uuid::new_v4().to_string();
    store
        .insert_drop(
            &NewDrop {
                release: seed.release,
                id: drop_id.clone(),
                token_hash: keydrop::crypto::sha256_hex(&[drop_id.as_bytes()]),
                org: seed.org.clone(),
                note: None,
                kind: seed.kind.into(),
                profile_json: r#"{"name":"minimal","required":["users"],"optional":[]}"#.into(),
                expires_at: i64::MAX / 2,
                max_attempts: 10,
                created_by: "test".into(),
                contact: None,
                external_id: None,
                metadata_json: None,
                replaces: None,
                mail: None,
            },
            &AuditEntry::untyped("test", "drop.create", format!("drop:{drop_id}")),
        )
        .await
        .unwrap();
    let binding = Binding {
        credential_id: &id,
        drop_id: &drop_id,
        kind: seed.kind,
    };
    let c = NewCredential {
        release: seed.release,
        id: id.clone(),
        drop_id: drop_id.clone(),
        org: seed.org,
        external_id: None,
        metadata_json: None,
        kind: seed.kind.into(),
        status: "verified".into(),
        hint: seed.hint,
        verification_json: seed.verification_json.into(),
        envelope: cipher::encrypt(keyring, binding, seed.secret.as_bytes()).unwrap(),
        next_check_at: None,
        access: None,
        refresh_due_at: seed.refresh_due_at,
    };
    assert!(store
        .accept_credential(&c, &AuditEntry::untyped("test", "drop.submit", "d"))
        .await
        .unwrap());
    id
}

/// The verification document of a seeded credential with `harvest:users:list`.
pub const SEEDED_VERIFICATION: &str = r#"{"outcome":"verified","checked_at":"2026-11-23T09:00:00Z","granted":["harvest:users:list"],"missing_required":[],"missing_optional":[],"message":"ok"}"#;

/// The `harvest_v3` secret JSON of seeded credential `i`: `c-{i}` / `s-{i}`.
pub fn numbered_secret(i: impl std::fmt::Display) -> String {
    format!(r#"{{"kind":"harvest_v3","client_id":"c-{i}","client_secret":"s-{i}","user_id":null}}"#)
}

/// Give `store` the audit chain's key (opened with `keyring`), if one was made: what a
/// process with the keyring uses to write and check the chain's MACs.
pub async fn use_audit_key(store: &Store, keyring: &Keyring) {
    if let Some(key) = keydrop::service::secrets::existing_audit_key(store, keyring)
        .await
        .unwrap()
    {
        store.use_audit_key(key);
    }
}
