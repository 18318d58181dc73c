//! Two `keydrop serve` processes on one PostgreSQL database and 50 concurrent
//! `access-token` calls through both, against a slow Greenhouse, while the
//! stored token is missing: one mint in all (the token lease), and every
//! caller gets that same working token.

use crate::helpers::{require_postgres, Backend, TestDb, GOOD_ID, GOOD_SECRET};
use crate::multiprocess::{free_port, start_server_with, Server};
use base64::Engine as _;
use keydrop::crypto::cipher::{self, Binding};
use keydrop::crypto::keyring::{Keyring, MasterKey};
use keydrop::crypto::token::ApiToken;
use keydrop::domain::audit::AuditEntry;
use keydrop::domain::release::Release;
use keydrop::domain::role::Role;
use keydrop::greenhouse::fake::{FakeGreenhouse, V3Client};
use keydrop::store::{NewCredential, NewDrop, TokenRecord};
use serde_json::Value;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    keydrop_no_postgres,
    ignore = "PostgreSQL: set KEYDROP_TEST_POSTGRES_URL to run"
)]
async fn two_processes_mint_one_token_for_fifty_concurrent_callers() {
    require_postgres();
    let fake = FakeGreenhouse::start().await.unwrap();
    fake.add_v3_client(V3Client::new(GOOD_ID, GOOD_SECRET).with_resources(["users"]));
    let db = TestDb::new(Backend::Postgres).await;
    let key_b64 = base64::engine::general_purpose::STANDARD
        .encode(keydrop::crypto::random::bytes::<32>().unwrap());
    let keyring = Keyring::single(MasterKey::from_base64(&key_b64).unwrap());
    let store = db.store().await;
    store.ensure_key_checks(&keyring).await.unwrap().unwrap();
    let worker = ApiToken::generate().unwrap();
    let record = TokenRecord {
        id: worker.id(),
        name: "worker".into(),
        role: Role::Worker,
        hash: worker.hash().unwrap(),
        created_at: 0,
        revoked_at: None,
    };
    store
        .insert_token(&record, &AuditEntry::untyped("test", "token.create", "t"))
        .await
        .unwrap();
    let drop_id = uuid::Uuid::new_v4().to_string();
    let id = uuid::Uuid::new_v4().to_string();
    store
        .insert_drop(
            &NewDrop {
                release: Release::Vend,
                id: drop_id.clone(),
                token_hash: keydrop::crypto::sha256_hex(&[drop_id.as_bytes()]),
                org: "Initech".into(),
                note: None,
                kind: "harvest_v3".into(),
                profile_json: r#"{"name":"minimal","required":["users"],"optional":[]}"#.into(),
                expires_at: i64::MAX / 2,
                max_attempts: 10,
                created_by: "test".into(),
                contact: None,
                external_id: None,
                metadata_json: None,
            },
            &AuditEntry::untyped("test", "drop.create", format!("drop:{drop_id}")),
        )
        .await
        .unwrap();
    let secret = format!(
        r#"{{"kind":"harvest_v3","client_id":"{GOOD_ID}","client_secret":"{GOOD_SECRET}","user_id":null}}"#
    );
    let binding = Binding {
        credential_id: &id,
        drop_id: &drop_id,
        kind: "harvest_v3",
    };
    let c = NewCredential {
        release: Release::Vend,
        id: id.clone(),
        drop_id: drop_id.clone(),
        org: "Initech".into(),
        external_id: None,
        metadata_json: None,
        kind: "harvest_v3".into(),
        status: "verified".into(),
        hint: "4471".into(),
        verification_json: r#"{"outcome":"verified","checked_at":"2026-11-23T09:00:00Z","granted":["harvest:users:list"],"missing_required":[],"missing_optional":[],"message":"ok"}"#.into(),
        envelope: cipher::encrypt(&keyring, binding, secret.as_bytes()).unwrap(),
        next_check_at: None,
        access: None,
        refresh_due_at: None,
    };
    assert!(store
        .accept_credential(&c, &AuditEntry::untyped("test", "drop.submit", "d"))
        .await
        .unwrap());

    let base = fake.base_url().to_owned();
    let env = [
        ("KEYDROP_GREENHOUSE_AUTH_URL", base.as_str()),
        ("KEYDROP_GREENHOUSE_API_URL", base.as_str()),
    ];
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let ports = [free_port(), free_port()];
    let _servers: Vec<Server> = (0..2)
        .map(|i| start_server_with(&db, &key_b64, ports[i], dirs[i].path(), &env))
        .collect();
    fake.set_delay(Duration::from_millis(500));
    fake.reset_counters();

    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for n in 0..50 {
        let url = format!(
            "http://127.0.0.1:{}/api/v1/credentials/{id}/access-token",
            ports[n % 2]
        );
        let (http, token) = (http.clone(), worker.reveal().to_owned());
        tasks.push(tokio::spawn(async move {
            let res = http.post(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(res.status(), 200);
            let body: Value = res.json().await.unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap());
    }
    assert_eq!(
        fake.requests_to("/token"),
        1,
        "one mint across both processes"
    );
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "every caller got the same token"
    );
    assert!(fake.issued_tokens().contains(&tokens[0]));
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'credential.access_token'",
    )
    .fetch_one(&mut db.raw().await)
    .await
    .unwrap();
    assert_eq!(audited, 50);
    assert!(
        store.verify_audit().await.unwrap().is_ok(),
        "audit chain intact"
    );
}
