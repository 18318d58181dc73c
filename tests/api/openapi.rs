//! The OpenAPI document matches the router: every route a handler declares
//! is documented, every documented operation is served, every `$ref` resolves.

use crate::helpers::Fetch;
use crate::helpers::{spawn_app, Backend};
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
    let app = crate::helpers::spawn_app_with(Backend::Sqlite, Default::default()).await;
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
    let path = crate::helpers::TestApp::link_path(d["url"].as_str().unwrap());
    let (status, _) = app
        .submit(
            &path,
            &[
                ("client_id", crate::helpers::GOOD_ID),
                ("client_secret", crate::helpers::GOOD_SECRET),
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
    let create = &schemas["DropCreate"]["properties"];
    for field in ["contact", "external_id", "metadata"] {
        assert!(create[field].is_object(), "DropCreate.{field}");
    }
    assert!(doc["paths"]["/drops"]["post"]["responses"]["409"].is_object());
}
