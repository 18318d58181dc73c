//! One HTTP exchange with Greenhouse, retried inside the check's total budget and at most
//! [`MAX_ATTEMPTS`] times: 429 honours `Retry-After` when it fits (but never waits less than
//! the normal backoff, so `Retry-After: 0` cannot make a tight loop), 5xx/408/timeouts/network
//! errors back off exponentially with jitter, redirects are never followed. Every request
//! sent is counted by endpoint class and status (SPEC §12).

use super::report::Transient;
use std::time::Duration;
use tokio::time::Instant;
use zeroize::Zeroizing;

/// The largest response body we read, in bytes; the rest is ignored.
const MAX_BODY: usize = 16 * 1024;
/// Not worth starting a request with less time than this left.
const MIN_ATTEMPT: Duration = Duration::from_millis(25);
const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(2);
/// Requests one exchange may send, the first included.
pub(crate) const MAX_ATTEMPTS: u32 = 5;

/// The deadline of one whole check.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Instant,
}

impl Budget {
    pub fn new(total: Duration) -> Self {
        Self {
            deadline: Instant::now() + total,
        }
    }

    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// A part of this budget for an advisory call: at most `max` from now, never past the
    /// whole budget's deadline.
    pub fn slice(&self, max: Duration) -> Budget {
        Self {
            deadline: self.deadline.min(Instant::now() + max),
        }
    }
}

/// Which kind of Greenhouse endpoint a request goes to: the `endpoint` label of
/// `keydrop_greenhouse_requests_total`. A fixed set, never a URL (a resource path
/// of the job board API holds the board token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndpointClass {
    /// The OAuth token endpoint (client credentials, code exchange, refresh).
    Token,
    /// The OAuth token introspection endpoint.
    Introspect,
    /// A Harvest resource (v3 or v1).
    Resource,
    /// The Candidate Ingestion API.
    Ingestion,
    /// The public Job Board API.
    Boards,
}

impl EndpointClass {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Introspect => "introspect",
            Self::Resource => "resource",
            Self::Ingestion => "ingestion",
            Self::Boards => "boards",
        }
    }
}

/// The `status` label of an answer: the code for those that mean something
/// to an operator, else its class, so the label set stays small.
pub(crate) fn status_label(status: u16) -> &'static str {
    const NAMED: [&str; 14] = [
        "200", "201", "204", "400", "401", "403", "404", "408", "422", "429", "500", "502", "503",
        "504",
    ];
    let code = status.to_string();
    if let Some(named) = NAMED.iter().find(|n| **n == code) {
        return named;
    }
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        _ => "other",
    }
}

/// A definite answer: a status that is not transient, and the (bounded) body.
pub(crate) struct Answer {
    pub status: u16,
    /// May hold an access token: wiped when dropped.
    pub body: Zeroizing<String>,
}

/// Sends the request `build` makes to an endpoint of class `class`, again and again while
/// the answer is transient and the budget allows. `what` names the call for logs (never a
/// secret).
pub(crate) async fn send(
    checker: &super::Checker,
    class: EndpointClass,
    build: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    budget: Budget,
    what: &str,
) -> Result<Answer, Transient> {
    send_with(checker, class, build, budget, what, true).await
}

/// Like [`send`], for a request that must not reach Greenhouse twice (a refresh-token grant:
/// presenting a rotated refresh token again kills the grant). It is repeated only when
/// Greenhouse certainly did not act on it — a 429, or a connection that was never made;
/// after a timeout, a lost answer or a 5xx the outcome is unknown and the caller decides.
/// Each attempt may take the whole remaining budget, not just the per-request timeout.
pub(crate) async fn send_unrepeatable(
    checker: &super::Checker,
    class: EndpointClass,
    build: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    budget: Budget,
    what: &str,
) -> Result<Answer, Transient> {
    send_with(checker, class, build, budget, what, false).await
}

async fn send_with(
    checker: &super::Checker,
    class: EndpointClass,
    build: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    budget: Budget,
    what: &str,
    repeatable: bool,
) -> Result<Answer, Transient> {
    let request_timeout = checker.config.request_timeout;
    let mut last = Transient::TimedOut;
    let mut attempt: u32 = 0;
    loop {
        let remaining = budget.remaining();
        if remaining < MIN_ATTEMPT {
            return Err(last);
        }
        // A request that is never repeated gets the whole budget: its answer, however late,
        // is the only one there will be.
        let timeout = if repeatable {
            request_timeout.min(remaining)
        } else {
            remaining
        };
        let wait = match build().timeout(timeout).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                checker.count_request(class, status_label(status));
                if resp.status().is_redirection() {
                    tracing::warn!(
                        what,
                        status,
                        "Greenhouse answered with a redirect; not followed"
                    );
                    return Err(Transient::Redirected);
                }
                if status == 429 {
                    last = Transient::RateLimited;
                    let after = retry_after(resp.headers());
                    tracing::info!(
                        what,
                        retry_after_s = after.map(|d| d.as_secs()),
                        "rate limited"
                    );
                    rate_limit_wait(after, attempt)
                } else if status >= 500 || status == 408 {
                    last = Transient::Unavailable;
                    tracing::info!(what, status, attempt, "Greenhouse unavailable");
                    if !repeatable {
                        return Err(last);
                    }
                    backoff(attempt)
                } else {
                    match read_body(resp).await {
                        Ok(body) => return Ok(Answer { status, body }),
                        Err(e) => {
                            last = classify(&e);
                            if !repeatable {
                                return Err(last);
                            }
                            tracing::info!(
                                what,
                                status,
                                timeout = e.is_timeout(),
                                "reading the answer failed"
                            );
                            backoff(attempt)
                        }
                    }
                }
            }
            Err(e) => {
                last = classify(&e);
                checker.count_request(class, if e.is_timeout() { "timeout" } else { "error" });
                tracing::info!(
                    what,
                    attempt,
                    timeout = e.is_timeout(),
                    connect = e.is_connect(),
                    "request to Greenhouse failed"
                );
                if !repeatable && !e.is_connect() {
                    return Err(last);
                }
                backoff(attempt)
            }
        };
        if attempt.saturating_add(1) >= MAX_ATTEMPTS {
            tracing::info!(
                what,
                attempts = attempt + 1,
                "giving up after the last attempt"
            );
            return Err(last);
        }
        if wait + MIN_ATTEMPT > budget.remaining() {
            tracing::info!(
                what,
                wait_ms = wait.as_millis() as u64,
                "retry would overrun the budget"
            );
            return Err(last);
        }
        tokio::time::sleep(wait).await;
        attempt = attempt.saturating_add(1);
    }
}

fn classify(e: &reqwest::Error) -> Transient {
    if e.is_timeout() {
        Transient::TimedOut
    } else {
        Transient::Unavailable
    }
}

async fn read_body(mut resp: reqwest::Response) -> Result<Zeroizing<String>, reqwest::Error> {
    let mut buf = Zeroizing::new(Vec::new());
    while let Some(chunk) = resp.chunk().await? {
        let take = chunk.len().min(MAX_BODY - buf.len());
        buf.extend_from_slice(&chunk[..take]);
        if buf.len() >= MAX_BODY {
            break;
        }
    }
    Ok(Zeroizing::new(String::from_utf8_lossy(&buf).into_owned()))
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: we back off instead).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// After a 429: what `Retry-After` asks, but at least the normal backoff.
fn rate_limit_wait(retry_after: Option<Duration>, attempt: u32) -> Duration {
    let floor = backoff(attempt);
    retry_after.map_or(floor, |after| after.max(floor))
}

/// 200 ms doubling, capped at 2 s, with "equal jitter" (between half and all of it).
fn backoff(attempt: u32) -> Duration {
    let full = BACKOFF_START
        .saturating_mul(1u32 << attempt.min(8))
        .min(BACKOFF_CAP);
    let jitter = u64::from(jitter_byte()) * (full.as_millis() as u64 / 2) / 255;
    full / 2 + Duration::from_millis(jitter)
}

/// A random byte for jitter (uuid v4 draws from the OS generator).
fn jitter_byte() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        for attempt in 0..12 {
            let full = BACKOFF_START
                .saturating_mul(1u32 << attempt.min(8))
                .min(BACKOFF_CAP);
            let d = backoff(attempt);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_zero_waits_the_backoff() {
        for attempt in 0..6 {
            let floor = BACKOFF_START
                .saturating_mul(1u32 << attempt)
                .min(BACKOFF_CAP)
                / 2;
            assert!(rate_limit_wait(Some(Duration::ZERO), attempt) >= floor);
            assert!(rate_limit_wait(None, attempt) >= floor);
        }
        assert_eq!(
            rate_limit_wait(Some(Duration::from_secs(30)), 0),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn status_labels_are_a_small_fixed_set() {
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(429), "429");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(599), "5xx");
        assert_eq!(status_label(302), "3xx");
        assert_eq!(status_label(999), "other");
        let all: std::collections::HashSet<_> = (0..=u16::MAX).map(status_label).collect();
        assert!(all.len() <= 21, "{all:?}");
    }

    #[test]
    fn retry_after_seconds_only() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }
}
