//! Access logs that never carry a secret: `/d/{token}` paths are redacted,
//! query strings and bodies are never logged.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use std::time::Instant;

/// The path as it may be logged.
pub fn redact_path(path: &str) -> String {
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
    let path = redact_path(req.path());
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let res = next.call(req).await;
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
    }
}
