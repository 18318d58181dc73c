//! The settings of the running service, typed and checked once at start (SPEC §6): a bad
//! value stops start-up with a one-line reason.

use super::args::ServeArgs;
use super::brand;
use super::greenhouse::{greenhouse_url, partner_client, PartnerClient};
use super::jobs::JobSettings;
use super::parse::{bounded, RateLimit, GREENHOUSE_BUDGET_RANGE, GREENHOUSE_TIMEOUT_RANGE};
use crate::domain::net::IpNet;
use std::net::SocketAddr;
use std::time::Duration;

/// Settings of the HTTP service, typed.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub bind: SocketAddr,
    pub public_url: String,
    pub brand_name: String,
    /// `KEYDROP_SUPPORT_EMAIL`, checked: the customer pages' contact when a
    /// drop has none.
    pub support_email: Option<String>,
    /// `KEYDROP_BRAND_LOGO`, loaded and checked.
    pub brand_logo: Option<brand::BrandLogo>,
    /// `KEYDROP_EGRESS_IPS`.
    pub egress_ips: Vec<IpNet>,
    pub greenhouse_auth_url: String,
    pub greenhouse_api_url: String,
    pub greenhouse_ingestion_url: String,
    pub greenhouse_boards_url: String,
    pub greenhouse_timeout: Duration,
    pub greenhouse_budget: Duration,
    pub retain_after_delivery: Duration,
    pub rate_limit: Option<RateLimit>,
    pub trusted_proxies: Vec<IpNet>,
    /// `KEYDROP_WEBHOOK_ALLOW_PRIVATE`.
    pub webhook_allow_private: bool,
    /// `KEYDROP_METRICS_BIND`: where Prometheus metrics are served, if anywhere.
    pub metrics_bind: Option<SocketAddr>,
    /// The operator's Greenhouse partner OAuth client, when configured.
    pub partner: Option<PartnerClient>,
    /// `KEYDROP_PARTNER_REFRESH_EVERY`.
    pub partner_refresh_every: Duration,
    /// `KEYDROP_HEALTH_CHECK_EVERY` (SPEC §15); `None` is `off`.
    pub health_check_every: Option<Duration>,
    /// `KEYDROP_SMTP_*` (SPEC §15): the mail server links are e-mailed through, if any.
    pub smtp: Option<super::mail::SmtpSettings>,
    /// `KEYDROP_REMINDER_BEFORE_EXPIRY`; `None` is `off`.
    pub reminder_before: Option<Duration>,
    /// The staff console's sessions (SPEC §13).
    pub console: ConsoleSettings,
    /// How long a client may take to send a request body, counted from the
    /// end of its headers ([`BODY_TIMEOUT`]; not a setting, tests shorten it).
    pub body_timeout: Duration,
    /// Background tasks (fixed in production; tests shorten them).
    pub jobs: JobSettings,
}

/// How long console sessions last (`KEYDROP_CONSOLE_IDLE`, `KEYDROP_CONSOLE_MAX_AGE`).
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    pub idle: Duration,
    pub max_age: Duration,
    /// The console's base URL (`KEYDROP_CONSOLE_URL`, else `KEYDROP_PUBLIC_URL`); its scheme
    /// decides whether the session cookie is `Secure`.
    pub url: String,
    /// The OpenID Connect provider people sign in with, if any.
    pub oidc: Option<super::oidc::OidcSettings>,
    /// `KEYDROP_CONSOLE_BIND`: the console's own listener, if it has one.
    pub bind: Option<SocketAddr>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            max_age: Duration::from_secs(12 * 3600),
            url: String::new(),
            oidc: None,
            bind: None,
        }
    }
}

/// The bound on receiving a whole request body. Headers and idle
/// connections are bounded by the HTTP server itself (5 s).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

impl ServeSettings {
    pub fn from_args(args: &ServeArgs) -> Result<Self, String> {
        let public_url = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", args.bind));
        Ok(Self {
            bind: args.bind,
            public_url: public_url.trim_end_matches('/').to_owned(),
            brand_name: args.brand_name.clone(),
            support_email: args
                .support_email
                .as_deref()
                .filter(|e| !e.trim().is_empty())
                .map(|e| crate::domain::contact::check_email("KEYDROP_SUPPORT_EMAIL", e))
                .transpose()?,
            brand_logo: args
                .brand_logo
                .as_deref()
                .filter(|p| !p.as_os_str().is_empty())
                .map(brand::BrandLogo::load)
                .transpose()?,
            egress_ips: brand::egress_ips(&args.egress_ips)?,
            greenhouse_auth_url: greenhouse_url(
                "KEYDROP_GREENHOUSE_AUTH_URL",
                &args.greenhouse_auth_url,
            )?,
            greenhouse_api_url: greenhouse_url(
                "KEYDROP_GREENHOUSE_API_URL",
                &args.greenhouse_api_url,
            )?,
            greenhouse_ingestion_url: greenhouse_url(
                "KEYDROP_GREENHOUSE_INGESTION_URL",
                &args.greenhouse_ingestion_url,
            )?,
            greenhouse_boards_url: greenhouse_url(
                "KEYDROP_GREENHOUSE_BOARDS_URL",
                &args.greenhouse_boards_url,
            )?,
            greenhouse_timeout: bounded(
                "KEYDROP_GREENHOUSE_TIMEOUT",
                args.greenhouse_timeout,
                GREENHOUSE_TIMEOUT_RANGE,
            )?,
            greenhouse_budget: bounded(
                "KEYDROP_GREENHOUSE_BUDGET",
                args.greenhouse_budget,
                GREENHOUSE_BUDGET_RANGE,
            )?,
            retain_after_delivery: args.retain_after_delivery,
            rate_limit: args.rate_limit.0,
            webhook_allow_private: args.webhook_allow_private,
            metrics_bind: args.metrics_bind,
            partner: partner_client(&args.partner)?,
            partner_refresh_every: bounded(
                "KEYDROP_PARTNER_REFRESH_EVERY",
                args.partner_refresh_every,
                (Duration::from_secs(1), Duration::from_secs(23 * 3600)),
            )?,
            health_check_every: match args.health_check_every.trim() {
                "off" => None,
                text => Some(bounded(
                    "KEYDROP_HEALTH_CHECK_EVERY",
                    super::parse_duration(text)
                        .map_err(|e| format!("KEYDROP_HEALTH_CHECK_EVERY: {e} (or off)"))?,
                    (Duration::from_secs(1), Duration::from_secs(30 * 86_400)),
                )?),
            },
            smtp: super::mail::smtp_settings(&args.mail)?,
            reminder_before: super::mail::reminder_before(&args.mail.reminder_before_expiry)?,
            body_timeout: BODY_TIMEOUT,
            console: ConsoleSettings {
                idle: bounded(
                    "KEYDROP_CONSOLE_IDLE",
                    args.console_idle,
                    (Duration::from_secs(60), Duration::from_secs(24 * 3600)),
                )?,
                max_age: bounded(
                    "KEYDROP_CONSOLE_MAX_AGE",
                    args.console_max_age,
                    (Duration::from_secs(300), Duration::from_secs(7 * 86_400)),
                )?,
                bind: args.console_bind,
                url: super::oidc::console_url(&args.oidc, &public_url)?,
                oidc: super::oidc::oidc_settings(
                    &args.oidc,
                    &super::oidc::console_url(&args.oidc, &public_url)?,
                )?,
            },
            trusted_proxies: args
                .trusted_proxies
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| IpNet::parse(s).map_err(|e| format!("KEYDROP_TRUSTED_PROXIES: {e}")))
                .collect::<Result<_, _>>()?,
            jobs: JobSettings::default(),
        })
    }

    /// Whether the console is served over TLS (then its cookie is `Secure`, `__Host-`).
    pub fn console_is_https(&self) -> bool {
        let url = if self.console.url.is_empty() {
            &self.public_url
        } else {
            &self.console.url
        };
        url.starts_with("https://")
    }

    /// Whether the links are served over TLS (then HSTS is sent).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
