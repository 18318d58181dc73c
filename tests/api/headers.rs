//! Security headers on every response, errors and 404s included.

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, Backend};

on_both_backends!(every_response_carries_the_security_headers);

async fn every_response_carries_the_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let requests = [
        app.get("/healthz", None),
        app.get("/readyz", None),
        app.get("/api/v1/tokens", None),
        app.get("/api/v1/tokens", Some(&app.admin_token)),
        app.get("/no/such/page", None),
        app.post("/api/v1/tokens", Some(&app.admin_token)).body("{"),
    ];
    for req in requests {
        let res = req.send().await.unwrap();
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "style-src 'self'",
            "img-src 'self'",
            "form-action 'self';",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{} lacks {directive}", res.url());
        }
        assert!(!csp.contains("script-src"), "no script is served");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["cache-control"], "no-store");
        assert!(
            h.get("strict-transport-security").is_none(),
            "plain http: no HSTS"
        );
    }
    let ready = app.get("/readyz", None).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
