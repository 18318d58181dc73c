//! The console's OpenID Connect provider and who may sign in (SPEC §6, §13): typed and
//! checked once at start. Without `KEYDROP_OIDC_ISSUER` the console signs people in with
//! single-use links only.

use super::greenhouse::greenhouse_url;

/// `KEYDROP_OIDC_*` and `KEYDROP_CONSOLE_URL`, as clap reads them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OidcArgs {
    /// Issuer of the console's OpenID Connect provider (discovery at
    /// `{issuer}/.well-known/openid-configuration`). Unset: sign-in links only.
    #[arg(long, env = "KEYDROP_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// keydrop's client id at the provider.
    #[arg(long, env = "KEYDROP_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// keydrop's client secret at the provider (prefer the _FILE form; none: a public
    /// client, PKCE only).
    #[arg(long, env = "KEYDROP_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// A file holding the client secret.
    #[arg(long, env = "KEYDROP_OIDC_CLIENT_SECRET_FILE")]
    pub oidc_client_secret_file: Option<std::path::PathBuf>,
    /// Scopes asked for.
    #[arg(
        long,
        env = "KEYDROP_OIDC_SCOPES",
        default_value = "openid email profile"
    )]
    pub oidc_scopes: String,
    /// The ID-token (or userinfo) claim holding the person's groups.
    #[arg(long, env = "KEYDROP_OIDC_ROLES_CLAIM", default_value = "groups")]
    pub oidc_roles_claim: String,
    /// Groups or e-mail addresses that are admins (comma-separated).
    #[arg(
        long,
        env = "KEYDROP_OIDC_ADMINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub oidc_admins: Vec<String>,
    /// Groups or e-mail addresses that are issuers (comma-separated).
    #[arg(
        long,
        env = "KEYDROP_OIDC_ISSUERS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub oidc_issuers: Vec<String>,
    /// Groups or e-mail addresses that are auditors (comma-separated).
    #[arg(
        long,
        env = "KEYDROP_OIDC_AUDITORS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub oidc_auditors: Vec<String>,
    /// E-mail domains allowed to sign in (comma-separated; empty: any).
    #[arg(
        long,
        env = "KEYDROP_OIDC_ALLOWED_DOMAINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub oidc_allowed_domains: Vec<String>,
    /// Base URL of the console, for the OIDC `redirect_uri` (default: KEYDROP_PUBLIC_URL).
    #[arg(long, env = "KEYDROP_CONSOLE_URL")]
    pub console_url: Option<String>,
}

/// The provider keydrop signs people in with. `Debug` never shows the secret.
#[derive(Clone)]
pub struct OidcSettings {
    /// The issuer exactly as the ID token's `iss` must name it (no trailing `/` added or
    /// removed beyond what was configured).
    pub issuer: String,
    pub client_id: String,
    client_secret: Option<std::sync::Arc<zeroize::Zeroizing<String>>>,
    pub scopes: String,
    pub roles_claim: String,
    /// Lower-cased group names and e-mail addresses per role.
    pub admins: Vec<String>,
    pub issuers: Vec<String>,
    pub auditors: Vec<String>,
    /// Lower-cased domains; empty: any.
    pub allowed_domains: Vec<String>,
    /// `{console URL}/console/oidc/callback`.
    pub redirect_uri: String,
}

impl OidcSettings {
    /// The client secret, when keydrop is a confidential client.
    pub fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_deref().map(|s| s.as_str())
    }

    /// A provider for tests and embedding: a confidential client when `secret` is given.
    pub fn new(issuer: &str, client_id: &str, secret: Option<&str>, redirect_uri: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: secret
                .map(|s| std::sync::Arc::new(zeroize::Zeroizing::new(s.to_owned()))),
            scopes: "openid email profile".into(),
            roles_claim: "groups".into(),
            admins: Vec::new(),
            issuers: Vec::new(),
            auditors: Vec::new(),
            allowed_domains: Vec::new(),
            redirect_uri: redirect_uri.to_owned(),
        }
    }
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("confidential", &self.client_secret.is_some())
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

fn list(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The console's base URL: `KEYDROP_CONSOLE_URL`, else `public_url`.
pub fn console_url(args: &OidcArgs, public_url: &str) -> Result<String, String> {
    Ok(match args.console_url.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => greenhouse_url("KEYDROP_CONSOLE_URL", u)?,
        _ => public_url.trim_end_matches('/').to_owned(),
    })
}

/// The provider from its settings, or `None` without `KEYDROP_OIDC_ISSUER`; `console_url`
/// is where the provider sends people back.
pub fn oidc_settings(args: &OidcArgs, console_url: &str) -> Result<Option<OidcSettings>, String> {
    let Some(issuer) = args
        .oidc_issuer
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    // https://, or http:// on a loopback address only; checked, but kept as written: the
    // ID token's `iss` must equal it exactly.
    greenhouse_url("KEYDROP_OIDC_ISSUER", issuer)?;
    let client_id = args
        .oidc_client_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or("KEYDROP_OIDC_ISSUER is set but KEYDROP_OIDC_CLIENT_ID is not")?;
    let secret = match (&args.oidc_client_secret, &args.oidc_client_secret_file) {
        (Some(s), None) => Some(zeroize::Zeroizing::new(s.trim().to_owned())),
        (None, Some(path)) => Some(zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| format!("KEYDROP_OIDC_CLIENT_SECRET_FILE {}: {e}", path.display()))?
                .trim()
                .to_owned(),
        )),
        (Some(_), Some(_)) => {
            return Err("set KEYDROP_OIDC_CLIENT_SECRET or its _FILE form, not both".into())
        }
        (None, None) => None,
    }
    .filter(|s| !s.is_empty());
    let scopes = args.oidc_scopes.split_whitespace().collect::<Vec<_>>();
    if !scopes.contains(&"openid") {
        return Err("KEYDROP_OIDC_SCOPES must include openid".into());
    }
    let roles_claim = args.oidc_roles_claim.trim();
    if roles_claim.is_empty() {
        return Err("KEYDROP_OIDC_ROLES_CLAIM must name a claim".into());
    }
    let settings = OidcSettings {
        issuer: issuer.to_owned(),
        client_id: client_id.to_owned(),
        client_secret: secret.map(std::sync::Arc::new),
        scopes: scopes.join(" "),
        roles_claim: roles_claim.to_owned(),
        admins: list(&args.oidc_admins),
        issuers: list(&args.oidc_issuers),
        auditors: list(&args.oidc_auditors),
        allowed_domains: list(&args.oidc_allowed_domains)
            .into_iter()
            .map(|d| d.trim_start_matches('@').to_owned())
            .collect(),
        redirect_uri: format!("{console_url}/console/oidc/callback"),
    };
    if settings.admins.is_empty() && settings.issuers.is_empty() && settings.auditors.is_empty() {
        return Err(
            "KEYDROP_OIDC_ISSUER is set but no one may sign in: set KEYDROP_OIDC_ADMINS, \
             KEYDROP_OIDC_ISSUERS or KEYDROP_OIDC_AUDITORS"
                .into(),
        );
    }
    Ok(Some(settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(issuer: &str) -> OidcArgs {
        OidcArgs {
            oidc_issuer: Some(issuer.into()),
            oidc_client_id: Some("keydrop".into()),
            oidc_scopes: "openid email".into(),
            oidc_roles_claim: "groups".into(),
            oidc_admins: vec![" Admins ".into(), "".into()],
            oidc_allowed_domains: vec!["@Example.com".into()],
            ..OidcArgs::default()
        }
    }

    #[test]
    fn the_issuer_is_https_or_loopback_and_someone_has_a_role() {
        let ok = oidc_settings(&args("https://id.example.com/"), "https://k.example")
            .unwrap()
            .unwrap();
        assert_eq!(ok.issuer, "https://id.example.com/");
        assert_eq!(ok.redirect_uri, "https://k.example/console/oidc/callback");
        assert_eq!(ok.admins, vec!["admins"]);
        assert_eq!(ok.allowed_domains, vec!["example.com"]);
        assert!(ok.client_secret().is_none());
        assert!(oidc_settings(&args("http://127.0.0.1:9/"), "x").is_ok());
        assert!(oidc_settings(&args("http://id.example.com"), "x").is_err());
        let mut nobody = args("https://id.example.com");
        nobody.oidc_admins.clear();
        assert!(oidc_settings(&nobody, "x").unwrap_err().contains("no one"));
        let mut no_openid = args("https://id.example.com");
        no_openid.oidc_scopes = "email".into();
        assert!(oidc_settings(&no_openid, "x").is_err());
        assert!(oidc_settings(&OidcArgs::default(), "x").unwrap().is_none());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let mut a = args("https://id.example.com");
        a.oidc_client_secret = Some("s3cr3t-value".into());
        let s = oidc_settings(&a, "https://k").unwrap().unwrap();
        assert_eq!(s.client_secret(), Some("s3cr3t-value"));
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }
}
