//! The one-time check of a credential against Greenhouse (SPEC §1).

use super::http::Budget;
use super::profile::Profile;
use super::report::{report, Finding, Probe, Verdict, Verification};
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
    /// Timeout of each HTTP request.
    pub request_timeout: Duration,
    /// Time allowed for a whole check, retries included.
    pub total_budget: Duration,
    /// Probes in flight at once.
    pub max_in_flight: usize,
}

impl Default for CheckerConfig {
    fn default() -> Self {
        Self {
            auth_url: "https://auth.greenhouse.io".to_owned(),
            api_url: "https://harvest.greenhouse.io".to_owned(),
            request_timeout: Duration::from_secs(5),
            total_budget: Duration::from_secs(15),
            max_in_flight: 4,
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
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Checker {
    pub fn new(mut config: CheckerConfig, clock: SharedClock) -> Result<Self, BuildError> {
        config.auth_url = config.auth_url.trim_end_matches('/').to_owned();
        config.api_url = config.api_url.trim_end_matches('/').to_owned();
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
            metrics: None,
        })
    }

    /// Count checks and time them in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn config(&self) -> &CheckerConfig {
        &self.config
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
        let kind = secret.kind();
        let (verdict, user_id_given) = match secret {
            Secret::HarvestV3 {
                client_id,
                client_secret,
                user_id,
            } => (
                super::v3::check(
                    self,
                    budget,
                    client_id,
                    client_secret,
                    user_id.as_deref(),
                    profile,
                )
                .await,
                user_id.is_some(),
            ),
            Secret::HarvestV1 { api_key } => (
                super::v1::check(self, budget, api_key, profile).await,
                false,
            ),
        };
        let v = report(kind, user_id_given, verdict, self.clock.now());
        tracing::Span::current().record("outcome", v.outcome.as_str());
        if let Some(m) = &self.metrics {
            m.check(kind.as_str(), v.outcome.as_str(), started.elapsed());
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
    pub(crate) async fn probe_all<'a, F, Fut>(
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

/// The profile's resources for `kind`, required first, each with its "required" flag.
pub(crate) fn planned(
    profile: &Profile,
    kind: crate::domain::kind::Kind,
) -> Vec<(&'static Resource, bool)> {
    let mut out: Vec<(&'static Resource, bool)> = profile
        .required_resources(kind)
        .into_iter()
        .map(|r| (r, true))
        .collect();
    out.extend(
        profile
            .optional_resources(kind)
            .into_iter()
            .map(|r| (r, false)),
    );
    out
}

/// A findings list where nothing was probed, e.g. an empty or foreign profile.
pub(crate) fn nothing_to_probe() -> Verdict {
    tracing::error!("the profile names no resource known for this kind; this is a bug on our side");
    Verdict::Pending(super::report::Transient::Unexpected)
}
