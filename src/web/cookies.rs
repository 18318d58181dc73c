//! The few cookies keydrop sets, written and read by hand: their values are keydrop's own
//! base64url nonces, so no quoting or encoding is ever needed, and a `Cookie` header that
//! does not parse simply holds none of them.
//!
//! Every cookie is `HttpOnly` and `SameSite=Lax` (sent on the top-level navigation back
//! from an identity provider, never on a cross-site subrequest); on an https site it is also
//! `Secure` and `__Host-` prefixed (so no subdomain can set or shadow it).

use actix_web::http::header::{HeaderValue, COOKIE};
use actix_web::HttpRequest;

/// The name of cookie `base` on a site that is (or is not) served over https.
pub fn name(base: &str, https: bool) -> String {
    if https {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// A `Set-Cookie` value: `name=value` for `max_age_s` seconds (0 deletes it).
pub fn set(base: &str, value: &str, max_age_s: u64, https: bool) -> Option<HeaderValue> {
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{secure}",
        name(base, https)
    ))
    .ok()
}

/// The value of cookie `base` in the request, if it sent exactly one.
pub fn get(req: &HttpRequest, base: &str, https: bool) -> Option<String> {
    let wanted = name(base, https);
    let mut found = None;
    for header in req.headers().get_all(COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for pair in text.split(';') {
            let Some((n, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if n == wanted {
                if found.is_some() {
                    return None; // two of them: trust neither
                }
                found = Some(v.to_owned());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn attributes_follow_the_scheme() {
        let s = set("keydrop-connect", "abc", 600, true).unwrap();
        assert_eq!(
            s.to_str().unwrap(),
            "__Host-keydrop-connect=abc; Path=/; Max-Age=600; HttpOnly; SameSite=Lax; Secure"
        );
        let s = set("keydrop-connect", "abc", 0, false).unwrap();
        assert_eq!(
            s.to_str().unwrap(),
            "keydrop-connect=abc; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn reads_one_cookie_and_nothing_else() {
        let req = TestRequest::default()
            .insert_header((COOKIE, "a=1; keydrop-connect=xyz; b=2"))
            .to_http_request();
        assert_eq!(get(&req, "keydrop-connect", false).as_deref(), Some("xyz"));
        assert_eq!(
            get(&req, "keydrop-connect", true),
            None,
            "the https name differs"
        );
        let twice = TestRequest::default()
            .insert_header((COOKIE, "keydrop-connect=x; keydrop-connect=y"))
            .to_http_request();
        assert_eq!(get(&twice, "keydrop-connect", false), None);
        let none = TestRequest::default().to_http_request();
        assert_eq!(get(&none, "keydrop-connect", false), None);
    }
}
