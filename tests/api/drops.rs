//! `/api/v1/drops`: roles, validation, paging, revocation.
//!
//! *Over 400 lines:* one feature's tests read best together.

use crate::on_both_backends;
use crate::support::helpers::Fetch;
use crate::support::helpers::{
    spawn_app, spawn_app_with, AppOptions, Backend, TestApp, GOOD_ID, GOOD_SECRET, PARTIAL_ID,
    PARTIAL_SECRET,
};
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    every_role_on_every_drop_route,
    drop_input_is_validated,
    invisible_and_direction_characters_are_refused,
    created_drop_shows_its_link_once,
    listing_pages_newest_first_and_filters_by_state,
    revoke_closes_an_open_drop_once,
    contact_external_id_and_metadata_are_stored_and_returned,
    contact_external_id_and_metadata_are_validated,
    external_id_is_unique_among_open_drops,
    simultaneous_creations_with_one_external_id_make_one_drop,
    listing_filters_by_external_id,
    credential_carries_the_drops_external_id_and_metadata,
    contact_is_on_every_page_of_the_link,
    support_email_stands_in_for_a_missing_contact,
);

async fn every_role_on_every_drop_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, issuer) = app.create_token("issuer", "issuer").await;
    let (_, worker) = app.create_token("worker", "worker").await;
    let (_, auditor) = app.create_token("auditor", "auditor").await;
    for who in ["nobody", "admin", "issuer", "worker", "auditor"] {
        let token = match who {
            "nobody" => None,
            "admin" => Some(app.admin_token.as_str()),
            "issuer" => Some(issuer.as_str()),
            "auditor" => Some(auditor.as_str()),
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
            // The auditor reads and changes nothing.
            let expected = match who {
                "nobody" => 401,
                "worker" => 403,
                "auditor" if route.starts_with("POST") => 403,
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
        let created = app.create_drop(body.clone()).await;
        // Only a retired kind carries a warning for staff; the drop is created regardless.
        let warnings = created["warnings"].as_array().unwrap();
        if body["kind"] == "harvest_v1" {
            assert!(
                warnings.len() == 1 && warnings[0].as_str().unwrap().contains("retired"),
                "{created}"
            );
        } else {
            assert!(warnings.is_empty(), "{created}");
        }
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
    let token = crate::support::helpers::link_token(url);
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

const HOSTILE_NAME: &str = r#"Jane " ' & < > <script>alert(1)</script> Doe"#;
const HOSTILE_NAME_HTML: &str =
    "Jane &quot; ' &amp; &lt; &gt; &lt;script&gt;alert(1)&lt;/script&gt; Doe";

fn full_body(external_id: &str) -> Value {
    json!({
        "org": "Initech",
        "contact": {"name": "Jane Doe", "email": "jane@acme.example"},
        "external_id": external_id,
        "metadata": {"crm_id": "0031", "region": "eu"},
    })
}

async fn post_drop(app: &TestApp, body: &Value) -> (u16, Value) {
    let res = app
        .post("/api/v1/drops", Some(&app.admin_token))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn contact_external_id_and_metadata_are_stored_and_returned(backend: Backend) {
    let app = spawn_app(backend).await;
    let d = app.create_drop(full_body("cust-42")).await;
    let expect = |d: &Value| {
        assert_eq!(
            d["contact"],
            json!({"name": "Jane Doe", "email": "jane@acme.example"})
        );
        assert_eq!(d["external_id"], "cust-42");
        assert_eq!(d["metadata"], json!({"crm_id": "0031", "region": "eu"}));
    };
    expect(&d);
    let id = d["id"].as_str().unwrap();
    expect(
        &app.get(&format!("/api/v1/drops/{id}"), Some(&app.admin_token))
            .fetch_json()
            .await,
    );
    expect(&list(&app, "").await["drops"][0]);
    // Trimmed where the text rules trim; absent fields are null.
    let d = app
        .create_drop(
            json!({"org": "B", "contact": {"name": "  Jane  ", "email": " jane@acme.example "}}),
        )
        .await;
    assert_eq!(
        d["contact"],
        json!({"name": "Jane", "email": "jane@acme.example"})
    );
    assert!(d["external_id"].is_null() && d["metadata"].is_null());
    let plain = app.create_drop(json!({"org": "C"})).await;
    assert!(plain["contact"].is_null());
    // The audit entry names the external id (metadata, not a secret).
    let audit: Value = app
        .get(
            &format!("/api/v1/audit?subject=drop:{id}"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(audit["events"][0]["details"]["external_id"], "cust-42");
    // Metadata is never shown to the customer.
    let (status, html) = app
        .page(&TestApp::link_path(d["url"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    let first = TestApp::link_path(
        app.create_drop(full_body("cust-43")).await["url"]
            .as_str()
            .unwrap(),
    );
    let (_, html_full) = app.page(&first).await;
    for page in [&html, &html_full] {
        assert!(!page.contains("crm_id") && !page.contains("0031"));
        assert!(!page.contains("cust-4"), "nor is the external id");
    }
}

async fn contact_external_id_and_metadata_are_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let big = "v".repeat(4089);
    let bad = [
        (
            json!({"org": "A", "contact": {"name": "Jane"}}),
            "missing field `email`",
        ),
        (
            json!({"org": "A", "contact": {"email": "j@x.example"}}),
            "missing field `name`",
        ),
        (
            json!({"org": "A", "contact": {"name": "Jane", "email": "j@x.example", "phone": "1"}}),
            "unknown field",
        ),
        (
            json!({"org": "A", "contact": {"name": "", "email": "j@x.example"}}),
            "contact.name must be 1 to 200",
        ),
        (
            json!({"org": "A", "contact": {"name": "x".repeat(201), "email": "j@x.example"}}),
            "contact.name must be 1 to 200",
        ),
        (
            json!({"org": "A", "contact": {"name": "Jane\u{202E}", "email": "j@x.example"}}),
            "contact.name must not contain",
        ),
        (
            json!({"org": "A", "contact": {"name": "Jane\nDoe", "email": "j@x.example"}}),
            "contact.name must not contain",
        ),
        (
            json!({"org": "A", "contact": {"name": "Jane", "email": "jane"}}),
            "contact.email must be",
        ),
        (
            json!({"org": "A", "contact": {"name": "Jane", "email": "jane@localhost"}}),
            "contact.email must be",
        ),
        (
            json!({"org": "A", "contact": {"name": "Jane", "email": "a b@x.example"}}),
            "contact.email must be",
        ),
        (
            json!({"org": "A", "contact": "Jane <j@x.example>"}),
            "wrong type",
        ),
        (
            json!({"org": "A", "external_id": ""}),
            "external_id must be 1 to 200",
        ),
        (
            json!({"org": "A", "external_id": "x".repeat(201)}),
            "external_id must be 1 to 200",
        ),
        (
            json!({"org": "A", "external_id": "a\u{7}b"}),
            "external_id must not contain",
        ),
        (json!({"org": "A", "external_id": 42}), "wrong type"),
        (
            json!({"org": "A", "metadata": {"n": 1}}),
            "wrong type, expected a string",
        ),
        (
            json!({"org": "A", "metadata": {"n": {"deep": "x"}}}),
            "wrong type, expected a string",
        ),
        (
            json!({"org": "A", "metadata": ["a"]}),
            "wrong type, expected a map",
        ),
        (
            json!({"org": "A", "metadata": {"k": big}}),
            "metadata must be at most 4096 bytes",
        ),
    ];
    for (body, says) in &bad {
        let (status, err) = post_drop(&app, body).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(err["error"]["code"], "invalid_request", "{body}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    assert!(list(&app, "").await["drops"].as_array().unwrap().is_empty());
    // The edges pass: 200 characters, 4096 bytes of metadata, an empty object.
    let exact = json!({"k": "v".repeat(4088)});
    assert_eq!(serde_json::to_string(&exact).unwrap().len(), 4096);
    for body in [
        json!({"org": "A", "external_id": "x".repeat(200), "metadata": exact}),
        json!({"org": "A", "contact": {"name": "x".repeat(200), "email": "o'brien+keys@mail.acme.example"}, "metadata": {}}),
        json!({"org": "A", "contact": null, "external_id": null, "metadata": null}),
    ] {
        app.create_drop(body).await;
    }
}

async fn external_id_is_unique_among_open_drops(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let first = app.create_drop(full_body("cust-1")).await;
    let (status, err) = post_drop(&app, &full_body("cust-1")).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "conflict");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("external_id"),
        "{err}"
    );
    // Other ids, and drops without one, are unaffected.
    app.create_drop(full_body("cust-2")).await;
    app.create_drop(json!({"org": "X"})).await;
    app.create_drop(json!({"org": "Y"})).await;
    // A submitted drop frees its id (SPEC §2: unique among open drops, so a relink can
    // carry it)…
    let used = app.create_drop(full_body("cust-3")).await;
    let path = TestApp::link_path(used["url"].as_str().unwrap());
    let (status, _) = app
        .submit(
            &path,
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 200);
    app.create_drop(full_body("cust-3")).await;
    assert_eq!(post_drop(&app, &full_body("cust-3")).await.0, 409);
    let id = first["id"].as_str().unwrap();
    let revoked = app
        .post(
            &format!("/api/v1/drops/{id}/revoke"),
            Some(&app.admin_token),
        )
        .fetch_status()
        .await;
    assert_eq!(revoked, 200);
    // …and so does a revoked one.
    let second = app.create_drop(full_body("cust-1")).await;
    assert_ne!(second["id"], first["id"]);
    assert_eq!(post_drop(&app, &full_body("cust-1")).await.0, 409);
    // Refused creations left nothing behind, not even an audit entry.
    let audit: Value = app
        .get(
            "/api/v1/audit?action=drop.create&limit=500",
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(audit["events"].as_array().unwrap().len(), 7, "{audit}");
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}

/// The database's unique index decides, so simultaneous creations never
/// both pass and none of them is a 500.
async fn simultaneous_creations_with_one_external_id_make_one_drop(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(backend).await);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, barrier) = (app.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let req = app
                .post("/api/v1/drops", Some(&app.admin_token))
                .json(&full_body("race-1"));
            barrier.wait().await;
            req.fetch_status().await
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(
        list(&app, "?external_id=race-1").await["drops"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn listing_filters_by_external_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let old = app.create_drop(full_body("cust-7")).await;
    let old_id = old["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/drops/{old_id}/revoke"),
        Some(&app.admin_token),
    )
    .fetch_status()
    .await;
    let new = app.create_drop(full_body("cust-7")).await;
    app.create_drop(full_body("cust-8")).await;
    app.create_drop(json!({"org": "no id"})).await;
    let ids = |v: &Value| -> Vec<String> {
        v["drops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&list(&app, "?external_id=cust-7").await),
        [new["id"].as_str().unwrap(), old_id],
        "revoked ones included, newest first"
    );
    assert_eq!(
        ids(&list(&app, "?external_id=cust-7&state=open").await),
        [new["id"].as_str().unwrap()]
    );
    assert_eq!(
        ids(&list(&app, "?external_id=cust-7&state=revoked&limit=1").await),
        [old_id]
    );
    assert!(ids(&list(&app, "?external_id=cust-9").await).is_empty());
    assert_eq!(
        ids(&list(&app, "?external_id=").await).len(),
        4,
        "empty: no filter"
    );
    // Exact, not a prefix or a pattern.
    assert!(ids(&list(&app, "?external_id=cust-%25").await).is_empty());
    assert!(ids(&list(&app, "?external_id=CUST-7").await).is_empty());
}

async fn credential_carries_the_drops_external_id_and_metadata(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let (_, worker) = app.create_token("worker", "worker").await;
    let d = app.create_drop(full_body("cust-99")).await;
    let path = TestApp::link_path(d["url"].as_str().unwrap());
    let (status, _) = app
        .submit(
            &path,
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 200);
    let expect = |c: &Value| {
        assert_eq!(c["external_id"], "cust-99", "{c}");
        assert_eq!(
            c["metadata"],
            json!({"crm_id": "0031", "region": "eu"}),
            "{c}"
        );
    };
    let id = d["id"].as_str().unwrap();
    let got: Value = app
        .get(&format!("/api/v1/drops/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await;
    expect(&got["credential"]);
    let cid = got["credential"]["id"].as_str().unwrap();
    expect(
        &app.get(&format!("/api/v1/credentials/{cid}"), Some(&worker))
            .fetch_json()
            .await,
    );
    expect(
        &app.get("/api/v1/credentials", Some(&worker))
            .fetch_json()
            .await["credentials"][0],
    );
    let claim: Value = app
        .post("/api/v1/credentials/claim", Some(&worker))
        .fetch_json()
        .await;
    expect(&claim["credential"]);
    // A drop without them gives a credential without them.
    let plain = app.create_drop(json!({"org": "Plain"})).await;
    let path = TestApp::link_path(plain["url"].as_str().unwrap());
    assert_eq!(
        app.submit(
            &path,
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)]
        )
        .await
        .0,
        200
    );
    let pid = plain["id"].as_str().unwrap();
    let got: Value = app
        .get(&format!("/api/v1/drops/{pid}"), Some(&app.admin_token))
        .fetch_json()
        .await;
    assert!(got["credential"]["external_id"].is_null());
    assert!(got["credential"]["metadata"].is_null());
}

/// The drop's contact, escaped, with a mailto link, on every page of its
/// link: the form, the 422, 200 and 202 pages, and each 410 page. It wins
/// over the support address.
async fn contact_is_on_every_page_of_the_link(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            manual_clock: true,
            support_email: Some("help@acme.example".into()),
            ..Default::default()
        },
    )
    .await;
    let clock = app.clock.clone().unwrap();
    let fake = app.fake.as_ref().unwrap();
    let contact = json!({"name": HOSTILE_NAME, "email": "o'brien&co@acme.example"});
    let link = |extra: Value| {
        let mut body = json!({"org": "Initech", "contact": contact, "profile": "minimal"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let new_link = |extra: Value| {
        let app = &app;
        let body = link(extra);
        async move {
            let d = app.create_drop(body).await;
            (
                d["id"].as_str().unwrap().to_owned(),
                TestApp::link_path(d["url"].as_str().unwrap()),
            )
        }
    };
    let shows_contact = |what: &str, html: &str| {
        assert!(!html.contains("<script>"), "{what}: raw name");
        assert!(
            html.contains(HOSTILE_NAME_HTML),
            "{what}: no contact name\n{html}"
        );
        assert!(
            html.contains(r#"href="mailto:o%27brien%26co@acme.example""#),
            "{what}: no mailto link"
        );
        assert!(html.contains("o'brien&amp;co@acme.example"), "{what}");
        assert!(
            !html.contains("help@acme.example"),
            "{what}: the contact wins"
        );
    };
    let good = [("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)];
    let partial = [("client_id", PARTIAL_ID), ("client_secret", PARTIAL_SECRET)];

    // Form, 422 (insufficient and malformed), 200, then 410 submitted.
    let (_, path) = new_link(json!({"profile": "full-analytics"})).await;
    let (status, html) = app.page(&path).await;
    assert_eq!(status, 200);
    shows_contact("form", &html);
    let (status, html) = app.submit(&path, &partial).await;
    assert_eq!(status, 422);
    shows_contact("422 insufficient", &html);
    let (status, html) = app
        .submit(&path, &[("client_id", ""), ("client_secret", "")])
        .await;
    assert_eq!(status, 422);
    shows_contact("422 malformed", &html);
    let (status, html) = app.submit(&path, &good).await;
    assert_eq!(status, 200);
    shows_contact("200", &html);
    let (status, html) = app.page(&path).await;
    assert_eq!(status, 410);
    shows_contact("410 submitted", &html);
    assert!(html.contains(&format!(
        "ask {HOSTILE_NAME_HTML} at Acme Analytics for a new link"
    )));
    let (status, html) = app.submit(&path, &good).await;
    assert_eq!(status, 410);
    shows_contact("410 submitted (post)", &html);

    // 202 (Greenhouse down).
    let (_, path) = new_link(json!({})).await;
    fake.set_outage(true);
    let (status, html) = app.submit(&path, &good).await;
    fake.set_outage(false);
    assert_eq!(status, 202);
    shows_contact("202", &html);

    // Revoked.
    let (id, path) = new_link(json!({})).await;
    app.post(
        &format!("/api/v1/drops/{id}/revoke"),
        Some(&app.admin_token),
    )
    .fetch_status()
    .await;
    let (status, html) = app.page(&path).await;
    assert_eq!(status, 410);
    shows_contact("410 revoked", &html);

    // Locked: the 422 that locks it, then the 410.
    let (_, path) = new_link(json!({"max_attempts": 1})).await;
    let (status, html) = app
        .submit(
            &path,
            &[("client_id", GOOD_ID), ("client_secret", "wrong-1")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("locked"));
    shows_contact("422 now locked", &html);
    let (status, html) = app.page(&path).await;
    assert_eq!(status, 410);
    shows_contact("410 locked", &html);

    // A form token that is no longer good (403) is a page of the link too.
    let (_, path) = new_link(json!({})).await;
    let res = app
        .post(&path, None)
        .form(&[("csrf_token", "forged"), ("client_id", GOOD_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    shows_contact("403", &res.text().await.unwrap());

    // Expired (checked last: it moves the clock past the others).
    let (_, path) = new_link(json!({"expires_in": 300})).await;
    clock.advance(Duration::from_secs(301));
    let (status, html) = app.page(&path).await;
    assert_eq!(status, 410);
    assert!(html.contains("expired"));
    shows_contact("410 expired", &html);
}

/// Without a drop contact the pages show `KEYDROP_SUPPORT_EMAIL`; an
/// unknown link (no drop) shows only that; without either, no contact line.
async fn support_email_stands_in_for_a_missing_contact(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            support_email: Some("help@acme.example".into()),
            ..Default::default()
        },
    )
    .await;
    let d = app.create_drop(json!({"org": "Initech"})).await;
    let path = TestApp::link_path(d["url"].as_str().unwrap());
    let support = r#"<a href="mailto:help@acme.example" translate="no">help@acme.example</a>"#;
    let (status, html) = app.page(&path).await;
    assert_eq!(status, 200);
    assert!(html.contains(support), "{html}");
    let (status, html) = app
        .submit(
            &path,
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 200);
    assert!(html.contains(support));
    let (status, html) = app.page(&path).await;
    assert_eq!(status, 410);
    assert!(html.contains(support) && html.contains("ask Acme Analytics for a new link"));
    for unknown in [
        "/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/d/short",
        "/nowhere",
    ] {
        let (status, html) = app.page(unknown).await;
        assert_eq!(status, 404, "{unknown}");
        assert!(html.contains(support), "{unknown}");
    }
    // A drop's contact is never shown on an unknown link's page.
    app.create_drop(
        json!({"org": "B", "contact": {"name": "Jane Doe", "email": "jane@acme.example"}}),
    )
    .await;
    let (_, html) = app
        .page("/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await;
    assert!(!html.contains("jane@acme.example"));

    let bare = spawn_app(app.db.backend).await;
    let d = bare.create_drop(json!({"org": "Initech"})).await;
    let (status, html) = bare
        .page(&TestApp::link_path(d["url"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    assert!(!html.contains("Questions about this link") && !html.contains("mailto:"));
    let (_, html) = bare.page("/d/short").await;
    assert!(!html.contains("mailto:"));
}
