//! `/api/v1/drops`: roles, validation, paging, revocation.

use crate::helpers::Fetch;
use crate::helpers::{spawn_app, Backend, TestApp};
use crate::on_both_backends;
use serde_json::{json, Value};

on_both_backends!(
    every_role_on_every_drop_route,
    drop_input_is_validated,
    invisible_and_direction_characters_are_refused,
    created_drop_shows_its_link_once,
    listing_pages_newest_first_and_filters_by_state,
    revoke_closes_an_open_drop_once,
);

async fn every_role_on_every_drop_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, issuer) = app.create_token("issuer", "issuer").await;
    let (_, worker) = app.create_token("worker", "worker").await;
    for who in ["nobody", "admin", "issuer", "worker"] {
        let token = match who {
            "nobody" => None,
            "admin" => Some(app.admin_token.as_str()),
            "issuer" => Some(issuer.as_str()),
            _ => Some(worker.as_str()),
        };
        let id = app.create_drop(json!({"org": "Initech"})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let calls = [
            (
                "POST /drops",
                app.post("/api/v1/drops", token).json(&json!({"org": "X"})),
                201,
            ),
            ("GET /drops", app.get("/api/v1/drops", token), 200),
            (
                "GET /drops/{id}",
                app.get(&format!("/api/v1/drops/{id}"), token),
                200,
            ),
            (
                "POST /drops/{id}/revoke",
                app.post(&format!("/api/v1/drops/{id}/revoke"), token),
                200,
            ),
        ];
        for (route, req, ok) in calls {
            let status = req.fetch_status().await;
            let expected = match who {
                "nobody" => 401,
                "worker" => 403,
                _ => ok,
            };
            assert_eq!(status, expected, "{route} as {who}");
        }
    }
}

async fn drop_input_is_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let long = "x".repeat(201);
    let note = "n".repeat(2001);
    let bad = [
        json!({}),
        json!({"org": ""}),
        json!({"org": long}),
        json!({"org": "A", "note": note}),
        json!({"org": "A", "kind": "harvest_v9"}),
        json!({"org": "A", "profile": "everything"}),
        json!({"org": "A", "required": ["users", "salaries"]}),
        json!({"org": "A", "required": []}),
        json!({"org": "A", "profile": "minimal", "required": ["users"]}),
        json!({"org": "A", "expires_in": 299}),
        json!({"org": "A", "expires_in": 2_592_001}),
        json!({"org": "A", "max_attempts": 0}),
        json!({"org": "A", "max_attempts": 101}),
        json!({"org": "A", "colour": "blue"}),
        json!({"org": 7}),
    ];
    for body in bad {
        let res = app
            .post("/api/v1/drops", Some(&app.admin_token))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], "invalid_request", "{body}");
    }
    let res = app
        .post("/api/v1/drops", Some(&app.admin_token))
        .header("content-type", "application/json")
        .body("{\"org\":")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let list: Value = app
        .get("/api/v1/drops", Some(&app.admin_token))
        .fetch_json()
        .await;
    assert_eq!(
        list["drops"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
    // The edges are accepted.
    for body in [
        json!({"org": "A", "expires_in": 300, "max_attempts": 1}),
        json!({"org": "A", "expires_in": 2_592_000, "max_attempts": 100}),
        json!({"org": "A", "kind": "harvest_v1", "required": ["users", "tags/candidate"], "optional": ["jobs"]}),
    ] {
        app.create_drop(body).await;
    }
}

/// A "who is asking" line must say what it holds: no invisible or
/// bidirectional-override characters (or control characters) in text shown
/// to customers.
async fn invisible_and_direction_characters_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let samples = [
        '\u{202E}',
        '\u{202D}',
        '\u{200B}',
        '\u{200E}',
        '\u{200F}',
        '\u{FEFF}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{061C}',
        '\u{00AD}',
        '\u{2060}',
        '\u{E0041}',
    ];
    for c in samples {
        for (field, body) in [
            ("org", json!({"org": format!("Initech{c}moc.live")})),
            (
                "note",
                json!({"org": "Initech", "note": format!("Please {c}help")}),
            ),
        ] {
            let res = app
                .post("/api/v1/drops", Some(&app.admin_token))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 422, "{field} U+{:04X}", u32::from(c));
            let err: Value = res.json().await.unwrap();
            assert_eq!(err["error"]["code"], "invalid_request");
            let message = err["error"]["message"].as_str().unwrap();
            assert!(
                message.starts_with(&format!("{field} must not contain")),
                "{message}"
            );
        }
    }
    for note in ["a\u{7}b", "a\rb", "a\u{1B}[2Jb"] {
        let status = app
            .post("/api/v1/drops", Some(&app.admin_token))
            .json(&json!({"org": "Initech", "note": note}))
            .fetch_status()
            .await;
        assert_eq!(status, 422, "{note:?}");
    }
    let list: Value = app
        .get("/api/v1/drops", Some(&app.admin_token))
        .fetch_json()
        .await;
    assert_eq!(
        list["drops"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
    let audit: Value = app
        .get("/api/v1/audit?limit=500", Some(&app.admin_token))
        .fetch_json()
        .await;
    let events = audit["events"].as_array().unwrap();
    assert!(
        !events.iter().any(|e| e["action"] == "drop.create"),
        "{audit}"
    );
    // Ordinary text in any script, with line breaks in the note, is fine.
    let d = app
        .create_drop(json!({"org": "شركة Initech 株式会社", "note": "Hallo,\r\nbitte\n\tdanke"}))
        .await;
    assert_eq!(d["note"], "Hallo,\nbitte\n\tdanke");
}

async fn created_drop_shows_its_link_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let d = app
        .create_drop(json!({"org": "Initech", "note": "For the Q4 sync", "profile": "minimal", "expires_in": 3600, "max_attempts": 3}))
        .await;
    let url = d["url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1/d/"), "{url}");
    let token = crate::helpers::link_token(url);
    assert_eq!(token.len(), 43);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(d["state"], "open");
    assert_eq!(d["kind"], "harvest_v3");
    assert_eq!(
        d["profile"],
        json!({"name": "minimal", "required": ["users"], "optional": []})
    );
    assert_eq!(
        (d["attempts"].as_i64(), d["max_attempts"].as_i64()),
        (Some(0), Some(3))
    );
    assert!(d["credential_id"].is_null());
    let id = d["id"].as_str().unwrap();
    let got = app
        .get(&format!("/api/v1/drops/{id}"), Some(&app.admin_token))
        .fetch_text()
        .await;
    assert!(!got.contains(token) && !got.contains("\"url\""));
    let listed = app
        .get("/api/v1/drops", Some(&app.admin_token))
        .fetch_text()
        .await;
    assert!(!listed.contains(token));
    let audit = app
        .get("/api/v1/audit", Some(&app.admin_token))
        .fetch_text()
        .await;
    assert!(audit.contains("drop.create") && !audit.contains(token));
    assert_eq!(
        app.get(
            &format!("/api/v1/drops/{}", uuid::Uuid::new_v4()),
            Some(&app.admin_token)
        )
        .fetch_status()
        .await,
        404
    );
    assert_eq!(
        app.get("/api/v1/drops/nope", Some(&app.admin_token))
            .fetch_status()
            .await,
        404
    );
}

async fn list(app: &TestApp, query: &str) -> Value {
    app.get(&format!("/api/v1/drops{query}"), Some(&app.admin_token))
        .fetch_json()
        .await
}

async fn listing_pages_newest_first_and_filters_by_state(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            app.create_drop(json!({"org": format!("Org {i}")})).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.post(
        &format!("/api/v1/drops/{}/revoke", ids[1]),
        Some(&app.admin_token),
    )
    .send()
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let page = list(&app, &query).await;
        seen.extend(
            page["drops"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => query = format!("?limit=2&after={next}"),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected, "newest first, each once");
    let revoked = list(&app, "?state=revoked").await;
    assert_eq!(revoked["drops"].as_array().unwrap().len(), 1);
    assert_eq!(revoked["drops"][0]["id"], ids[1].as_str());
    assert_eq!(
        list(&app, "?state=open").await["drops"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // (An over-large limit is clamped, not refused: see api_audit.rs.)
    for bad in ["?state=nope", "?after=garbage", "?limit=0"] {
        let res = app
            .get(&format!("/api/v1/drops{bad}"), Some(&app.admin_token))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{bad}");
    }
}

async fn revoke_closes_an_open_drop_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let d = app.create_drop(json!({"org": "Initech"})).await;
    let id = d["id"].as_str().unwrap();
    let path = TestApp::link_path(d["url"].as_str().unwrap());
    assert_eq!(app.page(&path).await.0, 200);
    let res = app
        .post(
            &format!("/api/v1/drops/{id}/revoke"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["state"], "revoked");
    let again = app
        .post(
            &format!("/api/v1/drops/{id}/revoke"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let (status, html) = app.page(&path).await;
    assert_eq!(status, 410);
    assert!(
        html.to_lowercase().contains("revoked") || html.to_lowercase().contains("withdrawn"),
        "{html}"
    );
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}
