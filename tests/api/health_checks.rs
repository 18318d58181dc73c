//! Health checks (SPEC §15): every live credential is checked again once per period, the
//! checks spread over it; a key the customer revoked turns `invalid` and a permission they
//! removed `insufficient` — `credential.broken`, the ciphertext destroyed — while an outage
//! at Greenhouse demotes nothing; each credential is checked once per period however many
//! passes run at once; and a broken credential is relinked and superseded.

use crate::on_both_backends;
use crate::support::helpers::Fetch;
use crate::support::helpers::{spawn_app_with, AppOptions, Backend, TestApp, GOOD_ID, GOOD_SECRET};
use keydrop::sandbox::V3Client;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    a_revoked_key_is_reported_broken_and_a_relink_replaces_it,
    a_removed_permission_is_insufficient_and_an_outage_changes_nothing,
    each_credential_is_checked_once_per_period_however_many_passes_run,
);

const HOUR: Duration = Duration::from_secs(3600);

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            greenhouse: true,
            manual_clock: true,
            // No background health checks: each test runs its passes itself.
            tune: Some(|s| s.health_check_every = None),
            ..AppOptions::default()
        },
    )
    .await
}

async fn verified(app: &TestApp, external_id: Option<&str>) -> String {
    let d = app
        .create_drop(json!({ "org": "Initech", "profile": "minimal", "external_id": external_id }))
        .await;
    let (status, _) = app
        .submit(
            &TestApp::link_path(d["url"].as_str().unwrap()),
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 200);
    let d: Value = app
        .get(
            &format!("/api/v1/drops/{}", d["id"].as_str().unwrap()),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    d["credential_id"].as_str().unwrap().to_owned()
}

async fn credential(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/credentials/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await
}

/// A period passes (the clock moves past every credential's place in it), then one pass.
async fn a_period_later(app: &TestApp) -> keydrop::service::credentials::HealthPass {
    // The first pass gives each credential its place; the next period's pass checks it.
    app.state.health_check_due(HOUR, 100, 4).await.unwrap();
    app.clock
        .as_ref()
        .unwrap()
        .advance(HOUR + Duration::from_secs(1));
    app.state.health_check_due(HOUR, 100, 4).await.unwrap()
}

async fn broken_events(app: &TestApp) -> Vec<Value> {
    let v: Value = app
        .get(
            "/api/v1/audit?action=credential.broken",
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    v["events"].as_array().unwrap().clone()
}

async fn a_revoked_key_is_reported_broken_and_a_relink_replaces_it(backend: Backend) {
    let app = app(backend).await;
    let id = verified(&app, Some("cust-h1")).await;
    assert_eq!(credential(&app, &id).await["last_checked_at"], Value::Null);
    let pass = a_period_later(&app).await;
    assert_eq!((pass.ran, pass.broken), (1, 0));
    let c = credential(&app, &id).await;
    assert_eq!(c["status"], "verified");
    assert!(c["last_checked_at"].is_string(), "{c}");
    assert_eq!(c["last_check_failed"], false);
    // Not due again within the period.
    assert_eq!(
        app.state.health_check_due(HOUR, 100, 4).await.unwrap().ran,
        0
    );

    // The customer deletes the credential in Greenhouse.
    app.fake.as_ref().unwrap().remove_v3_client(GOOD_ID);
    let pass = a_period_later(&app).await;
    assert_eq!((pass.ran, pass.broken), (1, 1));
    let c = credential(&app, &id).await;
    assert_eq!(
        (c["status"].as_str(), c["delivery"].as_str()),
        (Some("invalid"), Some("destroyed"))
    );
    let events = broken_events(&app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["subject"], format!("credential:{id}"));
    assert_eq!(events[0]["details"]["outcome"], "invalid");
    assert_eq!(events[0]["actor"], "system");
    // A broken credential is not checked again.
    assert_eq!(a_period_later(&app).await.ran, 0);
    // Staff see it on the console's dashboard, until a relink replaces it.
    let session = crate::console_drops::sign_in(
        &app,
        "ops@vendor.example",
        keydrop::domain::role::Role::Admin,
    )
    .await;
    let (_, html) = crate::console_drops::console_get(&app, &session, "/console").await;
    assert!(html.contains("Credentials that stopped working"), "{html}");

    // Relinked: the customer makes a new credential and hands it over.
    app.fake
        .as_ref()
        .unwrap()
        .add_v3_client(V3Client::new(GOOD_ID, GOOD_SECRET).with_all_resources());
    let res = app
        .post(
            &format!("/api/v1/credentials/{id}/relink"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let drop: Value = res.json().await.unwrap();
    crate::support::helpers::remember_secret(crate::support::helpers::link_token(
        drop["url"].as_str().unwrap(),
    ));
    assert_eq!(drop["external_id"], "cust-h1");
    let (status, _) = app
        .submit(
            &TestApp::link_path(drop["url"].as_str().unwrap()),
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 200);
    let old = credential(&app, &id).await;
    assert!(old["superseded_by"].is_string(), "{old}");
    let new = credential(&app, old["superseded_by"].as_str().unwrap()).await;
    assert_eq!(new["status"], "verified");
    let (_, html) = crate::console_drops::console_get(&app, &session, "/console").await;
    assert!(!html.contains("Credentials that stopped working"), "{html}");
}

async fn a_removed_permission_is_insufficient_and_an_outage_changes_nothing(backend: Backend) {
    let app = app(backend).await;
    let id = verified(&app, None).await;
    let fake = app.fake.as_ref().unwrap();
    // Greenhouse is down: the credential stays verified, staff see the failed check.
    fake.set_outage(true);
    let pass = a_period_later(&app).await;
    assert_eq!((pass.ran, pass.broken), (1, 0));
    let c = credential(&app, &id).await;
    assert_eq!(
        (c["status"].as_str(), c["delivery"].as_str()),
        (Some("verified"), Some("waiting"))
    );
    assert_eq!(c["last_check_failed"], true);
    assert!(broken_events(&app).await.is_empty());
    // It is tried again sooner than a period: within the first backoff step.
    app.clock.as_ref().unwrap().advance(Duration::from_secs(61));
    fake.set_outage(false);
    assert_eq!(
        app.state.health_check_due(HOUR, 100, 4).await.unwrap().ran,
        1
    );
    assert_eq!(credential(&app, &id).await["last_check_failed"], false);

    // The customer unticks the one permission the profile requires.
    fake.remove_v3_resource(GOOD_ID, "users");
    let pass = a_period_later(&app).await;
    assert_eq!(pass.broken, 1);
    let c = credential(&app, &id).await;
    assert_eq!(
        (c["status"].as_str(), c["delivery"].as_str()),
        (Some("insufficient"), Some("destroyed"))
    );
    let events = broken_events(&app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["details"]["outcome"], "insufficient");
    assert_eq!(
        events[0]["details"]["missing_required"],
        json!(["harvest:users:list"])
    );
}

async fn each_credential_is_checked_once_per_period_however_many_passes_run(backend: Backend) {
    let app = app(backend).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(verified(&app, None).await);
    }
    app.state.health_check_due(HOUR, 100, 4).await.unwrap();
    app.clock
        .as_ref()
        .unwrap()
        .advance(HOUR + Duration::from_secs(1));
    let (a, b, c) = tokio::join!(
        app.state.health_check_due(HOUR, 100, 4),
        app.state.health_check_due(HOUR, 100, 4),
        app.state.health_check_due(HOUR, 100, 4)
    );
    let ran = a.unwrap().ran + b.unwrap().ran + c.unwrap().ran;
    assert_eq!(ran, 6, "each credential once");
    for id in &ids {
        assert!(credential(&app, id).await["last_checked_at"].is_string());
    }
}
