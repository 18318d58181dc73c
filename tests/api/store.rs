//! The store conformance suite: the same assertions on SQLite and PostgreSQL.
//!
//! *Over 400 lines:* the one conformance suite both backends run, kept together.

use crate::on_both_backends;
use crate::support::helpers::{assert_no_secret_in, Backend, TestDb};
use keydrop::crypto::cipher::{self, Binding};
use keydrop::crypto::keyring::{Keyring, MasterKey};
use keydrop::crypto::token::ApiToken;
use keydrop::domain::audit::{ActionFilter, AuditEntry, AuditFilter, ChainError};
use keydrop::domain::role::Role;
use keydrop::store::{audit_query, NewCredential, NewDrop, Store, TokenRecord};
use serde_json::json;
use sqlx::Executor;
use std::sync::Arc;

on_both_backends!(
    tokens_round_trip,
    bootstrap_admin_happens_once,
    audit_chain_verifies_and_catches_an_edited_row,
    audit_chain_catches_a_deleted_tail,
    audit_appends_from_two_stores_form_one_chain,
    stored_credential_holds_no_plaintext_and_no_data_key,
    only_one_of_many_simultaneous_accepts_wins,
    wrong_master_key_is_refused,
    missing_key_version_is_refused,
    a_version_that_seals_only_service_secrets_is_still_needed,
    rotate_then_rewrap_moves_every_data_key,
    migrations_are_idempotent,
    leases_follow_the_database_clock_not_a_skewed_process_clock,
    audit_filters_read_an_index,
);

fn token_record(name: &str, role: Role) -> (TokenRecord, ApiToken) {
    let t = ApiToken::generate(&keydrop::crypto::token::TagKey::from_bytes(&[1u8; 32])).unwrap();
    let r = TokenRecord {
        id: t.id(),
        name: name.into(),
        role,
        hash: t.hash().unwrap(),
        created_at: 1_700_000_000_000,
        revoked_at: None,
    };
    (r, t)
}

fn audit(action: &str) -> AuditEntry {
    AuditEntry::untyped("test", action, "subject").details(json!({"n": 1}))
}

async fn tokens_round_trip(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let (rec, token) = token_record("ingest-1", Role::Worker);
    store
        .insert_token(&rec, &audit("token.create"))
        .await
        .unwrap();
    let got = store.token(rec.id).await.unwrap().unwrap();
    assert_eq!(got, rec);
    assert!(token.verify(&got.hash));
    assert_eq!(store.list_tokens().await.unwrap(), vec![rec.clone()]);

    let revoked = store
        .revoke_token(rec.id, &audit("token.revoke"))
        .await
        .unwrap()
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    // Revoking again changes nothing and records nothing.
    let again = store
        .revoke_token(rec.id, &audit("token.revoke"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at, revoked.revoked_at);
    assert_eq!(store.list_audit(0, 100).await.unwrap().len(), 2);
    assert!(store
        .revoke_token(uuid::Uuid::new_v4(), &audit("x"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.verify_audit().await.unwrap(), Ok(2));
}

async fn bootstrap_admin_happens_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let ok = || Ok::<(), ()>(());
    // A token whose delivery fails is never stored: the next start retries.
    let (lost, _) = token_record("lost", Role::Admin);
    assert_eq!(
        store
            .bootstrap_admin(&lost, &audit("token.create"), || Err("disk full"))
            .await
            .unwrap(),
        Err("disk full")
    );
    assert!(store.list_tokens().await.unwrap().is_empty());
    // Two processes starting at once on one empty database: one token.
    let other = db.store().await;
    let (a, _) = token_record("first", Role::Admin);
    let (b, _) = token_record("second", Role::Admin);
    let audit_a = audit("token.create");
    let audit_b = audit("token.create");
    let (ra, rb) = tokio::join!(
        store.bootstrap_admin(&a, &audit_a, ok),
        other.bootstrap_admin(&b, &audit_b, ok)
    );
    let won = [ra.unwrap().unwrap(), rb.unwrap().unwrap()];
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let (c, _) = token_record("third", Role::Admin);
    assert!(!store
        .bootstrap_admin(&c, &audit("token.create"), ok)
        .await
        .unwrap()
        .unwrap());
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
}

async fn audit_chain_verifies_and_catches_an_edited_row(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    for i in 0..5 {
        let (rec, _) = token_record(&format!("t{i}"), Role::Issuer);
        store
            .insert_token(&rec, &audit("token.create"))
            .await
            .unwrap();
    }
    assert_eq!(store.verify_audit().await.unwrap(), Ok(5));
    let events = store.list_audit(0, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(store.list_audit(3, 10).await.unwrap().len(), 2);

    let mut raw = db.raw().await;
    raw.execute(r#"UPDATE audit_events SET details = '{"n":2}' WHERE seq = 3"#)
        .await
        .unwrap();
    assert_eq!(
        store.verify_audit().await.unwrap(),
        Err(ChainError::BadHash { seq: 3 })
    );
}

async fn audit_chain_catches_a_deleted_tail(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    for i in 0..3 {
        let (rec, _) = token_record(&format!("t{i}"), Role::Issuer);
        store
            .insert_token(&rec, &audit("token.create"))
            .await
            .unwrap();
    }
    let mut raw = db.raw().await;
    raw.execute("DELETE FROM audit_events WHERE seq = 3")
        .await
        .unwrap();
    assert!(matches!(
        store.verify_audit().await.unwrap(),
        Err(ChainError::Truncated { last: 2, head: 3 })
    ));
    raw.execute("DELETE FROM audit_events WHERE seq = 1")
        .await
        .unwrap();
    assert_eq!(
        store.verify_audit().await.unwrap(),
        Err(ChainError::Gap {
            seq: 2,
            expected: 1
        })
    );
}

async fn audit_appends_from_two_stores_form_one_chain(backend: Backend) {
    let db = TestDb::new(backend).await;
    // Two stores with their own pools stand in for two keydrop processes.
    let stores = [db.store().await, db.store().await];
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = stores[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let (rec, _) = token_record(&format!("t{i}"), Role::Worker);
            store
                .insert_token(&rec, &audit("token.create"))
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(stores[0].verify_audit().await.unwrap(), Ok(40));
}

fn new_drop(id: &str) -> NewDrop {
    NewDrop {
        release: keydrop::domain::release::Release::Handoff,
        id: id.into(),
        token_hash: keydrop::crypto::sha256_hex(&[id.as_bytes()]),
        org: "Initech".into(),
        note: Some("hello".into()),
        kind: "harvest_v3".into(),
        profile_json: r#"{"name":"minimal","required":["users"],"optional":[]}"#.into(),
        expires_at: i64::MAX / 2,
        max_attempts: 10,
        created_by: "test".into(),
        contact: None,
        external_id: None,
        metadata_json: None,
        replaces: None,
        mail: None,
    }
}

fn sealed_credential(
    keyring: &Keyring,
    id: &str,
    drop_id: &str,
    plaintext: &[u8],
) -> NewCredential {
    let binding = Binding {
        credential_id: id,
        drop_id,
        kind: "harvest_v3",
    };
    NewCredential {
        release: keydrop::domain::release::Release::Handoff,
        id: id.into(),
        drop_id: drop_id.into(),
        org: "Initech".into(),
        external_id: None,
        metadata_json: None,
        kind: "harvest_v3".into(),
        status: "verified".into(),
        hint: "1234".into(),
        verification_json: "{}".into(),
        envelope: cipher::encrypt(keyring, binding, plaintext).unwrap(),
        next_check_at: None,
        access: None,
        refresh_due_at: None,
    }
}

async fn stored_credential_holds_no_plaintext_and_no_data_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let keyring = Keyring::single(MasterKey::generate().unwrap());
    let secret = r#"{"kind":"harvest_v3","client_id":"acme-123","client_secret":"PLAINTEXT-Zq8v3-must-never-be-stored","user_id":null}"#;
    let drop_id = uuid::Uuid::new_v4().to_string();
    let cred_id = uuid::Uuid::new_v4().to_string();
    store
        .insert_drop(&new_drop(&drop_id), &audit("drop.create"))
        .await
        .unwrap();
    let cred = sealed_credential(&keyring, &cred_id, &drop_id, secret.as_bytes());
    assert!(store
        .accept_credential(&cred, &audit("drop.submit"))
        .await
        .unwrap());

    // The store gives back exactly what was sealed, and it opens.
    let (d, kind, env) = store.credential_envelope(&cred_id).await.unwrap().unwrap();
    assert_eq!(
        (d.as_str(), kind.as_str()),
        (drop_id.as_str(), "harvest_v3")
    );
    let binding = Binding {
        credential_id: &cred_id,
        drop_id: &drop_id,
        kind: &kind,
    };
    assert_eq!(
        cipher::decrypt(&keyring, binding, &env).unwrap().as_slice(),
        secret.as_bytes()
    );
    let data_key = cipher::unwrap_data_key(&keyring, binding, &env).unwrap();

    // Close the pools so SQLite folds the WAL into the file we read.
    store.close().await;
    let dump = db.raw_dump().await;
    assert!(dump.len() > 1000, "the dump should hold the database");
    let dk_hex = keydrop::crypto::hex(data_key.as_ref());
    let needles = vec![
        "PLAINTEXT-Zq8v3-must-never-be-stored".to_owned(),
        String::from_utf8_lossy(data_key.as_ref()).into_owned(),
        dk_hex,
    ];
    assert_no_secret_in(&dump, &needles, "the raw database");
    assert!(
        !dump.windows(32).any(|w| w == data_key.as_ref()),
        "raw data key bytes in the database"
    );
}

async fn only_one_of_many_simultaneous_accepts_wins(backend: Backend) {
    let db = TestDb::new(backend).await;
    let stores = [db.store().await, db.store().await];
    let keyring = Arc::new(Keyring::single(MasterKey::generate().unwrap()));
    let drop_id = uuid::Uuid::new_v4().to_string();
    stores[0]
        .insert_drop(&new_drop(&drop_id), &audit("drop.create"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store: Store = stores[i % 2].clone();
        let keyring = keyring.clone();
        let drop_id = drop_id.clone();
        tasks.push(tokio::spawn(async move {
            let id = uuid::Uuid::new_v4().to_string();
            let c = sealed_credential(&keyring, &id, &drop_id, b"secret");
            store
                .accept_credential(&c, &audit("drop.submit"))
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
    let mut raw = db.raw().await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credentials")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(stores[0].verify_audit().await.unwrap(), Ok(2));
}

async fn wrong_master_key_is_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let right = Keyring::single(MasterKey::generate().unwrap());
    store.ensure_key_checks(&right).await.unwrap().unwrap();
    // Same again is fine, and records nothing new.
    store.ensure_key_checks(&right).await.unwrap().unwrap();
    assert_eq!(store.list_audit(0, 10).await.unwrap().len(), 1);
    let wrong = Keyring::single(MasterKey::generate().unwrap());
    let err = store.ensure_key_checks(&wrong).await.unwrap().unwrap_err();
    assert!(
        err.to_string().contains("version 1 does not match"),
        "{err}"
    );
}

async fn missing_key_version_is_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let path = db.dir.path().join("ring.json");
    Keyring::single(MasterKey::generate().unwrap())
        .write_new(&path)
        .unwrap();
    let mut ring = Keyring::read(&path).unwrap();
    ring.rotate(&path).unwrap(); // versions 1 and 2, 2 active
    store.ensure_key_checks(&ring).await.unwrap().unwrap();
    let drop_id = uuid::Uuid::new_v4().to_string();
    store
        .insert_drop(&new_drop(&drop_id), &audit("drop.create"))
        .await
        .unwrap();
    let c = sealed_credential(&ring, &uuid::Uuid::new_v4().to_string(), &drop_id, b"s");
    store
        .accept_credential(&c, &audit("drop.submit"))
        .await
        .unwrap();
    // A keyring holding only version 1 cannot open version-2 data.
    let only_v1 = Keyring::single(ring.get(1).unwrap().clone());
    let err = store
        .ensure_key_checks(&only_v1)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("version 2, which is not in the keyring"),
        "{err}"
    );
}

/// Every sealed thing counts, not only credentials; and looking at the
/// keyring (`keys status`, start-up) never marks a version "missing" for
/// `/readyz` — only opening stored data does.
async fn a_version_that_seals_only_service_secrets_is_still_needed(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let path = db.dir.path().join("ring.json");
    Keyring::single(MasterKey::generate().unwrap())
        .write_new(&path)
        .unwrap();
    let mut ring = Keyring::read(&path).unwrap();
    store.ensure_key_checks(&ring).await.unwrap().unwrap();
    keydrop::service::secrets::get_or_create(&store, &ring, "form_key")
        .await
        .unwrap();
    ring.rotate(&path).unwrap();
    store.ensure_key_checks(&ring).await.unwrap().unwrap();
    let status = store.key_status(&ring).await.unwrap();
    assert_eq!(status[0].uses.service_secrets, 1, "{status:?}");
    assert_eq!(status[0].uses.total(), 1, "{status:?}");
    // A keyring without version 1 is refused at start, naming what needs it.
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    file["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|k| k["version"] != 1);
    std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
    let only_v2 = Keyring::read(&path).unwrap();
    let err = store
        .ensure_key_checks(&only_v2)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string().contains("1 service secret(s)")
            && err
                .to_string()
                .contains("version 1, which is not in the keyring"),
        "{err}"
    );
    assert_eq!(
        only_v2.missing_versions(),
        Vec::<i64>::new(),
        "looking is not opening"
    );
    // Once resealed, version 1 holds nothing and may go.
    assert_eq!(
        keydrop::service::secrets::reseal_all(&store, &ring)
            .await
            .unwrap(),
        1
    );
    store.ensure_key_checks(&only_v2).await.unwrap().unwrap();
    let status = store.key_status(&only_v2).await.unwrap();
    assert_eq!(status[0].version, 1);
    assert!(!status[0].in_keyring);
    assert_eq!(status[0].uses.total(), 0);
    assert!(only_v2.missing_versions().is_empty());
}

async fn rotate_then_rewrap_moves_every_data_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let path = db.dir.path().join("ring.json");
    Keyring::single(MasterKey::generate().unwrap())
        .write_new(&path)
        .unwrap();
    let mut ring = Keyring::read(&path).unwrap();
    let mut ids = Vec::new();
    for i in 0..7 {
        let drop_id = uuid::Uuid::new_v4().to_string();
        let cred_id = uuid::Uuid::new_v4().to_string();
        store
            .insert_drop(&new_drop(&drop_id), &audit("drop.create"))
            .await
            .unwrap();
        let c = sealed_credential(&ring, &cred_id, &drop_id, format!("secret-{i}").as_bytes());
        store
            .accept_credential(&c, &audit("drop.submit"))
            .await
            .unwrap();
        ids.push((cred_id, drop_id, i));
    }
    assert_eq!(ring.rotate(&path).unwrap(), 2);
    assert_eq!(store.count_needing_rewrap(2).await.unwrap(), 7);
    // Small batches: an interrupted run resumes where it stopped.
    let first = store.rewrap_batch(&ring, None, 3).await.unwrap();
    assert_eq!((first.moved, first.failed.len()), (3, 0));
    assert_eq!(store.count_needing_rewrap(2).await.unwrap(), 4);
    // A new run (no cursor) picks up what is left.
    while store.rewrap_batch(&ring, None, 3).await.unwrap().moved > 0 {}
    assert_eq!(store.count_needing_rewrap(2).await.unwrap(), 0);
    for (cred_id, drop_id, i) in &ids {
        let (_, kind, env) = store.credential_envelope(cred_id).await.unwrap().unwrap();
        assert_eq!(env.key_version, 2);
        let b = Binding {
            credential_id: cred_id,
            drop_id,
            kind: &kind,
        };
        assert_eq!(
            cipher::decrypt(&ring, b, &env).unwrap().as_slice(),
            format!("secret-{i}").as_bytes()
        );
    }
    assert!(store.verify_audit().await.unwrap().is_ok());
}

async fn migrations_are_idempotent(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    assert_eq!(store.migrate().await.unwrap(), 0);
    assert!(store.ping().await);
}

/// A process whose system clock runs an hour ahead.
#[derive(Debug)]
struct SkewedSystemClock(time::Duration);

impl keydrop::clock::Clock for SkewedSystemClock {
    fn now(&self) -> time::OffsetDateTime {
        keydrop::clock::SystemClock.now() + self.0
    }
    fn is_system(&self) -> bool {
        true
    }
}

/// SPEC §8.11: a process with a wrong clock must not see another's live
/// lease as lapsed (it would deliver the credential twice), nor stamp
/// leases and expiries by its own time.
async fn leases_follow_the_database_clock_not_a_skewed_process_clock(backend: Backend) {
    use keydrop::clock::Clock as _;
    let db = TestDb::new(backend).await;
    let good = db.store().await;
    let ahead = db
        .store_with_clock(Arc::new(SkewedSystemClock(time::Duration::hours(1))))
        .await;
    let keyring = Keyring::single(MasterKey::generate().unwrap());
    let drop_id = uuid::Uuid::new_v4().to_string();
    let cred_id = uuid::Uuid::new_v4().to_string();
    good.insert_drop(&new_drop(&drop_id), &audit("drop.create"))
        .await
        .unwrap();
    let mut cred = sealed_credential(&keyring, &cred_id, &drop_id, b"{}");
    cred.verification_json = r#"{"outcome":"verified","checked_at":"2026-11-25T10:00:00Z","granted":["users"],"missing_required":[],"missing_optional":[],"message":"ok"}"#.into();
    assert!(good
        .accept_credential(&cred, &audit("drop.submit"))
        .await
        .unwrap());
    let open = |_: &str, _: &str, _: &str, _: &cipher::Envelope| {
        Ok::<_, keydrop::store::OpenFailure<()>>(())
    };
    let first = good
        .claim(
            300_000,
            "lease-1",
            &keydrop::domain::event::Origin::system(),
            open,
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // The lease runs out five minutes from the database's now.
    let real_now = keydrop::clock::to_millis(keydrop::clock::SystemClock.now());
    assert!((first.2.expires_at - real_now - 300_000).abs() < 5_000);
    // The process an hour ahead sees the lease as live.
    let second = ahead
        .claim(
            300_000,
            "lease-2",
            &keydrop::domain::event::Origin::system(),
            open,
        )
        .await
        .unwrap();
    assert!(second.is_none(), "a live lease was taken over");
    // Its own notion of "now" is the database's, too.
    assert!((ahead.now_ms() - real_now).abs() < 5_000);
    // And its sweeps do not expire the live lease.
    assert_eq!(ahead.expire_leases(100).await.unwrap(), 0);
}

/// Each filtered audit listing is planned on an index, not a scan of the log.
async fn audit_filters_read_an_index(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let entries: Vec<AuditEntry> = (0..200)
        .map(|i| {
            AuditEntry::untyped(
                "test",
                &format!("kind{}.act{}", i % 7, i % 3),
                format!("drop:{i}"),
            )
        })
        .collect();
    let mut tx = store.begin_audited().await.unwrap();
    tx.record_many(&entries).await.unwrap();
    tx.commit().await.unwrap();
    let mut conn = db.raw().await;
    let (explain, backend_kind) = match backend {
        Backend::Sqlite => ("EXPLAIN QUERY PLAN ", keydrop::store::Backend::Sqlite),
        Backend::Postgres => {
            // On a table this small a scan is cheapest; ask what the plan
            // would be when it is not.
            conn.execute("SET enable_seqscan = off").await.unwrap();
            ("EXPLAIN ", keydrop::store::Backend::Postgres)
        }
    };
    let cases = [
        (
            AuditFilter {
                subject: Some("drop:5".into()),
                action: None,
                ..Default::default()
            },
            "audit_events_subject",
        ),
        (
            AuditFilter {
                subject: None,
                action: Some(ActionFilter::parse("kind3.act1")),
                ..Default::default()
            },
            "audit_events_action",
        ),
        (
            AuditFilter {
                subject: None,
                action: Some(ActionFilter::parse("kind3.")),
                ..Default::default()
            },
            "audit_events_action",
        ),
        (
            AuditFilter {
                subject: Some("drop:5".into()),
                action: Some(ActionFilter::parse("kind5.")),
                ..Default::default()
            },
            "audit_events_subject",
        ),
        (
            AuditFilter {
                actor: Some("test".into()),
                ..Default::default()
            },
            "audit_events_actor",
        ),
    ];
    for (filter, index) in cases {
        let (sql, texts) = audit_query(backend_kind, &filter);
        let statement = format!("{explain}{sql}");
        let mut query = sqlx::query(&statement).bind(0_i64);
        for t in texts {
            query = query.bind(t);
        }
        let rows = query.bind(100_i64).fetch_all(&mut conn).await.unwrap();
        let plan: Vec<String> = rows
            .iter()
            .map(|r| {
                use sqlx::Row;
                let col = if backend == Backend::Sqlite { 3 } else { 0 };
                r.try_get::<String, _>(col).unwrap()
            })
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains(index), "{filter:?}: {plan}");
        // The same statement returns what the filter promises.
        let found = store.search_audit(&filter, 0, 500).await.unwrap();
        assert!(!found.is_empty(), "{filter:?}");
        for e in &found {
            assert!(filter.subject.as_ref().is_none_or(|s| *s == e.subject));
            assert!(filter.action.as_ref().is_none_or(|a| a.matches(&e.action)));
            assert!(filter.actor.as_ref().is_none_or(|a| *a == e.actor));
        }
    }
    // By time: [since, until) in Unix ms; nothing before the first or after the last.
    let all = store
        .search_audit(&AuditFilter::default(), 0, 500)
        .await
        .unwrap();
    let (first, last) = (all[0].at, all[all.len() - 1].at);
    let within = AuditFilter {
        since: Some(first),
        until: Some(last + 1),
        ..Default::default()
    };
    assert_eq!(
        store.search_audit(&within, 0, 500).await.unwrap().len(),
        all.len()
    );
    let after_all = AuditFilter {
        since: Some(last + 1),
        ..Default::default()
    };
    assert!(store
        .search_audit(&after_all, 0, 500)
        .await
        .unwrap()
        .is_empty());
    let before_all = AuditFilter {
        until: Some(first),
        ..Default::default()
    };
    assert!(store
        .search_audit(&before_all, 0, 500)
        .await
        .unwrap()
        .is_empty());
}
