//! Two `keydrop serve` processes on one PostgreSQL database and 50 concurrent
//! `access-token` calls through both, against a slow Greenhouse, while the
//! stored token is missing or about to expire: one mint (or one refresh of a
//! partner grant, never presenting a refresh token twice) in all — the token
//! lease — and every caller gets that same working token. And a process
//! killed (-9) in the middle of a refresh: the grant survives or is reported
//! `disconnected`, never silently broken.

use crate::support::helpers::{
    require_postgres, seed_verified, Backend, Seed, TestDb, GOOD_ID, GOOD_SECRET,
    SEEDED_VERIFICATION,
};
use crate::support::processes::{free_port, start_server_with, Server};
use base64::Engine as _;
use keydrop::crypto::keyring::{Keyring, MasterKey};
use keydrop::crypto::token::ApiToken;
use keydrop::domain::audit::AuditEntry;
use keydrop::domain::release::Release;
use keydrop::domain::role::Role;
use keydrop::sandbox::{FakeGreenhouse, V3Client};
use keydrop::store::TokenRecord;
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
    let secret = format!(
        r#"{{"kind":"harvest_v3","client_id":"{GOOD_ID}","client_secret":"{GOOD_SECRET}","user_id":null}}"#
    );
    let Seeded {
        db,
        key_b64,
        worker,
        id,
    } = seed("harvest_v3", &secret, None).await;
    let store = db.store().await;

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
    let keyring = Keyring::single(MasterKey::from_base64(&key_b64).unwrap());
    crate::support::helpers::use_audit_key(&store, &keyring).await;
    assert!(
        store.verify_audit().await.unwrap().is_ok(),
        "audit chain intact"
    );
}

const PARTNER_ID: &str = "acme-partner-5150";
const PARTNER_SECRET: &str = "partner-secret-Zq8m2Lr7Vt4Kx1";

/// One PostgreSQL database holding a worker token and one verified `vend` credential of
/// `kind` whose sealed secret is `secret` (the JSON of SPEC §4), no access token cached yet.
struct Seeded {
    db: TestDb,
    key_b64: String,
    worker: ApiToken,
    id: String,
}

async fn seed(kind: &str, secret: &str, refresh_due_at: Option<i64>) -> Seeded {
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
    store
        .insert_token(
            &TokenRecord {
                id: worker.id(),
                name: "worker".into(),
                role: Role::Worker,
                hash: worker.hash().unwrap(),
                created_at: 0,
                revoked_at: None,
            },
            &AuditEntry::untyped("test", "token.create", "t"),
        )
        .await
        .unwrap();
    let id = seed_verified(
        &store,
        &keyring,
        Seed {
            org: "Initech".into(),
            kind,
            release: Release::Vend,
            secret,
            hint: String::new(),
            verification_json: SEEDED_VERIFICATION,
            refresh_due_at,
        },
    )
    .await;
    Seeded {
        db,
        key_b64,
        worker,
        id,
    }
}

struct PartnerSetup {
    fake: FakeGreenhouse,
    db: TestDb,
    key_b64: String,
    worker: ApiToken,
    id: String,
}

/// A partner grant connected earlier, stored with an access token that has expired.
async fn partner_setup() -> PartnerSetup {
    let fake = FakeGreenhouse::start().await.unwrap();
    fake.add_partner_client(PARTNER_ID, PARTNER_SECRET);
    let (refresh, access) = fake.new_partner_grant(PARTNER_ID);
    let secret = format!(
        r#"{{"kind":"harvest_v3_partner","refresh_token":"{refresh}","access_token":"{access}","expires_at":"0"}}"#
    );
    let Seeded {
        db,
        key_b64,
        worker,
        id,
    } = seed("harvest_v3_partner", &secret, Some(i64::MAX / 2)).await;
    PartnerSetup {
        fake,
        db,
        key_b64,
        worker,
        id,
    }
}

fn partner_servers(
    p: &PartnerSetup,
    ports: [u16; 2],
    dirs: &[tempfile::TempDir; 2],
) -> Vec<Server> {
    let base = p.fake.base_url().to_owned();
    let env = [
        ("KEYDROP_GREENHOUSE_AUTH_URL", base.as_str()),
        ("KEYDROP_GREENHOUSE_API_URL", base.as_str()),
        ("KEYDROP_GREENHOUSE_PARTNER_CLIENT_ID", PARTNER_ID),
        ("KEYDROP_GREENHOUSE_PARTNER_CLIENT_SECRET", PARTNER_SECRET),
        ("KEYDROP_GREENHOUSE_TIMEOUT", "3s"),
        ("KEYDROP_GREENHOUSE_BUDGET", "3s"),
    ];
    (0..2)
        .map(|i| start_server_with(&p.db, &p.key_b64, ports[i], dirs[i].path(), &env))
        .collect()
}

async fn access_token(port: u16, worker: &str, id: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}/api/v1/credentials/{id}/access-token"
        ))
        .bearer_auth(worker)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn works(fake: &FakeGreenhouse, token: &str) -> bool {
    reqwest::Client::new()
        .get(format!("{}/v3/users?per_page=1", fake.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    keydrop_no_postgres,
    ignore = "PostgreSQL: set KEYDROP_TEST_POSTGRES_URL to run"
)]
async fn two_processes_refresh_a_partner_grant_once_for_fifty_callers() {
    require_postgres();
    let p = partner_setup().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let ports = [free_port(), free_port()];
    let _servers = partner_servers(&p, ports, &dirs);
    p.fake.set_refresh_delay(Duration::from_millis(500));
    let worker = p.worker.reveal().to_owned();
    let calls = (0..50).map(|n| access_token(ports[n % 2], &worker, &p.id));
    let answers = futures_util::future::join_all(calls).await;
    let first = answers[0].1["access_token"].as_str().unwrap().to_owned();
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["access_token"], first.as_str());
    }
    assert!(works(&p.fake, &first).await);
    assert_eq!(
        p.fake.partner_refreshes(),
        1,
        "one refresh across both processes"
    );
    assert_eq!(p.fake.max_refreshes_in_flight(), 1);
    assert_eq!(
        p.fake.refresh_reuses(),
        0,
        "no refresh token presented twice"
    );
    assert_eq!(p.fake.alive_grants(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    keydrop_no_postgres,
    ignore = "PostgreSQL: set KEYDROP_TEST_POSTGRES_URL to run"
)]
async fn a_process_killed_in_the_middle_of_a_refresh_never_leaves_a_silently_broken_grant() {
    require_postgres();
    let p = partner_setup().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let ports = [free_port(), free_port()];
    let mut servers = partner_servers(&p, ports, &dirs);
    p.fake.set_refresh_delay(Duration::from_millis(1500));
    let worker = p.worker.reveal().to_owned();
    let (w, id) = (worker.clone(), p.id.clone());
    let doomed = tokio::spawn(async move {
        // Process A takes the token lease and asks Greenhouse to refresh…
        reqwest::Client::new()
            .post(format!(
                "http://127.0.0.1:{}/api/v1/credentials/{id}/access-token",
                ports[0]
            ))
            .bearer_auth(w)
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // …and dies before it can store the answer.
    servers[0].0.kill().unwrap();
    let _ = doomed.await;
    // Process B waits out A's lease (asked to come back meanwhile), then refreshes with
    // what is stored.
    let started = std::time::Instant::now();
    let (status, body) = loop {
        let (status, body) = access_token(ports[1], &worker, &p.id).await;
        if status != 503 || started.elapsed() > Duration::from_secs(60) {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let meta: Value = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{}/api/v1/credentials/{}",
            ports[1], p.id
        ))
        .bearer_auth(&worker)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    match status {
        // Greenhouse never acted on A's refresh: the grant lives on, with a working token.
        200 => {
            assert!(works(&p.fake, body["access_token"].as_str().unwrap()).await);
            assert_eq!(meta["status"], "verified");
            assert_eq!(p.fake.alive_grants(), 1);
        }
        // Greenhouse rotated for A: B's refresh presented the spent token, Greenhouse killed
        // the grant, and keydrop says so.
        409 => {
            assert_eq!(meta["status"], "disconnected", "{body}");
            assert_eq!(p.fake.alive_grants(), 0);
        }
        other => panic!("neither a working token nor disconnected: {other} {body}"),
    }
}
