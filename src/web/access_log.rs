//! Access logs that never carry a secret. Query strings and bodies are never
//! logged; the path is redacted by route (`/d/{token}`) and by shape: any run
//! of 32 or more base64url characters and any `kd_` token, wherever it is,
//! so mistyped links (`//d/…`, `/D/…`, `/static/<token>.css`) are hidden too.
//!
//! The same middleware counts and times each request for the metrics, by
//! route pattern (`unmatched` when no route matched), never by raw path.

use crate::metrics::{method_label, HttpLabels, UNMATCHED};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use std::borrow::Cow;
use std::time::Instant;

/// What a hidden secret is replaced with.
const REDACTED: &str = "<redacted>";
/// Runs of at least this many base64url characters are taken for secrets
/// (a link token has 43, an API token 67; a canonical UUID is exempt).
const SECRET_RUN: usize = 32;
/// Longest path logged, in characters.
const MAX_LOGGED: usize = 200;

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// At `i`: a base64url character (`Some((1, b))`) or a percent-escape of one
/// (`Some((3, b))`), with the character it stands for.
fn unit_at(s: &[u8], i: usize) -> Option<(usize, u8)> {
    let b = *s.get(i)?;
    if is_b64url(b) {
        return Some((1, b));
    }
    if b != b'%' {
        return None;
    }
    let hex = std::str::from_utf8(s.get(i + 1..i + 3)?).ok()?;
    let decoded = u8::from_str_radix(hex, 16).ok()?;
    is_b64url(decoded).then_some((3, decoded))
}

/// A UUID (ids in API paths are not secrets and stay readable).
fn is_uuid(run: &[u8]) -> bool {
    run.len() == 36
        && run.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn is_secret(decoded: &[u8]) -> bool {
    let api_token = decoded
        .windows(4)
        .any(|w| w[..3].eq_ignore_ascii_case(b"kd_") && is_b64url(w[3]));
    api_token || (decoded.len() >= SECRET_RUN && !is_uuid(decoded))
}

/// `text` (a path, a query string, a URL) with every secret-shaped run of
/// base64url characters (percent-escaped or not) replaced by `<redacted>`.
pub fn redact(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let mut decoded = Vec::new();
        while let Some((len, b)) = unit_at(bytes, i) {
            decoded.push(b);
            i += len;
        }
        if i > start {
            // Runs are ASCII, so `start..i` are character boundaries.
            let run = text.get(start..i).unwrap_or_default();
            out.push_str(if is_secret(&decoded) { REDACTED } else { run });
        } else if let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) {
            out.push(c);
            i += c.len_utf8();
        } else {
            break;
        }
    }
    out
}

/// The path as it may be logged: redacted by shape, anything under `/d/`
/// hidden whole (a link token cut short is still part of a secret), and cut
/// to [`MAX_LOGGED`] characters.
pub fn redact_path(path: &str) -> String {
    if path.starts_with("/d/") {
        return format!("/d/{REDACTED}");
    }
    let shown = redact(path);
    if shown.chars().count() > MAX_LOGGED {
        format!("{}…", shown.chars().take(MAX_LOGGED).collect::<String>())
    } else {
        shown
    }
}

/// The path of a request routed to a pattern with a `{token}` segment is the
/// pattern itself, token hidden, whatever the raw path looked like.
fn by_route(pattern: Option<&str>) -> Option<String> {
    pattern
        .filter(|p| p.contains("{token}"))
        .map(|p| p.replace("{token}", REDACTED))
}

pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let raw_path = req.path().to_owned();
    // The resource map matches the path as the router will: a pattern or nothing.
    let pattern = req
        .request()
        .match_pattern()
        .filter(|p| !super::methods::is_fallback(p));
    let metrics = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map(|s| s.metrics.clone());
    let peer = req
        .peer_addr()
        .map(|a| super::client_addr::canonical(a.ip()).to_string())
        .unwrap_or_default();
    let client = super::client_addr(req.request())
        .map(|a| a.to_string())
        .unwrap_or_default();
    let res = next.call(req).await;
    let path = by_route(pattern.as_deref()).unwrap_or_else(|| redact_path(&raw_path));
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    if let Some(metrics) = metrics {
        let labels = HttpLabels {
            route: pattern.map_or(Cow::Borrowed(UNMATCHED), Cow::Owned),
            method: method_label(&method),
            status,
        };
        metrics.http_request(&labels, started.elapsed());
    }
    tracing::info!(
        target: "keydrop::access",
        %method,
        path = %path,
        status,
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        peer = %peer,
        client = %client,
        "request"
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "nV73Z5EA3yKPNJkvG9eOGB-KGDVWnOJr_upoz1mNbv0";
    const API: &str = "kd_nV73Z5EA3yKPNJkvG9eOGB-KGDVWnOJr_upoz1mNbv0nV73Z5EA3yKPNJkvG9eOGB-K";

    fn hidden(shown: &str, secret: &str) -> bool {
        !shown.contains(secret) && !shown.contains(&secret[..20]) && shown.contains(REDACTED)
    }

    #[test]
    fn drop_links_are_redacted() {
        assert_eq!(redact_path("/d/abcDEF123"), "/d/<redacted>");
        assert_eq!(redact_path("/d/"), "/d/<redacted>");
        assert_eq!(redact_path("/api/v1/tokens"), "/api/v1/tokens");
        assert_eq!(redact_path(&format!("/%64/{T}")), "/%64/<redacted>");
        assert_eq!(redact_path(&format!("//d/{T}")), "//d/<redacted>");
        assert!(!redact_path(&format!("/api/v1/credentials/{T}")).contains(T));
    }

    #[test]
    fn mistyped_links_are_redacted_by_shape() {
        for path in [
            format!("//d/{T}."),
            format!("/D/{T}."),
            format!("/d/{T}/{T}."),
            format!("/x/{T}/{T}."),
            format!("/static/{T}.css"),
            format!("/static/{T}"),
            format!("/d%2F{T}"),
            format!("/{T}"),
            format!("/{}%2D{}", &T[..21], &T[22..]),
            format!("/%6E{}", &T[1..]),
            format!("/hello{T}world"),
            format!("/api/v1/{API}"),
            format!("/{}", &API[..12]),
        ] {
            let shown = redact_path(&path);
            let secret = if path.contains("kd_") {
                "kd_nV73Z"
            } else {
                &T[..32]
            };
            assert!(!shown.contains(secret), "{path} -> {shown}");
            assert!(
                hidden(&shown, &T[1..]) || path.contains("kd_"),
                "{path} -> {shown}"
            );
        }
        assert_eq!(
            redact_path(&format!("/static/{T}.css")),
            "/static/<redacted>.css"
        );
        assert_eq!(redact_path(&format!("/D/{T}.")), "/D/<redacted>.");
        assert_eq!(redact_path("/api/v1/kd_abc"), "/api/v1/<redacted>");
    }

    #[test]
    fn query_strings_are_redacted_by_shape() {
        let shown = redact(&format!("/d/x?token={T}&next=%2Fd%2F{T}&k={API}&page=2"));
        assert!(!shown.contains(&T[..32]), "{shown}");
        assert!(!shown.contains("kd_"), "{shown}");
        assert!(shown.ends_with("&page=2"), "{shown}");
    }

    #[test]
    fn ordinary_paths_and_ids_stay_readable() {
        for path in [
            "/api/v1/drops/3f2a9c1e-8b7d-4e6f-a5c4-1b2d3e4f5a6b/revoke",
            "/static/keydrop.css",
            "/healthz",
            "/api/v1/credentials?status=verified",
            "/caf\u{e9}/%zz/%",
        ] {
            assert_eq!(redact(path), path);
        }
        // Just under the shape threshold, outside /d/: kept.
        let short = &T[..31];
        assert_eq!(redact(&format!("/x/{short}")), format!("/x/{short}"));
        assert!(redact_path(&"a/".repeat(300)).ends_with('…'));
    }

    #[test]
    fn routes_with_a_token_segment_log_the_pattern() {
        assert_eq!(
            by_route(Some("/d/{token}")).as_deref(),
            Some("/d/<redacted>")
        );
        assert_eq!(by_route(Some("/api/v1/drops/{id}")), None);
        assert_eq!(by_route(None), None);
    }
}
