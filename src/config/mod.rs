//! Configuration (SPEC §6): environment variables, each also a flag, typed
//! once at start. Secrets are held in types whose `Debug` prints nothing.
//! On the ground floor: it imports nothing above `domain`.
//!
//! - [`args`]: the command line and environment, as clap reads them;
//! - [`store`]: where the data and the keys are (every command);
//! - [`serve`]: the running service's settings, checked once at start;
//! - [`greenhouse`]: Greenhouse's URLs and the operator's partner client;
//! - [`oidc`]: the console's OpenID Connect provider and who may sign in;
//! - [`jobs`]: how the background tasks run;
//! - [`brand`]: what the customer pages show of the operator;
//! - [`parse`]: durations, rates and their bounds.

pub mod args;
pub mod brand;
pub mod custody;
pub mod greenhouse;
pub mod jobs;
pub mod mail;
pub mod oidc;
pub mod parse;
pub mod serve;
pub mod store;

pub use args::{GlobalArgs, LogFormat, PartnerArgs, ServeArgs};
pub use custody::{CustodyRef, CustodySettings};
pub use greenhouse::{greenhouse_url, partner_client, PartnerClient};
pub use jobs::{Backoff, JobSettings};
pub use mail::{MailArgs, SmtpSecurity, SmtpSettings};
pub use oidc::{OidcArgs, OidcSettings};
pub use parse::{
    parse_duration, parse_rate_limit, RateLimit, RateLimitSetting, GREENHOUSE_BUDGET_RANGE,
    GREENHOUSE_TIMEOUT_RANGE,
};
pub use serve::{ConsoleSettings, ServeSettings, BODY_TIMEOUT};
pub use store::{DatabaseUrl, StoreSettings};

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use std::time::Duration;

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
            custody: CustodySettings::file(),
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains(key), "{shown}");
        assert!(!shown.contains("pw-XYZ"), "{shown}");
    }
}
