//! `/api/v1/audit`: paging by `seq`, filters, clamped limits, and the chain
//! as the API shows it.

use crate::on_both_backends;
use crate::support::helpers::Fetch;
use crate::support::helpers::{
    spawn_app, spawn_app_with, AppOptions, Backend, TestApp, GOOD_ID, GOOD_SECRET,
};
use keydrop::domain::audit::{event_hash, AuditEntry, AuditEvent, GENESIS_HASH};
use keydrop::store::Store;
use serde_json::{json, Value};

on_both_backends!(
    pages_walk_the_whole_log_and_hashes_chain,
    filters_by_subject_and_action_page_within_the_filter,
    every_list_clamps_an_over_large_limit,
    times_in_audit_details_are_rfc3339_utc,
);

async fn pages_walk_the_whole_log_and_hashes_chain(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..4 {
        app.create_token(&format!("t{i}"), "worker").await;
    }
    // 8 events from start-up (key check, three service secrets, three recorded settings, the
    // bootstrap token) + 4 creations.
    let mut seen = Vec::new();
    let mut after = String::from("0");
    loop {
        let page: Value = app
            .get(
                &format!("/api/v1/audit?after={after}&limit=4"),
                Some(&app.admin_token),
            )
            .fetch_json()
            .await;
        seen.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    let seqs: Vec<i64> = seen.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=12).collect::<Vec<i64>>());
    // Each hash can be recomputed by anyone from what the API shows.
    let events = app.store.list_audit(0, 100).await.unwrap();
    let mut prev = GENESIS_HASH.to_owned();
    for (shown, stored) in seen.iter().zip(&events) {
        assert_eq!(shown["hash"], stored.hash);
        assert!(shown["at"].as_str().unwrap().ends_with('Z'));
        let e: &AuditEvent = stored;
        assert_eq!(event_hash(&prev, e), e.hash);
        prev.clone_from(&e.hash);
    }
}

/// Append events straight to the log, in one transaction.
async fn append(store: &Store, events: &[(&str, &str)]) {
    let entries: Vec<AuditEntry> = events
        .iter()
        .map(|(action, subject)| AuditEntry::untyped("test", action, *subject))
        .collect();
    let mut tx = store.begin_audited().await.unwrap();
    tx.record_many(&entries).await.unwrap();
    tx.commit().await.unwrap();
}

/// Every event a query returns, following `next` with pages of 2.
async fn walk(app: &TestApp, filters: &str) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let mut after = String::from("0");
    loop {
        let page: Value = app
            .get(
                &format!("/api/v1/audit?{filters}&after={after}&limit=2"),
                Some(&app.admin_token),
            )
            .fetch_json()
            .await;
        for e in page["events"].as_array().unwrap() {
            seen.push((
                e["action"].as_str().unwrap().to_owned(),
                e["subject"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => return seen,
        }
    }
}

async fn filters_by_subject_and_action_page_within_the_filter(backend: Backend) {
    let app = spawn_app(backend).await;
    let (a, b) = ("drop:11111111-1111-4111-8111-111111111111", "drop:2");
    let actions = [
        "credential.claim",
        "credential.ack",
        "drop.submit",
        "credentialx.read",
        "credential",
        "credential_ack",
    ];
    let mut log = Vec::new();
    for i in 0..24 {
        log.push((actions[i % actions.len()], if i % 3 == 0 { a } else { b }));
    }
    append(&app.store, &log).await;
    let expect = |keep: &dyn Fn(&str, &str) -> bool| -> Vec<(String, String)> {
        log.iter()
            .filter(|(act, sub)| keep(act, sub))
            .map(|(act, sub)| ((*act).to_owned(), (*sub).to_owned()))
            .collect()
    };

    let by_subject = walk(&app, &format!("subject={a}")).await;
    assert_eq!(by_subject, expect(&|_, s| s == a));
    assert_eq!(by_subject.len(), 8);
    assert_eq!(
        walk(&app, "action=credential.ack").await,
        expect(&|act, _| act == "credential.ack")
    );
    // A trailing dot is a prefix; look-alikes and the bare word are not in it.
    let prefix = walk(&app, "action=credential.").await;
    assert_eq!(prefix, expect(&|act, _| act.starts_with("credential.")));
    assert_eq!(prefix.len(), 8);
    assert_eq!(
        walk(&app, &format!("subject={b}&action=credential.")).await,
        expect(&|act, s| s == b && act.starts_with("credential."))
    );
    // LIKE wildcards mean nothing here.
    for none in [
        "action=credential%25.",
        "action=credential_.",
        "action=%25",
        "subject=drop:%25",
    ] {
        assert!(walk(&app, none).await.is_empty(), "{none}");
    }
    assert!(walk(&app, "subject=drop:nope").await.is_empty());
    // The start-up events are still there for an unfiltered walk.
    // (key check, three service secrets, three recorded settings, the bootstrap token)
    assert_eq!(walk(&app, "").await.len(), 24 + 8);
    // By actor: the appended events are `test`'s; the start-up ones the system's.
    assert_eq!(walk(&app, "actor=test").await.len(), 24);
    assert_eq!(walk(&app, "actor=test&action=drop.submit").await.len(), 4);
    assert!(walk(&app, "actor=token:nope").await.is_empty());
    // By time: everything is at or after an hour ago and before an hour from now.
    let now = keydrop::clock::Clock::now(&keydrop::clock::SystemClock);
    let stamp = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
            .replace('+', "%2B")
    };
    let hour = time::Duration::hours(1);
    let window = format!("since={}&until={}", stamp(now - hour), stamp(now + hour));
    assert_eq!(walk(&app, &window).await.len(), 24 + 8);
    assert!(walk(&app, &format!("since={}", stamp(now + hour)))
        .await
        .is_empty());
    assert!(walk(&app, &format!("until={}", stamp(now - hour)))
        .await
        .is_empty());
    let long = "x".repeat(201);
    for bad in [
        format!("subject={long}"),
        format!("action={long}"),
        format!("actor={long}"),
        "since=yesterday".to_owned(),
        "until=2026-13-01".to_owned(),
    ] {
        let status = app
            .get(&format!("/api/v1/audit?{bad}"), Some(&app.admin_token))
            .fetch_status()
            .await;
        assert_eq!(status, 422, "{bad}");
    }
}

async fn every_list_clamps_an_over_large_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    append(&app.store, &[("test.event", "test:1"); 600]).await;
    let huge = "99999999999999999999999999";
    for limit in ["501", "100000", huge] {
        let page: Value = app
            .get(
                &format!("/api/v1/audit?limit={limit}"),
                Some(&app.admin_token),
            )
            .fetch_json()
            .await;
        assert_eq!(page["events"].as_array().unwrap().len(), 500, "{limit}");
        assert_eq!(page["next"], "500", "{limit}");
    }
    app.create_drop(json!({"org": "Initech"})).await;
    for list in ["drops", "credentials"] {
        for limit in ["501", huge] {
            let page: Value = app
                .get(
                    &format!("/api/v1/{list}?limit={limit}"),
                    Some(&app.admin_token),
                )
                .fetch_json()
                .await;
            assert!(page[list].is_array(), "{list}?limit={limit}: {page}");
            assert!(page["next"].is_null());
        }
    }
    for list in ["audit", "drops", "credentials"] {
        for limit in ["0", "-1", "ten"] {
            let status = app
                .get(
                    &format!("/api/v1/{list}?limit={limit}"),
                    Some(&app.admin_token),
                )
                .fetch_status()
                .await;
            assert_eq!(status, 422, "{list}?limit={limit}");
        }
    }
}

/// Every `…_at` in any event's details is RFC 3339 UTC, and no number there
/// looks like Unix milliseconds.
fn check_times(action: &str, v: &Value, key: &str) {
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, inner)| check_times(action, inner, k)),
        Value::Array(items) => items.iter().for_each(|i| check_times(action, i, key)),
        Value::Number(n) => assert!(
            n.as_i64().is_none_or(|n| n.abs() < 1_000_000_000),
            "{action}: {key} = {n} looks like a Unix time"
        ),
        Value::String(s) if key.ends_with("_at") => {
            assert!(s.ends_with('Z'), "{action}: {key} = {s}");
            keydrop::clock::parse_rfc3339(s).unwrap();
        }
        _ => assert!(
            !key.ends_with("_at"),
            "{action}: {key} is not a time string"
        ),
    }
}

async fn times_in_audit_details_are_rfc3339_utc(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let drop = app.create_drop(json!({"org": "Initech"})).await;
    let path = TestApp::link_path(drop["url"].as_str().unwrap());
    let fields = [
        ("client_id", GOOD_ID),
        ("client_secret", GOOD_SECRET),
        ("user_id", ""),
    ];
    assert_eq!(app.submit(&path, &fields).await.0, 200);
    let claim = app
        .post("/api/v1/credentials/claim", Some(&app.admin_token))
        .fetch_status()
        .await;
    assert_eq!(claim, 200);
    let events = app.store.list_audit(0, 500).await.unwrap();
    let mut timed = Vec::new();
    for e in &events {
        check_times(&e.action, &e.details, "");
        if let Some(m) = e.details.as_object() {
            timed.extend(
                m.keys()
                    .filter(|k| k.ends_with("_at"))
                    .map(|k| format!("{}:{k}", e.action)),
            );
        }
    }
    timed.sort();
    assert_eq!(
        timed,
        [
            "credential.claim:lease_expires_at",
            "drop.create:expires_at"
        ]
    );
}
