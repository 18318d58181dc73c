//! Access logs that never carry a secret. Query strings and bodies are never
//! logged; the path is redacted by route (`/d/{token}`) and by shape: any run
//! of 32 or more base64url characters and any `kd_` token, wherever it is,
//! so mistyped links (`//d/…`, `/D/…`, `/static/<token>.css`) are hidden too.
//!
//! The same middleware counts and times each request for the metrics, by
//! route pattern (`unmatched` when no route matched), never by raw path.
//!
//! Cost per request (SPEC §10): the route pattern is read from the router's
//! own result once the request was served, never found by matching the path
//! against every route again (actix does that with a regex per route, which
//! was most of the CPU of a page view); the redaction is one pass over the
//! path without allocation per run; and the client address and the redacted
//! path are only worked out when the access line is going to be written.

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
    let hex = |i: usize| char::from(*s.get(i)?).to_digit(16);
    let decoded = u8::try_from(hex(i + 1)? * 16 + hex(i + 2)?).ok()?;
    is_b64url(decoded).then_some((3, decoded))
}

/// One run of base64url units, judged as it is read (no copy of it is made).
#[derive(Default)]
struct Run {
    /// Characters the run stands for (a percent-escape counts as one).
    len: usize,
    /// The last three characters, for `kd_`.
    last: [u8; 3],
    /// A `kd_` followed by a base64url character was seen.
    api_token: bool,
    /// Every character so far fits a canonical UUID (36 characters, dashes
    /// at 8, 13, 18 and 23, hex digits elsewhere).
    uuid_so_far: bool,
}

impl Run {
    fn new() -> Self {
        Self {
            uuid_so_far: true,
            ..Self::default()
        }
    }

    fn push(&mut self, b: u8) {
        // `b` is base64url, so "kd_" before it makes an API token.
        self.api_token |= self.len >= 3 && self.last.eq_ignore_ascii_case(b"kd_");
        self.uuid_so_far &= match self.len {
            8 | 13 | 18 | 23 => b == b'-',
            0..=35 => b.is_ascii_hexdigit(),
            _ => false,
        };
        self.last = [self.last[1], self.last[2], b];
        self.len += 1;
    }

    /// API tokens (UUIDs in API paths are not secrets and stay readable).
    fn is_secret(&self) -> bool {
        let uuid = self.uuid_so_far && self.len == 36;
        self.api_token || (self.len >= SECRET_RUN && !uuid)
    }
}

/// `text` (a path, a query string, a URL) with every secret-shaped run of
/// base64url characters (percent-escaped or not) replaced by `<redacted>`.
/// One pass, linear in the length of `text`.
pub fn redact(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    // `text[copied..]` is not written out yet.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let Some((len, b)) = unit_at(bytes, i) else {
            // Not part of a run (a multi-byte character is never one, and
            // runs are ASCII, so every run starts and ends on a boundary).
            i += 1;
            continue;
        };
        let start = i;
        let mut run = Run::new();
        run.push(b);
        i += len;
        while let Some((len, b)) = unit_at(bytes, i) {
            run.push(b);
            i += len;
        }
        if run.is_secret() {
            out.push_str(text.get(copied..start).unwrap_or_default());
            out.push_str(REDACTED);
            copied = i;
        }
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

/// The path as it may be logged: redacted by shape, anything under `/d/`
/// hidden whole (a link token cut short is still part of a secret), and cut
/// to [`MAX_LOGGED`] characters.
pub fn redact_path(path: &str) -> String {
    if path.starts_with("/d/") {
        return format!("/d/{REDACTED}");
    }
    if path.starts_with("/console/link/") {
        return format!("/console/link/{REDACTED}");
    }
    let mut shown = redact(path);
    if let Some((cut, _)) = shown.char_indices().nth(MAX_LOGGED) {
        shown.truncate(cut);
        shown.push('…');
    }
    shown
}

/// The path of a request routed to a pattern with a `{token}` segment is the
/// pattern itself, token hidden, whatever the raw path looked like.
fn by_route(pattern: Option<&str>) -> Option<String> {
    pattern
        .filter(|p| p.contains("{token}"))
        .map(|p| p.replace("{token}", REDACTED))
}

/// Who sent a request, as the access line shows it.
struct Sender {
    peer: String,
    client: String,
    raw_path: String,
}

pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let metrics = req
        .app_data::<actix_web::web::Data<crate::web::AppState>>()
        .map(|s| s.metrics.clone());
    // Only worked out when the line is written (`KEYDROP_LOG` at info or finer).
    let sender =
        tracing::enabled!(target: "keydrop::access", tracing::Level::INFO).then(|| Sender {
            peer: req
                .peer_addr()
                .map(|a| crate::domain::net::canonical(a.ip()).to_string())
                .unwrap_or_default(),
            client: crate::web::client_addr(req.request())
                .map(|a| a.to_string())
                .unwrap_or_default(),
            raw_path: req.path().to_owned(),
        });
    let res = next.call(req).await;
    // The router's own answer: the pattern it served the request by. (Only a
    // request no route took is looked up in the resource map by its path.) An
    // error returned instead of a response has no request left to ask; none
    // of keydrop's handlers or middleware return one (they answer), and it
    // would be logged by shape and counted as unmatched.
    let pattern = res
        .as_ref()
        .ok()
        .and_then(|r| r.request().match_pattern())
        .filter(|p| !crate::web::middleware::methods::is_fallback(p));
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    let elapsed = started.elapsed();
    if let Some(sender) = sender {
        let path = by_route(pattern.as_deref()).unwrap_or_else(|| redact_path(&sender.raw_path));
        tracing::info!(
            target: "keydrop::access",
            %method,
            path = %path,
            status,
            micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            peer = %sender.peer,
            client = %sender.client,
            "request"
        );
    }
    if let Some(metrics) = metrics {
        let labels = HttpLabels {
            route: pattern.map_or(Cow::Borrowed(UNMATCHED), Cow::Owned),
            method: method_label(&method),
            status,
        };
        metrics.http_request(&labels, elapsed);
    }
    res
}

#[cfg(test)]
#[path = "access_log_tests.rs"]
mod tests;
