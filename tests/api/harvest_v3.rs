//! `harvest_v3` as Greenhouse answers it in 2026, end to end (SPEC §1.2, §3, §4): the
//! organisation introspection names is stored with the verification, returned by the API and
//! shown on the success page; introspection missing changes nothing; a non-Site-Admin answered
//! with empty lists is refused; customer pages name each scope by Greenhouse's screen label too.

use crate::on_both_backends;
use crate::support::helpers::{
    spawn_app_with, AppOptions, Backend, Fetch, TestApp, GOOD_ID, GOOD_SECRET, PARTIAL_ID,
    PARTIAL_SECRET,
};
use keydrop::sandbox::{Introspection, V3Client};
use serde_json::{json, Value};

on_both_backends!(
    the_organisation_is_stored_returned_and_shown,
    without_introspection_the_credential_is_still_verified,
    an_empty_users_list_is_refused_with_the_site_admin_message,
    pages_name_scopes_by_their_screen_labels,
);

async fn new_link(app: &TestApp) -> (String, String) {
    let d = app.create_drop(json!({"org": "Initech"})).await;
    (
        d["id"].as_str().unwrap().to_owned(),
        TestApp::link_path(d["url"].as_str().unwrap()),
    )
}

fn good() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", GOOD_ID),
        ("client_secret", GOOD_SECRET),
        ("user_id", ""),
    ]
}

async fn credential_of(app: &TestApp, drop_id: &str) -> Value {
    let d = app
        .get(&format!("/api/v1/drops/{drop_id}"), Some(&app.admin_token))
        .fetch_json()
        .await;
    let id = d["credential"]["id"].as_str().unwrap().to_owned();
    let c = app
        .get(&format!("/api/v1/credentials/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await;
    assert_eq!(
        c["verification"], d["credential"]["verification"],
        "the drop shows the same report"
    );
    c
}

async fn the_organisation_is_stored_returned_and_shown(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let fake = app.fake.as_ref().unwrap();
    // A customer-controlled name: markup and a text-direction override.
    fake.add_v3_client(
        V3Client::new(GOOD_ID, GOOD_SECRET)
            .with_all_resources()
            .with_organization(4_000_777, "Acme <b>Corp</b>\u{202E} & Co"),
    );
    let (drop_id, path) = new_link(&app).await;
    let (status, html) = app.submit(&path, &good()).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(
            "Connected to the account of <strong>Acme &lt;b&gt;Corp&lt;/b&gt; &amp; Co</strong>"
        ),
        "{html}"
    );
    assert!(!html.contains('\u{202E}'));
    // The drop was for Initech: the receipt says so first, the API flags it, the audit
    // entry (and with it the credential.verified webhook) carries it.
    assert!(
        html.contains("Is this the right Greenhouse account?")
            && html.contains("but this link was made for <strong>Initech</strong>."),
        "{html}"
    );
    let c = credential_of(&app, &drop_id).await;
    assert_eq!(c["status"], "verified");
    assert_eq!(c["verification"]["organization_mismatch"], true);
    let submitted: Value = app
        .get("/api/v1/audit?action=drop.submit", Some(&app.admin_token))
        .fetch_json()
        .await;
    assert_eq!(
        submitted["events"][0]["details"]["organization_mismatch"], true,
        "{submitted}"
    );
    assert_eq!(
        c["verification"]["organization"],
        json!({"id": "4000777", "name": "Acme <b>Corp</b> & Co"})
    );
    assert_eq!(c["verification"]["greenhouse_user"], Value::Null);

    // A re-check keeps it (and follows a rename).
    fake.add_v3_client(
        V3Client::new(GOOD_ID, GOOD_SECRET)
            .with_all_resources()
            .with_organization(4_000_777, "Acme Holdings"),
    );
    let id = c["id"].as_str().unwrap();
    let c = app
        .post(
            &format!("/api/v1/credentials/{id}/verify"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(c["verification"]["organization"]["name"], "Acme Holdings");
    let c = credential_of(&app, &drop_id).await;
    assert_eq!(c["verification"]["organization"]["name"], "Acme Holdings");
    assert_eq!(c["verification"]["organization_mismatch"], true);

    // A drop for the organisation Greenhouse names (legal form aside): no warning.
    let d = app.create_drop(json!({"org": "Acme Holdings, Inc."})).await;
    let path = TestApp::link_path(d["url"].as_str().unwrap());
    let (status, html) = app.submit(&path, &good()).await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("Is this the right Greenhouse account?"));
    let c = credential_of(&app, d["id"].as_str().unwrap()).await;
    assert_eq!(c["verification"]["organization_mismatch"], false);
}

async fn without_introspection_the_credential_is_still_verified(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let fake = app.fake.as_ref().unwrap();
    fake.set_introspection(Introspection::NotFound);
    let (drop_id, path) = new_link(&app).await;
    let (status, html) = app.submit(&path, &good()).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Received and verified"));
    assert!(!html.contains("Connected to"));
    assert!(fake.requests_to("/introspect") >= 1);
    let c = credential_of(&app, &drop_id).await;
    assert_eq!(c["status"], "verified");
    assert_eq!(c["verification"]["organization"], Value::Null);
}

async fn an_empty_users_list_is_refused_with_the_site_admin_message(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let fake = app.fake.as_ref().unwrap();
    fake.set_non_admin_empty(true);
    fake.add_v3_client(
        V3Client::new(GOOD_ID, GOOD_SECRET)
            .with_all_resources()
            .service_account_admin(false)
            .with_users(["2002"]),
    );
    let (drop_id, path) = new_link(&app).await;
    let (status, html) = app.submit(&path, &good()).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("listed no users"), "{html}");
    assert!(html.contains("Site Admin"));
    let mut with_user = good();
    with_user[2] = ("user_id", "2002");
    let (status, html) = app.submit(&path, &with_user).await;
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains("User ID you entered is not a Site Admin"),
        "{html}"
    );
    // The page leads with the User ID: nothing to tick in Greenhouse, the field marked and
    // emptied for a new number, the rest of the form kept.
    assert!(html.contains("Almost there"), "{html}");
    assert!(html.contains("Acme Analytics' secure drop box"), "{html}");
    assert!(!html.contains("Analytics's"), "{html}");
    assert!(!html.contains("permissions are missing"), "{html}");
    assert!(!html.contains("Tick them"), "{html}");
    assert!(html.contains(r##"<a href="#user_id">User ID"##), "{html}");
    let user_input = html.split(r#"id="user_id""#).nth(1).unwrap();
    let user_input = &user_input[..user_input.find('>').unwrap()];
    assert!(
        user_input.contains(r#"aria-invalid="true""#),
        "{user_input}"
    );
    assert!(!user_input.contains("2002"), "{user_input}");
    assert!(html.contains(&format!(r#"value="{GOOD_ID}""#)), "{html}");
    let failed: Value = app
        .get(
            "/api/v1/audit?action=drop.attempt_failed&limit=5",
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(
        failed["events"][1]["details"]["field"], "user_id",
        "{failed}"
    );
    assert_eq!(
        failed["events"][1]["details"]["missing_required"],
        serde_json::json!([])
    );
    let d = app
        .get(&format!("/api/v1/drops/{drop_id}"), Some(&app.admin_token))
        .fetch_json()
        .await;
    assert_eq!(
        (d["state"].as_str(), d["attempts"].as_i64()),
        (Some("open"), Some(2))
    );
    assert!(d["credential"].is_null());
}

async fn pages_name_scopes_by_their_screen_labels(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let (_, path) = new_link(&app).await;
    let (status, html) = app.page(&path).await;
    let html = html.replace("<wbr>", "");
    assert_eq!(status, 200);
    for (scope, label) in [
        ("harvest:candidates:list", "Candidates &gt; List candidates"),
        (
            "harvest:applications:list",
            "Applications &gt; List applications",
        ),
        (
            "harvest:job_interview_stages:list",
            "Job Interview Stages &gt; List job interview stages",
        ),
    ] {
        assert!(
            html.contains(scope)
                && html.contains(&format!("<span class=\"perm-label\">{label}</span>")),
            "{label}"
        );
    }
    let (status, html) = app
        .submit(
            &path,
            &[
                ("client_id", PARTIAL_ID),
                ("client_secret", PARTIAL_SECRET),
                ("user_id", ""),
            ],
        )
        .await;
    assert_eq!(status, 422);
    // The compact list of what to tick: the screen's label beside the exact scope.
    let html = html.replace("<wbr>", "");
    assert!(html.contains("Offers &gt; List offers"), "{html}");
    assert!(html.contains("harvest:offers:list"), "{html}");
}
