//! Prometheus metrics (SPEC §12), served on their own listener
//! (`KEYDROP_METRICS_BIND`) at `GET /metrics`.
//!
//! Counters and histograms are updated where things happen (atomics behind
//! a label lookup); gauges that describe the database and the background
//! tasks are computed at scrape time. No label ever holds a raw path, a
//! token or any other secret (SPEC §8.1): routes are actix patterns
//! (`/d/{token}`), everything else comes from fixed vocabularies.
//!
//! *Over 400 lines:* its unit tests are inline (the code is ~380 lines).

use crate::health::TaskHealth;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::borrow::Cow;
use std::sync::Mutex;
use std::time::Duration;

/// The route label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// Labels of a served HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route pattern (`/d/{token}`), never the raw path.
    pub route: Cow<'static, str>,
    pub method: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindOutcome {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointStatus {
    endpoint: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CredentialLabels {
    status: String,
    delivery: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabel {
    task: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn http_histogram() -> Histogram {
    // 1 ms … ~10 s.
    Histogram::new(exponential_buckets(0.001, 2.5, 11))
}

fn check_histogram() -> Histogram {
    // 50 ms … ~25 s (a check's budget is at most 300 s; 15 s by default).
    Histogram::new(exponential_buckets(0.05, 2.0, 10))
}

/// What is read from the database and the supervisor at scrape time.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// `(status, delivery, count)`; `None` when the database did not answer.
    pub credentials: Option<Vec<(String, String, i64)>>,
    /// Webhook deliveries waiting to be sent.
    pub webhook_queue: Option<i64>,
    pub tasks: Vec<TaskHealth>,
}

/// Every series keydrop exports. Cheap to share (`Arc`); updating one is a
/// label lookup and an atomic add.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<HttpLabels>,
    submissions: Family<KindOutcome, Counter>,
    checks: Family<KindOutcome, Counter>,
    check_duration: HistogramFamily<KindLabel>,
    greenhouse_requests: Family<EndpointStatus, Counter>,
    releases: Counter,
    access_tokens: Counter,
    token_renewals: Family<RenewalLabels, Counter>,
    claims: Counter,
    webhook_deliveries: Family<OutcomeLabel, Counter>,
    mail: Family<OutcomeLabel, Counter>,
    credentials: Family<CredentialLabels, Gauge>,
    webhook_queue: Gauge,
    task_up: Family<TaskLabel, Gauge>,
    task_degraded: Family<TaskLabel, Gauge>,
    task_restarts: Family<TaskLabel, Counter>,
    /// One scrape at a time sets the scrape-time gauges and encodes.
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("keydrop");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served, by route pattern, method and status",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily<HttpLabels> =
            Family::new_with_constructor(http_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by route pattern, method and status",
            Unit::Seconds,
            http_duration.clone(),
        );
        let submissions = Family::<KindOutcome, Counter>::default();
        registry.register(
            "submissions",
            "Credential submissions on drop links, by kind and outcome \
             (verified, pending, invalid, insufficient, malformed)",
            submissions.clone(),
        );
        let checks = Family::<KindOutcome, Counter>::default();
        registry.register(
            "greenhouse_checks",
            "Credential checks against Greenhouse, by kind and outcome",
            checks.clone(),
        );
        let check_duration: HistogramFamily<KindLabel> =
            Family::new_with_constructor(check_histogram);
        registry.register_with_unit(
            "greenhouse_check_duration",
            "Time one credential check against Greenhouse took, retries included",
            Unit::Seconds,
            check_duration.clone(),
        );
        let greenhouse_requests = Family::<EndpointStatus, Counter>::default();
        registry.register(
            "greenhouse_requests",
            "HTTP requests sent to Greenhouse (each retry counts), by endpoint class \
             (token, introspect, resource, ingestion, boards) and status (a code, its class, \
             timeout or error when no answer came)",
            greenhouse_requests.clone(),
        );
        let releases = Counter::default();
        registry.register(
            "secret_releases",
            "Secrets released through GET /api/v1/credentials/{id}/secret",
            releases.clone(),
        );
        let access_tokens = Counter::default();
        registry.register(
            "access_tokens_issued",
            "Greenhouse access tokens handed to workers of `vend` credentials \
             (claims and POST /api/v1/credentials/{id}/access-token), cached ones included",
            access_tokens.clone(),
        );
        let token_renewals = Family::<RenewalLabels, Counter>::default();
        registry.register(
            "token_renewals",
            "Access-token renewals of `vend` credentials: `how` is mint (harvest_v3) or \
             refresh (partner grants), `outcome` ok, failed (retried with backoff) or \
             disconnected (Greenhouse killed the grant)",
            token_renewals.clone(),
        );
        let claims = Counter::default();
        registry.register(
            "claims",
            "Credentials handed out by POST /api/v1/credentials/claim",
            claims.clone(),
        );
        let webhook_deliveries = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by outcome (succeeded, retrying, failed, gone)",
            webhook_deliveries.clone(),
        );
        let mail = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "link_emails",
            "Attempts to e-mail a link, by outcome (sent, retried, failed)",
            mail.clone(),
        );
        let credentials = Family::<CredentialLabels, Gauge>::default();
        registry.register(
            "credentials",
            "Stored credentials, by status and delivery state",
            credentials.clone(),
        );
        let webhook_queue = Gauge::default();
        registry.register(
            "webhook_queue_depth",
            "Webhook deliveries waiting to be sent",
            webhook_queue.clone(),
        );
        let task_up = Family::<TaskLabel, Gauge>::default();
        registry.register(
            "task_up",
            "Whether a supervised background task is running (1) or restarting (0)",
            task_up.clone(),
        );
        let task_degraded = Family::<TaskLabel, Gauge>::default();
        registry.register(
            "task_degraded",
            "Whether a supervised background task runs but has not passed for several of its \
             intervals (1) or is fine (0)",
            task_degraded.clone(),
        );
        let task_restarts = Family::<TaskLabel, Counter>::default();
        registry.register(
            "task_restarts",
            "Times a supervised background task stopped and was started again",
            task_restarts.clone(),
        );
        Self {
            registry,
            http_requests,
            http_duration,
            submissions,
            checks,
            check_duration,
            greenhouse_requests,
            releases,
            access_tokens,
            token_renewals,
            claims,
            webhook_deliveries,
            mail,
            credentials,
            webhook_queue,
            task_up,
            task_degraded,
            task_restarts,
            scrape: Mutex::new(()),
        }
    }

    /// A request was answered.
    pub fn http_request(&self, labels: &HttpLabels, elapsed: Duration) {
        self.http_requests.get_or_create(labels).inc();
        self.http_duration
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64());
    }

    /// A submission on a link ended with `outcome`.
    pub fn submission(&self, kind: &'static str, outcome: &'static str) {
        self.submissions
            .get_or_create(&KindOutcome { kind, outcome })
            .inc();
    }

    /// A Greenhouse check ended with `outcome` after `elapsed`.
    pub fn check(&self, kind: &'static str, outcome: &'static str, elapsed: Duration) {
        self.checks
            .get_or_create(&KindOutcome { kind, outcome })
            .inc();
        self.check_duration
            .get_or_create(&KindLabel { kind })
            .observe(elapsed.as_secs_f64());
    }

    /// A request to a Greenhouse endpoint of class `endpoint` ended with `status`.
    pub fn greenhouse_request(&self, endpoint: &'static str, status: &'static str) {
        self.greenhouse_requests
            .get_or_create(&EndpointStatus { endpoint, status })
            .inc();
    }

    /// A secret was released to a worker.
    pub fn release(&self) {
        self.releases.inc();
    }

    /// An access token of a `vend` credential was handed to a worker.
    pub fn access_token(&self) {
        self.access_tokens.inc();
    }

    /// A credential was claimed by a worker.
    /// A renewal of a `vend` credential's access token (`how`: mint or refresh) ended with
    /// `outcome` (ok, failed, disconnected).
    pub fn token_renewal(&self, how: &'static str, outcome: &'static str) {
        self.token_renewals
            .get_or_create(&RenewalLabels { how, outcome })
            .inc();
    }

    pub fn claim(&self) {
        self.claims.inc();
    }

    /// A webhook delivery attempt was recorded with `outcome`.
    pub fn webhook_delivery(&self, outcome: &'static str) {
        self.webhook_deliveries
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// An attempt to e-mail a link ended with `outcome` (`sent`, `retried`, `failed`).
    pub fn record_mail(&self, outcome: &'static str) {
        self.mail.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// The Prometheus text exposition (format 0.0.4), with the scrape-time
    /// gauges set from `snap`.
    pub fn render(&self, snap: &Snapshot) -> Result<String, std::fmt::Error> {
        let _one_at_a_time = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        self.credentials.clear();
        if let Some(rows) = &snap.credentials {
            for (status, delivery, n) in rows {
                self.credentials
                    .get_or_create(&CredentialLabels {
                        status: status.clone(),
                        delivery: delivery.clone(),
                    })
                    .set(*n);
            }
        }
        if let Some(n) = snap.webhook_queue {
            self.webhook_queue.set(n);
        }
        let now = std::time::Instant::now();
        for task in &snap.tasks {
            let label = TaskLabel {
                task: task.name.clone(),
            };
            self.task_up
                .get_or_create(&label)
                .set(i64::from(!task.is_down()));
            self.task_degraded
                .get_or_create(&label)
                .set(i64::from(task.is_degraded(now)));
            let restarts = self.task_restarts.get_or_create(&label);
            restarts.inc_by(task.restarts.saturating_sub(restarts.get()));
        }
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The method as a label: the standard ones by name, anything else `other`
/// (a client picks the method: it must not grow the label set).
/// Labels of `keydrop_token_renewals_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RenewalLabels {
    how: &'static str,
    outcome: &'static str,
}

pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prefixed_series() {
        let m = Metrics::new();
        m.http_request(
            &HttpLabels {
                route: Cow::Borrowed("/d/{token}"),
                method: "GET",
                status: 200,
            },
            Duration::from_millis(3),
        );
        m.submission("harvest_v3", "verified");
        m.webhook_delivery("succeeded");
        m.greenhouse_request("token", "200");
        let text = m
            .render(&Snapshot {
                credentials: Some(vec![("verified".into(), "waiting".into(), 2)]),
                webhook_queue: Some(4),
                tasks: Vec::new(),
            })
            .unwrap();
        assert!(text.contains(
            r#"keydrop_http_requests_total{route="/d/{token}",method="GET",status="200"} 1"#
        ));
        assert!(text.contains("keydrop_http_request_duration_seconds_bucket{"));
        assert!(text.contains(r#"keydrop_credentials{status="verified",delivery="waiting"} 2"#));
        assert!(text.contains("keydrop_webhook_queue_depth 4"));
        assert!(
            text.contains(r#"keydrop_greenhouse_requests_total{endpoint="token",status="200"} 1"#)
        );
        assert!(
            text.contains(r#"keydrop_submissions_total{kind="harvest_v3",outcome="verified"} 1"#)
        );
    }

    #[test]
    fn unknown_methods_share_a_label() {
        let odd = actix_web::http::Method::from_bytes(b"KD_SECRET").unwrap();
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&actix_web::http::Method::POST), "POST");
    }
}
