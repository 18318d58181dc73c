//! HTTP methods (SPEC §4): a method a route does not have is a 405 with
//! `Allow` (in the API's error shape under `/api/v1`), never a 404; `HEAD`
//! on every public page answers the status and headers of `GET`, with no
//! body, and consumes or changes nothing.

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, spawn_app_with, AppOptions, Backend, Fetch, TestApp};
use keydrop::domain::drop::DropState;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

on_both_backends!(
    every_api_route_answers_405_with_allow_for_a_method_it_lacks,
    public_routes_answer_405_with_allow_for_a_method_they_lack,
    head_of_a_link_answers_as_get_and_changes_nothing,
    head_of_every_other_public_page_answers_as_get,
);

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"];

fn allow_of(res: &reqwest::Response) -> BTreeSet<String> {
    res.headers()
        .get_all("allow")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect()
}

fn set(methods: &[&str]) -> BTreeSet<String> {
    methods.iter().map(|m| (*m).to_owned()).collect()
}

/// Every path of the OpenAPI document (which a test keeps equal to the
/// router), every method it does not document: 405, `Allow` = exactly the
/// documented methods, the error shape with `method_not_allowed`.
async fn every_api_route_answers_405_with_allow_for_a_method_it_lacks(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc: Value = app
        .get("/api/v1/openapi.json", Some(&app.admin_token))
        .fetch_json()
        .await;
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let documented: BTreeSet<String> = ops
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        let real = path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{delivery_id}", &uuid::Uuid::new_v4().to_string());
        for method in METHODS.iter().filter(|m| !documented.contains(**m)) {
            let res = app
                .http
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    app.url(&format!("/api/v1{real}")),
                )
                .bearer_auth(&app.admin_token)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let allow = allow_of(&res);
            let body = res.text().await.unwrap();
            assert_eq!(status, 405, "{method} {path}: {body}");
            assert_eq!(allow, documented, "{method} {path}");
            if *method != "HEAD" {
                let body: Value = serde_json::from_str(&body)
                    .unwrap_or_else(|e| panic!("{method} {path}: {e}: {body:?}"));
                assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
                assert!(body["error"]["message"].as_str().unwrap().contains("takes"));
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked}");

    // `claim` is never taken for a credential id, whatever the method.
    let res = app
        .get("/api/v1/credentials/claim", Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(allow_of(&res), set(&["POST"]));

    // Authentication comes first; an unknown route stays a 404.
    let status = app.delete("/api/v1/drops", None).fetch_status().await;
    assert_eq!(status, 401);
    for method in ["GET", "DELETE"] {
        let res = app
            .http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                app.url("/api/v1/no-such-route"),
            )
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{method}");
        assert!(res.headers().get("allow").is_none());
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["message"], "route not found");
    }
}

async fn public_routes_answer_405_with_allow_for_a_method_they_lack(backend: Backend) {
    let app = spawn_app(backend).await;
    let drop = app.create_drop(json!({"org": "Initech"})).await;
    let link = TestApp::link_path(drop["url"].as_str().unwrap());
    let cases: &[(&str, &[&str])] = &[
        (link.as_str(), &["GET", "HEAD", "POST"]),
        (&format!("{link}/connect"), &["POST"]),
        ("/healthz", &["GET", "HEAD"]),
        ("/readyz", &["GET", "HEAD"]),
        ("/static/keydrop.css", &["GET", "HEAD"]),
        ("/static/brand/logo.png", &["GET", "HEAD"]),
        ("/oauth/greenhouse/callback", &["GET"]),
    ];
    for (path, allowed) in cases {
        for method in METHODS.iter().filter(|m| !allowed.contains(*m)) {
            let res = app
                .http
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    app.url(path),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 405, "{method} {path}");
            assert_eq!(allow_of(&res), set(allowed), "{method} {path}");
        }
    }
    // Nothing was consumed: the link still shows its form.
    let (status, html) = app.page(&link).await;
    assert_eq!(status, 200);
    assert!(html.contains("csrf_token"));
    // A path no route has is the 404 page, whatever the method.
    for method in ["GET", "DELETE", "PUT"] {
        let res = app
            .http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                app.url("/no/such/page"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{method}");
        assert!(res.headers().get("allow").is_none());
        assert!(res.text().await.unwrap().contains("<html"));
    }
}

/// Status and headers (less `Date`) of a response, and its body.
async fn answer(
    app: &TestApp,
    method: Method,
    path: &str,
) -> (u16, BTreeMap<String, String>, String) {
    let res = app
        .http
        .request(method, app.url(path))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    (status, headers, res.text().await.unwrap())
}

/// HEAD then GET: the same status and headers, HEAD without a body. The
/// length too, unless the body changes by itself between the two
/// (`/readyz` shows each task's last pass).
async fn same_as_get(app: &TestApp, path: &str) -> u16 {
    let (head_status, mut head_headers, head_body) = answer(app, Method::HEAD, path).await;
    let (status, mut headers, body) = answer(app, Method::GET, path).await;
    assert_eq!(head_status, status, "HEAD {path}");
    assert_eq!(head_body, "", "HEAD {path} has a body");
    let length = |h: &BTreeMap<String, String>| -> usize { h["content-length"].parse().unwrap() };
    assert_eq!(length(&headers), body.len(), "GET {path}");
    if path == "/readyz" {
        assert!(length(&head_headers) > 0);
        head_headers.remove("content-length");
        headers.remove("content-length");
    }
    assert_eq!(head_headers, headers, "HEAD {path}");
    status
}

fn no_background_passes(s: &mut keydrop::config::ServeSettings) {
    // Only the requests under test may expire or lock a drop.
    s.jobs.interval = Duration::from_secs(3600);
}

async fn state_of(app: &TestApp, id: &str) -> DropState {
    app.store.drop_by_id(id).await.unwrap().unwrap().state
}

async fn audit_len(app: &TestApp) -> usize {
    app.store.list_audit(0, 10_000).await.unwrap().len()
}

async fn head_of_a_link_answers_as_get_and_changes_nothing(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            manual_clock: true,
            tune: Some(no_background_passes),
            ..AppOptions::default()
        },
    )
    .await;
    let new_link = |org: &'static str| {
        let app = &app;
        async move {
            let d = app
                .create_drop(json!({"org": org, "expires_in": 300, "max_attempts": 2}))
                .await;
            (
                d["id"].as_str().unwrap().to_owned(),
                TestApp::link_path(d["url"].as_str().unwrap()),
            )
        }
    };
    let (open_id, open) = new_link("Open").await;
    let (expiring_id, expiring) = new_link("Expiring").await;
    let (exhausted_id, exhausted) = new_link("Exhausted").await;
    let (revoked_id, revoked) = new_link("Revoked").await;
    let status = app
        .post(
            &format!("/api/v1/drops/{revoked_id}/revoke"),
            Some(&app.admin_token),
        )
        .fetch_status()
        .await;
    assert_eq!(status, 200);

    // Open (twice: the second from the page cache), unknown, revoked.
    let before = audit_len(&app).await;
    let head = app.http.head(app.url(&open)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(head.headers().get("content-security-policy").is_some());
    assert_eq!(same_as_get(&app, &open).await, 200);
    assert_eq!(same_as_get(&app, &open).await, 200);
    let unknown = format!("/d/{}", "A".repeat(43));
    assert_eq!(same_as_get(&app, &unknown).await, 404);
    assert_eq!(same_as_get(&app, "/d/short").await, 404);
    assert_eq!(same_as_get(&app, &revoked).await, 410);
    assert_eq!(
        audit_len(&app).await,
        before,
        "a page view wrote to the audit log"
    );
    let d = app.store.drop_by_id(&open_id).await.unwrap().unwrap();
    assert_eq!((d.state, d.attempts), (DropState::Open, 0));

    // Every attempt used (the last check long over): GET locks the link;
    // HEAD answers the same 410 and leaves it as it was.
    let mut raw = app.db.raw().await;
    sqlx::query("UPDATE drops SET attempts = max_attempts WHERE id = $1")
        .bind(&exhausted_id)
        .execute(&mut raw)
        .await
        .unwrap();
    for _ in 0..2 {
        let (status, _, body) = answer(&app, Method::HEAD, &exhausted).await;
        assert_eq!((status, body.as_str()), (410, ""));
    }
    assert_eq!(state_of(&app, &exhausted_id).await, DropState::Open);
    assert_eq!(audit_len(&app).await, before);
    let (head_status, head_headers, _) = answer(&app, Method::HEAD, &exhausted).await;
    let (status, headers, _) = answer(&app, Method::GET, &exhausted).await;
    assert_eq!((head_status, &head_headers), (status, &headers));
    assert_eq!(status, 410);
    assert_eq!(state_of(&app, &exhausted_id).await, DropState::Locked);

    // Past its expiry: likewise, GET records `expired`, HEAD nothing.
    app.clock
        .as_ref()
        .unwrap()
        .advance(Duration::from_secs(301));
    let before = audit_len(&app).await;
    let (head_status, head_headers, body) = answer(&app, Method::HEAD, &expiring).await;
    assert_eq!((head_status, body.as_str()), (410, ""));
    assert_eq!(state_of(&app, &expiring_id).await, DropState::Open);
    assert_eq!(audit_len(&app).await, before);
    let (status, headers, _) = answer(&app, Method::GET, &expiring).await;
    assert_eq!((head_status, &head_headers), (status, &headers));
    assert_eq!(state_of(&app, &expiring_id).await, DropState::Expired);
    assert_eq!(same_as_get(&app, &expiring).await, 410);
    // The link that was open is past its expiry too now.
    assert_eq!(same_as_get(&app, &open).await, 410);
}

async fn head_of_every_other_public_page_answers_as_get(backend: Backend) {
    let app = spawn_app(backend).await;
    for (path, status) in [
        ("/healthz", 200),
        ("/readyz", 200),
        ("/static/keydrop.css", 200),
        ("/static/nothing.css", 404),
        ("/static/brand/logo.png", 404),
        ("/no/such/page", 404),
        ("/", 404),
    ] {
        assert_eq!(same_as_get(&app, path).await, status, "{path}");
    }
    // The OAuth callback consumes its `state`: no HEAD, so a previewer
    // that sends one is told which method the route takes.
    let res = app
        .http
        .head(app.url("/oauth/greenhouse/callback?state=x&code=y"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(allow_of(&res), set(&["GET"]));
}
