//! keydrop's own faults: a process that dies mid-check, a database that
//! fails under a submission, a database that goes away. None of them may
//! cost the customer an attempt, strand a link, or hang a caller.

use crate::helpers::Fetch;
use crate::helpers::{spawn_app_with, AppOptions, Backend, TestApp, GOOD_ID, GOOD_SECRET};
use crate::on_both_backends;
use keydrop::domain::audit::AuditEntry;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    a_check_left_in_flight_by_a_dead_process_ends_by_time,
    an_internal_failure_gives_the_attempt_back,
);

async fn new_link(app: &TestApp, body: Value) -> (String, String) {
    let d = app.create_drop(body).await;
    (
        d["id"].as_str().unwrap().to_owned(),
        TestApp::link_path(d["url"].as_str().unwrap()),
    )
}

async fn drop_json(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/drops/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await
}

fn good<'a>() -> [(&'a str, &'a str); 2] {
    [("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)]
}

/// A process took the last attempt and died (kill -9) before its check
/// ended: the link must not stay "open" with a form that every POST refuses.
async fn a_check_left_in_flight_by_a_dead_process_ends_by_time(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::with_manual_clock()).await;
    let clock = app.clock.clone().unwrap();
    let (a, path_a) = new_link(&app, json!({"org": "A", "max_attempts": 1})).await;
    let (b, _) = new_link(&app, json!({"org": "B", "max_attempts": 1})).await;
    for id in [&a, &b] {
        let audit = AuditEntry::new("public", "drop.attempt", format!("drop:{id}"));
        let reserved = app.store.reserve_attempt(id, 60_000, &audit).await.unwrap();
        assert!(reserved.is_some());
        // …and the process is gone: nothing ends this check.
    }
    // While the check could still be running, the link is neither usable
    // nor locked (that check may yet be accepted).
    assert_eq!(app.submit(&path_a, &good()).await.0, 410);
    assert_eq!(drop_json(&app, &a).await["state"], "open");
    // Once it cannot be running any more, the link locks: on access…
    clock.advance(Duration::from_secs(61));
    let (status, html) = app.page(&path_a).await;
    assert_eq!(status, 410, "{html}");
    assert!(
        html.contains("locked") || html.contains("attempts"),
        "{html}"
    );
    assert_eq!(drop_json(&app, &a).await["state"], "locked");
    // …and by the background sweep, without any restart.
    let report = keydrop::jobs::run_once(&app.state).await;
    assert_eq!(report.locked_drops, 1);
    assert_eq!(drop_json(&app, &b).await["state"], "locked");
}

/// The database fails while a customer's check is running: the customer
/// gets a 500 page, and the attempt is given back.
async fn an_internal_failure_gives_the_attempt_back(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let fake = app.fake.as_ref().unwrap();
    let (id, path) = new_link(
        &app,
        json!({"org": "A", "max_attempts": 1, "profile": "minimal"}),
    )
    .await;
    fake.set_delay(Duration::from_millis(300));
    let submit = {
        let page = app.page(&path).await.1;
        let csrf = crate::helpers::csrf_from(&page).unwrap();
        let req = app.http.post(app.url(&path)).form(&[
            ("csrf_token", csrf.as_str()),
            ("client_id", GOOD_ID),
            ("client_secret", GOOD_SECRET),
        ]);
        tokio::spawn(async move { req.send().await.unwrap() })
    };
    // While Greenhouse answers, the credentials table goes away.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut raw = app.db.raw().await;
    sqlx::query("ALTER TABLE credentials RENAME TO credentials_away")
        .execute(&mut raw)
        .await
        .unwrap();
    let res = submit.await.unwrap();
    sqlx::query("ALTER TABLE credentials_away RENAME TO credentials")
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let d = drop_json(&app, &id).await;
    assert_eq!(d["state"], "open", "{d}");
    assert_eq!(d["attempts"], 0, "our fault costs no attempt: {d}");
    // The customer tries again and it works.
    fake.set_delay(Duration::ZERO);
    assert_eq!(app.submit(&path, &good()).await.0, 200);
    assert_eq!(drop_json(&app, &id).await["state"], "submitted");
}
