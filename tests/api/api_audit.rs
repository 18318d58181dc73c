//! `/api/v1/audit`: paging by `seq`, and the chain as the API shows it.

use crate::helpers::Fetch;
use crate::helpers::{spawn_app, Backend};
use crate::on_both_backends;
use keydrop::domain::audit::{event_hash, AuditEvent, GENESIS_HASH};
use serde_json::Value;

on_both_backends!(pages_walk_the_whole_log_and_hashes_chain);

async fn pages_walk_the_whole_log_and_hashes_chain(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..4 {
        app.create_token(&format!("t{i}"), "worker").await;
    }
    // 3 events from start-up (key check, form key, bootstrap token) + 4 creations.
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
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6, 7]);
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
