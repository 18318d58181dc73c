//! What Greenhouse's OAuth token endpoint answers (SPEC §1.1): an access token and when it
//! expires. Greenhouse's 2026 answers carry `expires_in` (seconds) **or** `expires_at` (an
//! ISO 8601 string), or neither (then the token lives one hour). Parsed once here, so the
//! check, a future token cache (`vend`, SPEC §3) and the partner flow read the same thing.

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

/// Why no token could be minted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MintFailure {
    /// Greenhouse refused the credential; the customer-facing reason (never a value).
    Refused(String),
    /// Greenhouse gave no usable answer in time.
    Unavailable(super::report::Transient),
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
