//! Building the service: open the store, load and check the keyring, make
//! sure an admin can get in, and bind the HTTP server. Tests build exactly
//! this with port 0.

use crate::clock::SharedClock;
use crate::config::{ServeSettings, StoreSettings};
use crate::crypto::keyring::{Keyring, KeyringSource};
use crate::crypto::token::ApiToken;
use crate::domain::audit::AuditEntry;
use crate::domain::role::Role;
use crate::greenhouse::{Checker, CheckerConfig};
use crate::store::Store;
use crate::web::csrf::CsrfKey;
use crate::web::rate_limit::RateLimiter;
use crate::web::{self, auth::TokenVerifier, AppState};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer};
use anyhow::{bail, Context};
use secrecy::ExposeSecret;
use serde_json::json;
use std::net::TcpListener;
use std::sync::Arc;

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    jobs: tokio::task::JoinHandle<()>,
    state: Arc<AppState>,
    /// The admin token created on the first start, to be shown once.
    pub bootstrap_token: Option<ApiToken>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Open the database (applying migrations) for any command.
pub async fn open_store(settings: &StoreSettings, clock: SharedClock) -> anyhow::Result<Store> {
    if settings.database_url.expose().starts_with("sqlite:") {
        crate::store::create_private_dir(&settings.data_dir)
            .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    }
    Store::open(settings.database_url.expose(), clock)
        .await
        .with_context(|| format!("cannot open database {}", settings.database_url))
}

/// Load the keyring as configured.
pub fn load_keyring(settings: &StoreSettings) -> anyhow::Result<Keyring> {
    let ring = Keyring::load(
        settings.master_key.as_ref().map(|k| k.expose_secret()),
        &settings.keyring_file,
        settings.keyring_file_set,
    )?;
    if let KeyringSource::Generated(path) = ring.source() {
        let msg = format!(
            "WARNING: no master key was configured, so a new one was generated at {}. \
             Anyone who can read that file can decrypt every credential, and losing it loses them all. \
             Back it up apart from the database, or set KEYDROP_MASTER_KEY / KEYDROP_KEYRING_FILE.",
            path.display()
        );
        tracing::warn!("{msg}");
    }
    Ok(ring)
}

/// Refuse to go on with a keyring that does not fit the database.
pub async fn check_keyring(store: &Store, keyring: &Keyring) -> anyhow::Result<()> {
    if let Err(mismatch) = store.ensure_key_checks(keyring).await? {
        bail!("{mismatch}");
    }
    Ok(())
}

impl Application {
    pub async fn build(
        store_settings: &StoreSettings,
        settings: ServeSettings,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let store = open_store(store_settings, clock.clone()).await?;
        let keyring = load_keyring(store_settings)?;
        check_keyring(&store, &keyring).await?;
        let bootstrap_token = bootstrap_admin(&store).await?;

        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let https = settings.is_https();
        tracing::info!(
            bind = %listener.local_addr()?,
            public_url = %settings.public_url,
            database = %store_settings.database_url,
            backend = store.backend().name(),
            keyring = %keyring.source(),
            key_versions = ?keyring.versions(),
            "keydrop starting"
        );
        let checker = Checker::new(
            CheckerConfig {
                auth_url: settings.greenhouse_auth_url.clone(),
                api_url: settings.greenhouse_api_url.clone(),
                request_timeout: settings.greenhouse_timeout,
                total_budget: settings.greenhouse_budget,
                ..CheckerConfig::default()
            },
            clock.clone(),
        )?;
        let keyring = Arc::new(keyring);
        let state = actix_web::web::Data::new(AppState {
            store: store.clone(),
            csrf: CsrfKey::derive(&keyring)?,
            releases: crate::service::release::Releases::start(store.clone(), keyring.clone()),
            keyring,
            limiter: settings.rate_limit.map(RateLimiter::new),
            drop_cache: Default::default(),
            checker,
            settings,
        });
        let shared = state.clone().into_inner();
        let jobs = crate::jobs::spawn(shared.clone());
        let verifier = actix_web::web::Data::new(TokenVerifier::new(store.clone())?);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(verifier.clone())
                .configure(web::routes)
                .wrap(web::headers::security_headers(https))
                .wrap(from_fn(web::access_log::access_log))
                .wrap(from_fn(web::body_deadline::bound_bodies))
        })
        .listen(listener)?
        .shutdown_timeout(10)
        .run();
        Ok(Self {
            port,
            server,
            store,
            jobs,
            state: shared,
            bootstrap_token,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What the handlers see; tests run background passes against it.
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serve until SIGTERM or Ctrl-C, then finish in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let store = self.store.clone();
        let result = self.server.await;
        self.jobs.abort();
        store.close().await;
        tracing::info!("keydrop stopped");
        result
    }
}

/// On an empty database, create the first admin token.
async fn bootstrap_admin(store: &Store) -> anyhow::Result<Option<ApiToken>> {
    if !store.list_tokens().await?.is_empty() {
        return Ok(None);
    }
    let now = crate::clock::to_millis(store.clock().now());
    let (record, token) = tokio::task::spawn_blocking(move || {
        web::api::tokens::mint("bootstrap admin".into(), Role::Admin, now)
    })
    .await??;
    let audit = AuditEntry::new("system", "token.create", format!("token:{}", record.id))
        .details(json!({ "name": record.name, "role": "admin", "bootstrap": true }));
    Ok(store
        .bootstrap_admin(&record, &audit)
        .await?
        .then_some(token))
}
