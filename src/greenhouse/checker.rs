//! The one-time check of a credential against Greenhouse (SPEC §1).

use super::http::Budget;
use super::kinds::{registry, Registry};
use super::profile::Profile;
use super::report::{report, Finding, Probe, Transient, Verdict, Verification};
use super::resources::Resource;
use super::secret::Secret;
use crate::clock::SharedClock;
use futures_util::stream::{self, StreamExt};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Where Greenhouse lives and how patient to be with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckerConfig {
    /// Base URL of the OAuth host (`POST {auth_url}/token`), without a trailing slash.
    pub auth_url: String,
    /// Base URL of the Harvest API (`GET {api_url}/v3/…`, `/v1/…`), without a trailing slash.
    pub api_url: String,
    /// Base URL of the Candidate Ingestion API (`GET {ingestion_url}/v1/partner/…`).
    pub ingestion_url: String,
    /// Base URL of the public Job Board API (`GET {boards_url}/v1/boards/<token>`).
    pub boards_url: String,
    /// Timeout of each HTTP request.
    pub request_timeout: Duration,
    /// Time allowed for a whole check, retries included.
    pub total_budget: Duration,
    /// Probes in flight at once.
    pub max_in_flight: usize,
    /// The operator's partner OAuth client (`harvest_v3_partner`), when configured.
    pub partner: Option<crate::config::PartnerClient>,
}

impl Default for CheckerConfig {
    fn default() -> Self {
        Self {
            auth_url: "https://auth.greenhouse.io".to_owned(),
            api_url: "https://harvest.greenhouse.io".to_owned(),
            ingestion_url: "https://api.greenhouse.io".to_owned(),
            boards_url: "https://boards-api.greenhouse.io".to_owned(),
            request_timeout: Duration::from_secs(5),
            total_budget: Duration::from_secs(15),
            max_in_flight: 4,
            partner: None,
        }
    }
}

/// The HTTP client could not be built (e.g. no TLS roots).
#[derive(Debug, thiserror::Error)]
#[error("could not build the Greenhouse HTTP client: {0}")]
pub struct BuildError(#[from] reqwest::Error);

/// Checks credentials against Greenhouse. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Checker {
    pub(crate) client: reqwest::Client,
    pub(crate) config: Arc<CheckerConfig>,
    clock: SharedClock,
    kinds: &'static Registry,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Checker {
    /// Now, by this checker's clock, in Unix ms.
    pub fn now_ms(&self) -> i64 {
        crate::clock::to_millis(self.clock.now())
    }

    pub fn new(mut config: CheckerConfig, clock: SharedClock) -> Result<Self, BuildError> {
        config.auth_url = config.auth_url.trim_end_matches('/').to_owned();
        config.api_url = config.api_url.trim_end_matches('/').to_owned();
        config.ingestion_url = config.ingestion_url.trim_end_matches('/').to_owned();
        config.boards_url = config.boards_url.trim_end_matches('/').to_owned();
        config.max_in_flight = config.max_in_flight.max(1);
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("keydrop/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            config: Arc::new(config),
            clock,
            kinds: registry(),
            metrics: None,
        })
    }

    /// Count checks and time them in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Count one request sent to Greenhouse (see [`super::http::send`]).
    pub(crate) fn count_request(&self, class: super::http::EndpointClass, status: &'static str) {
        if let Some(m) = &self.metrics {
            m.greenhouse_request(class.as_str(), status);
        }
    }

    /// The same checker with another kind registry (e.g. one with a test-only kind).
    pub fn with_kinds(mut self, kinds: &'static Registry) -> Self {
        self.kinds = kinds;
        self
    }

    pub fn config(&self) -> &CheckerConfig {
        &self.config
    }

    /// The checker's clock (token expiries are computed from it).
    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// The credential kinds this checker knows.
    pub fn kinds(&self) -> &'static Registry {
        self.kinds
    }

    /// Asks Greenhouse whether `secret` works and grants what `profile` needs. Never fails:
    /// anything Greenhouse does not answer in time becomes a `pending` report. Resource names
    /// in `profile` that are unknown for the secret's kind are ignored (profiles are validated
    /// when a drop is created).
    #[tracing::instrument(
        skip_all,
        fields(kind = secret.kind().as_str(), profile = %profile.name, outcome)
    )]
    pub async fn check(&self, secret: &Secret, profile: &Profile) -> Verification {
        let started = std::time::Instant::now();
        let budget = Budget::new(self.config.total_budget);
        let v = match self.kinds.get(secret.kind()) {
            Some(kind) => {
                let checked = kind.check(self, budget, secret, profile).await;
                report(kind, secret, checked, self.clock.now())
            }
            None => {
                tracing::error!("a secret of a kind that is not registered; this is a bug");
                Verification {
                    outcome: super::report::Outcome::Pending,
                    checked_at: self.clock.now(),
                    granted: Vec::new(),
                    missing_required: Vec::new(),
                    missing_optional: Vec::new(),
                    message: super::messages::pending_message(Transient::Unexpected),
                    organization: None,
                    greenhouse_user: None,
                    field: None,
                    organization_mismatch: false,
                }
            }
        };
        tracing::Span::current().record("outcome", v.outcome.as_str());
        if let Some(m) = &self.metrics {
            let kind = self
                .kinds
                .get(secret.kind())
                .map_or("unknown", |k| k.name());
            m.check(kind, v.outcome.as_str(), started.elapsed());
        }
        tracing::info!(
            granted = v.granted.len(),
            missing_required = v.missing_required.len(),
            missing_optional = v.missing_optional.len(),
            "Greenhouse check finished"
        );
        v
    }

    /// Runs `probe` for every required then optional resource, at most `max_in_flight` at
    /// once, and returns the findings in profile order.
    pub async fn probe_all<'a, F, Fut>(
        &self,
        resources: Vec<(&'static Resource, bool)>,
        probe: F,
    ) -> Vec<Finding>
    where
        F: Fn(&'static Resource) -> Fut,
        Fut: Future<Output = Probe> + 'a,
    {
        // The futures are built first (they do nothing until polled) so no
        // closure lives across an await: that keeps `check` a `Send` future.
        let probes: Vec<_> = resources
            .into_iter()
            .enumerate()
            .map(|(i, (r, required))| {
                let fut = probe(r);
                async move {
                    let p = fut.await;
                    (
                        i,
                        Finding {
                            permission: r.permission(),
                            required,
                            probe: p,
                        },
                    )
                }
            })
            .collect();
        let mut found: Vec<(usize, Finding)> = stream::iter(probes)
            .buffer_unordered(self.config.max_in_flight)
            .collect()
            .await;
        found.sort_by_key(|(i, _)| *i);
        found.into_iter().map(|(_, f)| f).collect()
    }
}

/// A findings list where nothing was probed, e.g. an empty or foreign profile.
pub(crate) fn nothing_to_probe() -> Verdict {
    tracing::error!("the profile names no resource known for this kind; this is a bug on our side");
    Verdict::Pending(Transient::Unexpected)
}
