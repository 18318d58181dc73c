//! Configuration (SPEC §6): environment variables, each also a flag, typed
//! once at start. Secrets are held in types whose `Debug` prints nothing.

use crate::web::client_addr::IpNet;
use clap::{Args, ValueEnum};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    pub greenhouse_auth_url: String,
    pub greenhouse_api_url: String,
    pub greenhouse_timeout: Duration,
    pub greenhouse_budget: Duration,
    pub retain_after_delivery: Duration,
    pub rate_limit: Option<RateLimit>,
    pub trusted_proxies: Vec<IpNet>,
    /// How long a client may take to send a request body, counted from the
    /// end of its headers ([`BODY_TIMEOUT`]; not a setting, tests shorten it).
    pub body_timeout: Duration,
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
            greenhouse_auth_url: args.greenhouse_auth_url.trim_end_matches('/').to_owned(),
            greenhouse_api_url: args.greenhouse_api_url.trim_end_matches('/').to_owned(),
            greenhouse_timeout: args.greenhouse_timeout,
            greenhouse_budget: args.greenhouse_budget,
            retain_after_delivery: args.retain_after_delivery,
            rate_limit: args.rate_limit.0,
            body_timeout: BODY_TIMEOUT,
            trusted_proxies: args
                .trusted_proxies
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| IpNet::parse(s).map_err(|e| format!("KEYDROP_TRUSTED_PROXIES: {e}")))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether the links are served over TLS (then HSTS is sent).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
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
