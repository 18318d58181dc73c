//! The console's OpenID Connect relying party (SPEC §13, §8.12): discovery, the
//! authorization request, the code exchange and the ID token's checks. The byte-level work —
//! JWS signatures, JWK decoding, `exp`/`iss`/`aud` — is `jsonwebtoken`'s (STYLE 21); this
//! module states the policy: asymmetric algorithms only (never `none`, never a shared-secret
//! HMAC), the issuer exactly as configured, keydrop's client id in `aud` (and as `azp` when
//! there are several audiences), the nonce of this sign-in, a subject.
//!
//! Discovery and the JWKS are cached for an hour; the JWKS is fetched again at once when a
//! token names a key it does not hold (the provider rotated its keys). Only callbacks whose
//! single-use `state` was taken reach the key lookup, so a stranger cannot make keydrop fetch
//! the JWKS at will.

use crate::config::{greenhouse_url, OidcSettings};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long discovery and the JWKS are trusted before they are fetched again.
const CACHE_FOR: Duration = Duration::from_secs(3600);
/// How long one request to the provider may take (discovery, JWKS, token, userinfo): a
/// person is waiting, but identity providers are sometimes slow to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// The signature algorithms an ID token may use: asymmetric only.
const ALLOWED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why a sign-in did not go through.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered out of contract: try later, or use a
    /// single-use sign-in link.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The code or the ID token failed a check: this sign-in is over.
    #[error("the sign-in failed a check: {0}")]
    Rejected(String),
}

/// Who the provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// The values of the roles claim (groups).
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

#[derive(Default)]
struct Cache {
    discovery: Option<(Discovery, Instant)>,
    keys: Option<(Vec<Jwk>, Instant)>,
}

/// The provider, as keydrop talks to it.
pub struct Provider {
    settings: OidcSettings,
    http: reqwest::Client,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenRefusal {
    error: String,
}

impl Provider {
    pub fn new(settings: OidcSettings, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("keydrop/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the OIDC HTTP client: {e}"))?;
        Ok(Self {
            settings,
            http,
            cache: Mutex::new(Cache::default()),
        })
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The origins the sign-in form must be allowed to post to, redirect included (CSP
    /// `form-action`): the issuer's, and the authorization endpoint's when discovery answers.
    pub async fn form_origins(&self) -> Vec<String> {
        let mut origins = Vec::new();
        let issuer = Some(self.settings.issuer.clone());
        let endpoint = self
            .discovery()
            .await
            .ok()
            .map(|d| d.authorization_endpoint);
        for url in [issuer, endpoint].into_iter().flatten() {
            if let Ok(u) = reqwest::Url::parse(&url) {
                let o = u.origin().ascii_serialization();
                if o != "null" && !origins.contains(&o) {
                    origins.push(o);
                }
            }
        }
        origins
    }

    /// Where to send the browser: the provider's authorization endpoint with the code flow,
    /// PKCE (S256) `challenge`, `state` and `nonce`.
    pub async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        challenge: &str,
    ) -> Result<String, OidcError> {
        let d = self.discovery().await?;
        let mut url = reqwest::Url::parse(&d.authorization_endpoint)
            .map_err(|e| OidcError::Unavailable(format!("authorization_endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.settings.redirect_uri)
            .append_pair("scope", &self.settings.scopes)
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Exchange `code` (with its PKCE `verifier`) and check the ID token, which must carry
    /// `nonce`; claims missing from it are read from the userinfo endpoint.
    pub async fn sign_in(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<Identity, OidcError> {
        let d = self.discovery().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.settings.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ];
        let mut request = self.http.post(&d.token_endpoint);
        match self.settings.client_secret() {
            Some(secret) => {
                let methods = d.token_endpoint_auth_methods_supported.as_deref();
                let basic = methods.is_none_or(|m| m.iter().any(|x| x == "client_secret_basic"));
                if basic {
                    // RFC 6749 §2.3.1: each part form-encoded, then HTTP Basic.
                    let enc = |s: &str| serde_urlencoded::to_string([("", s)]).unwrap_or_default();
                    let id = enc(&self.settings.client_id);
                    let pw = enc(secret);
                    request = request
                        .basic_auth(id.trim_start_matches('='), Some(pw.trim_start_matches('=')));
                } else {
                    form.push(("client_id", self.settings.client_id.as_str()));
                    form.push(("client_secret", secret));
                }
            }
            None => form.push(("client_id", self.settings.client_id.as_str())),
        }
        let answer = request
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| OidcError::Unavailable(format!("token endpoint: {}", no_url(&e))))?;
        let status = answer.status();
        let body = answer
            .bytes()
            .await
            .map_err(|e| OidcError::Unavailable(format!("token endpoint: {}", no_url(&e))))?;
        if status.is_client_error() {
            // The provider's word on the code (invalid_grant: used, expired, not ours).
            let why = serde_json::from_slice::<TokenRefusal>(&body)
                .map(|r| r.error)
                .unwrap_or_else(|_| format!("HTTP {}", status.as_u16()));
            return Err(OidcError::Rejected(format!(
                "the provider refused the code ({})",
                printable(&why)
            )));
        }
        if !status.is_success() {
            return Err(OidcError::Unavailable(format!(
                "token endpoint answered HTTP {}",
                status.as_u16()
            )));
        }
        let tokens: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| OidcError::Unavailable("token endpoint answered no JSON".into()))?;
        let id_token = tokens
            .id_token
            .ok_or_else(|| OidcError::Rejected("the provider sent no ID token".into()))?;
        let mut claims = self.verify(&id_token, nonce).await?;
        let needs_more = !claims.contains_key("email")
            || !claims.contains_key(self.settings.roles_claim.as_str());
        if let (true, Some(endpoint), Some(access)) = (
            needs_more,
            d.userinfo_endpoint.as_deref(),
            tokens.access_token.as_deref(),
        ) {
            let more = self.userinfo(endpoint, access).await?;
            // OIDC Core §5.3.2: the userinfo `sub` must be the ID token's.
            if more.get("sub") != claims.get("sub") {
                return Err(OidcError::Rejected(
                    "userinfo names another subject than the ID token".into(),
                ));
            }
            for (k, v) in more {
                claims.entry(k).or_insert(v);
            }
        }
        Ok(self.identity(&claims))
    }

    fn identity(&self, claims: &Map<String, Value>) -> Identity {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let groups = match claims.get(self.settings.roles_claim.as_str()) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        Identity {
            subject: text(claims.get("sub")).unwrap_or_default(),
            email: text(claims.get("email")),
            // Some providers send the boolean as a string.
            email_verified: matches!(claims.get("email_verified"), Some(Value::Bool(true)))
                || matches!(claims.get("email_verified"), Some(Value::String(s)) if s == "true"),
            groups,
        }
    }

    /// The ID token's claims, once every check passed.
    async fn verify(&self, id_token: &str, nonce: &str) -> Result<Map<String, Value>, OidcError> {
        // An unknown `alg` (`none` among them) does not even parse.
        let header = jsonwebtoken::decode_header(id_token).map_err(|_| {
            OidcError::Rejected(
                "the ID token is unsigned or its header is not one keydrop accepts".into(),
            )
        })?;
        if !ALLOWED.contains(&header.alg) {
            return Err(OidcError::Rejected(format!(
                "the ID token is signed with {:?}, which keydrop does not accept",
                header.alg
            )));
        }
        let key = self.key(header.kid.as_deref(), header.alg).await?;
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[self.settings.issuer.as_str()]);
        v.set_audience(&[self.settings.client_id.as_str()]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = LEEWAY_SECS;
        v.validate_nbf = true;
        let data = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &v)
            .map_err(|e| OidcError::Rejected(explain(e.kind())))?;
        let claims = data.claims;
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(OidcError::Rejected(
                "the ID token's nonce is not this sign-in's".into(),
            ));
        }
        if let Some(Value::Array(aud)) = claims.get("aud") {
            if aud.len() > 1
                && claims.get("azp").and_then(Value::as_str)
                    != Some(self.settings.client_id.as_str())
            {
                return Err(OidcError::Rejected(
                    "the ID token has several audiences and keydrop is not its azp".into(),
                ));
            }
        }
        if claims
            .get("sub")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(OidcError::Rejected("the ID token names no subject".into()));
        }
        Ok(claims)
    }

    /// The provider's key `kid` for `alg`, fetching the JWKS again when it is not held.
    async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, OidcError> {
        let mut cache = self.cache.lock().await;
        let fresh = |at: &Instant| at.elapsed() < CACHE_FOR;
        let mut fetched = false;
        if !cache.keys.as_ref().is_some_and(|(_, at)| fresh(at)) {
            let keys = self.fetch_keys(&mut cache).await?;
            cache.keys = Some((keys, Instant::now()));
            fetched = true;
        }
        loop {
            let held = cache
                .keys
                .as_ref()
                .map(|(k, _)| k.as_slice())
                .unwrap_or(&[]);
            if let Some(jwk) = pick(held, kid, alg) {
                return DecodingKey::from_jwk(jwk)
                    .map_err(|e| OidcError::Unavailable(format!("the provider's key: {e}")));
            }
            if fetched {
                return Err(OidcError::Rejected(match kid {
                    Some(kid) => format!("the provider holds no signing key {kid:?}"),
                    None => "the ID token names no key and the provider holds no single one".into(),
                }));
            }
            let keys = self.fetch_keys(&mut cache).await?;
            cache.keys = Some((keys, Instant::now()));
            fetched = true;
        }
    }

    async fn fetch_keys(&self, cache: &mut Cache) -> Result<Vec<Jwk>, OidcError> {
        let jwks_uri = self.discovery_locked(cache).await?.jwks_uri;
        let set: Value = self.get_json(&jwks_uri, "jwks_uri").await?;
        let keys = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| OidcError::Unavailable("the JWKS holds no keys".into()))?;
        // A key keydrop cannot use (an encryption key, an unknown type) is skipped, not fatal.
        Ok(keys
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .filter(|k| {
                !matches!(
                    k.common.public_key_use,
                    Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
                )
            })
            .collect())
    }

    async fn discovery(&self) -> Result<Discovery, OidcError> {
        let mut cache = self.cache.lock().await;
        self.discovery_locked(&mut cache).await
    }

    async fn discovery_locked(&self, cache: &mut Cache) -> Result<Discovery, OidcError> {
        if let Some((d, at)) = &cache.discovery {
            if at.elapsed() < CACHE_FOR {
                return Ok(d.clone());
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let fetched: Result<Discovery, OidcError> = async {
            let d: Discovery = serde_json::from_value(self.get_json(&url, "discovery").await?)
                .map_err(|e| OidcError::Unavailable(format!("discovery: {e}")))?;
            // OpenID Connect Discovery §4.3: the issuer must be exactly the one asked.
            if d.issuer != self.settings.issuer {
                return Err(OidcError::Unavailable(format!(
                    "discovery names issuer {:?}, not {:?}",
                    printable(&d.issuer),
                    self.settings.issuer
                )));
            }
            for (name, u) in [
                ("authorization_endpoint", Some(&d.authorization_endpoint)),
                ("token_endpoint", Some(&d.token_endpoint)),
                ("jwks_uri", Some(&d.jwks_uri)),
                ("userinfo_endpoint", d.userinfo_endpoint.as_ref()),
            ] {
                if let Some(u) = u {
                    greenhouse_url(name, u).map_err(OidcError::Unavailable)?;
                }
            }
            Ok(d)
        }
        .await;
        match (fetched, &cache.discovery) {
            (Ok(d), _) => {
                cache.discovery = Some((d.clone(), Instant::now()));
                Ok(d)
            }
            // A provider briefly down keeps its last known configuration.
            (Err(OidcError::Unavailable(_)), Some((d, _))) => Ok(d.clone()),
            (Err(e), _) => Err(e),
        }
    }

    async fn userinfo(
        &self,
        endpoint: &str,
        access: &str,
    ) -> Result<Map<String, Value>, OidcError> {
        let answer = self
            .http
            .get(endpoint)
            .bearer_auth(access)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| OidcError::Unavailable(format!("userinfo: {}", no_url(&e))))?;
        if !answer.status().is_success() {
            return Err(OidcError::Unavailable(format!(
                "userinfo answered HTTP {}",
                answer.status().as_u16()
            )));
        }
        answer
            .json()
            .await
            .map_err(|_| OidcError::Unavailable("userinfo answered no JSON object".into()))
    }

    async fn get_json(&self, url: &str, what: &str) -> Result<Value, OidcError> {
        let answer = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| OidcError::Unavailable(format!("{what}: {}", no_url(&e))))?;
        if !answer.status().is_success() {
            return Err(OidcError::Unavailable(format!(
                "{what} answered HTTP {}",
                answer.status().as_u16()
            )));
        }
        answer
            .json()
            .await
            .map_err(|_| OidcError::Unavailable(format!("{what} answered no JSON")))
    }
}

/// The key for `kid` (or, with no `kid`, the one key that fits) whose declared algorithm,
/// if any, is `alg`.
fn pick<'a>(keys: &'a [Jwk], kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let fits = |k: &&Jwk| {
        k.common
            .key_algorithm
            .is_none_or(|a| format!("{a:?}") == format!("{alg:?}"))
    };
    match kid {
        Some(kid) => keys
            .iter()
            .filter(fits)
            .find(|k| k.common.key_id.as_deref() == Some(kid)),
        None => {
            let mut fitting = keys.iter().filter(fits);
            let one = fitting.next();
            fitting.next().is_none().then_some(one).flatten()
        }
    }
}

/// What a failed ID-token check means, in words.
fn explain(kind: &jsonwebtoken::errors::ErrorKind) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::InvalidSignature => "the ID token's signature does not match the provider's key".into(),
        K::ExpiredSignature => "the ID token has expired".into(),
        K::ImmatureSignature => "the ID token is not valid yet".into(),
        K::InvalidAudience => "the ID token was issued for another client".into(),
        K::InvalidIssuer => "the ID token was issued by another issuer".into(),
        K::MissingRequiredClaim(c) => format!("the ID token has no {c:?} claim"),
        K::InvalidAlgorithm => "the ID token's algorithm does not fit the provider's key".into(),
        other => format!("the ID token does not check out ({other:?})"),
    }
}

/// A provider's text, cut and stripped of control characters before it is shown or logged.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(80).collect()
}

/// A transport error without its URL (which may carry a code or a token).
fn no_url(e: &reqwest::Error) -> String {
    let e = e.to_string();
    e.split(" for url").next().unwrap_or("").to_owned()
}
