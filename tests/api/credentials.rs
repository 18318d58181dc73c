//! `/api/v1/credentials`: roles, claim/lease/ack, secrets, re-checks,
//! destruction and retention.
//!
//! *Over 400 lines:* one feature's tests read best together.

use crate::on_both_backends;
use crate::support::helpers::Fetch;
use crate::support::helpers::{
    assert_no_secret_in, spawn_app_with, AppOptions, Backend, TestApp, GOOD_ID, GOOD_SECRET,
};
use keydrop::sandbox::V3Client;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    every_role_on_every_credential_route,
    claim_lease_ack_and_lapsed_leases,
    retention_destroys_at_the_right_time,
    destroy_on_ack_when_retention_is_zero,
    reverify_changes_the_report_without_the_secret,
    staff_destroy_keeps_metadata_only,
    a_reverify_greenhouse_cannot_answer_keeps_the_status,
    concurrent_secret_reads_are_each_audited_once,
    list_filters_and_pages,
    a_credential_that_fails_to_decrypt_is_set_aside_and_claims_go_on,
    a_process_with_an_old_keyring_fails_claims_without_parking_them,
);

/// A verified credential, submitted through the customer page; returns its id.
pub async fn verified_credential(app: &TestApp) -> String {
    let d = app
        .create_drop(json!({"org": "Initech", "profile": "minimal"}))
        .await;
    let path = TestApp::link_path(d["url"].as_str().unwrap());
    let (status, _) = app
        .submit(
            &path,
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 200);
    let d: Value = app
        .get(
            &format!("/api/v1/drops/{}", d["id"].as_str().unwrap()),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    d["credential_id"].as_str().unwrap().to_owned()
}

async fn claim(app: &TestApp, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.post("/api/v1/credentials/claim", Some(token));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        },
    )
}

async fn ack(app: &TestApp, token: &str, id: &str, lease: &str) -> (u16, Value) {
    let res = app
        .post(&format!("/api/v1/credentials/{id}/ack"), Some(token))
        .json(&json!({"lease_id": lease}))
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn every_role_on_every_credential_route(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let (_, issuer) = app.create_token("issuer", "issuer").await;
    let (_, worker) = app.create_token("worker", "worker").await;
    let (_, auditor) = app.create_token("auditor", "auditor").await;
    for who in ["nobody", "admin", "issuer", "worker", "auditor"] {
        let token = match who {
            "nobody" => None,
            "admin" => Some(app.admin_token.clone()),
            "issuer" => Some(issuer.clone()),
            "auditor" => Some(auditor.clone()),
            _ => Some(worker.clone()),
        };
        let t = token.as_deref();
        // A fresh credential per caller, claimed by the caller when allowed.
        let id = verified_credential(&app).await;
        let may = |roles: &[&str]| roles.contains(&who);
        let expect = |ok: u16, roles: &[&str]| match who {
            "nobody" => 401,
            _ if may(roles) => ok,
            _ => 403,
        };
        let checks: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
            (
                "GET list",
                app.get("/api/v1/credentials", t),
                expect(200, &["admin", "issuer", "worker", "auditor"]),
            ),
            (
                "GET one",
                app.get(&format!("/api/v1/credentials/{id}"), t),
                expect(200, &["admin", "issuer", "worker", "auditor"]),
            ),
            (
                "POST verify",
                app.post(&format!("/api/v1/credentials/{id}/verify"), t),
                expect(200, &["admin", "issuer"]),
            ),
            (
                "GET secret",
                app.get(&format!("/api/v1/credentials/{id}/secret"), t),
                expect(200, &["admin", "worker"]),
            ),
            (
                "POST claim",
                app.post("/api/v1/credentials/claim", t),
                expect(200, &["admin", "worker"]),
            ),
        ];
        let mut lease = String::new();
        for (route, req, expected) in checks {
            let res = req.send().await.unwrap();
            assert_eq!(res.status().as_u16(), expected, "{route} as {who}");
            if route == "POST claim" && expected == 200 {
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["credential"]["id"], id.as_str());
                lease = body["lease"]["id"].as_str().unwrap().to_owned();
            } else if route == "GET secret" && expected == 200 {
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["client_secret"], GOOD_SECRET);
            }
        }
        let lease = if lease.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            lease
        };
        let res = app
            .post(&format!("/api/v1/credentials/{id}/ack"), t)
            .json(&json!({"lease_id": lease}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status().as_u16(),
            expect(200, &["admin", "worker"]),
            "POST ack as {who}"
        );
        let res = app
            .delete(&format!("/api/v1/credentials/{id}"), t)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status().as_u16(),
            expect(200, &["admin"]),
            "DELETE as {who}"
        );
        if who != "admin" {
            // Leave nothing claimable behind for the next caller.
            app.delete(&format!("/api/v1/credentials/{id}"), Some(&app.admin_token))
                .send()
                .await
                .unwrap();
        }
    }
    let audit = app
        .get("/api/v1/audit?limit=500", Some(&app.admin_token))
        .fetch_text()
        .await;
    assert!(!audit.contains(GOOD_SECRET));
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}

async fn claim_lease_ack_and_lapsed_leases(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::with_manual_clock()).await;
    let clock = app.clock.clone().unwrap();
    let (_, w) = app.create_token("w", "worker").await;
    assert_eq!(claim(&app, &w, None).await.0, 204, "nothing to claim yet");
    let id = verified_credential(&app).await;
    for bad in [
        json!({"lease_seconds": 9}),
        json!({"lease_seconds": 3601}),
        json!({"lease": 60}),
    ] {
        assert_eq!(claim(&app, &w, Some(bad.clone())).await.0, 422, "{bad}");
    }
    let (status, first) = claim(&app, &w, Some(json!({"lease_seconds": 60}))).await;
    assert_eq!(status, 200);
    assert_eq!(first["credential"]["id"], id.as_str());
    assert_eq!(first["credential"]["delivery"], "leased");
    assert_eq!(
        first["secret"],
        json!({"kind": "harvest_v3", "client_id": GOOD_ID, "client_secret": GOOD_SECRET, "user_id": null})
    );
    assert_eq!(first["lease"]["expires_at"], "2026-11-23T09:01:00Z");
    let lease1 = first["lease"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        claim(&app, &w, None).await.0,
        204,
        "one live lease per credential"
    );
    // The lease runs out: the credential is claimable again, with a new lease.
    clock.advance(Duration::from_secs(61));
    let (status, second) = claim(&app, &w, None).await;
    assert_eq!(status, 200);
    assert_eq!(second["credential"]["id"], id.as_str());
    let lease2 = second["lease"]["id"].as_str().unwrap().to_owned();
    assert_ne!(lease1, lease2);
    assert_eq!(
        ack(&app, &w, &id, &lease1).await.0,
        409,
        "the old lease is dead"
    );
    assert_eq!(ack(&app, &w, &id, "not-a-lease").await.0, 422);
    assert_eq!(ack(&app, &w, &id, "\u{0}").await.0, 422);
    assert_eq!(
        ack(&app, &w, &id, &uuid::Uuid::new_v4().to_string())
            .await
            .0,
        409
    );
    assert_eq!(
        ack(&app, &w, &uuid::Uuid::new_v4().to_string(), &lease2)
            .await
            .0,
        404
    );
    let (status, acked) = ack(&app, &w, &id, &lease2).await;
    assert_eq!(status, 200);
    assert_eq!(acked["delivery"], "delivered");
    assert_eq!(acked["delivered_at"], "2026-11-23T09:01:01Z");
    // Acking again with the lease that delivered it: the same answer, and
    // nothing happens twice.
    let (status, again) = ack(&app, &w, &id, &lease2).await;
    assert_eq!(status, 200, "a repeated ack is idempotent");
    assert_eq!(again, acked);
    assert_eq!(
        ack(&app, &w, &id, &lease1).await.0,
        409,
        "not with another lease"
    );
    assert_eq!(claim(&app, &w, None).await.0, 204, "no double delivery");
    let audit = app
        .get(
            &format!("/api/v1/audit?subject=credential:{id}&action=credential.ack"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(audit["events"].as_array().unwrap().len(), 1, "{audit}");
    // A lease that lapses is also swept back to waiting by the background job.
    let id2 = verified_credential(&app).await;
    let (_, c) = claim(&app, &w, Some(json!({"lease_seconds": 10}))).await;
    assert_eq!(c["credential"]["id"], id2.as_str());
    clock.advance(Duration::from_secs(11));
    assert_eq!(keydrop::jobs::run_once(&app.state).await.expired_leases, 1);
    let meta: Value = app
        .get(&format!("/api/v1/credentials/{id2}"), Some(&w))
        .fetch_json()
        .await;
    assert_eq!(meta["delivery"], "waiting");
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}

async fn retention_destroys_at_the_right_time(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::with_manual_clock()).await;
    let clock = app.clock.clone().unwrap();
    let id = verified_credential(&app).await;
    let (_, c) = claim(&app, &app.admin_token, None).await;
    let lease = c["lease"]["id"].as_str().unwrap().to_owned();
    assert_eq!(ack(&app, &app.admin_token, &id, &lease).await.0, 200);
    let secret_status = |app: &TestApp| {
        let req = app.get(
            &format!("/api/v1/credentials/{id}/secret"),
            Some(&app.admin_token),
        );
        async move { req.fetch_status().await }
    };
    assert_eq!(
        secret_status(&app).await,
        200,
        "kept after delivery for now"
    );
    clock.advance(Duration::from_secs(7 * 86_400 - 1));
    assert_eq!(keydrop::jobs::run_once(&app.state).await.destroyed, 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(keydrop::jobs::run_once(&app.state).await.destroyed, 1);
    assert_eq!(secret_status(&app).await, 410);
    let meta: Value = app
        .get(&format!("/api/v1/credentials/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await;
    assert_eq!(meta["delivery"], "destroyed");
    assert_eq!(meta["destroyed_at"], "2026-11-30T09:00:00Z");
    assert_raw_row_destroyed(&app, &id).await;
}

async fn assert_raw_row_destroyed(app: &TestApp, id: &str) {
    use sqlx::Row;
    let mut raw = app.db.raw().await;
    let row = sqlx::query(
        "SELECT key_version, wrapped_key, ciphertext, hint, org FROM credentials WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut raw)
    .await
    .unwrap();
    assert_eq!(row.try_get::<Option<i64>, _>("key_version").unwrap(), None);
    assert_eq!(
        row.try_get::<Option<Vec<u8>>, _>("wrapped_key").unwrap(),
        None
    );
    assert_eq!(
        row.try_get::<Option<Vec<u8>>, _>("ciphertext").unwrap(),
        None
    );
    assert_eq!(
        row.try_get::<String, _>("hint").unwrap(),
        "4471",
        "metadata stays"
    );
}

async fn destroy_on_ack_when_retention_is_zero(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            retain: Some(Duration::ZERO),
            ..Default::default()
        },
    )
    .await;
    let id = verified_credential(&app).await;
    let (_, c) = claim(&app, &app.admin_token, None).await;
    let (status, acked) = ack(
        &app,
        &app.admin_token,
        &id,
        c["lease"]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(acked["delivery"], "destroyed");
    assert!(acked["delivered_at"].is_string());
    let res = app
        .get(
            &format!("/api/v1/credentials/{id}/secret"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    assert_raw_row_destroyed(&app, &id).await;
}

async fn reverify_changes_the_report_without_the_secret(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let id = verified_credential(&app).await;
    let (_, issuer) = app.create_token("issuer", "issuer").await;
    // The customer removes the scope in Greenhouse.
    app.fake
        .as_ref()
        .unwrap()
        .add_v3_client(V3Client::new(GOOD_ID, GOOD_SECRET).with_resources(["jobs"]));
    let res = app
        .post(&format!("/api/v1/credentials/{id}/verify"), Some(&issuer))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(!text.contains(GOOD_SECRET));
    let meta: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(meta["status"], "insufficient");
    assert_eq!(meta["verification"]["outcome"], "insufficient");
    assert_eq!(
        meta["verification"]["missing_required"],
        json!(["harvest:users:list"])
    );
    // Refused by Greenhouse: like a refused background re-check (one rule,
    // `store::lifecycle`), the ciphertext is destroyed at once; metadata stays.
    assert_eq!(meta["delivery"], "destroyed");
    assert_raw_row_destroyed(&app, &id).await;
    assert_eq!(claim(&app, &app.admin_token, None).await.0, 204);
    let res = app
        .get(
            &format!("/api/v1/credentials/{id}/secret"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    let audit = app
        .get(
            &format!("/api/v1/audit?subject=credential:{id}&action=credential."),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    let actions: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["credential.verify", "credential.destroy"],
        "{audit}"
    );
    assert_eq!(audit["events"][1]["details"]["reason"], "refused");
    // Checking it again is pointless: 410.
    let res = app
        .post(&format!("/api/v1/credentials/{id}/verify"), Some(&issuer))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
}

async fn staff_destroy_keeps_metadata_only(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let id = verified_credential(&app).await;
    let res = app
        .delete(&format!("/api/v1/credentials/{id}"), Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let meta: Value = res.json().await.unwrap();
    assert_eq!(meta["delivery"], "destroyed");
    assert_raw_row_destroyed(&app, &id).await;
    let again = app
        .delete(&format!("/api/v1/credentials/{id}"), Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "destroying twice is harmless");
    let res = app
        .get(
            &format!("/api/v1/credentials/{id}/secret"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    assert_eq!(
        app.post(
            &format!("/api/v1/credentials/{id}/verify"),
            Some(&app.admin_token)
        )
        .fetch_status()
        .await,
        410
    );
    assert_eq!(claim(&app, &app.admin_token, None).await.0, 204);
    assert_eq!(
        app.delete(
            &format!("/api/v1/credentials/{}", uuid::Uuid::new_v4()),
            Some(&app.admin_token)
        )
        .fetch_status()
        .await,
        404
    );
    app.store.close().await;
    assert_no_secret_in(
        &app.db.raw_dump().await,
        &[GOOD_SECRET.to_owned()],
        "the database",
    );
}

async fn list_filters_and_pages(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(verified_credential(&app).await);
    }
    let (_, c) = claim(&app, &app.admin_token, None).await;
    let leased = c["credential"]["id"].as_str().unwrap().to_owned();
    let get = |q: &str| {
        let req = app.get(&format!("/api/v1/credentials{q}"), Some(&app.admin_token));
        async move { req.fetch_json().await }
    };
    let page = get("?delivery=leased").await;
    assert_eq!(page["credentials"].as_array().unwrap().len(), 1);
    assert_eq!(page["credentials"][0]["id"], leased.as_str());
    assert_eq!(
        get("?status=verified&delivery=waiting").await["credentials"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let first = get("?limit=2").await;
    assert_eq!(first["credentials"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap();
    let rest = get(&format!("?limit=2&after={next}")).await;
    assert_eq!(rest["credentials"].as_array().unwrap().len(), 1);
    assert!(rest["next"].is_null());
    let text = app
        .get("/api/v1/credentials", Some(&app.admin_token))
        .fetch_text()
        .await;
    assert!(!text.contains(GOOD_SECRET) && !text.contains("ciphertext"));
    for bad in ["?status=nope", "?delivery=nope", "?after=x", "?limit=0"] {
        let res = app
            .get(&format!("/api/v1/credentials{bad}"), Some(&app.admin_token))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{bad}");
    }
}

/// A staff re-check that meets a Greenhouse outage records its report ("pending") but never
/// demotes a verified credential: workers keep claiming it (and a `vend` credential's
/// workers keep getting tokens). A pending credential stays pending and keeps its
/// background re-check.
async fn a_reverify_greenhouse_cannot_answer_keeps_the_status(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::with_manual_clock()).await;
    let clock = app.clock.clone().unwrap();
    let id = verified_credential(&app).await;
    let fake = app.fake.as_ref().unwrap();
    fake.set_outage(true);
    let meta: Value = app
        .post(
            &format!("/api/v1/credentials/{id}/verify"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(meta["status"], "verified", "{meta}");
    assert_eq!(meta["verification"]["outcome"], "pending", "{meta}");
    let audit: Value = app
        .get(
            &format!("/api/v1/audit?subject=credential:{id}&action=credential.verify"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(
        audit["events"][0]["details"]["outcome"], "pending",
        "{audit}"
    );
    assert_eq!(claim(&app, &app.admin_token, None).await.0, 200);
    clock.advance(Duration::from_secs(31));
    assert_eq!(
        keydrop::jobs::run_once(&app.state).await.rechecked,
        0,
        "a verified credential needs no background re-check"
    );

    // A credential accepted while Greenhouse was down stays pending, re-checked later.
    let d = app
        .create_drop(json!({"org": "Pending", "profile": "minimal"}))
        .await;
    let path = TestApp::link_path(d["url"].as_str().unwrap());
    let (status, _) = app
        .submit(
            &path,
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 202);
    let d: Value = app
        .get(
            &format!("/api/v1/drops/{}", d["id"].as_str().unwrap()),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    let pending = d["credential_id"].as_str().unwrap().to_owned();
    let meta: Value = app
        .post(
            &format!("/api/v1/credentials/{pending}/verify"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(meta["status"], "pending", "{meta}");
    fake.set_outage(false);
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        keydrop::jobs::run_once(&app.state).await.rechecked,
        1,
        "not stranded"
    );
}

async fn concurrent_secret_reads_are_each_audited_once(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app_with(backend, AppOptions::default()).await);
    let ids = [
        verified_credential(&app).await,
        verified_credential(&app).await,
        verified_credential(&app).await,
    ];
    app.delete(
        &format!("/api/v1/credentials/{}", ids[2]),
        Some(&app.admin_token),
    )
    .send()
    .await
    .unwrap();
    let before = app.store.list_audit(0, 10_000).await.unwrap().len();
    let mut tasks = Vec::new();
    for i in 0..48 {
        let app = app.clone();
        let id = ids[i % 3].clone();
        tasks.push(tokio::spawn(async move {
            let res = app
                .get(
                    &format!("/api/v1/credentials/{id}/secret"),
                    Some(&app.admin_token),
                )
                .send()
                .await
                .unwrap();
            (i % 3, res.status().as_u16(), res.text().await.unwrap())
        }));
    }
    for t in tasks {
        let (which, status, body) = t.await.unwrap();
        if which == 2 {
            assert_eq!(status, 410);
        } else {
            assert_eq!(status, 200);
            let secret: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(secret["client_secret"], GOOD_SECRET);
        }
    }
    let events = app.store.list_audit(0, 10_000).await.unwrap();
    let reads: Vec<_> = events[before..]
        .iter()
        .filter(|e| e.action == "credential.secret_read")
        .collect();
    assert_eq!(
        reads.len(),
        32,
        "one event per released secret, none for the destroyed one"
    );
    for id in &ids[..2] {
        assert_eq!(
            reads
                .iter()
                .filter(|e| e.subject == format!("credential:{id}"))
                .count(),
            16
        );
    }
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}

async fn a_credential_that_fails_to_decrypt_is_set_aside_and_claims_go_on(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let (_, w) = app.create_token("w", "worker").await;
    let bad = verified_credential(&app).await;
    let second = verified_credential(&app).await;
    let third = verified_credential(&app).await;
    // The oldest row gets another row's sealed secret: its binding fails.
    let mut raw = app.db.raw().await;
    sqlx::query(
        "UPDATE credentials SET wrapped_key = (SELECT wrapped_key FROM credentials WHERE id = $1), \
         ciphertext = (SELECT ciphertext FROM credentials WHERE id = $1) WHERE id = $2",
    )
    .bind(&third)
    .bind(&bad)
    .execute(&mut raw)
    .await
    .unwrap();
    let (status, body) = claim(&app, &w, None).await;
    assert_eq!(status, 500, "fails closed: {body}");
    assert!(!body.to_string().contains(GOOD_SECRET));
    // Set aside: the others are delivered, each once, and then nothing.
    for want in [&second, &third] {
        let (status, got) = claim(&app, &w, None).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["credential"]["id"], want.as_str());
        let lease = got["lease"]["id"].as_str().unwrap();
        assert_eq!(ack(&app, &w, want, lease).await.0, 200);
    }
    assert_eq!(claim(&app, &w, None).await.0, 204);
    let audit = app
        .get("/api/v1/audit?limit=500", Some(&app.admin_token))
        .fetch_json()
        .await;
    let failed: Vec<&Value> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "credential.decrypt_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{audit}");
    assert_eq!(failed[0]["subject"], format!("credential:{bad}"));
    // A data fault, not a keyring fault: this process stays ready.
    assert_eq!(app.get("/readyz", None).fetch_status().await, 200);
}

/// A process started before a key rotation meets data sealed under the new
/// version: its claims fail with 503 and it reports itself unready, but it
/// leaves the row for the processes that can open it.
async fn a_process_with_an_old_keyring_fails_claims_without_parking_them(backend: Backend) {
    let old = spawn_app_with(backend, AppOptions::default()).await;
    let (_, w) = old.create_token("w", "worker").await;
    let settings = old.db.store_settings();
    let mut ring = keydrop::crypto::keyring::Keyring::read(&settings.keyring_file).unwrap();
    assert_eq!(ring.rotate(&settings.keyring_file).unwrap(), 2);
    // A second process with the rotated keyring, on the same database.
    let mut serve = crate::support::helpers::serve_settings();
    let fake = old.fake.as_ref().unwrap().base_url().to_owned();
    serve.greenhouse_auth_url = fake.clone();
    serve.greenhouse_api_url = fake;
    let new = keydrop::startup::Application::build(
        &settings,
        serve,
        std::sync::Arc::new(keydrop::clock::SystemClock),
    )
    .await
    .unwrap();
    let new_url = format!("http://127.0.0.1:{}", new.port());
    tokio::spawn(new.run_until_stopped());
    // The customer's submission lands on the new process: sealed under v2.
    let d = old
        .create_drop(json!({"org": "Initech", "profile": "minimal"}))
        .await;
    let path = TestApp::link_path(d["url"].as_str().unwrap());
    let page = old
        .http
        .get(format!("{new_url}{path}"))
        .send()
        .await
        .unwrap();
    let csrf = crate::support::helpers::csrf_from(&page.text().await.unwrap()).unwrap();
    let res = old
        .http
        .post(format!("{new_url}{path}"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("client_id", GOOD_ID),
            ("client_secret", GOOD_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The old process cannot open it: 503 with Retry-After, and unready.
    let res = old
        .post("/api/v1/credentials/claim", Some(&w))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let res = old.get("/readyz", None).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("[2]"));
    // Nothing was set aside: the new process claims it at once.
    let res = old
        .http
        .post(format!("{new_url}/api/v1/credentials/claim"))
        .bearer_auth(&w)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let got: Value = res.json().await.unwrap();
    assert_eq!(got["secret"]["client_secret"], GOOD_SECRET);
    let audit = old
        .get("/api/v1/audit?limit=500", Some(&old.admin_token))
        .fetch_text()
        .await;
    assert!(!audit.contains("credential.decrypt_failed"), "{audit}");
}
