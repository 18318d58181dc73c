//! Two `keydrop serve` processes on one PostgreSQL database, eight workers
//! claiming and acking through both: every credential delivered exactly
//! once, none twice, none left behind, and the audit chain intact.

use crate::support::helpers::{
    numbered_secret, require_postgres, seed_verified, Backend, Seed, TestDb, SEEDED_VERIFICATION,
};
use crate::support::processes::{free_port, start_server, Server};
use base64::Engine as _;
use keydrop::crypto::keyring::{Keyring, MasterKey};
use keydrop::crypto::token::ApiToken;
use keydrop::domain::audit::AuditEntry;
use keydrop::domain::role::Role;
use keydrop::store::TokenRecord;
use serde_json::Value;
use std::collections::HashSet;

const CREDENTIALS: usize = 200;
const WORKERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    keydrop_no_postgres,
    ignore = "PostgreSQL: set KEYDROP_TEST_POSTGRES_URL to run"
)]
async fn two_processes_deliver_every_credential_exactly_once() {
    require_postgres();
    let db = TestDb::new(Backend::Postgres).await;
    let key_b64 = base64::engine::general_purpose::STANDARD
        .encode(keydrop::crypto::random::bytes::<32>().unwrap());
    let keyring = Keyring::single(MasterKey::from_base64(&key_b64).unwrap());
    let store = db.store().await;
    store.ensure_key_checks(&keyring).await.unwrap().unwrap();
    let tag = keydrop::service::tokens::Tokens::load(&store, &keyring)
        .await
        .unwrap()
        .tag;
    let worker = ApiToken::generate(&tag).unwrap();
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
    for i in 0..CREDENTIALS {
        let secret = numbered_secret(i);
        seed_verified(
            &store,
            &keyring,
            Seed {
                org: format!("Org {i}"),
                kind: "harvest_v3",
                release: keydrop::domain::release::Release::Handoff,
                secret: &secret,
                hint: format!("{i:04}"),
                verification_json: SEEDED_VERIFICATION,
                refresh_due_at: None,
            },
        )
        .await;
    }

    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let ports = [free_port(), free_port()];
    let _servers: Vec<Server> = (0..2)
        .map(|i| start_server(&db, &key_b64, ports[i], dirs[i].path()))
        .collect();

    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let base = format!("http://127.0.0.1:{}", ports[w % 2]);
        let token = worker.reveal().to_owned();
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let res = http
                    .post(format!("{base}/api/v1/credentials/claim"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                if res.status() == 204 {
                    break;
                }
                assert_eq!(res.status(), 200);
                let body: Value = res.json().await.unwrap();
                let id = body["credential"]["id"].as_str().unwrap().to_owned();
                let i: usize = body["secret"]["client_id"].as_str().unwrap()[2..]
                    .parse()
                    .unwrap();
                assert_eq!(
                    body["secret"]["client_secret"],
                    format!("s-{i}"),
                    "the right secret for the row"
                );
                let ack = http
                    .post(format!("{base}/api/v1/credentials/{id}/ack"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"lease_id": body["lease"]["id"]}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(ack.status(), 200, "ack of {id}");
                got.push(id);
            }
            got
        }));
    }
    let mut all = Vec::new();
    let mut per_worker = Vec::new();
    for t in tasks {
        let got = t.await.unwrap();
        per_worker.push(got.len());
        all.extend(got);
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(
        all.len(),
        CREDENTIALS,
        "no credential delivered twice (per worker: {per_worker:?})"
    );
    assert_eq!(unique.len(), CREDENTIALS, "every credential delivered");
    assert!(
        per_worker.iter().filter(|n| **n > 0).count() > 1,
        "the work was shared: {per_worker:?}"
    );
    let mut raw = db.raw().await;
    let left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE delivery <> 'delivered'")
            .fetch_one(&mut raw)
            .await
            .unwrap();
    assert_eq!(left, 0, "none left behind");
    crate::support::helpers::use_audit_key(&store, &keyring).await;
    let n = store.verify_audit().await.unwrap().unwrap();
    assert!(
        n >= (1 + 1 + 2 * CREDENTIALS + 2 * CREDENTIALS) as i64,
        "{n} events"
    );
}
