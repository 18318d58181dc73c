//! Greenhouse's OAuth token endpoint for vending (SPEC §1.1, §1.5): minting a
//! client-credentials access token, exchanging an authorization code, and refreshing a
//! partner grant. Every answer's lifetime may come as `expires_in` (seconds), `expires_at`
//! (ISO 8601) or neither (then one hour, GREENHOUSE.md §2).

use super::checker::Checker;
use super::http::{send, send_unrepeatable, Answer, Budget};
use super::report::Transient;
use crate::clock::{parse_rfc3339, to_millis};
use zeroize::Zeroizing;

/// Lifetime assumed when the token answer names none.
pub const DEFAULT_LIFETIME_MS: i64 = 3_600_000;

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

/// `grant_type=client_credentials` (with `sub` when acting as a user).
pub async fn client_credentials(
    checker: &Checker,
    budget: Budget,
    client: ClientAuth<'_>,
    sub: Option<&str>,
) -> Result<Tokens, TokenError> {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(sub) = sub {
        form.push(("sub", sub));
    }
    request(checker, budget, client, &form, true).await
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

/// `grant_type=refresh_token`. Never repeated after Greenhouse may have acted on it: a
/// refresh token presented twice kills the grant.
pub async fn refresh(
    checker: &Checker,
    budget: Budget,
    client: ClientAuth<'_>,
    refresh_token: &str,
) -> Result<Tokens, TokenError> {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    request(checker, budget, client, &form, false).await
}

async fn request(
    checker: &Checker,
    budget: Budget,
    client: ClientAuth<'_>,
    form: &[(&str, &str)],
    repeatable: bool,
) -> Result<Tokens, TokenError> {
    let url = format!("{}/token", checker.config.auth_url);
    let build = || {
        checker
            .client
            .post(&url)
            .basic_auth(client.client_id, Some(client.client_secret))
            .form(form)
    };
    let timeout = checker.config.request_timeout;
    let answer = if repeatable {
        send(&build, timeout, budget, "token").await
    } else {
        send_unrepeatable(&build, timeout, budget, "token").await
    }
    .map_err(TokenError::Transient)?;
    classify(&answer, checker.now_ms())
}

#[derive(serde::Deserialize)]
struct Body {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    expires_at: Option<String>,
    error: Option<String>,
}

impl Drop for Body {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access_token.zeroize();
        self.refresh_token.zeroize();
    }
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
    let body: Option<Body> = serde_json::from_str(&a.body).ok();
    if a.status == 200 {
        let Some(mut b) = body else {
            tracing::error!("Greenhouse token answer was not JSON");
            return Err(TokenError::Transient(Transient::Unexpected));
        };
        let Some(access) = b.access_token.take().filter(|t| !t.is_empty()) else {
            tracing::error!("Greenhouse token answer had no access_token");
            return Err(TokenError::Transient(Transient::Unexpected));
        };
        let expires_at = lifetime(&b, now_ms);
        return Ok(Tokens {
            access_token: Zeroizing::new(access),
            refresh_token: b
                .refresh_token
                .take()
                .filter(|t| !t.is_empty())
                .map(Zeroizing::new),
            expires_at,
        });
    }
    if !(400..500).contains(&a.status) || a.status == 404 || a.status == 405 {
        tracing::error!(
            status = a.status,
            "unexpected answer from the Greenhouse token endpoint"
        );
        return Err(TokenError::Transient(Transient::Unexpected));
    }
    let code = body
        .as_ref()
        .and_then(|b| b.error.as_deref())
        .and_then(|e| KNOWN_ERRORS.iter().find(|k| **k == e))
        .map_or("refused", |k| *k);
    tracing::info!(
        status = a.status,
        error = code,
        "Greenhouse refused a token request"
    );
    Err(TokenError::Refused(code.to_owned()))
}

/// When the token expires: `expires_in` seconds from now, or the `expires_at` instant, or an
/// hour from now.
fn lifetime(b: &Body, now_ms: i64) -> i64 {
    let from_in = b.expires_in.as_ref().and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    if let Some(secs) = from_in.filter(|s| *s > 0) {
        return now_ms.saturating_add(secs.saturating_mul(1000));
    }
    if let Some(at) = b
        .expires_at
        .as_deref()
        .and_then(|s| parse_rfc3339(s.trim()).ok())
    {
        return to_millis(at);
    }
    now_ms.saturating_add(DEFAULT_LIFETIME_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: Zeroizing::new(body.to_owned()),
        }
    }

    #[test]
    fn every_lifetime_shape() {
        let now = 1_800_000_000_000;
        let t = classify(
            &answer(200, r#"{"access_token":"a","expires_in":600}"#),
            now,
        )
        .unwrap();
        assert_eq!(t.expires_at, now + 600_000);
        let t = classify(
            &answer(
                200,
                r#"{"access_token":"a","expires_at":"2027-01-15T08:00:00Z"}"#,
            ),
            now,
        )
        .unwrap();
        assert_eq!(
            crate::clock::rfc3339(crate::clock::from_millis(t.expires_at)),
            "2027-01-15T08:00:00Z"
        );
        let t = classify(
            &answer(200, r#"{"access_token":"a","refresh_token":"r"}"#),
            now,
        )
        .unwrap();
        assert_eq!(t.expires_at, now + DEFAULT_LIFETIME_MS);
        assert_eq!(t.refresh_token.as_deref().map(String::as_str), Some("r"));
    }

    #[test]
    fn refusals_name_only_known_codes() {
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
