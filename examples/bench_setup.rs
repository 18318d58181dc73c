//! Benchmark fixture: fills a keydrop database with one open drop and one
//! verified credential sealed under the given master key, plus a worker
//! token, and prints `LINK_PATH=… CREDENTIAL=… WORKER=…` for bench/run.sh.
//!
//! cargo run --release --example bench_setup -- <database url> <master key base64>
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keydrop::clock::SystemClock;
use keydrop::crypto::cipher::{self, Binding};
use keydrop::crypto::keyring::{Keyring, MasterKey};
use keydrop::domain::audit::AuditEntry;
use keydrop::domain::drop::DropRequest;
use keydrop::domain::role::Role;
use keydrop::store::{NewCredential, Store};
use std::sync::Arc;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("database url");
    let key = args.next().expect("master key");
    let keyring = Keyring::single(MasterKey::from_base64(&key).unwrap());
    let store = Store::open(&url, Arc::new(SystemClock)).await.unwrap();
    store.ensure_key_checks(&keyring).await.unwrap().unwrap();
    let checker = keydrop::greenhouse::Checker::new(
        keydrop::greenhouse::CheckerConfig::default(),
        Arc::new(SystemClock),
    )
    .unwrap();

    let spec = DropRequest {
        org: "Bench Org".into(),
        note: Some("A benchmark drop.".into()),
        ..Default::default()
    }
    .validate(keydrop::greenhouse::registry())
    .unwrap();
    let open = keydrop::service::drops::create(
        &store,
        &checker,
        spec.clone(),
        &keydrop::domain::event::Origin::new("bench", None),
        "http://x",
        None,
    )
    .await
    .unwrap();
    let url_path = open.url().trim_start_matches("http://x").to_owned();

    let used = keydrop::service::drops::create(
        &store,
        &checker,
        spec,
        &keydrop::domain::event::Origin::new("bench", None),
        "http://x",
        None,
    )
    .await
    .unwrap();
    let id = keydrop::crypto::random::uuid().unwrap().to_string();
    let secret = br#"{"kind":"harvest_v3","client_id":"bench-1234","client_secret":"bench-secret","user_id":null}"#;
    let binding = Binding {
        credential_id: &id,
        drop_id: &used.drop.id,
        kind: "harvest_v3",
    };
    let credential = NewCredential {
        release: keydrop::domain::release::Release::Handoff,
        id: id.clone(),
        drop_id: used.drop.id.clone(),
        org: "Bench Org".into(),
        external_id: None,
        metadata_json: None,
        kind: "harvest_v3".into(),
        status: "verified".into(),
        hint: "1234".into(),
        verification_json: r#"{"outcome":"verified","checked_at":"2026-11-23T09:00:00Z","granted":["harvest:users:list"],"missing_required":[],"missing_optional":[],"message":"ok"}"#.into(),
        envelope: cipher::encrypt(&keyring, binding, secret).unwrap(),
        next_check_at: None,
        access: None,
        refresh_due_at: None,
    };
    assert!(store
        .accept_credential(
            &credential,
            &AuditEntry::untyped("bench", "drop.submit", "bench")
        )
        .await
        .unwrap());

    // A `vend` credential whose cached access token is fresh for a day (SPEC §10: the
    // `access-token` bar is for a fresh cached token).
    let vended = keydrop::service::drops::create(
        &store,
        &checker,
        {
            let mut v = DropRequest {
                org: "Bench Org".into(),
                release: Some(keydrop::domain::release::Release::Vend),
                ..Default::default()
            }
            .validate(keydrop::greenhouse::registry())
            .unwrap();
            v.note = None;
            v
        },
        &keydrop::domain::event::Origin::new("bench", None),
        "http://x",
        None,
    )
    .await
    .unwrap();
    let vend_id = keydrop::crypto::random::uuid().unwrap().to_string();
    let binding = Binding {
        credential_id: &vend_id,
        drop_id: &vended.drop.id,
        kind: "harvest_v3",
    };
    let envelope = cipher::encrypt(&keyring, binding, secret).unwrap();
    let expires_at =
        keydrop::clock::to_millis(keydrop::clock::Clock::now(&SystemClock)) + 86_400_000;
    let access =
        format!(r#"{{"access_token":"bench-access-token-0123456789","expires_at":{expires_at}}}"#);
    let sealed =
        cipher::seal_aux(&keyring, binding, &envelope, "access", access.as_bytes()).unwrap();
    let credential = NewCredential {
        release: keydrop::domain::release::Release::Vend,
        id: vend_id.clone(),
        drop_id: vended.drop.id.clone(),
        envelope,
        access: Some((sealed, expires_at)),
        ..credential
    };
    assert!(store
        .accept_credential(
            &credential,
            &AuditEntry::untyped("bench", "drop.submit", "bench")
        )
        .await
        .unwrap());

    let tokens = keydrop::service::tokens::Tokens::load(&store, &keyring)
        .await
        .unwrap();
    let (_, token) = keydrop::service::tokens::create(
        &store,
        &tokens,
        "bench worker".into(),
        Role::Worker,
        "bench",
        None,
    )
    .await
    .unwrap();
    println!(
        "LINK_PATH={url_path} CREDENTIAL={id} VEND={vend_id} WORKER={}",
        token.reveal()
    );
}
