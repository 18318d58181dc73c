//! `/api/v1/tokens`: roles, bad input, revocation, and no token in any log.

use crate::on_both_backends;
use crate::support::helpers::Fetch;
use crate::support::helpers::{assert_no_secret_in, captured_logs, spawn_app, Backend, TestApp};
use serde_json::{json, Value};

on_both_backends!(
    every_role_on_every_token_and_audit_route,
    bad_input_gets_a_clear_4xx,
    created_token_works_once_shown_and_is_listed_without_secret,
    revocation_through_the_api_is_immediate,
    revocation_by_another_process_takes_effect_within_seconds,
    tokens_never_reach_the_logs_or_the_database,
    a_value_sent_in_the_wrong_place_is_never_echoed,
);

/// What a caller presents.
#[derive(Debug, Clone, Copy)]
enum Who {
    Nobody,
    Garbage,
    Revoked,
    Admin,
    Issuer,
    Worker,
    Auditor,
}

async fn call(app: &TestApp, route: &str, token: Option<&str>, victim: &str) -> reqwest::Response {
    match route {
        "POST /api/v1/tokens" => app
            .post("/api/v1/tokens", token)
            .json(&json!({"name": "matrix", "role": "worker"}))
            .send()
            .await
            .unwrap(),
        "GET /api/v1/tokens" => app.get("/api/v1/tokens", token).send().await.unwrap(),
        "DELETE /api/v1/tokens/{id}" => app
            .delete(&format!("/api/v1/tokens/{victim}"), token)
            .send()
            .await
            .unwrap(),
        "GET /api/v1/audit" => app.get("/api/v1/audit", token).send().await.unwrap(),
        other => panic!("unknown route {other}"),
    }
}

async fn every_role_on_every_token_and_audit_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, issuer) = app.create_token("issuer", "issuer").await;
    let (_, worker) = app.create_token("worker", "worker").await;
    let (_, auditor) = app.create_token("auditor", "auditor").await;
    let (revoked_id, revoked) = app.create_token("old", "admin").await;
    let res = app
        .delete(
            &format!("/api/v1/tokens/{revoked_id}"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let garbage = format!("kd_{}", "A".repeat(64));

    let routes = [
        ("POST /api/v1/tokens", 201),
        ("GET /api/v1/tokens", 200),
        ("DELETE /api/v1/tokens/{id}", 200),
        ("GET /api/v1/audit", 200),
    ];
    for (route, admin_status) in routes {
        for who in [
            Who::Nobody,
            Who::Garbage,
            Who::Revoked,
            Who::Admin,
            Who::Issuer,
            Who::Worker,
            Who::Auditor,
        ] {
            let (victim_id, _) = app.create_token("victim", "worker").await;
            let token = match who {
                Who::Nobody => None,
                Who::Garbage => Some(garbage.as_str()),
                Who::Revoked => Some(revoked.as_str()),
                Who::Admin => Some(app.admin_token.as_str()),
                Who::Issuer => Some(issuer.as_str()),
                Who::Worker => Some(worker.as_str()),
                Who::Auditor => Some(auditor.as_str()),
            };
            let res = call(&app, route, token, &victim_id).await;
            let expected = match who {
                Who::Nobody | Who::Garbage | Who::Revoked => 401,
                Who::Admin => admin_status,
                // The auditor reads the audit log and manages no token.
                Who::Auditor if route == "GET /api/v1/audit" => 200,
                Who::Issuer | Who::Worker | Who::Auditor => 403,
            };
            assert_eq!(res.status().as_u16(), expected, "{route} as {who:?}");
            if expected == 401 {
                assert_eq!(
                    res.headers()["www-authenticate"],
                    "Bearer realm=\"keydrop\""
                );
            }
            if expected >= 400 {
                let body: Value = res.json().await.unwrap();
                let code = body["error"]["code"].as_str().unwrap();
                assert_eq!(
                    code,
                    if expected == 401 {
                        "unauthorized"
                    } else {
                        "forbidden"
                    }
                );
                assert!(body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()));
            }
        }
    }
}

async fn bad_input_gets_a_clear_4xx(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = Some(app.admin_token.as_str());
    let post = |body: &'static str, ctype: &'static str| {
        app.post("/api/v1/tokens", admin)
            .header("content-type", ctype)
            .body(body)
    };
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            post(
                r#"{"name":"x","role":"worker","extra":1}"#,
                "application/json",
            ),
            422,
            "invalid_request",
        ),
        (
            post(r#"{"name":"x","role":"root"}"#, "application/json"),
            422,
            "invalid_request",
        ),
        (
            post(r#"{"name":"x"}"#, "application/json"),
            422,
            "invalid_request",
        ),
        (
            post(r#"{"name":"","role":"worker"}"#, "application/json"),
            422,
            "invalid_request",
        ),
        (
            post(r#"{"name":5,"role":"worker"}"#, "application/json"),
            422,
            "invalid_request",
        ),
        (
            post(r#"{"name":"x","role":"#, "application/json"),
            400,
            "malformed_request",
        ),
        (
            post("not json at all", "application/json"),
            400,
            "malformed_request",
        ),
        (post("", "application/json"), 400, "malformed_request"),
        (
            post(r#"{"name":"x","role":"worker"}"#, "text/plain"),
            415,
            "unsupported_media_type",
        ),
        (
            app.post("/api/v1/tokens", admin)
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"name":"{}","role":"worker"}}"#,
                    "x".repeat(70 * 1024)
                )),
            413,
            "payload_too_large",
        ),
        (
            app.delete("/api/v1/tokens/not-a-uuid", admin),
            404,
            "not_found",
        ),
        (
            app.delete(&format!("/api/v1/tokens/{}", uuid::Uuid::new_v4()), admin),
            404,
            "not_found",
        ),
        (
            app.get("/api/v1/audit?limit=0", admin),
            422,
            "invalid_request",
        ),
        (
            app.get("/api/v1/audit?limit=abc", admin),
            422,
            "invalid_request",
        ),
        (
            app.get("/api/v1/audit?bogus=1", admin),
            422,
            "invalid_request",
        ),
        (app.get("/api/v1/nothing-here", admin), 404, "not_found"),
    ];
    for (i, (req, status, code)) in cases.into_iter().enumerate() {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "case {i}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "case {i}: {body}");
    }
    // Nothing was created by any of that.
    let list: Value = app.get("/api/v1/tokens", admin).fetch_json().await;
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1);
    // A chunked body over the limit (no Content-Length) is refused as well.
    let chunks =
        futures_util::stream::iter((0..80).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let res = app
        .post("/api/v1/tokens", admin)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // Still alive and well.
    assert_eq!(app.get("/healthz", None).fetch_status().await, 200);
}

async fn created_token_works_once_shown_and_is_listed_without_secret(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .post("/api/v1/tokens", Some(&app.admin_token))
        .json(&json!({"name": "  ingest-eu  ", "role": "issuer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    crate::support::helpers::remember_secret(&token);
    assert!(token.starts_with("kd_"));
    assert_eq!(body["name"], "ingest-eu");
    assert_eq!(body["role"], "issuer");
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    let list = app
        .get("/api/v1/tokens", Some(&app.admin_token))
        .fetch_text()
        .await;
    assert!(!list.contains(&token));
    assert!(!list.contains("argon2"));
    // The new token authenticates, as an issuer.
    let res = app
        .get("/api/v1/tokens", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // The audit log says who created what, without the token.
    let audit: Value = app
        .get("/api/v1/audit", Some(&app.admin_token))
        .fetch_json()
        .await;
    let events = audit["events"].as_array().unwrap();
    // key check, form key, token-tag key, audit key, public URL, mail, webhook setting,
    // bootstrap, create
    assert_eq!(events.len(), 9, "{audit}");
    let last = &events[8];
    assert_eq!(last["action"], "token.create");
    assert_eq!(
        last["subject"],
        format!("token:{}", body["id"].as_str().unwrap())
    );
    assert_eq!(last["ip"], "127.0.0.1");
    assert_eq!(last["details"]["role"], "issuer");
    assert_eq!(last["hash"].as_str().unwrap().len(), 64);
    assert!(!audit.to_string().contains(&token));
}

async fn revocation_through_the_api_is_immediate(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, token) = app.create_token("soon-gone", "admin").await;
    assert_eq!(
        app.get("/api/v1/tokens", Some(&token)).fetch_status().await,
        200
    );
    let res = app
        .delete(&format!("/api/v1/tokens/{id}"), Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["revoked_at"].is_string());
    assert_eq!(
        app.get("/api/v1/tokens", Some(&token)).fetch_status().await,
        401
    );
}

async fn revocation_by_another_process_takes_effect_within_seconds(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, token) = app.create_token("cli-revoked", "admin").await;
    assert_eq!(
        app.get("/api/v1/tokens", Some(&token)).fetch_status().await,
        200
    );
    // Revoke through a second store, as `keydrop token revoke` would.
    let other = app.db.store().await;
    let entry =
        keydrop::domain::audit::AuditEntry::untyped("cli", "token.revoke", format!("token:{id}"));
    other
        .revoke_token(id.parse().unwrap(), &entry)
        .await
        .unwrap()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let status = app.get("/api/v1/tokens", Some(&token)).fetch_status().await;
        if status == 401 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "still accepted after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn tokens_never_reach_the_logs_or_the_database(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, worker) = app.create_token("w", "worker").await;
    for t in [&worker, &app.admin_token] {
        app.get("/api/v1/tokens", Some(t)).send().await.unwrap();
        app.get("/api/v1/audit", Some(t)).send().await.unwrap();
    }
    let secrets = vec![worker.clone(), app.admin_token.clone()];
    assert_no_secret_in(captured_logs().as_bytes(), &secrets, "the logs");
    app.store.close().await;
    assert_no_secret_in(&app.db.raw_dump().await, &secrets, "the database");
    // And the part after the prefix alone is nowhere either.
    let bodies: Vec<String> = secrets.iter().map(|s| s[3..].to_owned()).collect();
    assert_no_secret_in(captured_logs().as_bytes(), &bodies, "the logs");
}

/// serde's messages quote what was sent; a token pasted into the wrong field
/// or used as a name must come back neither in the answer nor in the log.
async fn a_value_sent_in_the_wrong_place_is_never_echoed(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, pasted) = app.create_token("pasted", "worker").await;
    let admin = Some(app.admin_token.as_str());
    let bodies = [
        json!({"name": "n", "role": pasted}),
        json!({"name": "n", "role": "worker", pasted.as_str(): 1}),
        json!({"name": ["n", pasted], "role": "worker"}),
        json!({"org": "Initech", "expires_in": pasted}),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let route = if i == 3 {
            "/api/v1/drops"
        } else {
            "/api/v1/tokens"
        };
        let res = app.post(route, admin).json(body).send().await.unwrap();
        assert_eq!(res.status(), 422, "case {i}");
        let text = res.text().await.unwrap();
        assert!(text.contains("invalid request"), "case {i}: {text}");
        assert_no_secret_in(
            text.as_bytes(),
            std::slice::from_ref(&pasted),
            "an error message",
        );
    }
    for query in [
        format!("/api/v1/audit?{pasted}=1"),
        format!("/api/v1/drops?state={pasted}"),
        format!("/api/v1/credentials?limit={pasted}"),
    ] {
        let res = app.get(&query, admin).send().await.unwrap();
        assert_eq!(res.status(), 422, "{query}");
        let text = res.text().await.unwrap();
        assert_no_secret_in(
            text.as_bytes(),
            std::slice::from_ref(&pasted),
            "an error message",
        );
    }
    assert_no_secret_in(captured_logs().as_bytes(), &[pasted], "the logs");
}
