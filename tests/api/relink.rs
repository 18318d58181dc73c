//! Relink (SPEC §15): a new drop that carries a credential's org, kind,
//! release, contact, external id, metadata and permissions; when its
//! credential is accepted, the old one is superseded and destroyed in the
//! same transaction, other open relinks of it are revoked, and workers see
//! only the new one — exactly once, even when two relinks are submitted at
//! the same moment.

use crate::on_both_backends;
use crate::support::helpers::Fetch;
use crate::support::helpers::{spawn_app_with, AppOptions, Backend, TestApp, GOOD_ID, GOOD_SECRET};
use serde_json::{json, Value};

on_both_backends!(
    a_relink_replaces_the_credential_once_its_credential_is_accepted,
    relink_answers_404_409_and_422_and_changes_nothing,
    two_relinks_submitted_at_once_replace_exactly_once,
    a_relink_accepted_pending_replaces_only_once_verified,
);

async fn app_on(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            greenhouse: true,
            ..AppOptions::default()
        },
    )
    .await
}

/// A verified credential handed over through a drop with every field set; (drop, credential).
async fn handed_over(app: &TestApp, external_id: Option<&str>) -> (Value, String) {
    let d = app
        .create_drop(json!({
            "org": "Initech",
            "note": "For the nightly sync.",
            "profile": "minimal",
            "external_id": external_id,
            "metadata": { "crm": "A-17" },
            "contact": { "name": "Ada Lovelace", "email": "ada@vendor.example" },
            "max_attempts": 7,
        }))
        .await;
    let (status, _) = submit(app, d["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let d: Value = app
        .get(
            &format!("/api/v1/drops/{}", d["id"].as_str().unwrap()),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    let id = d["credential_id"].as_str().unwrap().to_owned();
    (d, id)
}

async fn submit(app: &TestApp, url: &str) -> (u16, String) {
    let path = TestApp::link_path(url);
    app.submit(
        &path,
        &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
    )
    .await
}

async fn relink(app: &TestApp, id: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.post(
        &format!("/api/v1/credentials/{id}/relink"),
        Some(&app.admin_token),
    );
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if let Some(url) = body["url"].as_str() {
        crate::support::helpers::remember_secret(crate::support::helpers::link_token(url));
    }
    (status, body)
}

async fn credential(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/credentials/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await
}

async fn audit(app: &TestApp, action: &str) -> Vec<Value> {
    let v: Value = app
        .get(
            &format!("/api/v1/audit?action={action}"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    v["events"].as_array().unwrap().clone()
}

async fn a_relink_replaces_the_credential_once_its_credential_is_accepted(backend: Backend) {
    let app = app_on(backend).await;
    let (old_drop, old) = handed_over(&app, Some("cust-7")).await;
    let (status, new_drop) = relink(&app, &old, None).await;
    assert_eq!(status, 201, "{new_drop}");
    assert_eq!(new_drop["replaces"], old.as_str());
    assert!(new_drop["url"].as_str().unwrap().contains("/d/"));
    for field in [
        "org",
        "note",
        "kind",
        "release",
        "contact",
        "external_id",
        "metadata",
        "profile",
        "max_attempts",
    ] {
        assert_eq!(new_drop[field], old_drop[field], "{field}");
    }
    assert_eq!(new_drop["state"], "open");
    // Until the customer hands the new one over, the old credential is untouched.
    let before = credential(&app, &old).await;
    assert_eq!(
        (before["status"].as_str(), before["delivery"].as_str()),
        (Some("verified"), Some("waiting"))
    );
    assert_eq!(before["superseded_by"], Value::Null);

    let (status, _) = submit(&app, new_drop["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let shown: Value = app
        .get(
            &format!("/api/v1/drops/{}", new_drop["id"].as_str().unwrap()),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    let new = shown["credential_id"].as_str().unwrap().to_owned();
    let after = credential(&app, &old).await;
    assert_eq!(after["superseded_by"], new.as_str());
    assert_eq!(after["delivery"], "destroyed");
    let events = audit(&app, "credential.superseded").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["subject"], format!("credential:{old}"));
    assert_eq!(events[0]["details"]["superseded_by"], new.as_str());
    assert_eq!(events[0]["actor"], "system");
    let destroyed = audit(&app, "credential.destroy").await;
    assert!(destroyed
        .iter()
        .any(|e| e["subject"] == format!("credential:{old}")
            && e["details"]["reason"] == "superseded"));

    // Workers see only the new one.
    let res = app
        .post("/api/v1/credentials/claim", Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let claimed: Value = res.json().await.unwrap();
    assert_eq!(claimed["credential"]["id"], new.as_str());
    let res = app
        .post("/api/v1/credentials/claim", Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    // The replaced credential is not relinked again; the new one can be.
    let (status, body) = relink(&app, &old, None).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains(&new), "{body}");
    let (status, again) = relink(
        &app,
        &new,
        Some(json!({ "profile": "minimal", "expires_in": 3600 })),
    )
    .await;
    assert_eq!(status, 201, "{again}");
}

async fn relink_answers_404_409_and_422_and_changes_nothing(backend: Backend) {
    let app = app_on(backend).await;
    let (_, old) = handed_over(&app, Some("cust-8")).await;
    let drops_before = app.store.list_audit(0, 10_000).await.unwrap().len();
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(relink(&app, &unknown.to_string(), None).await.0, 404);
    assert_eq!(relink(&app, "not-a-uuid", None).await.0, 404);
    for body in [
        json!({ "send_to": "customer@initech.example" }),
        json!({ "profile": "no-such-profile" }),
        json!({ "profile": "minimal", "required": ["jobs"] }),
        json!({ "optional": ["jobs"] }),
        json!({ "expires_in": 1 }),
        json!({ "org": "Another" }),
        json!({ "expires_in": "soon" }),
    ] {
        let (status, answer) = relink(&app, &old, Some(body.clone())).await;
        assert!(status == 422 || status == 400, "{body}: {status} {answer}");
    }
    // A worker may not relink.
    let (_, worker) = app.create_token("w", "worker").await;
    let res = app
        .post(&format!("/api/v1/credentials/{old}/relink"), Some(&worker))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let after = app.store.list_audit(0, 10_000).await.unwrap().len();
    assert_eq!(after, drops_before + 1, "only the token was created");
}

async fn two_relinks_submitted_at_once_replace_exactly_once(backend: Backend) {
    let app = app_on(backend).await;
    // With an external id, a second open relink is refused (409: unique among open
    // drops); without one, two may be open at once, and the customer may use both.
    let (_, with_id) = handed_over(&app, Some("cust-9")).await;
    let (status, _) = relink(&app, &with_id, None).await;
    assert_eq!(status, 201);
    let (status, second) = relink(&app, &with_id, None).await;
    assert_eq!(status, 409, "{second}");
    assert!(second.to_string().contains("external_id"), "{second}");
    let (_, old) = handed_over(&app, None).await;
    let (_, a) = relink(&app, &old, None).await;
    let (_, b) = relink(&app, &old, None).await;
    let (ra, rb) = tokio::join!(
        submit(&app, a["url"].as_str().unwrap()),
        submit(&app, b["url"].as_str().unwrap())
    );
    let accepted = [ra.0, rb.0].iter().filter(|s| **s == 200).count();
    assert_eq!(accepted, 1, "exactly one accepted: {} / {}", ra.0, rb.0);
    let loser = if ra.0 == 200 { &rb } else { &ra };
    assert_eq!(loser.0, 410, "{}", loser.1);
    assert_eq!(audit(&app, "credential.superseded").await.len(), 1);
    let winner_drop = if ra.0 == 200 { &a } else { &b };
    let loser_drop = if ra.0 == 200 { &b } else { &a };
    let w: Value = app
        .get(
            &format!("/api/v1/drops/{}", winner_drop["id"].as_str().unwrap()),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    let l: Value = app
        .get(
            &format!("/api/v1/drops/{}", loser_drop["id"].as_str().unwrap()),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(w["state"], "submitted");
    assert_eq!(l["state"], "revoked");
    assert_eq!(l["credential_id"], Value::Null);
    assert_eq!(
        credential(&app, &old).await["superseded_by"],
        w["credential_id"]
    );
    // Two credentials in all: the old (destroyed) and the winner's.
    let list: Value = app
        .get("/api/v1/credentials", Some(&app.admin_token))
        .fetch_json()
        .await;
    assert_eq!(list["credentials"].as_array().unwrap().len(), 3, "{list}");
}

/// Only a verified credential replaces one: a relink accepted while Greenhouse does not
/// answer (`pending`) leaves the old credential working until a check verifies the new one.
async fn a_relink_accepted_pending_replaces_only_once_verified(backend: Backend) {
    let app = app_on(backend).await;
    let (_, old) = handed_over(&app, Some("cust-p")).await;
    let (_, drop) = relink(&app, &old, None).await;
    let fake = app.fake.as_ref().unwrap();
    fake.set_outage(true);
    let (status, _) = submit(&app, drop["url"].as_str().unwrap()).await;
    assert_eq!(status, 202, "accepted, pending");
    let shown: Value = app
        .get(
            &format!("/api/v1/drops/{}", drop["id"].as_str().unwrap()),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    let new = shown["credential_id"].as_str().unwrap().to_owned();
    let before = credential(&app, &old).await;
    assert_eq!(before["superseded_by"], Value::Null);
    assert_eq!(before["delivery"], "waiting", "the old one still works");
    assert!(audit(&app, "credential.superseded").await.is_empty());
    // Greenhouse answers again; a check verifies the new one, which now replaces the old.
    fake.set_outage(false);
    let res = app
        .post(
            &format!("/api/v1/credentials/{new}/verify"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let after = credential(&app, &old).await;
    assert_eq!(after["superseded_by"], new.as_str());
    assert_eq!(after["delivery"], "destroyed");
    assert_eq!(audit(&app, "credential.superseded").await.len(), 1);
    // Checking it again changes nothing more.
    app.post(
        &format!("/api/v1/credentials/{new}/verify"),
        Some(&app.admin_token),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(audit(&app, "credential.superseded").await.len(), 1);
}
