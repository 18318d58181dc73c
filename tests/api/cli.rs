//! The `keydrop` binary itself: commands, exit codes, one-line errors.
//!
//! *Over 400 lines:* every CLI command's tests, run against the real binary, read best together.

use crate::on_both_backends;
use crate::support::helpers::Fetch;
use crate::support::helpers::{
    assert_no_secret_in, captured_logs, numbered_secret, seed_verified, Backend, Seed, TestDb,
};
use base64::Engine as _;
use keydrop::crypto::keyring::Keyring;
use sqlx::Executor;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

on_both_backends!(
    token_commands_work_on_a_brand_new_database,
    webhook_commands_add_list_remove,
    audit_verify_names_the_first_tampered_seq,
    audit_verify_catches_a_rewrite_with_recomputed_hashes,
    serve_refuses_a_wrong_master_key,
    serve_writes_the_admin_token_to_a_private_file_not_the_log,
    a_failed_start_creates_no_admin_token,
    keys_init_rotate_rewrap_status,
    the_key_rotation_runbook_ends_with_every_instance_ready,
    webhook_deliveries_never_go_through_an_http_proxy,
    drop_create_prints_the_link_once_and_list_shows_it,
    rewrap_skips_and_names_a_row_it_cannot_decrypt,
    drop_create_takes_a_contact_and_an_external_id,
    drop_show_prints_the_fields_but_never_the_link,
    drop_revoke_is_audited_and_refuses_a_drop_that_is_not_open,
    drop_create_links_lead_to_the_service_that_runs,
    drop_show_names_the_greenhouse_account_and_warns_of_another,
    audit_export_streams_ndjson_and_formula_safe_csv,
    console_link_prints_a_single_use_sign_in_link,
    credential_relink_prints_a_new_link_once,
);

fn keydrop(db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keydrop"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KEYDROP_DATA_DIR", db.data_dir())
        .env("KEYDROP_DATABASE_URL", &db.url)
        .env("KEYDROP_LOG", "warn");
    cmd
}

fn run(db: &TestDb, args: &[&str]) -> Output {
    keydrop(db, args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn token_commands_work_on_a_brand_new_database(backend: Backend) {
    let db = TestDb::new(backend).await;
    let out = run(
        &db,
        &["token", "create", "--name", "ingest", "--role", "worker"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    crate::support::helpers::remember_secret(&token);
    assert!(token.starts_with("kd_") && token.len() == 89, "{token}");

    let list = run(&db, &["token", "list"]);
    assert!(list.status.success());
    let listed = text(&list.stdout);
    assert!(listed.contains("ingest") && listed.contains("worker"));
    assert!(!listed.contains(&token));
    let id = listed
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let bad = run(&db, &["token", "create", "--name", "x", "--role", "root"]);
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("root"));

    let revoke = run(&db, &["token", "revoke", &id]);
    assert!(revoke.status.success(), "{}", text(&revoke.stderr));
    let missing = run(&db, &["token", "revoke", &uuid::Uuid::new_v4().to_string()]);
    assert!(!missing.status.success());
    let err = text(&missing.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one-line reason: {err}");
    assert!(err.starts_with("keydrop: error: no token with id"));

    let store = db.store().await;
    assert!(store
        .token(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    // The key check, the token-tag and audit keys (first use), the token, its revocation.
    assert_eq!(db.verify_audit().await, Ok(5));
    assert_no_secret_in(&db.raw_dump().await, &[token], "the database");
}

async fn audit_verify_names_the_first_tampered_seq(backend: Backend) {
    let db = TestDb::new(backend).await;
    for name in ["a", "b", "c"] {
        assert!(run(
            &db,
            &["token", "create", "--name", name, "--role", "issuer"]
        )
        .status
        .success());
    }
    let ok = run(&db, &["audit", "verify"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    // The key check, the token-tag and audit keys (first use), then a, b and c.
    let shown = text(&ok.stdout);
    assert!(
        shown.contains("6 events") && shown.contains("MACs"),
        "{shown}"
    );

    let mut raw = db.raw().await;
    raw.execute(r#"UPDATE audit_events SET details = '{"name":"b","role":"admin"}' WHERE seq = 5"#)
        .await
        .unwrap();
    let bad = run(&db, &["audit", "verify"]);
    assert!(!bad.status.success());
    let err = text(&bad.stderr);
    assert!(err.contains("seq 5"), "{err}");
    assert_eq!(err.trim().lines().count(), 1);
}

/// Someone who can write the database but has no keyring rewrites an event and recomputes
/// every hash after it, and the head: the public hash chain is whole again, but the MACs
/// under the audit key are not — `audit verify` names the rewritten event. And checking
/// needs the keyring.
async fn audit_verify_catches_a_rewrite_with_recomputed_hashes(backend: Backend) {
    let db = TestDb::new(backend).await;
    for name in ["a", "b", "c"] {
        assert!(run(
            &db,
            &["token", "create", "--name", name, "--role", "issuer"]
        )
        .status
        .success());
    }
    let store = db.store().await;
    let events = store.list_audit(0, 100).await.unwrap();
    assert_eq!(events.len(), 6);
    let mut raw = db.raw().await;
    let mut prev = events[3].hash.clone();
    for e in &events[4..] {
        let mut e = e.clone();
        if e.seq == 5 {
            e.details = serde_json::json!({"name": "b", "role": "admin"});
            sqlx::query("UPDATE audit_events SET details = $1 WHERE seq = 5")
                .bind(e.details.to_string())
                .execute(&mut raw)
                .await
                .unwrap();
        }
        prev = keydrop::domain::audit::event_hash(&prev, &e);
        sqlx::query("UPDATE audit_events SET hash = $1 WHERE seq = $2")
            .bind(&prev)
            .bind(e.seq)
            .execute(&mut raw)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&prev)
        .execute(&mut raw)
        .await
        .unwrap();
    // The hashes alone fit again…
    let rewritten = store.list_audit(0, 100).await.unwrap();
    let mut check = keydrop::domain::audit::GENESIS_HASH.to_owned();
    for e in &rewritten {
        check = keydrop::domain::audit::event_hash(&check, e);
        assert_eq!(check, e.hash);
    }
    // …the MACs do not.
    let bad = run(&db, &["audit", "verify"]);
    assert!(!bad.status.success());
    let err = text(&bad.stderr);
    assert!(err.contains("seq 5") && err.contains("MAC"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Without the keyring there is nothing to check the MACs with.
    let without = keydrop(&db, &["audit", "verify"])
        .env("KEYDROP_KEYRING_FILE", db.dir.path().join("missing.json"))
        .output()
        .unwrap();
    assert!(!without.status.success());
    assert!(
        text(&without.stderr).contains("keys init"),
        "{}",
        text(&without.stderr)
    );
}

async fn serve_refuses_a_wrong_master_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let key_a = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
    let key_b = base64::engine::general_purpose::STANDARD.encode([2u8; 32]);
    // Any command that checks the keyring records its check value.
    let first = keydrop(&db, &["keys", "rewrap"])
        .env("KEYDROP_MASTER_KEY", &key_a)
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", text(&first.stderr));
    let out = keydrop(&db, &["serve", "--bind", "127.0.0.1:0"])
        .env("KEYDROP_MASTER_KEY", &key_b)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    let last = err.trim().lines().last().unwrap();
    assert!(
        last.starts_with("keydrop: error:") && last.contains("does not match"),
        "{err}"
    );
    assert!(!err.contains(&key_b) && !err.contains(&key_a));
    let bad_key = keydrop(&db, &["serve"])
        .env("KEYDROP_MASTER_KEY", "c2hvcnQ=")
        .output()
        .unwrap();
    assert!(!bad_key.status.success());
    assert!(text(&bad_key.stderr).contains("exactly 32"));
}

/// Start `serve` with stdout and stderr piped (as in a container: not a
/// terminal), wait until it listens, and return its port, what it printed
/// and the running child.
fn serve_until_listening(db: &TestDb) -> (u16, String, std::process::Child) {
    serve_until_listening_with(db, &[])
}

/// [`serve_until_listening`] with more environment variables.
fn serve_until_listening_with(
    db: &TestDb,
    env: &[(&str, &str)],
) -> (u16, String, std::process::Child) {
    let mut child = keydrop(db, &["serve", "--bind", "127.0.0.1:0"])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    let mut port = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("is listening on 127.0.0.1:").nth(1) {
            port = rest.split_whitespace().next().unwrap().parse().unwrap();
            lines.push(line);
            break;
        }
        lines.push(line);
    }
    assert_ne!(port, 0, "serve never listened: {lines:?}");
    (port, lines.join("\n"), child)
}

/// Stop a child and return what it wrote to stderr.
fn stop(mut child: std::process::Child) -> String {
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    text(&out.stderr)
}

async fn serve_writes_the_admin_token_to_a_private_file_not_the_log(backend: Backend) {
    let db = TestDb::new(backend).await;
    let file = db.data_dir().join("bootstrap-admin-token");
    let (port, stdout, child) = serve_until_listening(&db);
    let token = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no token file ({e}); stdout: {stdout}"))
        .trim()
        .to_owned();
    crate::support::helpers::remember_secret(&token);
    assert!(token.starts_with("kd_"), "the file holds a token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the token file is private");
    }
    // The token works.
    let status = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/tokens"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let stderr = stop(child);
    // Only the path is logged; the token is on neither stream.
    assert_no_secret_in(stdout.as_bytes(), std::slice::from_ref(&token), "stdout");
    assert_no_secret_in(stderr.as_bytes(), std::slice::from_ref(&token), "stderr");
    assert!(stderr.contains("bootstrap-admin-token"), "{stderr}");
    assert!(!stdout.contains("kd_"), "{stdout}");
    // A second start creates no other token and leaves the file alone.
    std::fs::remove_file(&file).unwrap();
    let (_, second, child) = serve_until_listening(&db);
    let stderr = stop(child);
    assert!(!second.contains("kd_"), "{second}");
    assert!(!stderr.contains("kd_"), "{stderr}");
    assert!(!file.exists(), "no token on a second start");
    assert_no_secret_in(captured_logs().as_bytes(), &[token], "the logs");
}

async fn a_failed_start_creates_no_admin_token(backend: Backend) {
    let db = TestDb::new(backend).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = keydrop(&db, &["serve", "--bind", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot listen"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stdout).contains("kd_") && !text(&out.stderr).contains("kd_"));
    assert!(!db.data_dir().join("bootstrap-admin-token").exists());
    let list = run(&db, &["token", "list"]);
    assert!(list.status.success());
    assert_eq!(
        text(&list.stdout).lines().count(),
        1,
        "only the header: {}",
        text(&list.stdout)
    );
    drop(taken);
    // The next start that binds creates it.
    let (_, _, child) = serve_until_listening(&db);
    stop(child);
    assert!(db.data_dir().join("bootstrap-admin-token").exists());
}

async fn keys_init_rotate_rewrap_status(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ring = db.dir.path().join("keys").join("ring.json");
    let ring_s = ring.to_str().unwrap();
    let with_ring = |args: &[&str]| {
        keydrop(&db, args)
            .env("KEYDROP_KEYRING_FILE", ring_s)
            .output()
            .unwrap()
    };
    let init = with_ring(&["keys", "init"]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    assert!(
        !with_ring(&["keys", "init"]).status.success(),
        "init never overwrites keys"
    );
    let rotate = with_ring(&["keys", "rotate"]);
    assert!(rotate.status.success(), "{}", text(&rotate.stderr));
    assert!(text(&rotate.stdout).contains("key version 2 is now active"));
    let rewrap = with_ring(&["keys", "rewrap"]);
    assert!(rewrap.status.success(), "{}", text(&rewrap.stderr));
    let status = with_ring(&["keys", "status"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let shown = text(&status.stdout);
    assert!(shown.contains("active version 2"), "{shown}");
    assert_eq!(shown.matches("matches").count(), 2, "{shown}");
    let file = std::fs::read_to_string(&ring).unwrap();
    let key_in_file = file
        .split('"')
        .find(|s| s.len() == 44 && s.ends_with('='))
        .unwrap()
        .to_owned();
    assert!(!shown.contains(&key_in_file));
    // Rotation is refused with the single environment key.
    let env_rotate = keydrop(&db, &["keys", "rotate"])
        .env(
            "KEYDROP_MASTER_KEY",
            base64::engine::general_purpose::STANDARD.encode([3u8; 32]),
        )
        .output()
        .unwrap();
    assert!(!env_rotate.status.success());
    assert!(text(&env_rotate.stderr).contains("keys init"));
}

/// SPEC §14's last paragraph and README's runbook, to the end: rotate,
/// restart, rewrap, `keys status` shows nothing under the old version, the
/// old version is removed from the keyring — and every instance then
/// starts, answers `/readyz` 200 and opens everything it holds: credentials,
/// the form-token key, and a webhook's current and previous signing secrets
/// (the previous one still signs during its 24 h overlap).
async fn the_key_rotation_runbook_ends_with_every_instance_ready(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ring = db.data_dir().join("keyring.json");
    if !ring.exists() {
        let init = run(&db, &["keys", "init"]);
        assert!(init.status.success(), "{}", text(&init.stderr));
    }
    let receiver = crate::webhooks::Receiver::start().await;
    let env = [("KEYDROP_WEBHOOK_ALLOW_PRIVATE", "true")];
    let http = reqwest::Client::new();

    // Version 1: an instance with a webhook whose secret was rotated (so a
    // previous secret is in its overlap), and credentials.
    let (port, _, child) = serve_until_listening_with(&db, &env);
    let token = std::fs::read_to_string(db.data_dir().join("bootstrap-admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    crate::support::helpers::remember_secret(&token);
    let api = |port: u16, path: &str| format!("http://127.0.0.1:{port}/api/v1{path}");
    let hook: serde_json::Value = http
        .post(api(port, "/webhooks"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "url": receiver.url }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let first_secret = hook["secret"].as_str().unwrap().to_owned();
    let rotated: serde_json::Value = http
        .post(api(port, &format!("/webhooks/{hook_id}/rotate-secret")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second_secret = rotated["secret"].as_str().unwrap().to_owned();
    crate::support::helpers::remember_secret(&first_secret);
    crate::support::helpers::remember_secret(&second_secret);
    stop(child);
    let ids = seed_credentials(&db, &Keyring::read(&ring).unwrap(), 3).await;

    // 1. rotate; 2. restart the instances with the new keyring.
    let rotate = run(&db, &["keys", "rotate"]);
    assert!(rotate.status.success(), "{}", text(&rotate.stderr));
    let (_, _, child) = serve_until_listening_with(&db, &env);
    stop(child);
    // 3. rewrap; 4. status shows nothing under version 1.
    let rewrap = run(&db, &["keys", "rewrap"]);
    assert!(rewrap.status.success(), "{}", text(&rewrap.stderr));
    let shown = text(&run(&db, &["keys", "status"]).stdout);
    let v1 = shown
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap_or_else(|| panic!("{shown}"));
    assert_eq!(
        v1.split_whitespace()
            .rev()
            .skip(1)
            .take(3)
            .collect::<Vec<_>>(),
        ["0", "0", "0"],
        "nothing is sealed under version 1 any more: {shown}"
    );
    assert!(shown.contains("version(s) 1 any more"), "{shown}");

    // Remove version 1 from the keyring file.
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ring).unwrap()).unwrap();
    file["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|k| k["version"] != 1);
    std::fs::write(&ring, serde_json::to_string(&file).unwrap()).unwrap();

    // Every instance starts and is ready, and stays ready while it opens
    // what it holds.
    let (port, _, child) = serve_until_listening_with(&db, &env);
    let ready = |port: u16| {
        let http = http.clone();
        async move {
            let res = http
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (status, body) = ready(port).await;
    assert_eq!(status, 200, "{body}");
    for id in &ids {
        let res = http
            .get(api(port, &format!("/credentials/{id}/secret")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if res.status() != 200 {
            let status = res.status();
            panic!("{id}: {status} {}", stop(child));
        }
    }
    let ping = http
        .post(api(port, &format!("/webhooks/{hook_id}/ping")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(ping.status().is_success(), "{}", ping.status());
    let got = receiver.wait_for(1).await;
    let last = got.last().unwrap();
    assert!(
        crate::webhooks::verifies(&first_secret, last)
            && crate::webhooks::verifies(&second_secret, last),
        "signed with both secrets during the overlap: {last:?}"
    );
    let (status, body) = ready(port).await;
    assert_eq!(status, 200, "{body}");
    let stderr = stop(child);
    assert!(!stderr.contains("lacks master key"), "{stderr}");
    let status = run(&db, &["keys", "status"]);
    assert!(status.status.success(), "{}", text(&status.stdout));
    assert!(db.verify_audit().await.is_ok());
}

/// SPEC §8.10: a proxy in the environment would resolve the webhook's host itself, past the
/// private-address check and the pinned address. keydrop runs here with every proxy
/// variable pointing at a listener that records what reaches it: the delivery goes
/// straight to the receiver, and the "proxy" sees nothing.
async fn webhook_deliveries_never_go_through_an_http_proxy(backend: Backend) {
    let db = TestDb::new(backend).await;
    let receiver = crate::webhooks::Receiver::start().await;
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = reached.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = proxy.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            use tokio::io::AsyncWriteExt;
            let _ = conn
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let env = [
        ("KEYDROP_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("HTTP_PROXY", proxy_url.as_str()),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        ("https_proxy", proxy_url.as_str()),
        ("all_proxy", proxy_url.as_str()),
    ];
    let (port, _, child) = serve_until_listening_with(&db, &env);
    let token = std::fs::read_to_string(db.data_dir().join("bootstrap-admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    crate::support::helpers::remember_secret(&token);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let hook: serde_json::Value = http
        .post(format!("http://127.0.0.1:{port}/api/v1/webhooks"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "url": receiver.url }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    crate::support::helpers::remember_secret(hook["secret"].as_str().unwrap());
    let ping = http
        .post(format!(
            "http://127.0.0.1:{port}/api/v1/webhooks/{}/ping",
            hook["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(ping.status().is_success(), "{}", ping.status());
    let got = receiver.wait_for(1).await;
    assert!(got[0].body.contains("webhook.ping"), "{got:?}");
    stop(child);
    assert_eq!(
        reached.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing went through the proxy"
    );
}

async fn drop_create_prints_the_link_once_and_list_shows_it(backend: Backend) {
    let db = TestDb::new(backend).await;
    let out = keydrop(
        &db,
        &[
            "drop",
            "create",
            "--org",
            "Initech",
            "--profile",
            "minimal",
            "--expires-in",
            "2h",
        ],
    )
    .env("KEYDROP_PUBLIC_URL", "https://keys.example.com")
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let url = text(&out.stdout).trim().to_owned();
    assert!(
        url.starts_with("https://keys.example.com/d/") && url.len() == 27 + 43,
        "{url}"
    );
    crate::support::helpers::remember_secret(crate::support::helpers::link_token(&url));
    let list = run(&db, &["drop", "list"]);
    assert!(list.status.success());
    let listed = text(&list.stdout);
    assert!(
        listed.contains("Initech")
            && listed.contains("open")
            && !listed.contains(crate::support::helpers::link_token(&url))
    );
    // Out of range, said in the flag's own units.
    for (value, says) in [("1m", "at least 5m"), ("40d", "at most 30d")] {
        let bad = run(
            &db,
            &["drop", "create", "--org", "X", "--expires-in", value],
        );
        assert!(!bad.status.success());
        let err = text(&bad.stderr);
        assert!(err.contains("--expires-in") && err.contains(says), "{err}");
    }
    // A state that does not exist: the valid ones are listed.
    let bad = run(&db, &["drop", "list", "--state", "opne"]);
    assert!(!bad.status.success());
    let err = text(&bad.stderr);
    for state in ["open", "submitted", "expired", "revoked", "locked"] {
        assert!(err.contains(state), "{err}");
    }
    let ingestion = run(
        &db,
        &[
            "drop",
            "create",
            "--org",
            "Hooli",
            "--kind",
            "candidate_ingestion",
        ],
    );
    assert!(ingestion.status.success(), "{}", text(&ingestion.stderr));
    crate::support::helpers::remember_secret(crate::support::helpers::link_token(
        text(&ingestion.stdout).trim(),
    ));
    for (kind, profile) in [
        ("candidate_ingestion", "full-analytics"),
        ("harvest_v2", "minimal"),
    ] {
        let bad = run(
            &db,
            &[
                "drop",
                "create",
                "--org",
                "X",
                "--kind",
                kind,
                "--profile",
                profile,
            ],
        );
        assert!(!bad.status.success(), "{kind} {profile}");
    }
    // A retired kind: created, with the reason staff should think twice.
    let v1 = keydrop(
        &db,
        &["drop", "create", "--org", "Hooli", "--kind", "harvest_v1"],
    )
    .env("KEYDROP_PUBLIC_URL", "https://keys.example.com")
    .output()
    .unwrap();
    assert!(v1.status.success(), "{}", text(&v1.stderr));
    crate::support::helpers::remember_secret(crate::support::helpers::link_token(
        text(&v1.stdout).trim(),
    ));
    assert!(
        text(&v1.stderr).contains("keydrop: warning: Greenhouse retired Harvest v1/v2"),
        "{}",
        text(&v1.stderr)
    );
    let help = run(&db, &["drop", "create", "--help"]);
    let help = text(&help.stdout);
    for kind in ["harvest_v3", "candidate_ingestion", "harvest_v1"] {
        assert!(help.contains(kind), "{help}");
    }
    let store = db.store().await;
    let drops = store
        .list_drops(&Default::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(drops.len(), 3);
    assert!(drops
        .iter()
        .any(|d| d.kind.as_str() == "candidate_ingestion" && d.profile.name == "ingestion"));
}

/// `drop create` without `--public-url` prints links that lead to the service running on the
/// database (it announces its public URL when it starts), warns when there is none, and warns
/// when an explicit base differs from the announced one.
async fn drop_create_links_lead_to_the_service_that_runs(backend: Backend) {
    let db = TestDb::new(backend).await;
    // No service yet: the default base, loudly.
    let out = run(&db, &["drop", "create", "--org", "Initech"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let url = text(&out.stdout).trim().to_owned();
    crate::support::helpers::remember_secret(crate::support::helpers::link_token(&url));
    assert!(url.starts_with("http://127.0.0.1:8080/d/"), "{url}");
    assert!(
        text(&out.stderr).contains("warning: no keydrop serve has run on this database"),
        "{}",
        text(&out.stderr)
    );

    // A service on another port announces itself: the CLI's links lead to it, and work.
    let app = crate::support::helpers::spawn_app_with(
        backend,
        crate::support::helpers::AppOptions {
            real_public_url: true,
            ..Default::default()
        },
    )
    .await;
    let out = run(&app.db, &["drop", "create", "--org", "Initech"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let url = text(&out.stdout).trim().to_owned();
    crate::support::helpers::remember_secret(crate::support::helpers::link_token(&url));
    assert!(url.starts_with(&format!("{}/d/", app.address)), "{url}");
    // It leads there — and the service runs on a loopback address, which customers cannot
    // open: said once, with the setting to fix it.
    let err = text(&out.stderr);
    assert!(
        err.contains("a local address customers cannot open") && err.contains("KEYDROP_PUBLIC_URL"),
        "{err}"
    );
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);

    // An explicit base that differs is used, with a warning naming the announced one.
    let out = keydrop(&app.db, &["drop", "create", "--org", "Initech"])
        .env("KEYDROP_PUBLIC_URL", "https://keys.example.com/")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let url = text(&out.stdout).trim().to_owned();
    crate::support::helpers::remember_secret(crate::support::helpers::link_token(&url));
    assert!(url.starts_with("https://keys.example.com/d/"), "{url}");
    let err = text(&out.stderr);
    assert!(
        err.contains("warning") && err.contains(&app.address),
        "{err}"
    );
    // Recorded once, audited once.
    let announced: serde_json::Value = app
        .get(
            "/api/v1/audit?action=service.setting&subject=setting:public_url",
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(
        announced["events"].as_array().unwrap().len(),
        1,
        "{announced}"
    );
    assert_eq!(announced["events"][0]["details"]["value"], app.address);
}

/// `drop show` gives the receipt reference a customer quotes and the Greenhouse account the
/// credential belongs to, with a warning when it is not the drop's organisation.
async fn drop_show_names_the_greenhouse_account_and_warns_of_another(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ring = db.dir.path().join("show-ring.json");
    let with_ring = |args: &[&str]| {
        keydrop(&db, args)
            .env("KEYDROP_KEYRING_FILE", ring.to_str().unwrap())
            .output()
            .unwrap()
    };
    assert!(with_ring(&["keys", "init"]).status.success());
    let store = db.store().await;
    let secret = numbered_secret(1);
    let verification = r#"{"outcome":"verified","checked_at":"2026-11-23T09:00:00Z","granted":[],"missing_required":[],"missing_optional":[],"message":"ok","organization":{"id":"7","name":"Demo Customer Inc."},"organization_mismatch":true}"#;
    let id = seed_verified(
        &store,
        &Keyring::read(&ring).unwrap(),
        Seed {
            org: "Initech".into(),
            kind: "harvest_v3",
            release: keydrop::domain::release::Release::Handoff,
            secret: &secret,
            hint: "c-1".into(),
            verification_json: verification,
            refresh_due_at: None,
        },
    )
    .await;
    let drop_id = store.credential_meta(&id).await.unwrap().unwrap().drop_id;
    let out = with_ring(&["drop", "show", &drop_id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let reference: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_ascii_uppercase();
    assert!(
        shown.contains(&format!("reference          {reference}")),
        "{shown}"
    );
    assert!(
        shown.contains("greenhouse_org     Demo Customer Inc. (WARNING: not Initech"),
        "{shown}"
    );
    // The reference a customer quotes finds the same drop, in any case.
    let by_reference = with_ring(&["drop", "show", "--reference", &reference.to_lowercase()]);
    assert!(
        by_reference.status.success(),
        "{}",
        text(&by_reference.stderr)
    );
    assert_eq!(text(&by_reference.stdout), shown);
    let none = with_ring(&["drop", "show", "--reference", "00000000"]);
    assert!(text(&none.stderr).contains("no credential with reference 00000000"));
    // The list shows each drop's credential status and reference, in aligned columns.
    let listed = text(&with_ring(&["drop", "list"]).stdout);
    let header = listed.lines().next().unwrap();
    let row = listed.lines().nth(1).unwrap();
    assert!(
        row.contains("verified") && row.contains(&reference),
        "{listed}"
    );
    assert_eq!(header.find("reference"), row.find(&reference), "{listed}");
}

/// `audit export` writes every event (or those a filter passes) to stdout: NDJSON exactly
/// as the API shows events, or CSV whose cells a spreadsheet cannot run.
async fn audit_export_streams_ndjson_and_formula_safe_csv(backend: Backend) {
    let db = TestDb::new(backend).await;
    let token = run(
        &db,
        &["token", "create", "--name", "ops", "--role", "auditor"],
    );
    assert!(token.status.success(), "{}", text(&token.stderr));
    crate::support::helpers::remember_secret(text(&token.stdout).trim());
    let store = db.store().await;
    let hostile = "=HYPERLINK(\"http://evil.example\",\"x\")";
    let entries: Vec<keydrop::domain::audit::AuditEntry> = (0..2500)
        .map(|i| {
            keydrop::domain::audit::AuditEntry::untyped(
                "test",
                "test.event",
                if i == 7 {
                    hostile.to_owned()
                } else {
                    format!("drop:{i}")
                },
            )
        })
        .collect();
    let mut tx = store.begin_audited().await.unwrap();
    tx.record_many(&entries).await.unwrap();
    tx.commit().await.unwrap();
    let total = store.list_audit(0, 10_000).await.unwrap().len();
    assert!(total > 2500);

    // NDJSON: one event per line, every one, in seq order, across pages.
    let out = run(&db, &["audit", "export"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), total);
    assert!(lines
        .windows(2)
        .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64()));
    assert!(lines[0]["hash"].is_string() && lines[0].get("mac").is_none());
    assert!(text(&out.stderr).contains(&format!("exported {total} audit events")));

    // CSV: a header, one row per event, the formula defused.
    let out = run(
        &db,
        &["audit", "export", "--format", "csv", "--actor", "test"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    assert!(
        csv.starts_with("seq,at,actor,action,subject,ip,details,hash\r\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 2500 + 1);
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""),
        "the formula is quoted and prefixed"
    );
    assert!(!csv.contains(",=HYPERLINK"));

    // Time filters, and a clear one-line error for a time that is not one.
    let out = run(&db, &["audit", "export", "--since", "2999-01-01T00:00:00Z"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).is_empty());
    let err = one_line_error(&run(&db, &["audit", "export", "--until", "yesterday"]));
    assert!(err.contains("--until takes an RFC 3339 time"), "{err}");
}

/// `console link` prints a sign-in link once (only its hash is stored) for a person, never
/// for a worker.
async fn console_link_prints_a_single_use_sign_in_link(backend: Backend) {
    let db = TestDb::new(backend).await;
    let out = keydrop(
        &db,
        &[
            "console",
            "link",
            "--email",
            "ada@acme.example",
            "--role",
            "admin",
        ],
    )
    .env("KEYDROP_PUBLIC_URL", "https://keys.acme.example")
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let url = text(&out.stdout).trim().to_owned();
    let token = url
        .strip_prefix("https://keys.acme.example/console/link/")
        .unwrap_or_else(|| panic!("{url}"))
        .to_owned();
    crate::support::helpers::remember_secret(&token);
    assert_eq!(token.len(), 43);
    assert!(text(&out.stderr).contains("ada@acme.example (admin)"));
    let store = db.store().await;
    let holder = keydrop::service::console::link_holder(&store, &token)
        .await
        .unwrap()
        .unwrap();
    store.close().await;
    assert_eq!(holder.role, keydrop::domain::role::Role::Admin);
    assert_no_secret_in(&db.raw_dump().await, &[token], "database");
    let worker = run(
        &db,
        &[
            "console",
            "link",
            "--email",
            "ada@acme.example",
            "--role",
            "worker",
        ],
    );
    assert!(!worker.status.success());
    let long = run(
        &db,
        &[
            "console",
            "link",
            "--email",
            "ada@acme.example",
            "--role",
            "admin",
            "--ttl",
            "2h",
        ],
    );
    assert!(
        text(&long.stderr).contains("at most 1h"),
        "{}",
        text(&long.stderr)
    );
}

/// Run `keydrop drop create …`; returns (drop id, link) or the failed output.
fn create_drop(db: &TestDb, extra: &[&str]) -> Result<(String, String), Output> {
    let mut args = vec!["drop", "create", "--org", "Initech"];
    args.extend_from_slice(extra);
    let out = run(db, &args);
    if !out.status.success() {
        return Err(out);
    }
    let url = text(&out.stdout).trim().to_owned();
    crate::support::helpers::remember_secret(crate::support::helpers::link_token(&url));
    let err = text(&out.stderr);
    let id = err
        .split("created drop ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned();
    Ok((id, url))
}

/// A failed command: non-zero, one line on stderr, starting `keydrop: error:`.
fn one_line_error(out: &Output) -> String {
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one-line reason: {err}");
    assert!(err.starts_with("keydrop: error: "), "{err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_a_link_that_verifies_with_the_printed_credentials() {
    let db = TestDb::new(Backend::Sqlite).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The test's own webhook receiver, on the port the demo is told to print.
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let receiver_port = receiver.local_addr().unwrap().port().to_string();
    let (delivered, deliveries) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for stream in receiver.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = std::io::Read::read_exact(&mut reader, &mut body);
            let _ = std::io::Write::write_all(&mut stream, b"HTTP/1.1 204 No Content\r\n\r\n");
            let _ = delivered.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    let mut child = keydrop(
        &db,
        &[
            "demo",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--receiver-port",
            &receiver_port,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut printed = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("Ctrl-C stops the demo") {
            break;
        }
    }
    let word_after = |label: &str, nth: usize| {
        printed
            .lines()
            .filter(|l| l.contains(label))
            .nth(nth)
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .to_owned()
    };
    let link = printed
        .split_whitespace()
        .find(|w| w.contains("/d/"))
        .unwrap()
        .to_owned();
    let (id, secret) = (word_after("Client ID:", 0), word_after("Client Secret:", 0));
    let http = reqwest::Client::new();
    // The printed `webhook add` line, run as printed, registers the receiver.
    let add = printed
        .lines()
        .find(|l| l.contains(" webhook add "))
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let added = Command::new(&add[0]).args(&add[1..]).output().unwrap();
    assert!(added.status.success(), "{}", text(&added.stderr));
    let whsec = text(&added.stdout).trim().to_owned();
    assert!(whsec.starts_with("whsec_"), "{whsec}");
    // Metrics answer where the demo says.
    let metrics_url = word_after("/metrics", 0);
    let metrics = http.get(&metrics_url).fetch_text().await;
    assert!(metrics.contains("keydrop_"), "{metrics}");
    let page = http.get(&link).fetch_text().await;
    let csrf = crate::support::helpers::csrf_from(&page).unwrap();
    let res = http
        .post(&link)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status();
    // The receiver hears of it.
    let event = deliveries
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("a webhook delivery");
    assert!(event.contains("credential."), "{event}");
    // The second link takes the printed Candidate Ingestion sample.
    let ingestion_link = printed
        .split_whitespace()
        .filter(|w| w.contains("/d/"))
        .nth(1)
        .unwrap()
        .to_owned();
    let after = |label: &str| {
        let line = printed.lines().find(|l| l.contains(label)).unwrap();
        line.split(label)
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    let (key, email, board) = (
        after("API key:"),
        after("User e-mail:"),
        after("Job board token:"),
    );
    let page = http.get(&ingestion_link).fetch_text().await;
    assert!(page.contains("Candidate Ingestion"), "{page}");
    let csrf = crate::support::helpers::csrf_from(&page).unwrap();
    let ingestion_status = http
        .post(&ingestion_link)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("api_key", &key),
            ("user_email", &email),
            ("job_board_token", &board),
        ])
        .fetch_status()
        .await;
    // The printed tokens work as the README uses them.
    let export = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("export "))
        .unwrap();
    let token = |name: &str| {
        export
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let (issuer, worker) = (token("ISSUER"), token("WORKER"));
    let base = link.split("/d/").next().unwrap().to_owned();
    let drops = http
        .get(format!("{base}/api/v1/drops"))
        .bearer_auth(&issuer)
        .fetch_status()
        .await;
    let claim = http
        .post(format!("{base}/api/v1/credentials/claim"))
        .bearer_auth(&worker)
        .fetch_status()
        .await;
    // Step 8's sandbox controls answer as printed: the submitted credential is deleted in the
    // sandbox (its health check then finds it refused).
    let revoke = printed
        .lines()
        .find(|l| l.contains("/_sandbox/v3/") && l.contains("/revoke"))
        .unwrap()
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .unwrap()
        .to_owned();
    let revoked = http.post(&revoke).fetch_status().await;
    let again = http.post(&revoke).fetch_status().await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut logs).unwrap();
    assert_eq!((revoked, again), (200, 404), "{printed}");
    assert_eq!(status, 200, "{printed}");
    assert_eq!(ingestion_status, 200, "{printed}");
    assert_eq!((drops, claim), (200, 200), "{printed}");
    for secret in [
        token("ADMIN"),
        issuer,
        worker,
        secret,
        link,
        ingestion_link,
        key,
        email,
    ] {
        assert!(!logs.contains(&secret), "the demo logged a secret");
    }
    assert!(printed.contains("--data-dir"), "{printed}");
    // The demo's own keyring is no production concern; its drops name a contact.
    assert!(!logs.contains("no master key was configured"), "{logs}");
    assert!(printed.contains("Dana Demo") && printed.contains("API key (v1):"));
    assert!(printed.contains("Greenhouse sandbox: http://127.0.0.1:"));
    // A console sign-in link, never logged.
    let console_link = printed
        .split_whitespace()
        .find(|w| w.contains("/console/link/"))
        .unwrap()
        .to_owned();
    assert!(!logs.contains(console_link.rsplit('/').next().unwrap()));
    crate::support::helpers::remember_secret(&whsec);
    assert!(!logs.contains(&whsec));
}

/// `count` verified credentials sealed with `keyring`; their ids, sorted.
async fn seed_credentials(db: &TestDb, keyring: &Keyring, count: usize) -> Vec<String> {
    let store = db.store().await;
    store.ensure_key_checks(keyring).await.unwrap().unwrap();
    let mut ids = Vec::new();
    for i in 0..count {
        let secret = numbered_secret(i);
        let id = seed_verified(
            &store,
            keyring,
            Seed {
                org: format!("Org {i}"),
                kind: "harvest_v3",
                release: keydrop::domain::release::Release::Handoff,
                secret: &secret,
                hint: format!("{i:04}"),
                verification_json: crate::support::helpers::SEEDED_VERIFICATION,
                refresh_due_at: None,
            },
        )
        .await;
        ids.push(id);
    }
    store.close().await;
    ids.sort();
    ids
}

async fn key_versions(db: &TestDb) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT id, key_version FROM credentials ORDER BY id")
        .fetch_all(&mut db.raw().await)
        .await
        .unwrap()
}

async fn rewrap_skips_and_names_a_row_it_cannot_decrypt(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ring = db.dir.path().join("rewrap-ring.json");
    let ring_s = ring.to_str().unwrap();
    let with_ring = |args: &[&str]| {
        keydrop(&db, args)
            .env("KEYDROP_KEYRING_FILE", ring_s)
            .output()
            .unwrap()
    };
    assert!(with_ring(&["keys", "init"]).status.success());
    let ids = seed_credentials(&db, &Keyring::read(&ring).unwrap(), 5).await;
    assert!(with_ring(&["keys", "rotate"]).status.success());
    // The first row in rewrap order gets a damaged data key.
    let bad = &ids[0];
    let mut raw = db.raw().await;
    sqlx::query("UPDATE credentials SET wrapped_key = $1 WHERE id = $2")
        .bind(vec![0x5au8; 60])
        .bind(bad)
        .execute(&mut raw)
        .await
        .unwrap();

    let out = with_ring(&["keys", "rewrap"]);
    assert!(!out.status.success(), "a row was left behind");
    let err = text(&out.stderr);
    let last = err.trim().lines().last().unwrap();
    assert!(
        last.starts_with("keydrop: error: 1 credential(s)") && last.contains(bad.as_str()),
        "{err}"
    );
    assert!(text(&out.stdout).contains("4 data key(s) now wrapped by key version 2"));
    let versions = key_versions(&db).await;
    for (id, version) in &versions {
        assert_eq!(*version, if id == bad { 1 } else { 2 }, "{versions:?}");
    }
    // Running it again finishes at once and names the same row.
    let again = with_ring(&["keys", "rewrap"]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains(bad.as_str()));
    assert!(text(&again.stdout).contains("0 data key(s)"));
    assert_eq!(key_versions(&db).await, versions);
    assert!(db
        .verify_audit_with(&Keyring::read(&ring).unwrap())
        .await
        .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres_generates_no_keyring() {
    if crate::support::helpers::postgres_url().is_none() {
        println!(
            "skipped: set {} to run this test",
            crate::support::helpers::PG_ENV
        );
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    // A data directory with no keyring in it, and no key in the environment.
    let empty = tempfile::tempdir().unwrap();
    let in_empty = |args: &[&str]| {
        let mut cmd = keydrop(&db, args);
        cmd.env("KEYDROP_DATA_DIR", empty.path());
        cmd
    };
    for args in [&["serve", "--bind", "127.0.0.1:0"][..], &["keys", "status"]] {
        let out = output_within(in_empty(args), Duration::from_secs(20)).await;
        assert!(!out.status.success(), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with("keydrop: error: no master key is configured")
                && err.contains("keydrop keys init"),
            "{err}"
        );
        assert!(
            !empty.path().join("keyring.json").exists(),
            "no keyring was generated"
        );
    }
    // As told: `keys init`, then the keyring is used.
    assert!(in_empty(&["keys", "init"])
        .output()
        .unwrap()
        .status
        .success());
    let status = in_empty(&["keys", "status"]).output().unwrap();
    assert!(status.status.success(), "{}", text(&status.stderr));
}

/// Run a command to its end, killing it (and failing) if it runs on: a
/// command that should refuse to start fails the test instead of hanging it.
async fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let args: Vec<_> = cmd.get_args().collect();
            panic!("keydrop {args:?} was still running after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_bad_greenhouse_settings_in_one_line() {
    let db = TestDb::new(Backend::Sqlite).await;
    for (var, value, why) in [
        (
            "KEYDROP_GREENHOUSE_API_URL",
            "http://harvest.example.com",
            "must use https://",
        ),
        (
            "KEYDROP_GREENHOUSE_AUTH_URL",
            "https://u:hunter2@auth.example.com",
            "user name or password",
        ),
        ("KEYDROP_GREENHOUSE_TIMEOUT", "0", "between 1s and 60s"),
        ("KEYDROP_GREENHOUSE_BUDGET", "10m", "between 1s and 300s"),
    ] {
        let out = output_within(
            {
                let mut cmd = keydrop(&db, &["serve", "--bind", "127.0.0.1:0"]);
                cmd.env(var, value);
                cmd
            },
            Duration::from_secs(20),
        )
        .await;
        assert!(!out.status.success(), "{var}={value}");
        let err = text(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("keydrop: error: {var}")) && err.contains(why),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
    assert!(
        !db.data_dir().join("keyring.json").exists(),
        "stopped before anything else"
    );
}

async fn webhook_commands_add_list_remove(backend: Backend) {
    let db = TestDb::new(backend).await;
    // Private targets are refused unless asked for.
    let refused = run(&db, &["webhook", "add", "https://localhost/hook"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("KEYDROP_WEBHOOK_ALLOW_PRIVATE"),
        "{}",
        text(&refused.stderr)
    );
    // Plain http names the setting too.
    let refused = run(&db, &["webhook", "add", "http://hooks.example.com/"]);
    assert!(
        text(&refused.stderr).contains("KEYDROP_WEBHOOK_ALLOW_PRIVATE"),
        "{}",
        text(&refused.stderr)
    );
    let out = run(
        &db,
        &[
            "webhook",
            "add",
            "http://127.0.0.1:9/hook",
            "--events",
            "drop.created,credential.verified",
            "--allow-private",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let secret = text(&out.stdout).trim().to_owned();
    crate::support::helpers::remember_secret(&secret);
    assert!(secret.starts_with("whsec_"), "{secret}");
    let bad = run(
        &db,
        &[
            "webhook",
            "add",
            "https://hooks.example.com/",
            "--events",
            "nope",
        ],
    );
    assert!(!bad.status.success());
    let list = run(&db, &["webhook", "list"]);
    let listed = text(&list.stdout);
    assert!(
        listed.contains("drop.created,credential.verified"),
        "{listed}"
    );
    assert!(!listed.contains(&secret));
    let id = listed
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    // Once a service ran on this database without KEYDROP_WEBHOOK_ALLOW_PRIVATE, a private
    // receiver is refused even with --allow-private: the service would not deliver there.
    db.store()
        .await
        .record_setting(keydrop::store::instance::WEBHOOK_ALLOW_PRIVATE, "false")
        .await
        .unwrap();
    let refused = run(
        &db,
        &[
            "webhook",
            "add",
            "http://127.0.0.1:9/other",
            "--allow-private",
        ],
    );
    assert!(!refused.status.success());
    let err = text(&refused.stderr);
    assert!(
        err.contains("--allow-private is not enough") && err.lines().count() == 1,
        "{err}"
    );
    // Any other refusal is named for what it is, not blamed on the setting.
    let refused = run(
        &db,
        &[
            "webhook",
            "add",
            "http://127.0.0.1:9/other",
            "--allow-private",
            "--events",
            "nope",
        ],
    );
    let err = text(&refused.stderr);
    assert!(
        err.contains("--allow-private is not enough"),
        "the private address is still the first thing to fix: {err}"
    );
    let refused = run(
        &db,
        &[
            "webhook",
            "add",
            "https://1.1.1.1/",
            "--allow-private",
            "--events",
            "nope",
        ],
    );
    let err = text(&refused.stderr);
    assert!(
        err.contains("not an event type") && !err.contains("--allow-private"),
        "{err}"
    );
    let removed = run(&db, &["webhook", "remove", &id]);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    assert_eq!(
        text(&run(&db, &["webhook", "list"]).stdout).lines().count(),
        1
    );
    assert!(!run(&db, &["webhook", "remove", &id]).status.success());
}

async fn drop_create_takes_a_contact_and_an_external_id(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (id, _) = create_drop(
        &db,
        &[
            "--contact-name",
            "Jane Doe",
            "--contact-email",
            "jane@acme.example",
            "--external-id",
            "cust-42",
        ],
    )
    .unwrap();
    let store = db.store().await;
    let d = store.drop_by_id(&id).await.unwrap().unwrap();
    let c = d.contact.unwrap();
    assert_eq!(
        (c.name.as_str(), c.email.as_str()),
        ("Jane Doe", "jane@acme.example")
    );
    assert_eq!(d.external_id.as_deref(), Some("cust-42"));
    // The same external id again: refused while the first is not revoked.
    let err = one_line_error(&create_drop(&db, &["--external-id", "cust-42"]).unwrap_err());
    assert!(err.contains("external_id"), "{err}");
    // Said once, not once per layer it passed through.
    assert_eq!(err.matches("revoke it first").count(), 1, "{err}");
    let err = one_line_error(
        &create_drop(
            &db,
            &[
                "--contact-name",
                "Jane",
                "--contact-email",
                "not-an-address",
            ],
        )
        .unwrap_err(),
    );
    assert!(err.contains("contact.email must be"), "{err}");
    // A contact needs both flags.
    assert!(create_drop(&db, &["--contact-name", "Jane"]).is_err());
    assert!(create_drop(&db, &["--contact-email", "jane@acme.example"]).is_err());
    let listed = text(&run(&db, &["drop", "list", "--external-id", "cust-42"]).stdout);
    assert_eq!(listed.lines().count(), 2, "header and one drop: {listed}");
    assert!(listed.contains(&id));
    assert_eq!(
        store
            .list_drops(&Default::default(), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn drop_show_prints_the_fields_but_never_the_link(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (id, url) = create_drop(
        &db,
        &[
            "--note",
            "For the Q4 sync",
            "--profile",
            "minimal",
            "--contact-name",
            "Jane Doe",
            "--contact-email",
            "jane@acme.example",
            "--external-id",
            "cust-7",
            "--max-attempts",
            "4",
        ],
    )
    .unwrap();
    let out = run(&db, &["drop", "show", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    for line in [
        format!("id                 {id}"),
        "org                Initech".to_owned(),
        "note               For the Q4 sync".to_owned(),
        "kind               harvest_v3".to_owned(),
        "profile            minimal (required: users; optional: -)".to_owned(),
        "state              open".to_owned(),
        "contact            Jane Doe <jane@acme.example>".to_owned(),
        "external_id        cust-7".to_owned(),
        "metadata           -".to_owned(),
        "attempts           0/4".to_owned(),
        "credential         -".to_owned(),
    ] {
        assert!(
            shown.lines().any(|l| l == line),
            "no {line:?} in
{shown}"
        );
    }
    assert!(shown.contains("expires_at") && shown.contains("created_at"));
    let token = crate::support::helpers::link_token(&url);
    assert!(!shown.contains(token) && !shown.contains("/d/"), "{shown}");
    assert!(!text(&out.stderr).contains(token));
    let err = one_line_error(&run(
        &db,
        &["drop", "show", &uuid::Uuid::new_v4().to_string()],
    ));
    assert!(err.contains("no drop with id"), "{err}");
    let err = one_line_error(&run(&db, &["drop", "show", "nope"]));
    assert!(err.contains("must be a UUID"), "{err}");
}

async fn drop_revoke_is_audited_and_refuses_a_drop_that_is_not_open(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (id, _) = create_drop(&db, &["--external-id", "cust-9"]).unwrap();
    let out = run(&db, &["drop", "revoke", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("revoked drop {id}")));
    let shown = text(&run(&db, &["drop", "show", &id]).stdout);
    assert!(shown.contains("state              revoked"), "{shown}");
    let err = one_line_error(&run(&db, &["drop", "revoke", &id]));
    assert!(err.contains("the drop is revoked, not open"), "{err}");
    let err = one_line_error(&run(
        &db,
        &["drop", "revoke", &uuid::Uuid::new_v4().to_string()],
    ));
    assert!(err.contains("no drop with id"), "{err}");
    // Revoking freed the external id.
    create_drop(&db, &["--external-id", "cust-9"]).unwrap();
    let store = db.store().await;
    let filter = keydrop::domain::audit::AuditFilter {
        subject: Some(format!("drop:{id}")),
        action: None,
        ..Default::default()
    };
    let events = store.search_audit(&filter, 0, 100).await.unwrap();
    let revokes: Vec<_> = events
        .iter()
        .filter(|e| e.action == "drop.revoke")
        .collect();
    assert_eq!(revokes.len(), 1, "one event, for the revoke that happened");
    assert_eq!(revokes[0].actor, "cli");
    assert!(db.verify_audit().await.is_ok());
}

/// `keydrop credential relink ID` (SPEC §7, §15): a new drop that will replace the
/// credential, its link printed once; an unknown id and `--send-to` (no service that sends e-mail) are
/// one-line refusals.
async fn credential_relink_prints_a_new_link_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ring = db.data_dir().join("keyring.json");
    if !ring.exists() {
        let init = run(&db, &["keys", "init"]);
        assert!(init.status.success(), "{}", text(&init.stderr));
    }
    let ids = seed_credentials(&db, &Keyring::read(&ring).unwrap(), 1).await;
    let out = keydrop(&db, &["credential", "relink", &ids[0]])
        .env("KEYDROP_PUBLIC_URL", "https://keys.example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let url = text(&out.stdout).trim().to_owned();
    assert!(url.starts_with("https://keys.example.com/d/"), "{url}");
    crate::support::helpers::remember_secret(crate::support::helpers::link_token(&url));
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!("replacing credential {}", ids[0])),
        "{said}"
    );
    let store = db.store().await;
    let open = store
        .list_drops(
            &keydrop::store::DropFilter {
                state: Some(keydrop::domain::drop::DropState::Open),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].replaces.as_deref(), Some(ids[0].as_str()));
    for (args, why) in [
        (
            vec![
                "credential",
                "relink",
                "6f1c2b9e-1d2a-4c3b-8e7f-0a1b2c3d4e5f",
            ],
            "no such credential",
        ),
        (
            vec![
                "credential",
                "relink",
                &ids[0],
                "--send-to",
                "it@initech.example",
            ],
            "sends no e-mail",
        ),
    ] {
        let out = run(&db, &args);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(
            err.trim().lines().count() == 1 && err.contains(why),
            "{err}"
        );
    }
}
