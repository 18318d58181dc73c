//! What Greenhouse's OAuth token endpoint answers (SPEC §1.1): an access token and when it
//! expires. Greenhouse's 2026 answers carry `expires_in` (seconds) **or** `expires_at` (an
//! ISO 8601 string), or neither (then the token lives one hour). Parsed once here, so the
//! check, token vending (`service::vend`, SPEC §3) and the partner flow read the same thing.
//!
//! *Over 400 lines:* its unit tests (every token-answer shape Greenhouse sends) are inline; the code is ~340 lines.

use std::fmt;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

/// How long a token lives when Greenhouse does not say.
pub(crate) const DEFAULT_LIFETIME: Duration = Duration::hours(1);

/// An access token Greenhouse minted, and when it stops working.
#[derive(Clone)]
pub struct MintedToken {
    /// The bearer token (a JWT); wiped when dropped, never logged.
    pub token: Zeroizing<String>,
    /// When the token expires, as Greenhouse said (or one hour after minting).
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedToken")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Which lifetime field the answer carried (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifetime {
    ExpiresIn,
    ExpiresAt,
    /// Neither field, or none that could be read: one hour assumed.
    Assumed,
}

#[derive(serde::Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct TokenBody {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    #[zeroize(skip)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    #[zeroize(skip)]
    expires_at: Option<serde_json::Value>,
}

/// Reads a 200 answer of `/token` minted at `now`. `None` when it holds no access token.
/// When both lifetime fields are present the earlier expiry wins; a field that cannot be
/// read counts as absent.
pub(crate) fn parse_token_answer(
    body: &str,
    now: OffsetDateTime,
) -> Option<(MintedToken, Lifetime)> {
    let b: TokenBody = serde_json::from_str(body).ok()?;
    if b.access_token.is_empty() {
        return None;
    }
    let relative = b
        .expires_in
        .as_ref()
        .and_then(seconds)
        .and_then(|s| now.checked_add(Duration::seconds(i64::try_from(s).ok()?)));
    let absolute = b.expires_at.as_ref().and_then(instant);
    let (expires_at, lifetime) = match (relative, absolute) {
        (Some(r), Some(a)) => (r.min(a), Lifetime::ExpiresAt),
        (Some(r), None) => (r, Lifetime::ExpiresIn),
        (None, Some(a)) => (a, Lifetime::ExpiresAt),
        (None, None) => (now + DEFAULT_LIFETIME, Lifetime::Assumed),
    };
    Some((
        MintedToken {
            token: Zeroizing::new(b.access_token.clone()),
            expires_at,
        },
        lifetime,
    ))
}

/// `3600` or `"3600"`.
fn seconds(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `"2026-11-23T10:00:00Z"` (RFC 3339 or another ISO 8601 spelling) or Unix seconds.
fn instant(v: &serde_json::Value) -> Option<OffsetDateTime> {
    match v {
        serde_json::Value::String(s) => {
            let s = s.trim();
            OffsetDateTime::parse(s, &Rfc3339)
                .or_else(|_| OffsetDateTime::parse(s, &Iso8601::DEFAULT))
                .ok()
        }
        serde_json::Value::Number(n) => {
            OffsetDateTime::from_unix_timestamp(i64::try_from(n.as_u64()?).ok()?).ok()
        }
        _ => None,
    }
}

// ---- Requests to the token endpoint, for vending (SPEC §3) and partner grants (§1.5) ----

use super::checker::Checker;
use super::http::{send, send_unrepeatable, Answer, Budget, EndpointClass as Class};
use super::report::Transient;
use crate::clock::{from_millis, to_millis};

/// What the token endpoint handed out. Wiped on drop; `Debug` shows no token.
pub struct Tokens {
    pub access_token: Zeroizing<String>,
    /// Present for the authorization-code and refresh grants (a rotated one on refresh).
    pub refresh_token: Option<Zeroizing<String>>,
    /// Unix ms.
    pub expires_at: i64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("refresh_token", &self.refresh_token.is_some())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why no token came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Greenhouse said no: the RFC 6749 error code (`invalid_grant`, `invalid_client`, …) or
    /// `refused` — never the body, which may echo what we sent.
    Refused(String),
    /// No definite answer (down, rate limited, timed out, an unexpected answer).
    Transient(Transient),
}

impl TokenError {
    /// Whether the grant itself is dead (a refresh token Greenhouse no longer honours).
    pub fn kills_grant(&self) -> bool {
        matches!(self, TokenError::Refused(code) if code == "invalid_grant")
    }
}

/// Basic client authentication for the token endpoint.
pub struct ClientAuth<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
}

impl<'a> From<&'a crate::config::PartnerClient> for ClientAuth<'a> {
    /// The operator's partner client, for HTTP Basic client authentication.
    fn from(client: &'a crate::config::PartnerClient) -> Self {
        Self {
            client_id: &client.client_id,
            client_secret: client.secret(),
        }
    }
}

/// `grant_type=authorization_code` (the code lives one minute: sent once, never repeated).
pub async fn exchange_code(
    checker: &Checker,
    budget: Budget,
    client: ClientAuth<'_>,
    code: &str,
    redirect_uri: &str,
) -> Result<Tokens, TokenError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    request(checker, budget, client, &form, false).await
}

/// A 200 answer to a refresh. Greenhouse acted on the request, so the refresh token
/// presented is spent: whatever the answer carried must be kept, even when its access token
/// is missing or unreadable — presenting the spent token again would kill the grant.
pub struct Refreshed {
    /// The rotated refresh token; `None` when the answer named none (Greenhouse kept the
    /// one presented).
    pub refresh_token: Option<Zeroizing<String>>,
    /// The new access token and its expiry (Unix ms); `None` when the answer's was missing
    /// or unreadable.
    pub access: Option<(Zeroizing<String>, i64)>,
}

impl std::fmt::Debug for Refreshed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refreshed")
            .field("refresh_token", &self.refresh_token.is_some())
            .field("access", &self.access.as_ref().map(|a| a.1))
            .finish()
    }
}

/// `grant_type=refresh_token`. Sent once, never repeated after Greenhouse may have acted on
/// it (a refresh token presented twice kills the grant), and given the whole of `budget`:
/// an answer that comes late is still the answer.
pub async fn refresh(
    checker: &Checker,
    budget: Budget,
    client: ClientAuth<'_>,
    refresh_token: &str,
) -> Result<Refreshed, TokenError> {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    let answer = post(checker, budget, client, &form, false).await?;
    if answer.status != 200 {
        return Err(refusal(&answer));
    }
    let extra: Option<Extra> = serde_json::from_str(&answer.body).ok();
    let refresh_token = extra
        .as_ref()
        .and_then(|e| e.refresh_token.as_deref())
        .filter(|t| !t.is_empty())
        .map(|t| Zeroizing::new(t.to_owned()));
    let access = parse_token_answer(&answer.body, from_millis(checker.now_ms()))
        .map(|(minted, _)| (minted.token, to_millis(minted.expires_at)));
    if access.is_none() {
        tracing::error!(
            rotated = refresh_token.is_some(),
            "Greenhouse answered a refresh with no usable access token"
        );
    }
    Ok(Refreshed {
        refresh_token,
        access,
    })
}

async fn request(
    checker: &Checker,
    budget: Budget,
    client: ClientAuth<'_>,
    form: &[(&str, &str)],
    repeatable: bool,
) -> Result<Tokens, TokenError> {
    let answer = post(checker, budget, client, form, repeatable).await?;
    classify(&answer, checker.now_ms())
}

async fn post(
    checker: &Checker,
    budget: Budget,
    client: ClientAuth<'_>,
    form: &[(&str, &str)],
    repeatable: bool,
) -> Result<Answer, TokenError> {
    let url = format!("{}/token", checker.config.auth_url);
    let build = || {
        checker
            .client
            .post(&url)
            .basic_auth(client.client_id, Some(client.client_secret))
            .form(form)
    };
    if repeatable {
        send(checker, Class::Token, &build, budget, "token").await
    } else {
        send_unrepeatable(checker, Class::Token, &build, budget, "token").await
    }
    .map_err(TokenError::Transient)
}

/// The parts of a token answer the parser of [`parse_token_answer`] leaves aside.
#[derive(serde::Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct Extra {
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    #[zeroize(skip)]
    error: Option<String>,
}

/// RFC 6749 error codes keydrop recognises; anything else is reported as `refused`.
const KNOWN_ERRORS: &[&str] = &[
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "invalid_scope",
    "invalid_request",
    "unsupported_grant_type",
    "access_denied",
];

fn classify(a: &Answer, now_ms: i64) -> Result<Tokens, TokenError> {
    if a.status == 200 {
        let extra: Option<Extra> = serde_json::from_str(&a.body).ok();
        let now = from_millis(now_ms);
        let Some((minted, _)) = parse_token_answer(&a.body, now) else {
            tracing::error!("Greenhouse token answer had no access_token");
            return Err(TokenError::Transient(Transient::Unexpected));
        };
        let refresh_token = extra
            .as_ref()
            .and_then(|e| e.refresh_token.as_deref())
            .filter(|t| !t.is_empty())
            .map(|t| Zeroizing::new(t.to_owned()));
        return Ok(Tokens {
            access_token: minted.token.clone(),
            refresh_token,
            expires_at: to_millis(minted.expires_at),
        });
    }
    Err(refusal(a))
}

/// What a non-200 answer of the token endpoint means.
fn refusal(a: &Answer) -> TokenError {
    let extra: Option<Extra> = serde_json::from_str(&a.body).ok();
    if !(400..500).contains(&a.status) || a.status == 404 || a.status == 405 {
        tracing::error!(
            status = a.status,
            "unexpected answer from the Greenhouse token endpoint"
        );
        return TokenError::Transient(Transient::Unexpected);
    }
    let code = extra
        .as_ref()
        .and_then(|e| e.error.as_deref())
        .and_then(|e| KNOWN_ERRORS.iter().find(|k| **k == e))
        .map_or("refused", |k| *k);
    tracing::info!(
        status = a.status,
        error = code,
        "Greenhouse refused a token request"
    );
    TokenError::Refused(code.to_owned())
}
#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

    fn parse(body: &str) -> (OffsetDateTime, Lifetime) {
        let (t, l) = parse_token_answer(body, NOW).unwrap();
        assert_eq!(t.token.as_str(), "jwt");
        (t.expires_at, l)
    }

    #[test]
    fn the_three_shapes() {
        assert_eq!(
            parse(r#"{"access_token":"jwt","token_type":"Bearer","expires_in":3600}"#),
            (datetime!(2026-11-23 10:00 UTC), Lifetime::ExpiresIn)
        );
        assert_eq!(
            parse(r#"{"access_token":"jwt","expires_in":"120"}"#),
            (datetime!(2026-11-23 09:02 UTC), Lifetime::ExpiresIn)
        );
        assert_eq!(
            parse(r#"{"access_token":"jwt","expires_at":"2026-11-23T09:30:00Z"}"#),
            (datetime!(2026-11-23 09:30 UTC), Lifetime::ExpiresAt)
        );
        assert_eq!(
            parse(r#"{"access_token":"jwt","expires_at":"2026-11-23T10:30:00.000+01:00"}"#),
            (datetime!(2026-11-23 09:30 UTC), Lifetime::ExpiresAt)
        );
        assert_eq!(
            parse(r#"{"access_token":"jwt","token_type":"Bearer"}"#),
            (datetime!(2026-11-23 10:00 UTC), Lifetime::Assumed)
        );
    }

    #[test]
    fn odd_answers() {
        // Both: the earlier wins.
        assert_eq!(
            parse(r#"{"access_token":"jwt","expires_in":600,"expires_at":"2026-11-23T09:05:00Z"}"#)
                .0,
            datetime!(2026-11-23 09:05 UTC)
        );
        // Unreadable fields count as absent.
        for body in [
            r#"{"access_token":"jwt","expires_at":"tomorrow"}"#,
            r#"{"access_token":"jwt","expires_in":-5}"#,
            r#"{"access_token":"jwt","expires_in":null,"expires_at":null}"#,
            r#"{"access_token":"jwt","expires_in":18446744073709551615}"#,
        ] {
            assert_eq!(
                parse(body),
                (NOW + DEFAULT_LIFETIME, Lifetime::Assumed),
                "{body}"
            );
        }
        assert_eq!(
            parse(r#"{"access_token":"jwt","expires_at":1795428000}"#).0,
            OffsetDateTime::from_unix_timestamp(1_795_428_000).unwrap()
        );
        for body in [
            "",
            "[]",
            r#"{"access_token":""}"#,
            r#"{"token_type":"Bearer"}"#,
        ] {
            assert!(parse_token_answer(body, NOW).is_none(), "{body}");
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let (t, _) = parse_token_answer(r#"{"access_token":"sekrit-jwt"}"#, NOW).unwrap();
        assert!(!format!("{t:?}").contains("sekrit"));
    }
}

#[cfg(test)]
mod request_tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: Zeroizing::new(body.to_owned()),
        }
    }

    #[test]
    fn answers_become_tokens_or_named_refusals() {
        let now = 1_800_000_000_000;
        let t = classify(
            &answer(
                200,
                r#"{"access_token":"a","expires_in":600,"refresh_token":"r"}"#,
            ),
            now,
        )
        .unwrap();
        assert_eq!(t.expires_at, now + 600_000);
        assert_eq!(t.refresh_token.as_deref().map(String::as_str), Some("r"));
        let t = classify(&answer(200, r#"{"access_token":"a"}"#), now).unwrap();
        assert_eq!(t.expires_at, now + 3_600_000);
        assert!(t.refresh_token.is_none());
        let e = classify(&answer(400, r#"{"error":"invalid_grant"}"#), 0).unwrap_err();
        assert!(e.kills_grant());
        let e = classify(&answer(401, r#"{"error":"secret-echo-abc"}"#), 0).unwrap_err();
        assert_eq!(e, TokenError::Refused("refused".into()));
        assert!(matches!(
            classify(&answer(200, "{}"), 0),
            Err(TokenError::Transient(Transient::Unexpected))
        ));
    }
}
