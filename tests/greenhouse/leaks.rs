//! SPEC §8.1: no secret, access token or echoed client id reaches a log line.

use crate::helpers::*;
use keydrop::greenhouse::kinds::HARVEST_V3;
use keydrop::greenhouse::{Outcome, Profile, Secret};
use keydrop::sandbox::V3Client;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let e = env(|c| c.total_budget = std::time::Duration::from_millis(800)).await;
    e.gh.add_v3_client(full_client());
    e.gh.add_v3_client(V3Client::new("partial-55", CLIENT_SECRET).with_resources(["users"]));
    e.gh.add_v1_key(V1_KEY, ["users"]);
    let malformed_id = "MALFORMED_client_ID_echoed";

    let cases: Vec<(Secret, Outcome)> = vec![
        (v3_secret(Some(ADMIN)), Outcome::Verified),
        (v3_secret(Some(NOT_ADMIN)), Outcome::Insufficient),
        (
            parse_v3("partial-55", CLIENT_SECRET, None).unwrap(),
            Outcome::Insufficient,
        ),
        (
            parse_v3(CLIENT_ID, "wrong-but-Also-Secret-99", None).unwrap(),
            Outcome::Invalid,
        ),
        (
            parse_v3(malformed_id, CLIENT_SECRET, None).unwrap(),
            Outcome::Invalid,
        ),
        (parse_v1(V1_KEY).unwrap(), Outcome::Insufficient),
        (
            parse_v1("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").unwrap(),
            Outcome::Invalid,
        ),
    ];
    for (secret, expected) in &cases {
        let v = e.checker.check(secret, &default_profile(secret)).await;
        assert_eq!(v.outcome, *expected, "{secret:?}: {}", v.message);
    }
    // The failure path with retries and a 401 re-mint.
    e.gh.revoke_next_tokens(1);
    let minimal = Profile::named(HARVEST_V3, "minimal").unwrap();
    assert_eq!(
        e.checker.check(&v3_secret(None), &minimal).await.outcome,
        Outcome::Verified
    );
    e.gh.set_token_outage(true);
    assert_eq!(
        e.checker.check(&v3_secret(None), &minimal).await.outcome,
        Outcome::Pending
    );

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("Greenhouse check finished"),
        "logging was captured"
    );
    assert!(logs.contains("TRACE") || logs.contains("DEBUG") || logs.contains("INFO"));
    let tokens = e.gh.issued_tokens();
    assert!(tokens.len() >= 5, "{tokens:?}");
    let mut forbidden: Vec<&str> = vec![
        CLIENT_SECRET,
        CLIENT_ID,
        malformed_id,
        "wrong-but-Also-Secret-99",
        V1_KEY,
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    ];
    forbidden.extend(tokens.iter().map(String::as_str));
    for s in forbidden {
        assert!(!logs.contains(s), "{s:?} leaked into the logs:\n{logs}");
    }
}

#[tokio::test]
async fn no_ingestion_key_or_user_email_reaches_the_logs() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let e = env(|c| c.total_budget = std::time::Duration::from_millis(800)).await;
    ingestion_fixtures(&e.gh);
    let profile = ingestion_profile("ingestion");
    let wrong_key = "WRONG-ingestion-key-0000000000";
    for (key, email, board) in [
        (INGESTION_KEY, ADMIN_EMAIL, BOARD),
        (INGESTION_KEY, BASIC_EMAIL, ""),
        (INGESTION_KEY, NO_RIGHTS_EMAIL, ""),
        (INGESTION_KEY, DISABLED_EMAIL, ""),
        (wrong_key, NOBODY_EMAIL, ""),
        (INGESTION_KEY, ADMIN_EMAIL, "no-such-board"),
    ] {
        let v = e
            .checker
            .check(&ingestion_secret(key, email, board), &profile)
            .await;
        let report = serde_json::to_string(&v).unwrap();
        for s in [key, email] {
            assert!(!report.contains(s), "{s:?} in the report {report}");
        }
    }
    e.gh.set_outage(true);
    let _ = e
        .checker
        .check(&ingestion_secret(INGESTION_KEY, ADMIN_EMAIL, ""), &profile)
        .await;

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("Greenhouse check finished"),
        "logging was captured"
    );
    for s in [
        INGESTION_KEY,
        wrong_key,
        ADMIN_EMAIL,
        BASIC_EMAIL,
        NO_RIGHTS_EMAIL,
        DISABLED_EMAIL,
        NOBODY_EMAIL,
        "@initech.example",
    ] {
        assert!(!logs.contains(s), "{s:?} leaked into the logs:\n{logs}");
    }
}
