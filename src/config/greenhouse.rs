//! Where Greenhouse is, and the operator's partner OAuth client (SPEC §1.5, §6).

use super::args::PartnerArgs;

/// The operator's Greenhouse partner OAuth client (SPEC §1.5, §6). `Debug` shows the id only.
#[derive(Clone)]
pub struct PartnerClient {
    pub client_id: String,
    client_secret: std::sync::Arc<zeroize::Zeroizing<String>>,
}

impl PartnerClient {
    pub fn new(client_id: impl Into<String>, client_secret: zeroize::Zeroizing<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: std::sync::Arc::new(client_secret),
        }
    }

    /// The secret, for scrubbing answers before they are logged.
    pub fn secret(&self) -> &str {
        self.client_secret.as_str()
    }
}

impl PartialEq for PartnerClient {
    fn eq(&self, other: &Self) -> bool {
        self.client_id == other.client_id && self.secret() == other.secret()
    }
}

impl Eq for PartnerClient {}

impl std::fmt::Debug for PartnerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The partner OAuth client from its id and its secret (given directly or in a file): both
/// or neither.
pub fn partner_client(args: &PartnerArgs) -> Result<Option<PartnerClient>, String> {
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
        (Some(id), Some(secret)) => Ok(Some(PartnerClient::new(id, secret))),
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
