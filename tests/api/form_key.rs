//! The form-token (CSRF) key: its root is a dedicated random secret stored
//! sealed in the database, never a master key; every process shares it and
//! a key rotation leaves it alone, so open forms survive a rotation.

use crate::on_both_backends;
use crate::support::helpers::{
    csrf_from, serve_settings, spawn_app_with, AppOptions, Backend, TestApp,
};
use crate::support::helpers::{GOOD_ID, GOOD_SECRET};
use base64::Engine as _;
use keydrop::crypto::cipher;
use keydrop::crypto::keyring::Keyring;
use keydrop::service::secrets::{self, FORM_KEY};
use keydrop::web::csrf::CsrfKey;
use serde_json::json;
use std::sync::Arc;

on_both_backends!(a_form_issued_before_a_key_rotation_and_restart_still_validates);

/// Every master key in a keyring file, as raw bytes.
fn master_keys(path: &std::path::Path) -> Vec<Vec<u8>> {
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            base64::engine::general_purpose::STANDARD
                .decode(k["key"].as_str().unwrap())
                .unwrap()
        })
        .collect()
}

async fn a_form_issued_before_a_key_rotation_and_restart_still_validates(backend: Backend) {
    let old = spawn_app_with(backend, AppOptions::default()).await;
    let d = old
        .create_drop(json!({"org": "Initech", "profile": "minimal"}))
        .await;
    let drop_id = d["id"].as_str().unwrap();
    let path = TestApp::link_path(d["url"].as_str().unwrap());
    let (_, html) = old.page(&path).await;
    let csrf = csrf_from(&html).unwrap();
    let issued_ms: i64 = csrf.split('.').next().unwrap().parse().unwrap();

    // The token is signed under the stored form secret, which is none of the
    // master keys.
    let settings = old.db.store_settings();
    let mut ring = Keyring::read(&settings.keyring_file).unwrap();
    let sealed = old.store.service_secret(FORM_KEY).await.unwrap().unwrap();
    assert_eq!(sealed.key_version, 1);
    let root = cipher::open_service_secret(&ring, FORM_KEY, &sealed).unwrap();
    assert!(CsrfKey::from_root(&root).verify(drop_id, &csrf, issued_ms));
    let keys = master_keys(&settings.keyring_file);
    assert!(!keys.is_empty());
    assert!(keys.iter().all(|k| k.as_slice() != root.as_slice()));

    // `keys rotate`, then a restart with the new keyring (a second process
    // on the same database, the first one still running).
    assert_eq!(ring.rotate(&settings.keyring_file).unwrap(), 2);
    let mut serve = serve_settings();
    let fake = old.fake.as_ref().unwrap().base_url().to_owned();
    serve.greenhouse_auth_url = fake.clone();
    serve.greenhouse_api_url = fake;
    let new = keydrop::startup::Application::build(
        &settings,
        serve,
        Arc::new(keydrop::clock::SystemClock),
    )
    .await
    .unwrap();
    let new_url = format!("http://127.0.0.1:{}", new.port());
    tokio::spawn(new.run_until_stopped());
    assert!(master_keys(&settings.keyring_file)
        .iter()
        .all(|k| k.as_slice() != root.as_slice()));

    // `keys rewrap` moves the form secret (and the token-tag key) to version
    // 2 without changing them.
    assert_eq!(secrets::reseal_all(&old.store, &ring).await.unwrap(), 3);
    let moved = old.store.service_secret(FORM_KEY).await.unwrap().unwrap();
    assert_eq!(moved.key_version, 2);
    assert_eq!(
        cipher::open_service_secret(&ring, FORM_KEY, &moved).unwrap(),
        root
    );
    assert_eq!(secrets::reseal_all(&old.store, &ring).await.unwrap(), 0);

    // The form from before the rotation is accepted by the new process.
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
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert!(old.store.verify_audit().await.unwrap().is_ok());
}
