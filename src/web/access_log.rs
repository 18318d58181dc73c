//! Access logs that never carry a secret: `/d/{token}` paths are redacted,
//! query strings and bodies are never logged.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use std::time::Instant;

/// The path as it may be logged. Besides `/d/…`, any segment shaped like a
/// link token (43 base64url characters) is hidden, so a path that reaches
/// the link route some other way (`/%64/…`, `//d/…`) is redacted too.
pub fn redact_path(path: &str) -> String {
    let token_like = |seg: &str| {
        seg.len() >= 40
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'%')
    };
    if path.split('/').any(token_like) {
        return path
            .split('/')
            .map(|seg| if token_like(seg) { "<redacted>" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
    }
    match path.strip_prefix("/d/") {
        Some(_) => "/d/<redacted>".to_owned(),
        None if path.len() > 200 => format!("{}…", path.chars().take(200).collect::<String>()),
        None => path.to_owned(),
    }
}

pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let raw_path = req.path().to_owned();
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let res = next.call(req).await;
    // Whatever the raw path looked like, a request routed to the link page
    // never has its token logged.
    let path = match &res {
        Ok(r) if r.request().match_pattern().as_deref() == Some("/d/{token}") => {
            "/d/<redacted>".to_owned()
        }
        _ => redact_path(&raw_path),
    };
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    tracing::info!(
        target: "keydrop::access",
        %method,
        path = %path,
        status,
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        peer = %peer,
        "request"
    );
    res
}

#[cfg(test)]
mod tests {
    use super::redact_path;

    #[test]
    fn drop_links_are_redacted() {
        assert_eq!(redact_path("/d/abcDEF123"), "/d/<redacted>");
        assert_eq!(redact_path("/d/"), "/d/<redacted>");
        assert_eq!(redact_path("/api/v1/tokens"), "/api/v1/tokens");
        let t = "nV73Z5EA3yKPNJkvG9eOGB-KGDVWnOJr_upoz1mNbv0";
        assert_eq!(redact_path(&format!("/%64/{t}")), "/%64/<redacted>");
        assert_eq!(redact_path(&format!("//d/{t}")), "//d/<redacted>");
        assert!(!redact_path(&format!("/api/v1/credentials/{t}")).contains(t));
    }
}
