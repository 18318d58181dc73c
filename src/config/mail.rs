//! `KEYDROP_SMTP_*` and `KEYDROP_REMINDER_BEFORE_EXPIRY` (SPEC §6, §15): where e-mailed links
//! go out, checked once at start.

use secrecy::SecretString;
use std::path::PathBuf;
use std::time::Duration;

/// The e-mail settings as clap reads them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MailArgs {
    /// The mail server links are e-mailed through: `smtp://host:port` (STARTTLS required
    /// unless the host is loopback) or `smtps://host:port`. Unset: keydrop sends no e-mail.
    #[arg(long, env = "KEYDROP_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The user keydrop signs in to the mail server as (with KEYDROP_SMTP_PASSWORD_FILE).
    #[arg(long, env = "KEYDROP_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// A file holding the mail server password.
    #[arg(long, env = "KEYDROP_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,
    /// The sender of link e-mails, e.g. `Acme Integrations <links@acme.example>`; required
    /// with KEYDROP_SMTP_URL.
    #[arg(long, env = "KEYDROP_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// One reminder this long before an e-mailed link expires (from 1s), or `off`.
    #[arg(long, env = "KEYDROP_REMINDER_BEFORE_EXPIRY", default_value = "24h")]
    pub reminder_before_expiry: String,
}

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte.
    Tls,
    /// `smtp://` to another host: STARTTLS, required.
    StartTls,
    /// `smtp://` to a loopback address (a local relay): no TLS.
    Plain,
}

/// A checked mail server.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The `From` mailbox, as given (checked by the mail layer at start).
    pub from: String,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl SmtpSettings {
    /// `smtp://host:port` as it is shown to staff and in logs (no user, no password).
    pub fn label(&self) -> String {
        let scheme = if self.security == SmtpSecurity::Tls {
            "smtps"
        } else {
            "smtp"
        };
        format!("{scheme}://{}:{}", self.host, self.port)
    }
}

/// The mail settings, or `None` without `KEYDROP_SMTP_URL`.
pub fn smtp_settings(args: &MailArgs) -> Result<Option<SmtpSettings>, String> {
    let Some(url) = args
        .smtp_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    else {
        return Ok(None);
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("KEYDROP_SMTP_URL: {e}"))?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("KEYDROP_SMTP_URL: no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "KEYDROP_SMTP_URL: put the user in KEYDROP_SMTP_USERNAME and the password \
                    in KEYDROP_SMTP_PASSWORD_FILE, not in the URL"
                .into(),
        );
    }
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
        return Err("KEYDROP_SMTP_URL: give smtp://host:port or smtps://host:port only".into());
    }
    let (security, default_port) = match parsed.scheme() {
        "smtps" => (SmtpSecurity::Tls, 465),
        "smtp" if is_loopback(&host) => (SmtpSecurity::Plain, 25),
        "smtp" => (SmtpSecurity::StartTls, 587),
        other => {
            return Err(format!(
                "KEYDROP_SMTP_URL: the scheme must be smtp or smtps, not {other}"
            ))
        }
    };
    let from = args
        .smtp_from
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .ok_or("KEYDROP_SMTP_FROM is required with KEYDROP_SMTP_URL (the sender of link e-mails)")?
        .to_owned();
    let password = match &args.smtp_password_file {
        Some(path) => Some(SecretString::from(
            std::fs::read_to_string(path)
                .map_err(|e| format!("KEYDROP_SMTP_PASSWORD_FILE {}: {e}", path.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        )),
        None => None,
    };
    let username = args
        .smtp_username
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    if username.is_some() != password.is_some() {
        return Err(
            "KEYDROP_SMTP_USERNAME and KEYDROP_SMTP_PASSWORD_FILE go together: set both or neither"
                .into(),
        );
    }
    if username.is_some() && security == SmtpSecurity::Plain {
        tracing::warn!("KEYDROP_SMTP_URL is a loopback relay without TLS: its password crosses only this machine");
    }
    Ok(Some(SmtpSettings {
        host,
        port: parsed.port().unwrap_or(default_port),
        security,
        username,
        password,
        from,
    }))
}

/// `KEYDROP_REMINDER_BEFORE_EXPIRY`: `None` is `off`.
pub fn reminder_before(text: &str) -> Result<Option<Duration>, String> {
    match text.trim() {
        "off" => Ok(None),
        text => {
            let d = super::parse_duration(text)
                .map_err(|e| format!("KEYDROP_REMINDER_BEFORE_EXPIRY: {e} (or off)"))?;
            if d < Duration::from_secs(1) {
                return Err("KEYDROP_REMINDER_BEFORE_EXPIRY: at least 1s (or off)".into());
            }
            Ok(Some(d))
        }
    }
}

/// Whether `host` is this machine: `localhost` or a loopback address.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: &str) -> MailArgs {
        MailArgs {
            smtp_url: Some(url.into()),
            smtp_from: Some("Acme <links@acme.example>".into()),
            reminder_before_expiry: "24h".into(),
            ..MailArgs::default()
        }
    }

    #[test]
    fn the_url_decides_the_protection() {
        let s = smtp_settings(&args("smtp://127.0.0.1:2525"))
            .unwrap()
            .unwrap();
        assert_eq!((s.security, s.port), (SmtpSecurity::Plain, 2525));
        let s = smtp_settings(&args("smtp://mail.acme.example"))
            .unwrap()
            .unwrap();
        assert_eq!((s.security, s.port), (SmtpSecurity::StartTls, 587));
        let s = smtp_settings(&args("smtps://mail.acme.example"))
            .unwrap()
            .unwrap();
        assert_eq!((s.security, s.port), (SmtpSecurity::Tls, 465));
        let s = smtp_settings(&args("smtp://[::1]:25")).unwrap().unwrap();
        assert_eq!(s.security, SmtpSecurity::Plain);
        for bad in [
            "http://mail.acme.example",
            "smtp://user:pw@mail.acme.example",
            "smtp://mail.acme.example/x",
            "not a url",
        ] {
            assert!(smtp_settings(&args(bad)).is_err(), "{bad}");
        }
        let mut no_from = args("smtp://127.0.0.1:25");
        no_from.smtp_from = None;
        assert!(smtp_settings(&no_from)
            .unwrap_err()
            .contains("KEYDROP_SMTP_FROM"));
        assert!(smtp_settings(&MailArgs::default()).unwrap().is_none());
    }

    #[test]
    fn reminders() {
        assert_eq!(reminder_before("off").unwrap(), None);
        assert_eq!(reminder_before("1s").unwrap(), Some(Duration::from_secs(1)));
        assert_eq!(
            reminder_before("24h").unwrap(),
            Some(Duration::from_secs(86_400))
        );
        assert!(reminder_before("0s").is_err());
        assert!(reminder_before("soon").is_err());
    }
}
