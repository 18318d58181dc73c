//! `KEYDROP_METRICS_BIND` (SPEC §12): Prometheus text on a listener of its
//! own, series by route pattern, never a token.

use crate::credentials::verified_credential;
use crate::on_both_backends;
use crate::support::helpers::{link_token, spawn_app_with, AppOptions, Backend, Fetch, TestApp};
use serde_json::json;

on_both_backends!(
    metrics_are_served_on_their_own_listener_without_secrets,
    metrics_are_off_by_default
);

fn with_metrics() -> AppOptions {
    AppOptions {
        tune: Some(|s| s.metrics_bind = Some("127.0.0.1:0".parse().unwrap())),
        ..AppOptions::default()
    }
}

async fn scrape(app: &TestApp) -> String {
    let base = app.metrics_address.as_deref().expect("a metrics listener");
    let res = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    res.text().await.unwrap()
}

/// The value of the series whose line starts with `series` (name and labels).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

async fn metrics_are_served_on_their_own_listener_without_secrets(backend: Backend) {
    let app = spawn_app_with(backend, with_metrics()).await;
    let (_, worker) = app.create_token("metrics-worker", "worker").await;

    // A verified credential (one check, one submission), its secret
    // released once and claimed once.
    let credential = verified_credential(&app).await;
    let status = app
        .get(
            &format!("/api/v1/credentials/{credential}/secret"),
            Some(&worker),
        )
        .fetch_status()
        .await;
    assert_eq!(status, 200);
    let status = app
        .post("/api/v1/credentials/claim", Some(&worker))
        .fetch_status()
        .await;
    assert_eq!(status, 200);

    // A malformed submission, a link opened, a mistyped link, an unknown path.
    let d = app.create_drop(json!({"org": "Globex"})).await;
    let url = d["url"].as_str().unwrap();
    let token = link_token(url).to_owned();
    let path = TestApp::link_path(url);
    let (status, _) = app
        .submit(&path, &[("client_id", ""), ("client_secret", "")])
        .await;
    assert_eq!(status, 422);
    assert_eq!(app.get(&path, None).fetch_status().await, 200);
    assert_eq!(app.get(&format!("/{path}"), None).fetch_status().await, 404);
    assert_eq!(
        app.get(&format!("/static/{token}.css"), None)
            .fetch_status()
            .await,
        404
    );
    assert_eq!(
        app.get(&format!("/api/v1/nothing/{token}"), Some(&worker))
            .fetch_status()
            .await,
        404
    );

    // The public listener does not serve metrics.
    assert_eq!(app.get("/metrics", None).fetch_status().await, 404);

    let text = scrape(&app).await;

    // No secret of any kind, and every route label is a pattern.
    assert!(!text.contains(&token), "the link token leaked into metrics");
    assert!(
        !text.contains(&token[..20]),
        "part of the link token leaked"
    );
    assert!(!text.contains("kd_"), "an API token leaked into metrics");
    assert!(!text.contains(&app.admin_token));
    assert!(!text.contains(&worker));
    let routes: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("keydrop_http_requests_total{"))
        .filter_map(|l| l.split("route=\"").nth(1)?.split('"').next())
        .collect();
    assert!(!routes.is_empty());
    for route in &routes {
        assert!(
            *route == "unmatched" || (route.starts_with('/') && !route.contains("//")),
            "route label {route:?} is not a pattern"
        );
    }
    assert!(routes.contains(&"/d/{token}"), "{routes:?}");
    assert!(routes.contains(&"unmatched"), "{routes:?}");

    let at_least = |series: &str, min: f64| {
        let v = value(&text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
        assert!(v >= min, "{series} = {v}, expected at least {min}");
    };
    at_least(
        r#"keydrop_http_requests_total{route="/d/{token}",method="GET",status="200"}"#,
        2.0,
    );
    at_least(
        r#"keydrop_http_requests_total{route="unmatched",method="GET",status="404"}"#,
        2.0,
    );
    at_least(
        r#"keydrop_http_request_duration_seconds_count{route="/d/{token}",method="POST",status="200"}"#,
        1.0,
    );
    at_least(
        r#"keydrop_submissions_total{kind="harvest_v3",outcome="verified"}"#,
        1.0,
    );
    at_least(
        r#"keydrop_submissions_total{kind="harvest_v3",outcome="malformed"}"#,
        1.0,
    );
    at_least(
        r#"keydrop_greenhouse_checks_total{kind="harvest_v3",outcome="verified"}"#,
        1.0,
    );
    at_least(
        r#"keydrop_greenhouse_check_duration_seconds_count{kind="harvest_v3"}"#,
        1.0,
    );
    // Greenhouse requests by endpoint class: the token call and the resource
    // probes of the check above, never a URL or a resource name.
    at_least(
        r#"keydrop_greenhouse_requests_total{endpoint="token",status="200"}"#,
        1.0,
    );
    at_least(
        r#"keydrop_greenhouse_requests_total{endpoint="resource",status="200"}"#,
        1.0,
    );
    for line in text
        .lines()
        .filter(|l| l.starts_with("keydrop_greenhouse_requests_total{"))
    {
        let endpoint = line.split("endpoint=\"").nth(1).unwrap().split('"').next();
        assert!(
            matches!(
                endpoint,
                Some("token" | "introspect" | "resource" | "ingestion" | "boards")
            ),
            "{line}"
        );
    }
    for secret in [
        crate::support::helpers::GOOD_ID,
        crate::support::helpers::GOOD_SECRET,
    ] {
        assert!(
            !text.contains(secret),
            "a Greenhouse credential leaked into metrics"
        );
    }
    at_least("keydrop_secret_releases_total", 1.0);
    at_least("keydrop_claims_total", 1.0);
    at_least(
        r#"keydrop_credentials{status="verified",delivery="leased"}"#,
        1.0,
    );
    at_least("keydrop_webhook_queue_depth", 0.0);
    at_least(r#"keydrop_task_up{task="release_batcher"}"#, 1.0);
    at_least(
        r#"keydrop_task_restarts_total{task="release_batcher"}"#,
        0.0,
    );

    // The metrics listener answers nothing else.
    let base = app.metrics_address.as_deref().unwrap();
    let status = app.http.get(format!("{base}/")).fetch_status().await;
    assert_eq!(status, 404);
}

async fn metrics_are_off_by_default(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    assert!(app.metrics_address.is_none());
    assert_eq!(app.get("/metrics", None).fetch_status().await, 404);
}
