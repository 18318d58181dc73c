//! Security headers on every response (SPEC §4), set in one place.

use actix_web::middleware::DefaultHeaders;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// [`CONTENT_SECURITY_POLICY`] that also lets forms go to Greenhouse's
/// authorization origin: for the pages with a **Connect with Greenhouse**
/// button, and only them. `None` when the URL has no origin to name.
pub fn connect_policy(auth_url: &str) -> Option<actix_web::http::header::HeaderValue> {
    let origin = reqwest::Url::parse(auth_url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")?;
    policy_with_form_action(&[origin])
}

/// [`CONTENT_SECURITY_POLICY`] whose forms may also go (or be redirected) to `origins`: the
/// Connect pages (Greenhouse) and the console's sign-in page (the identity provider).
pub fn policy_with_form_action(origins: &[String]) -> Option<actix_web::http::header::HeaderValue> {
    if origins.iter().any(|o| {
        o.is_empty() || o.contains([';', ',', '\'', ' ']) || o.chars().any(char::is_control)
    }) {
        return None;
    }
    let csp = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'",
        &format!("form-action 'self' {}", origins.join(" ")),
    );
    actix_web::http::header::HeaderValue::from_str(&csp).ok()
}

/// The headers; a handler may still set its own `Cache-Control` (static files).
pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cache-Control", "no-store"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cross-Origin-Resource-Policy", "same-origin"));
    if https {
        headers.add((
            "Strict-Transport-Security",
            "max-age=63072000; includeSubDomains",
        ))
    } else {
        headers
    }
}
