//! Configuration (SPEC §6): environment variables, each also a flag, typed
//! once at start. Secrets are held in types whose `Debug` prints nothing.

use crate::web::client_addr::IpNet;
use clap::{Args, ValueEnum};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub mod brand;

/// Options every command shares (where the data and the keys are).
#[derive(Args, Clone)]
pub struct GlobalArgs {
    /// Directory for the embedded database and a generated keyring.
    #[arg(
        long,
        global = true,
        env = "KEYDROP_DATA_DIR",
        default_value = "./keydrop-data"
    )]
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…` (also read from DATABASE_URL).
    /// Default: sqlite://<data dir>/keydrop.db
    #[arg(
        long,
        global = true,
        env = "KEYDROP_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// A file holding the database URL (e.g. a Docker secret), read when
    /// KEYDROP_DATABASE_URL is unset.
    #[arg(long, global = true, env = "KEYDROP_DATABASE_URL_FILE")]
    pub database_url_file: Option<PathBuf>,
    /// Versioned master keys, written by `keys init` / `keys rotate`.
    /// Default: <data dir>/keyring.json, generated on first start.
    #[arg(long, global = true, env = "KEYDROP_KEYRING_FILE")]
    pub keyring_file: Option<PathBuf>,
    /// One master key, standard base64 of 32 random bytes (key version 1).
    /// Prefer the environment variable: a flag is visible in the process list.
    #[arg(
        long,
        global = true,
        env = "KEYDROP_MASTER_KEY",
        hide_env_values = true
    )]
    pub master_key: Option<String>,
    /// Log format.
    #[arg(
        long,
        global = true,
        env = "KEYDROP_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// Options of `serve` (and `demo`).
#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Listen address.
    #[arg(long, env = "KEYDROP_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Base of the links handed out. Default: http://<bind>
    #[arg(long, env = "KEYDROP_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Who the customer is sending the credential to.
    #[arg(long, env = "KEYDROP_BRAND_NAME", default_value = "keydrop")]
    pub brand_name: String,
    /// An e-mail address shown on every customer page of a link whose drop
    /// names no contact (and on the unknown-link page).
    #[arg(long, env = "KEYDROP_SUPPORT_EMAIL")]
    pub support_email: Option<String>,
    /// A PNG or SVG logo (at most 256 KiB) shown on the customer pages,
    /// served from /static/brand/.
    #[arg(long, env = "KEYDROP_BRAND_LOGO")]
    pub brand_logo: Option<PathBuf>,
    /// The public addresses keydrop and the workers call Greenhouse from
    /// (comma-separated addresses or CIDR ranges), shown to customers whose
    /// Greenhouse allows API access only from listed addresses.
    #[arg(
        long,
        env = "KEYDROP_EGRESS_IPS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub egress_ips: Vec<String>,
    /// Greenhouse's OAuth server.
    #[arg(
        long,
        env = "KEYDROP_GREENHOUSE_AUTH_URL",
        default_value = "https://auth.greenhouse.io"
    )]
    pub greenhouse_auth_url: String,
    /// Greenhouse's Harvest API.
    #[arg(
        long,
        env = "KEYDROP_GREENHOUSE_API_URL",
        default_value = "https://harvest.greenhouse.io"
    )]
    pub greenhouse_api_url: String,
    /// Greenhouse's Candidate Ingestion API (`candidate_ingestion` drops).
    #[arg(
        long,
        env = "KEYDROP_GREENHOUSE_INGESTION_URL",
        default_value = "https://api.greenhouse.io"
    )]
    pub greenhouse_ingestion_url: String,
    /// Greenhouse's public Job Board API (job board tokens of `candidate_ingestion` drops).
    #[arg(
        long,
        env = "KEYDROP_GREENHOUSE_BOARDS_URL",
        default_value = "https://boards-api.greenhouse.io"
    )]
    pub greenhouse_boards_url: String,
    /// Timeout of one request to Greenhouse.
    #[arg(long, env = "KEYDROP_GREENHOUSE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub greenhouse_timeout: Duration,
    /// Total time one credential check may take, retries included.
    #[arg(long, env = "KEYDROP_GREENHOUSE_BUDGET", default_value = "15s", value_parser = parse_duration)]
    pub greenhouse_budget: Duration,
    /// How long a delivered credential's ciphertext is kept (`0` = destroy on ack).
    #[arg(long, env = "KEYDROP_RETAIN_AFTER_DELIVERY", default_value = "7d", value_parser = parse_duration)]
    pub retain_after_delivery: Duration,
    /// Reverse proxies whose `X-Forwarded-For` is believed: comma-separated
    /// addresses or CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`). Empty: the
    /// TCP peer is the client.
    #[arg(
        long,
        env = "KEYDROP_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub trusted_proxies: Vec<String>,
    /// Public POSTs per client address, e.g. `30/min`, `5/s`, or `off`.
    #[arg(long, env = "KEYDROP_RATE_LIMIT", default_value = "30/min", value_parser = parse_rate_limit)]
    pub rate_limit: RateLimitSetting,
    /// Allow webhook URLs on loopback/private addresses and plain http
    /// (tests, internal receivers). Off: https to public addresses only.
    #[arg(long, env = "KEYDROP_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,
    /// Address of a separate listener serving Prometheus `GET /metrics`
    /// (e.g. `127.0.0.1:9464`). Unset: no metrics listener.
    #[arg(long, env = "KEYDROP_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// Your Greenhouse partner OAuth client id; enables `harvest_v3_partner` drops
    /// ("Connect with Greenhouse").
    #[arg(long, env = "KEYDROP_GREENHOUSE_PARTNER_CLIENT_ID")]
    pub partner_client_id: Option<String>,
    /// The partner client's secret (prefer the _FILE form).
    #[arg(
        long,
        env = "KEYDROP_GREENHOUSE_PARTNER_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub partner_client_secret: Option<String>,
    /// A file holding the partner client's secret.
    #[arg(long, env = "KEYDROP_GREENHOUSE_PARTNER_CLIENT_SECRET_FILE")]
    pub partner_client_secret_file: Option<std::path::PathBuf>,
    /// Keep-alive interval of partner grants (1s … 23h; their refresh tokens die after 24 h
    /// without use).
    #[arg(long, env = "KEYDROP_PARTNER_REFRESH_EVERY", default_value = "8h", value_parser = parse_duration)]
    pub partner_refresh_every: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// `None` = rate limiting off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSetting(pub Option<RateLimit>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
}

/// A database URL whose password never reaches a log or `Debug` output.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(url: String) -> Self {
        Self(SecretString::from(url))
    }

    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }

    /// Whether this is a PostgreSQL database (which several processes may share).
    pub fn is_postgres(&self) -> bool {
        let url = self.expose();
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = self.expose();
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_owned();
        };
        // The query may hold secrets too (`password=`, `sslpassword=`): drop it.
        let rest = rest.split('?').next().unwrap_or("");
        // The password may contain unencoded `/`, `:` or `@`: the user info
        // ends at the LAST `@`, and everything before it but the user is hidden.
        match rest.rsplit_once('@') {
            Some((userinfo, host_and_path)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                if userinfo.contains(':') {
                    format!("{scheme}://{user}:***@{host_and_path}")
                } else {
                    format!("{scheme}://{user}@{host_and_path}")
                }
            }
            None => format!("{scheme}://{rest}"),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Settings of the store and keys, typed.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub keyring_file: PathBuf,
    pub keyring_file_set: bool,
    pub master_key: Option<SecretString>,
}

impl StoreSettings {
    pub fn from_args(args: &GlobalArgs) -> Result<Self, String> {
        let from_file = match &args.database_url_file {
            Some(path) if args.database_url.is_none() => Some(
                std::fs::read_to_string(path)
                    .map(|s| s.trim().to_owned())
                    .map_err(|e| format!("KEYDROP_DATABASE_URL_FILE {}: {e}", path.display()))?,
            ),
            _ => None,
        };
        let database_url = args
            .database_url
            .clone()
            .filter(|u| !u.is_empty())
            .or(from_file)
            .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| format!("sqlite://{}", args.data_dir.join("keydrop.db").display()));
        Ok(Self {
            data_dir: args.data_dir.clone(),
            database_url: DatabaseUrl::new(database_url),
            keyring_file: args
                .keyring_file
                .clone()
                .unwrap_or_else(|| args.data_dir.join("keyring.json")),
            keyring_file_set: args.keyring_file.is_some(),
            master_key: args
                .master_key
                .clone()
                .filter(|k| !k.is_empty())
                .map(SecretString::from),
        })
    }
}

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
    pub partner: Option<crate::greenhouse::PartnerClient>,
    /// `KEYDROP_PARTNER_REFRESH_EVERY`.
    pub partner_refresh_every: Duration,
    /// How long a client may take to send a request body, counted from the
    /// end of its headers ([`BODY_TIMEOUT`]; not a setting, tests shorten it).
    pub body_timeout: Duration,
    /// Background tasks (fixed in production; tests shorten them).
    pub jobs: crate::jobs::JobSettings,
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
            partner: partner_client(args)?,
            partner_refresh_every: bounded(
                "KEYDROP_PARTNER_REFRESH_EVERY",
                args.partner_refresh_every,
                (Duration::from_secs(1), Duration::from_secs(23 * 3600)),
            )?,
            body_timeout: BODY_TIMEOUT,
            trusted_proxies: args
                .trusted_proxies
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| IpNet::parse(s).map_err(|e| format!("KEYDROP_TRUSTED_PROXIES: {e}")))
                .collect::<Result<_, _>>()?,
            jobs: crate::jobs::JobSettings::default(),
        })
    }

    /// Whether the links are served over TLS (then HSTS is sent).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// The partner OAuth client from its id and its secret (given directly or in a file): both
/// or neither.
fn partner_client(args: &ServeArgs) -> Result<Option<crate::greenhouse::PartnerClient>, String> {
    let id = args
        .partner_client_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let secret = match (
        &args.partner_client_secret,
        &args.partner_client_secret_file,
    ) {
        (Some(s), None) => Some(zeroize::Zeroizing::new(s.trim().to_owned())),
        (None, Some(path)) => Some(zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| {
                    format!(
                        "KEYDROP_GREENHOUSE_PARTNER_CLIENT_SECRET_FILE {}: {e}",
                        path.display()
                    )
                })?
                .trim()
                .to_owned(),
        )),
        (Some(_), Some(_)) => {
            return Err(
                "set KEYDROP_GREENHOUSE_PARTNER_CLIENT_SECRET or its _FILE form, not both".into(),
            )
        }
        (None, None) => None,
    }
    .filter(|s| !s.is_empty());
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some(crate::greenhouse::PartnerClient::new(id, secret))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(
            "KEYDROP_GREENHOUSE_PARTNER_CLIENT_ID is set but its secret is not \
             (KEYDROP_GREENHOUSE_PARTNER_CLIENT_SECRET or …_SECRET_FILE)"
                .into(),
        ),
        (None, Some(_)) => Err(
            "a partner client secret is set but KEYDROP_GREENHOUSE_PARTNER_CLIENT_ID is not".into(),
        ),
    }
}

/// Allowed timeouts of one request to Greenhouse (SPEC §6).
pub const GREENHOUSE_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(60));
/// Allowed total budgets of one credential check (SPEC §6).
pub const GREENHOUSE_BUDGET_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(300));

/// `value` if it lies within `range` (both ends included).
fn bounded(name: &str, value: Duration, range: (Duration, Duration)) -> Result<Duration, String> {
    let (min, max) = range;
    if value < min || value > max {
        return Err(format!(
            "{name} must be between {}s and {}s, not {:?}",
            min.as_secs(),
            max.as_secs(),
            value
        ));
    }
    Ok(value)
}

/// A Greenhouse base URL (SPEC §6): `https://`, or plain `http://` only for
/// a loopback address (tests, `keydrop demo`); no user name or password, no
/// query, no fragment. Returned without a trailing `/`. The value itself is
/// never echoed: a URL with a password in it must not reach the terminal.
pub fn greenhouse_url(name: &str, text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text.trim())
        .map_err(|e| format!("{name} is not an absolute URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{name} must not contain a user name or password"));
    }
    if url.query().is_some() {
        return Err(format!("{name} must not have a query (`?…`)"));
    }
    if url.fragment().is_some() {
        return Err(format!("{name} must not have a fragment (`#…`)"));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(format!("{name} has no host"));
    };
    // An address literal only: a name (even `localhost`) is whatever DNS says.
    let loopback = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "{name} must use https:// (plain http:// is only for loopback addresses such as 127.0.0.1)"
            ))
        }
        other => return Err(format!("{name} must use https://, not {other}://")),
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `0`, `300`, `300s`, `30m`, `72h`, `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 300s, 30m, 72h or 7d"))?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(|| format!("{text:?} is not a duration like 300s, 30m, 72h or 7d"))?;
    Ok(Duration::from_secs(secs))
}

/// `30/min`, `5/s`, `1000/h`, `off`.
pub fn parse_rate_limit(text: &str) -> Result<RateLimitSetting, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(RateLimitSetting(None));
    }
    let bad = || format!("{text:?} is not a rate like 30/min, 5/s or off");
    let (n, per) = t.split_once('/').ok_or_else(bad)?;
    let requests: u32 = n.trim().parse().map_err(|_| bad())?;
    let per = match per.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        _ => return Err(bad()),
    };
    if requests == 0 {
        return Err(bad());
    }
    Ok(RateLimitSetting(Some(RateLimit { requests, per })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greenhouse_urls_are_https_or_loopback_http() {
        let ok = |v: &str| greenhouse_url("X", v);
        assert_eq!(
            ok("https://api.greenhouse.io/").unwrap(),
            "https://api.greenhouse.io"
        );
        for good in [
            "http://127.0.0.1:9",
            "http://[::1]:1",
            "https://boards-api.greenhouse.io",
        ] {
            assert!(ok(good).is_ok(), "{good}");
        }
        for bad in [
            "http://api.greenhouse.io",
            "http://localhost:8080/base",
            "http://10.0.0.1",
            "ftp://x",
            "https://",
            "https://u:p@api.greenhouse.io",
            "https://api.greenhouse.io?x=1",
            "https://api.greenhouse.io#f",
            "api.greenhouse.io",
        ] {
            let e = ok(bad).unwrap_err();
            assert!(e.starts_with('X'), "{bad}: {e}");
            assert!(!e.contains("u:p"), "{e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("300").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("72h").unwrap(), Duration::from_secs(259_200));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("7 weeks").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn rate_limits() {
        assert_eq!(parse_rate_limit("off").unwrap(), RateLimitSetting(None));
        let r = parse_rate_limit("30/min").unwrap().0.unwrap();
        assert_eq!((r.requests, r.per), (30, Duration::from_secs(60)));
        assert!(parse_rate_limit("0/min").is_err());
        assert!(parse_rate_limit("lots").is_err());
    }

    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn serve_settings(args: &[&str]) -> Result<ServeSettings, String> {
        let mut argv = vec!["keydrop"];
        argv.extend_from_slice(args);
        let parsed = <Serve as clap::Parser>::try_parse_from(argv).map_err(|e| e.to_string())?;
        ServeSettings::from_args(&parsed.serve)
    }

    #[test]
    fn greenhouse_urls_must_be_https_or_loopback_http() {
        let ok = |u: &str| greenhouse_url("KEYDROP_GREENHOUSE_API_URL", u);
        assert_eq!(
            ok("https://harvest.greenhouse.io/").unwrap(),
            "https://harvest.greenhouse.io"
        );
        assert_eq!(
            ok("https://staging.example.com/gh/").unwrap(),
            "https://staging.example.com/gh"
        );
        assert_eq!(ok("http://127.0.0.1:9").unwrap(), "http://127.0.0.1:9");
        assert_eq!(ok("http://127.8.0.1:9/").unwrap(), "http://127.8.0.1:9");
        assert_eq!(ok("http://[::1]:8080").unwrap(), "http://[::1]:8080");
        for (bad, why) in [
            ("http://harvest.greenhouse.io", "https://"),
            ("http://localhost:9", "https://"),
            ("http://10.0.0.1", "https://"),
            ("ftp://harvest.greenhouse.io", "not ftp://"),
            ("harvest.greenhouse.io", "not an absolute URL"),
            ("", "not an absolute URL"),
            (
                "https://user@harvest.greenhouse.io",
                "user name or password",
            ),
            ("http://u:hunter2@127.0.0.1", "user name or password"),
            ("https://harvest.greenhouse.io/?x=1", "query"),
            ("https://harvest.greenhouse.io/?", "query"),
            ("https://harvest.greenhouse.io/#top", "fragment"),
        ] {
            let e = ok(bad).unwrap_err();
            assert!(
                e.starts_with("KEYDROP_GREENHOUSE_API_URL ")
                    && e.contains(why)
                    && !e.contains('\n'),
                "{bad}: {e}"
            );
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn greenhouse_timeout_and_budget_are_bounded() {
        assert!(serve_settings(&[]).is_ok(), "the defaults are valid");
        let s =
            serve_settings(&["--greenhouse-timeout", "60s", "--greenhouse-budget", "5m"]).unwrap();
        assert_eq!(s.greenhouse_timeout, Duration::from_secs(60));
        assert_eq!(s.greenhouse_budget, Duration::from_secs(300));
        let s =
            serve_settings(&["--greenhouse-timeout", "1", "--greenhouse-budget", "1s"]).unwrap();
        assert_eq!(
            (s.greenhouse_timeout, s.greenhouse_budget),
            (Duration::from_secs(1), Duration::from_secs(1))
        );
        for (flag, value, name) in [
            ("--greenhouse-timeout", "0", "KEYDROP_GREENHOUSE_TIMEOUT"),
            ("--greenhouse-timeout", "61s", "KEYDROP_GREENHOUSE_TIMEOUT"),
            ("--greenhouse-budget", "0s", "KEYDROP_GREENHOUSE_BUDGET"),
            ("--greenhouse-budget", "301", "KEYDROP_GREENHOUSE_BUDGET"),
            ("--greenhouse-budget", "1h", "KEYDROP_GREENHOUSE_BUDGET"),
        ] {
            let e = serve_settings(&[flag, value]).unwrap_err();
            assert!(
                e.starts_with(name) && e.contains("between") && !e.contains('\n'),
                "{e}"
            );
        }
    }

    #[test]
    fn serve_checks_both_greenhouse_urls() {
        let e = serve_settings(&["--greenhouse-auth-url", "http://auth.example.com"]).unwrap_err();
        assert!(
            e.starts_with("KEYDROP_GREENHOUSE_AUTH_URL must use https://"),
            "{e}"
        );
        let e = serve_settings(&["--greenhouse-api-url", "https://h.example.com/#x"]).unwrap_err();
        assert!(
            e.starts_with("KEYDROP_GREENHOUSE_API_URL must not have a fragment"),
            "{e}"
        );
        let s = serve_settings(&[
            "--greenhouse-auth-url",
            "http://127.0.0.1:4000/",
            "--greenhouse-api-url",
            "http://127.0.0.1:4000",
        ])
        .unwrap();
        assert_eq!(s.greenhouse_auth_url, "http://127.0.0.1:4000");
        assert_eq!(s.greenhouse_api_url, "http://127.0.0.1:4000");
    }

    #[test]
    fn only_postgres_urls_are_shared_databases() {
        assert!(DatabaseUrl::new("postgres://u@h/db".into()).is_postgres());
        assert!(DatabaseUrl::new("postgresql://u@h/db".into()).is_postgres());
        assert!(!DatabaseUrl::new("sqlite://./keydrop-data/keydrop.db".into()).is_postgres());
    }

    #[test]
    fn trusted_proxies_take_addresses_and_ranges() {
        let s = serve_settings(&[
            "--trusted-proxies",
            "10.0.0.0/8, 2001:db8::/32,192.0.2.7,::ffff:198.51.100.1",
        ])
        .unwrap();
        let shown: Vec<String> = s.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            shown,
            [
                "10.0.0.0/8",
                "2001:db8::/32",
                "192.0.2.7/32",
                "198.51.100.1/32"
            ]
        );
        assert!(serve_settings(&[]).unwrap().trusted_proxies.is_empty());
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.1/8", "1.2.3.4:80"] {
            let e = serve_settings(&["--trusted-proxies", bad]).unwrap_err();
            assert!(
                e.starts_with("KEYDROP_TRUSTED_PROXIES: ") && !e.contains('\n'),
                "{e}"
            );
        }
    }

    #[test]
    fn brand_logo_and_egress_ips_are_checked_at_start() {
        let e = serve_settings(&["--brand-logo", "/nonexistent/logo.png"]).unwrap_err();
        assert!(e.starts_with("KEYDROP_BRAND_LOGO: "), "{e}");
        let e = serve_settings(&["--egress-ips", "203.0.113.7,nope"]).unwrap_err();
        assert!(e.starts_with("KEYDROP_EGRESS_IPS: "), "{e}");
        let s = serve_settings(&["--egress-ips", "203.0.113.7, 198.51.100.0/24"]).unwrap();
        assert_eq!(s.egress_ips.len(), 2);
        let s = serve_settings(&[]).unwrap();
        assert!(s.brand_logo.is_none() && s.egress_ips.is_empty());
    }

    #[test]
    fn support_email_is_checked_once() {
        assert_eq!(serve_settings(&[]).unwrap().support_email, None);
        assert_eq!(
            serve_settings(&["--support-email", " help@acme.example "])
                .unwrap()
                .support_email
                .as_deref(),
            Some("help@acme.example")
        );
        let e = serve_settings(&["--support-email", "help at acme"]).unwrap_err();
        assert!(
            e.starts_with("KEYDROP_SUPPORT_EMAIL must be an e-mail address") && !e.contains('\n'),
            "{e}"
        );
    }

    #[test]
    fn database_password_is_redacted() {
        let u = DatabaseUrl::new("postgres://kd:hunter2@db:5432/keydrop?sslmode=require".into());
        assert_eq!(u.redacted(), "postgres://kd:***@db:5432/keydrop");
        assert!(!format!("{u:?} {u}").contains("hunter2"));
        for tricky in [
            "postgres://u:pa/ss@h/db",
            "postgres://u:p@ss:w/rd@h:5432/db",
            "postgres://u@h/db?password=hunter2",
        ] {
            let shown = DatabaseUrl::new(tricky.into()).redacted();
            assert!(
                !shown.contains("pa/ss")
                    && !shown.contains("ss:w/rd")
                    && !shown.contains("hunter2"),
                "{shown}"
            );
        }
        let s = DatabaseUrl::new("sqlite://./keydrop-data/keydrop.db".into());
        assert_eq!(s.redacted(), "sqlite://./keydrop-data/keydrop.db");
    }

    #[test]
    fn debug_of_settings_prints_no_secret() {
        let key = "c2VjcmV0LW1hc3Rlci1rZXktdGhhdC1pcy0zMi1ieXRlcw==";
        let s = StoreSettings {
            data_dir: "/d".into(),
            database_url: DatabaseUrl::new("postgres://u:pw-XYZ@h/db".into()),
            keyring_file: "/d/keyring.json".into(),
            keyring_file_set: false,
            master_key: Some(SecretString::from(key)),
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains(key), "{shown}");
        assert!(!shown.contains("pw-XYZ"), "{shown}");
    }
}
