//! The OpenAPI document matches the router: every route a handler declares
//! is documented, every documented operation is served, every `$ref` resolves.
//!
//! *Over 400 lines:* one feature's tests read best together.

use crate::support::helpers::Fetch;
use crate::support::helpers::{spawn_app, Backend};
use serde_json::Value;
use std::collections::BTreeSet;

/// `(METHOD, path)` of every `#[get("…")]`-style handler under src/web/api.
fn declared_routes() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/api");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines().map(str::trim) {
            for method in ["get", "post", "put", "patch", "delete"] {
                if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) {
                    let path = rest.split('"').next().unwrap();
                    routes.insert((method.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    routes
}

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, inner) in m {
                if k == "$ref" {
                    out.push(inner.as_str().unwrap().to_owned());
                }
                refs(inner, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_and_router_agree() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app.get("/api/v1/openapi.json", None).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let (_, worker) = app.create_token("w", "worker").await;
    let doc: Value = app
        .get("/api/v1/openapi.json", Some(&worker))
        .fetch_json()
        .await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    let declared = declared_routes();
    let documented = documented_routes(&doc);
    assert!(declared.len() >= 16, "{declared:?}");
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&declared).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not declared: {unrouted:?}"
    );

    // Every documented operation reaches a handler in the running router.
    for (method, path) in &documented {
        let url = app.url(&format!(
            "/api/v1{}",
            path.replace("{id}", &uuid::Uuid::new_v4().to_string())
        ));
        let req = app
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(&app.admin_token);
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(
            !(status == 404 && body["error"]["message"] == "route not found"),
            "{method} {path} is documented but not routed"
        );
        assert_ne!(status, 500, "{method} {path}");
    }
    // Every documented query parameter is one the handler accepts (they
    // refuse unknown ones), with a value its schema allows. Paths with an
    // id get a real one (only webhooks have query parameters there).
    let hook: Value = app
        .post("/api/v1/webhooks", Some(&app.admin_token))
        .json(&serde_json::json!({ "url": "http://127.0.0.1:9/hook" }))
        .fetch_json()
        .await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    for (doc_path, ops) in doc["paths"].as_object().unwrap() {
        let path = &doc_path.replace("{id}", &hook_id);
        let Some(params) = ops["get"]["parameters"].as_array() else {
            continue;
        };
        let query: Vec<&Value> = params.iter().filter(|p| p["in"] == "query").collect();
        if query.is_empty() {
            continue;
        }
        for p in query {
            let name = p["name"].as_str().unwrap();
            let schema = &p["schema"];
            let value = match (schema["enum"].get(0), schema["type"].as_str()) {
                (Some(v), _) => v.as_str().unwrap().to_owned(),
                (None, Some("integer")) => "1".to_owned(),
                _ if schema["format"] == "date-time" => "2026-12-01T00:00:00Z".to_owned(),
                _ if name == "after" => String::new(),
                _ => "x".to_owned(),
            };
            let res = app
                .get(
                    &format!("/api/v1{path}?{name}={value}"),
                    Some(&app.admin_token),
                )
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            assert_eq!(status, 200, "GET {path}?{name}={value}: {body}");
        }
        // ... and one it does not document is refused.
        let res = app
            .get(
                &format!("/api/v1{path}?undocumented=1"),
                Some(&app.admin_token),
            )
            .fetch_status()
            .await;
        assert_eq!(res, 422, "GET {path} takes an undocumented parameter");
    }

    let res = app
        .get("/api/v1/no-such-route", Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["message"], "route not found",
        "the probe above can tell"
    );

    // Every $ref resolves, and every operation documents its errors.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling {r}"
        );
    }
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for code in ["401", "403"] {
                assert!(
                    op["responses"][code].is_object(),
                    "{method} {path} lacks {code}"
                );
            }
        }
    }
}

/// The `Drop` and `Credential` schemas list exactly the fields the API
/// answers with (all of them required, as each is always present).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_and_credential_schemas_match_what_is_served() {
    let app = crate::support::helpers::spawn_app_with(Backend::Sqlite, Default::default()).await;
    let doc: Value = app
        .get("/api/v1/openapi.json", Some(&app.admin_token))
        .fetch_json()
        .await;
    let d = app
        .create_drop(serde_json::json!({
            "org": "Initech",
            "contact": {"name": "Jane", "email": "jane@acme.example"},
            "external_id": "cust-1",
            "metadata": {"k": "v"},
        }))
        .await;
    let path = crate::support::helpers::TestApp::link_path(d["url"].as_str().unwrap());
    let (status, _) = app
        .submit(
            &path,
            &[
                ("client_id", crate::support::helpers::GOOD_ID),
                ("client_secret", crate::support::helpers::GOOD_SECRET),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let id = d["id"].as_str().unwrap();
    let mut got: Value = app
        .get(&format!("/api/v1/drops/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await;
    let credential = got["credential"].take();
    got.as_object_mut().unwrap().remove("credential");
    let schemas = &doc["components"]["schemas"];
    for (name, served) in [("Drop", &got), ("Credential", &credential)] {
        let keys =
            |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
        let documented = keys(&schemas[name]["properties"]);
        let required: BTreeSet<String> = schemas[name]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(keys(served), documented, "{name}");
        assert_eq!(required, documented, "{name}");
    }
    // One form per kind and profile choice, each with every field.
    for create in schemas["DropCreate"]["oneOf"].as_array().unwrap() {
        for field in [
            "org",
            "contact",
            "external_id",
            "metadata",
            "release",
            "profile",
        ] {
            assert!(
                create["properties"][field].is_object(),
                "DropCreate.{field}"
            );
        }
    }
    assert!(doc["paths"]["/drops"]["post"]["responses"]["409"].is_object());
}

crate::on_both_backends!(edge_values_are_judged_alike_by_the_document_and_the_server);

/// Values at the edges the fuzzer found (issue 16): what the document calls
/// valid the server takes, what it calls invalid the server refuses.
async fn edge_values_are_judged_alike_by_the_document_and_the_server(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token.clone();
    let doc: Value = app
        .get("/api/v1/openapi.json", Some(&admin))
        .fetch_json()
        .await;
    let param = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["schema"]
            .clone()
    };
    let matches = |schema: &Value, text: &str| -> bool {
        regex_lite::Regex::new(schema["pattern"].as_str().unwrap())
            .unwrap()
            .is_match(text)
    };
    let status = |path: String| {
        let app = &app;
        let admin = admin.clone();
        async move { app.get(&path, Some(&admin)).fetch_status().await }
    };

    // `after` of the audit log: a whole number from 0 to 2^63-1.
    let after = param("/audit", "after");
    assert_eq!(
        (after["minimum"].as_i64(), after["maximum"].as_i64()),
        (Some(0), Some(i64::MAX))
    );
    for (value, want) in [
        ("0", 200),
        ("9223372036854775807", 200),
        ("-1", 422),
        ("+1", 422),
        ("9223372036854775808", 422),
        ("18446744073709551616", 422),
    ] {
        assert_eq!(
            status(format!("/api/v1/audit?after={value}")).await,
            want,
            "after={value}"
        );
    }
    // `limit`: digits only, larger than 500 clamped.
    for (value, want) in [
        ("7", 200),
        ("99999999999999999999999", 200),
        ("%2B7", 422),
        ("%207", 422),
        ("0", 422),
    ] {
        assert_eq!(
            status(format!("/api/v1/drops?limit={value}")).await,
            want,
            "limit={value}"
        );
    }

    // Cursors: exactly the `next` the server hands out.
    for (path, list) in [("/drops", "drops"), ("/credentials", "credentials")] {
        let cursor = param(path, "after");
        if list == "drops" {
            for org in ["A", "B"] {
                app.create_drop(serde_json::json!({ "org": org })).await;
            }
            let page: Value = app
                .get("/api/v1/drops?limit=1", Some(&admin))
                .fetch_json()
                .await;
            let next = page["next"].as_str().unwrap().to_owned();
            assert!(matches(&cursor, &next), "{next}");
            assert_eq!(status(format!("/api/v1/drops?after={next}")).await, 200);
            let upper = next.to_uppercase();
            assert!(!matches(&cursor, &upper));
            assert_eq!(status(format!("/api/v1/drops?after={upper}")).await, 422);
        }
        let id = uuid::Uuid::new_v4();
        for (text, valid) in [
            (format!("1764979200000.{id}"), true),
            (format!("-1.{id}"), false),
            (format!("1.{}", id.simple()), false),
            ("x".to_owned(), false),
        ] {
            assert_eq!(matches(&cursor, &text), valid, "{text}");
            let want = if valid { 200 } else { 422 };
            assert_eq!(
                status(format!("/api/v1/{list}?after={text}")).await,
                want,
                "{path} {text}"
            );
        }
    }

    // Bodies: JSON Schema's integers include `600.0`; `null` is "left out";
    // a body is an object.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ClaimRequest"]["properties"]["lease_seconds"]["type"],
        serde_json::json!(["integer", "null"])
    );
    for (body, want) in [
        (r#"{"lease_seconds": 600.0}"#, 204),
        (r#"{"lease_seconds": null}"#, 204),
        (r#"{"lease_seconds": 600.5}"#, 422),
        ("[]", 422),
        ("[600]", 422),
        ("", 204),
        ("\r", 400),
        (" \n", 400),
    ] {
        let got = app
            .post("/api/v1/credentials/claim", Some(&admin))
            .header("content-type", "application/json")
            .body(body)
            .fetch_status()
            .await;
        assert_eq!(got, want, "{body}");
    }
    let got = app
        .post("/api/v1/drops", Some(&admin))
        .json(&serde_json::json!({ "org": "Initech", "expires_in": 3600.0, "max_attempts": 3.0, "kind": null, "release": null }))
        .fetch_status()
        .await;
    assert_eq!(got, 201);
    let lease = &schemas["AckRequest"]["properties"]["lease_id"];
    let some = uuid::Uuid::new_v4();
    for (text, valid) in [(some.to_string(), true), (some.simple().to_string(), false)] {
        assert_eq!(matches(lease, &text), valid);
        let got = app
            .post(
                &format!("/api/v1/credentials/{}/ack", uuid::Uuid::new_v4()),
                Some(&admin),
            )
            .json(&serde_json::json!({ "lease_id": text }))
            .fetch_status()
            .await;
        assert_eq!(got, if valid { 404 } else { 422 }, "{text}");
    }

    // `PATCH /webhooks/{id}`.
    let hook: Value = app
        .post("/api/v1/webhooks", Some(&admin))
        .json(&serde_json::json!({ "url": "http://127.0.0.1:9/hook" }))
        .fetch_json()
        .await;
    let path = format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap());
    let update = &schemas["WebhookUpdate"]["properties"];
    assert_eq!(
        update["enabled"]["type"],
        serde_json::json!(["boolean", "null"])
    );
    assert_eq!(update["events"]["minItems"], 1);
    assert!(!matches(&update["description"], "a\u{1}b"));
    assert!(matches(&update["description"], "Acme ✓"));
    for (body, want) in [
        (serde_json::json!({ "enabled": null }), 200),
        (serde_json::json!({ "description": "Acme ✓" }), 200),
        (serde_json::json!({ "description": "a\u{1}b" }), 422),
        (serde_json::json!({ "events": [] }), 422),
    ] {
        let got = app
            .http
            .patch(app.url(&path))
            .bearer_auth(&admin)
            .json(&body)
            .fetch_status()
            .await;
        assert_eq!(got, want, "{body}");
    }
}
