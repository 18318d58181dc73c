//! Building the service: open the store, load and check the keyring, make
//! sure an admin can get in, and bind the HTTP server. Tests build exactly
//! this with port 0.
//!
//! *Over 400 lines:* building the service is one ordered sequence (store, keyring, keys, listeners, services, tasks, servers); split, its order would be harder to follow.

use crate::clock::SharedClock;
use crate::config::{ServeSettings, StoreSettings};
use crate::crypto::keyring::{Keyring, KeyringSource};
use crate::crypto::token::ApiToken;
use crate::greenhouse::{registry, Checker, CheckerConfig, Registry};
use crate::jobs::supervisor::Supervisor;
use crate::service::release::Releases;
use crate::store::Store;
use crate::web::csrf::CsrfKey;
use crate::web::middleware::rate_limit::RateLimiter;
use crate::web::{self, middleware::auth::TokenVerifier, AppState};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer};
use anyhow::{bail, Context};
use std::io::{IsTerminal, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Application {
    port: u16,
    server: Server,
    /// The metrics listener's port and server, with `KEYDROP_METRICS_BIND`.
    metrics_port: Option<u16>,
    metrics_server: Option<Server>,
    /// The console's own listener's port and server, with `KEYDROP_CONSOLE_BIND`.
    console_port: Option<u16>,
    console_server: Option<Server>,
    store: Store,
    state: Arc<AppState>,
    /// The admin token created on the first start, with [`BootstrapSink::Memory`].
    pub bootstrap_token: Option<ApiToken>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("metrics_port", &self.metrics_port)
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

/// Load the keyring as configured, its wrapped versions unwrapped by their
/// key custodies (SPEC §14).
pub async fn load_keyring(settings: &StoreSettings) -> anyhow::Result<Keyring> {
    // Several processes may share a PostgreSQL database: a keyring generated
    // by each would seal data the others cannot open. Only SQLite (one
    // process, one data directory) gets one generated on first start.
    let ring = crate::custody::load(settings, !settings.database_url.is_postgres()).await?;
    let custody = &settings.custody.custody;
    let plain: Vec<i64> = ring
        .versions()
        .into_iter()
        .filter(|v| ring.custody_of(*v) == "file")
        .collect();
    let wrapped = ring.versions().len() > plain.len();
    if !plain.is_empty() && (*custody != crate::config::CustodyRef::File || wrapped) {
        tracing::warn!(
            "key version(s) {plain:?} sit in plain in the keyring beside versions a key custody keeps \
             (KEYDROP_KEY_CUSTODY is {custody}): run `keydrop keys custody --to <custody>` to wrap them"
        );
    }
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

/// Get a command ready to change state: the keyring loaded and checked against the
/// database, and the audit chain's key in use, so every event it writes is MACed.
pub async fn unlock(store: &Store, settings: &StoreSettings) -> anyhow::Result<Keyring> {
    let keyring = load_keyring(settings).await?;
    check_keyring(store, &keyring).await?;
    let key = crate::service::secrets::audit_key(store, &keyring)
        .await
        .context("cannot set up the audit chain's key")?;
    store.use_audit_key(key);
    Ok(keyring)
}

/// Audit the versions a key custody unwrapped for this start (`keys.unsealed`);
/// a keyring of plain keys unseals nothing and records nothing.
async fn record_unsealed(store: &Store, keyring: &Keyring) -> anyhow::Result<()> {
    let versions: Vec<i64> = keyring
        .versions()
        .into_iter()
        .filter(|v| keyring.custody_of(*v) != "file")
        .collect();
    if versions.is_empty() {
        return Ok(());
    }
    let mut kinds: Vec<String> = versions
        .iter()
        .map(|v| {
            let c = keyring.custody_of(*v);
            c.split(':').next().unwrap_or(c).to_owned()
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    store
        .record_keys_unsealed(kinds, versions)
        .await
        .context("cannot audit the unsealed key versions")
}

/// Refuse to go on with a keyring that does not fit the database.
pub async fn check_keyring(store: &Store, keyring: &Keyring) -> anyhow::Result<()> {
    if let Err(mismatch) = store.ensure_key_checks(keyring).await? {
        bail!("{mismatch}");
    }
    Ok(())
}

impl Application {
    /// Build as tests and the demo do: a first admin token is kept on
    /// [`Application::bootstrap_token`].
    pub async fn build(
        store_settings: &StoreSettings,
        settings: ServeSettings,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        Self::build_with(store_settings, settings, clock, BootstrapSink::Memory).await
    }

    pub async fn build_with(
        store_settings: &StoreSettings,
        settings: ServeSettings,
        clock: SharedClock,
        sink: BootstrapSink,
    ) -> anyhow::Result<Self> {
        Self::assemble(store_settings, settings, clock, sink, registry()).await
    }

    /// [`Application::build`] with another credential-kind registry: tests register a kind
    /// of their own (a connecting one, say) and drive it over HTTP like a built-in one.
    pub async fn build_with_kinds(
        store_settings: &StoreSettings,
        settings: ServeSettings,
        clock: SharedClock,
        kinds: &'static Registry,
    ) -> anyhow::Result<Self> {
        Self::assemble(
            store_settings,
            settings,
            clock,
            BootstrapSink::Memory,
            kinds,
        )
        .await
    }

    async fn assemble(
        store_settings: &StoreSettings,
        settings: ServeSettings,
        clock: SharedClock,
        sink: BootstrapSink,
        kinds: &'static Registry,
    ) -> anyhow::Result<Self> {
        let store = open_store(store_settings, clock.clone()).await?;
        let keyring = load_keyring(store_settings).await?;
        check_keyring(&store, &keyring).await?;
        record_unsealed(&store, &keyring).await?;
        let form_root = crate::service::secrets::get_or_create(
            &store,
            &keyring,
            crate::service::secrets::FORM_KEY,
        )
        .await
        .context("cannot set up the form-token key")?;
        let csrf = CsrfKey::from_root(&form_root);
        drop(form_root);
        let tokens = crate::service::tokens::Tokens::load(&store, &keyring)
            .await
            .context("cannot set up the API token key")?;
        let audit_key = crate::service::secrets::audit_key(&store, &keyring)
            .await
            .context("cannot set up the audit chain's key")?;
        store.use_audit_key(audit_key);
        // Bind before creating the first admin token: a start that fails
        // (port in use) must not create a token nobody received.
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let metrics_listener = settings
            .metrics_bind
            .map(|addr| {
                TcpListener::bind(addr)
                    .with_context(|| format!("cannot listen for metrics on {addr}"))
            })
            .transpose()?;
        let console_listener = settings
            .console
            .bind
            .map(|addr| {
                TcpListener::bind(addr)
                    .with_context(|| format!("cannot listen for the console on {addr}"))
            })
            .transpose()?;
        let console_port = match &console_listener {
            Some(l) => Some(l.local_addr()?.port()),
            None => None,
        };
        let metrics_port = match &metrics_listener {
            Some(l) => Some(l.local_addr()?.port()),
            None => None,
        };
        // Listening: what the CLI must follow (links lead here; webhooks it registers are
        // ones this service delivers).
        use crate::store::instance::{PUBLIC_URL, SENDS_MAIL, WEBHOOK_ALLOW_PRIVATE};
        let mailer = settings
            .smtp
            .as_ref()
            .map(|smtp| {
                let hello = reqwest::Url::parse(&settings.public_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "localhost".into());
                crate::mail::Mailer::new(smtp, &hello)
            })
            .transpose()
            .map_err(anyhow::Error::msg)?;
        for (name, value) in [
            (PUBLIC_URL, settings.public_url.as_str()),
            (SENDS_MAIL, if mailer.is_some() { "true" } else { "false" }),
            (
                WEBHOOK_ALLOW_PRIVATE,
                if settings.webhook_allow_private {
                    "true"
                } else {
                    "false"
                },
            ),
        ] {
            store
                .record_setting(name, value)
                .await
                .with_context(|| format!("cannot record the setting {name}"))?;
        }
        let bootstrap_token = bootstrap_admin(&store, &tokens, &sink).await?;
        let port = listener.local_addr()?.port();
        let https = settings.is_https();
        tracing::info!(
            bind = %listener.local_addr()?,
            public_url = %settings.public_url,
            database = %store_settings.database_url,
            backend = store.backend().name(),
            keyring = %keyring.source(),
            key_versions = ?keyring.versions(),
            key_custody = ?keyring.versions().iter().map(|v| keyring.custody_of(*v).to_owned()).collect::<Vec<_>>(),
            metrics = ?settings.metrics_bind.map(|a| a.to_string()),
            mail = ?mailer.as_ref().map(|m| m.label().to_owned()),
            console = ?settings.console.bind.map(|a| a.to_string()),
            "keydrop starting"
        );
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let checker = Checker::new(
            CheckerConfig {
                auth_url: settings.greenhouse_auth_url.clone(),
                api_url: settings.greenhouse_api_url.clone(),
                ingestion_url: settings.greenhouse_ingestion_url.clone(),
                boards_url: settings.greenhouse_boards_url.clone(),
                request_timeout: settings.greenhouse_timeout,
                total_budget: settings.greenhouse_budget,
                partner: settings.partner.clone(),
                ..CheckerConfig::default()
            },
            clock.clone(),
        )?
        .with_kinds(kinds)
        .with_metrics(metrics.clone());
        // Let a customer's check in flight finish on shutdown.
        let grace = settings
            .greenhouse_budget
            .as_secs()
            .saturating_add(5)
            .max(10);
        let keyring = Arc::new(keyring);
        let (releases, release_worker) = Releases::new(store.clone(), keyring.clone());
        let vendor = crate::service::vend::Vendor::new(
            store.clone(),
            keyring.clone(),
            checker.clone(),
            releases.clone(),
            settings.partner_refresh_every,
        )
        .with_metrics(metrics.clone());
        let connect_csp =
            crate::web::middleware::headers::connect_policy(&checker.config().auth_url);
        let tasks = Supervisor::new(clock.clone(), settings.jobs.restart_backoff);
        let limiter = settings.rate_limit.map(RateLimiter::new);
        let oidc = settings
            .console
            .oidc
            .clone()
            .map(|o| crate::oidc::Provider::new(o, crate::oidc::TIMEOUT).map(Arc::new))
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let services = Arc::new(crate::service::Services {
            oidc,
            mailer,
            store: store.clone(),
            releases,
            vendor,
            tokens,
            keyring,
            checker,
            metrics,
            settings,
        });
        let state = actix_web::web::Data::new(AppState {
            services: services.clone(),
            connect_csp,
            csrf,
            limiter,
            drop_cache: Default::default(),
            tasks,
        });
        let shared = state.clone().into_inner();
        shared.tasks.supervise("release_batcher", move |beat| {
            release_worker.clone().run(beat)
        });
        crate::jobs::spawn(services, &shared.tasks);
        let probe_store = store.clone();
        shared.tasks.supervise("database_probe", move |beat| {
            crate::jobs::probe(probe_store.clone(), beat)
        });
        let metrics_server = match metrics_listener {
            Some(listener) => {
                let state = state.clone();
                Some(
                    HttpServer::new(move || {
                        App::new()
                            .app_data(state.clone())
                            .configure(web::routes::metrics::routes)
                    })
                    .workers(1)
                    // Stopped with the main server, not by signals of its own.
                    .disable_signals()
                    .listen(listener)?
                    .shutdown_timeout(1)
                    .run(),
                )
            }
            None => None,
        };
        let verifier =
            actix_web::web::Data::new(TokenVerifier::new(store.clone(), state.tokens.clone())?);
        let main_routes = if console_listener.is_some() {
            web::Listener::Main
        } else {
            web::Listener::All
        };
        let console_server = match console_listener {
            Some(listener) => {
                let (state, verifier) = (state.clone(), verifier.clone());
                Some(
                    HttpServer::new(move || {
                        App::new()
                            .app_data(state.clone())
                            .app_data(verifier.clone())
                            .configure(|c| web::routes_for(c, web::Listener::Console))
                            .wrap(web::middleware::headers::security_headers(https))
                            .wrap(from_fn(web::middleware::access_log::access_log))
                            .wrap(from_fn(web::middleware::body_deadline::bound_bodies))
                    })
                    .workers(2)
                    // Stopped with the main server, not by signals of its own.
                    .disable_signals()
                    .listen(listener)?
                    .shutdown_timeout(grace)
                    .run(),
                )
            }
            None => None,
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(verifier.clone())
                .configure(|c| web::routes_for(c, main_routes))
                .wrap(web::middleware::headers::security_headers(https))
                .wrap(from_fn(web::middleware::access_log::access_log))
                .wrap(from_fn(web::middleware::body_deadline::bound_bodies))
        })
        .listen(listener)?
        .shutdown_timeout(grace)
        .run();
        Ok(Self {
            port,
            server,
            metrics_port,
            metrics_server,
            console_port,
            console_server,
            store,
            state: shared,
            bootstrap_token,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the console's listener, when `KEYDROP_CONSOLE_BIND` is set.
    pub fn console_port(&self) -> Option<u16> {
        self.console_port
    }

    /// The port of the metrics listener, when `KEYDROP_METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops this server as SIGTERM would (`stop(true)`) or at once
    /// (`stop(false)`); `run_until_stopped` then ends the background tasks.
    /// Tests restart a process this way.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// What the handlers see; tests run background passes against it.
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serve until SIGTERM or Ctrl-C, then finish in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let store = self.store.clone();
        let beside: Vec<_> = [self.metrics_server, self.console_server]
            .into_iter()
            .flatten()
            .map(|server| {
                let handle = server.handle();
                (handle, tokio::spawn(server))
            })
            .collect();
        let result = self.server.await;
        for (handle, task) in beside {
            handle.stop(true).await;
            let _ = task.await;
        }
        // Background tasks end here; their references to the state go too.
        self.state.tasks.shutdown();
        store.close().await;
        tracing::info!("keydrop stopped");
        result
    }
}

/// Where the first admin token goes (SPEC §7).
#[derive(Debug, Clone)]
pub enum BootstrapSink {
    /// Kept on [`Application::bootstrap_token`] (tests, `keydrop demo`).
    Memory,
    /// Printed once to standard output, which is an interactive terminal.
    Terminal { public_url: String },
    /// Written to this file (mode 0600); only the path is logged.
    File(PathBuf),
}

impl BootstrapSink {
    /// `serve`'s choice: the terminal when standard output is one, else
    /// `<data dir>/bootstrap-admin-token` (a container's stdout is its log).
    pub fn for_serve(data_dir: &Path, public_url: &str) -> Self {
        if std::io::stdout().is_terminal() {
            Self::Terminal {
                public_url: public_url.to_owned(),
            }
        } else {
            Self::File(data_dir.join(BOOTSTRAP_TOKEN_FILE))
        }
    }
}

/// The file `serve` writes the first admin token to when it has no terminal.
pub const BOOTSTRAP_TOKEN_FILE: &str = "bootstrap-admin-token";

/// On an empty database, create the first admin token and deliver it to
/// `sink` before it is committed.
async fn bootstrap_admin(
    store: &Store,
    tokens: &crate::service::tokens::Tokens,
    sink: &BootstrapSink,
) -> anyhow::Result<Option<ApiToken>> {
    let mut kept = None;
    let created = crate::service::tokens::bootstrap_admin(store, tokens, |token| match sink {
        BootstrapSink::Memory => {
            kept = Some(token.clone());
            Ok(())
        }
        BootstrapSink::Terminal { public_url } => {
            // Shown once to the person at the terminal, never logged.
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "\nThe database was empty, so an admin API token was created.\n\
                 It is shown only this once; store it in a password manager:\n\n    {}\n\n\
                 Use it as `Authorization: Bearer <token>`, e.g.\n    \
                 curl -H 'Authorization: Bearer <token>' {public_url}/api/v1/tokens\n",
                token.reveal()
            )
            .and_then(|()| out.flush())
            .context("cannot print the bootstrap admin token")
        }
        BootstrapSink::File(path) => write_private_file(path, token.reveal().as_bytes())
            .with_context(|| {
                format!(
                    "cannot write the bootstrap admin token to {}",
                    path.display()
                )
            }),
    })
    .await??;
    if created {
        if let BootstrapSink::File(path) = sink {
            tracing::warn!(
                path = %path.display(),
                "the database was empty, so an admin API token was created and written to this file \
                 (mode 0600); read it once, store it in a password manager, then delete the file"
            );
        }
    }
    Ok(kept)
}

/// Write `bytes` to `path` readable only by its owner, replacing any older
/// file atomically (a temporary file in the same directory, then rename).
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        crate::store::create_private_dir(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(&tmp)?;
    file.write_all(bytes)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
