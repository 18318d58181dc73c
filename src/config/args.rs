//! The command line and environment (SPEC §6, §7): what every command shares, and what
//! `serve` (and `demo`) take. Each setting is an environment variable and a flag; secrets
//! are never shown, not even in `--help`.

use super::parse::{parse_duration, parse_rate_limit, RateLimitSetting};
use clap::{Args, ValueEnum};
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
    /// Who wraps new master key versions (SPEC §14): `file`,
    /// `aws-kms:<key id or ARN>`, `transit:<mount>/<key name>` or
    /// `pkcs11:<key label>`.
    #[arg(long, global = true, env = "KEYDROP_KEY_CUSTODY")]
    pub key_custody: Option<String>,
    /// AWS KMS endpoint (tests, private endpoints; plain http only on loopback).
    #[arg(long, global = true, env = "KEYDROP_AWS_KMS_ENDPOINT")]
    pub aws_kms_endpoint: Option<String>,
    /// Vault or OpenBao address for the `transit` custody.
    #[arg(long, global = true, env = "KEYDROP_VAULT_ADDR")]
    pub vault_addr: Option<String>,
    /// A file holding the Vault/OpenBao token (else VAULT_TOKEN).
    #[arg(long, global = true, env = "KEYDROP_VAULT_TOKEN_FILE")]
    pub vault_token_file: Option<PathBuf>,
    /// The PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so).
    #[arg(long, global = true, env = "KEYDROP_PKCS11_MODULE")]
    pub pkcs11_module: Option<PathBuf>,
    /// The label of the PKCS#11 token holding the wrapping key.
    #[arg(long, global = true, env = "KEYDROP_PKCS11_TOKEN")]
    pub pkcs11_token: Option<String>,
    /// A file holding the token's user PIN.
    #[arg(long, global = true, env = "KEYDROP_PKCS11_PIN_FILE")]
    pub pkcs11_pin_file: Option<PathBuf>,
    /// How long start-up waits for an unreachable key custody (§14: 30 s).
    #[arg(
        long,
        global = true,
        env = "KEYDROP_KEY_CUSTODY_WAIT",
        default_value = "30s",
        value_parser = parse_duration
    )]
    pub key_custody_wait: Duration,
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
    #[command(flatten)]
    pub partner: PartnerArgs,
    /// Keep-alive interval of partner grants (1s … 23h; their refresh tokens die after 24 h
    /// without use).
    #[arg(long, env = "KEYDROP_PARTNER_REFRESH_EVERY", default_value = "8h", value_parser = parse_duration)]
    pub partner_refresh_every: Duration,
    /// How often each live credential is checked again against Greenhouse (SPEC §15;
    /// 1s … 30d, or `off`).
    #[arg(long, env = "KEYDROP_HEALTH_CHECK_EVERY", default_value = "24h")]
    pub health_check_every: String,
    #[command(flatten)]
    pub mail: super::mail::MailArgs,
    /// A console session ends after this long without use (1m … 24h).
    #[arg(long, env = "KEYDROP_CONSOLE_IDLE", default_value = "30m", value_parser = parse_duration)]
    pub console_idle: Duration,
    /// A console session ends this long after sign-in, however used (5m … 7d).
    #[arg(long, env = "KEYDROP_CONSOLE_MAX_AGE", default_value = "12h", value_parser = parse_duration)]
    pub console_max_age: Duration,
    /// Serve the staff console only on this separate listener (e.g. `127.0.0.1:8081`;
    /// keep it off the internet); the main listener then answers 404 under `/console`.
    #[arg(long, env = "KEYDROP_CONSOLE_BIND")]
    pub console_bind: Option<SocketAddr>,
    #[command(flatten)]
    pub oidc: super::oidc::OidcArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The operator's Greenhouse partner OAuth client: read by `serve`, and by `drop create` to
/// know whether partner drops can be made.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PartnerArgs {
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
}
