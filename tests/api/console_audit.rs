//! The console's audit log (SPEC §13): filters, "Verify chain", and the streamed NDJSON and
//! CSV downloads with formula-safe cells — for an auditor, who changes nothing.

use crate::console_drops::{console_get, sign_in};
use crate::on_both_backends;
use crate::support::helpers::{spawn_app, Backend};
use keydrop::domain::role::Role;
use reqwest::header::COOKIE;

on_both_backends!(an_auditor_filters_verifies_and_exports_the_audit_log);

async fn an_auditor_filters_verifies_and_exports_the_audit_log(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_drop(serde_json::json!({"org": "=HYPERLINK(\"https://evil.example\")"}))
        .await;
    app.create_drop(serde_json::json!({"org": "Initech"})).await;
    let ada = sign_in(&app, "ada@acme.example", Role::Issuer).await;
    let (_, form) = console_get(&app, &ada, "/console/drops/new").await;
    let csrf = crate::support::helpers::csrf_from(&form).unwrap();
    let res = crate::console_drops::console_post(
        &app,
        &ada,
        "/console/drops/new",
        &[("csrf_token", &csrf), ("org", "Umbrella")],
    )
    .await;
    assert_eq!(res.status(), 201);
    let audrey = sign_in(&app, "audrey@acme.example", Role::Auditor).await;

    let (status, page) = console_get(&app, &audrey, "/console/audit").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("drop.create") && page.contains("console.sign_in"),
        "{page}"
    );
    let (_, page) = console_get(
        &app,
        &audrey,
        "/console/audit?actor=user%3Aada%40acme.example&action=drop.",
    )
    .await;
    assert!(
        page.contains("drop.create") && !page.contains("console.sign_in"),
        "{page}"
    );
    assert_eq!(
        page.matches("<code>drop.create</code>").count(),
        1,
        "only Ada's drop"
    );
    let (_, page) = console_get(&app, &audrey, "/console/audit?verify=1").await;
    let total = app.store.list_audit(0, 100_000).await.unwrap().len();
    assert!(
        page.contains(&format!("intact through seq {total}")),
        "{page}"
    );
    for bad in ["since=yesterday", "after=-1", "actor=a%00b"] {
        let (status, _) = console_get(&app, &audrey, &format!("/console/audit?{bad}")).await;
        assert_eq!(status, 422, "{bad}");
    }

    // NDJSON: every event the filter passes, one per line, as the API shows it.
    let res = app
        .get(
            "/console/audit/export?format=ndjson&action=drop.create",
            None,
        )
        .header(COOKIE, format!("keydrop-console={audrey}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"keydrop-audit-"));
    let body = res.text().await.unwrap();
    let lines: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|e| e["action"] == "drop.create"));
    // CSV: a cell a spreadsheet would run is defused.
    let res = app
        .get("/console/audit/export?format=csv", None)
        .header(COOKIE, format!("keydrop-console={audrey}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    assert!(csv.starts_with("seq,at,actor,action,subject,ip,details,hash\r\n"));
    assert_eq!(csv.lines().count(), total + 1);
    assert!(!csv.contains("\n=") && !csv.contains(",=HYPERLINK"));
    let (status, _) = console_get(&app, &audrey, "/console/audit/export?format=xlsx").await;
    assert_eq!(status, 422);
    // Not signed in: no download.
    let res = app
        .get("/console/audit/export?format=csv", None)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // Looking and exporting changed nothing but the sign-ins.
    let after = app.store.list_audit(0, 100_000).await.unwrap().len();
    assert_eq!(after, total);
}
