//! Links by e-mail (SPEC §15, §8.14) through a real SMTP server on loopback (aiosmtpd): the
//! message a careful customer gets (headers, both bodies, the link that opens), the one
//! reminder with a new link, sending again, the old link's 410, retries while the mail
//! server is down (nothing lost, nothing twice), and no link token at rest once sent.

use crate::support::helpers::{
    assert_no_secret_in, link_token, remember_secret, spawn_app_with, AppOptions, Backend, Fetch,
    TestApp, GOOD_ID, GOOD_SECRET,
};
use crate::support::smtpd::{link_in, unfold_qp, Smtpd};
use serde_json::{json, Value};
use std::time::Duration;

macro_rules! with_smtpd {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(keydrop_no_smtpd, ignore = "aiosmtpd: set KEYDROP_TEST_SMTPD to a Python that imports it")]
                async fn $name() {
                    super::$name($crate::support::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(any(keydrop_no_smtpd, keydrop_no_postgres), ignore = "aiosmtpd and PostgreSQL: set KEYDROP_TEST_SMTPD and KEYDROP_TEST_POSTGRES_URL")]
                async fn $name() {
                    $crate::support::helpers::require_postgres();
                    super::$name($crate::support::helpers::Backend::Postgres).await;
                }
            )*
        }
    };
}

with_smtpd!(
    a_link_is_emailed_reminded_once_and_submitted,
    sending_again_replaces_the_link,
    a_mail_server_that_is_down_loses_nothing_and_sends_nothing_twice,
    a_relink_is_emailed,
    queued_links_move_with_keys_rewrap,
    the_cli_queues_and_a_killed_server_loses_nothing,
    the_console_emails_and_sends_again,
);

const DAY: Duration = Duration::from_secs(86_400);

async fn app_with(backend: Backend, smtpd: &Smtpd) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            manual_clock: true,
            smtp: Some(smtpd.settings()),
            // The test runs each pass itself.
            tune: Some(|s| s.jobs.mail_poll = Duration::from_secs(3600)),
            ..AppOptions::default()
        },
    )
    .await
}

async fn pass(app: &TestApp) -> keydrop::service::mail::MailPass {
    let (pass, ok) = keydrop::jobs::mail_pass(&app.state).await;
    assert!(ok);
    pass
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message
        .lines()
        .take_while(|l| !l.is_empty() && *l != "\r")
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

async fn audit(app: &TestApp, action: &str) -> Vec<Value> {
    let v: Value = app
        .get(
            &format!("/api/v1/audit?action={action}"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    v["events"].as_array().unwrap().clone()
}

async fn drop_json(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/drops/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await
}

/// No link token of the suite in the database (the mail outbox included) or the logs.
async fn no_link_at_rest(app: &TestApp, links: &[&str]) {
    let tokens: Vec<String> = links.iter().map(|u| link_token(u).to_owned()).collect();
    assert_no_secret_in(&app.db.raw_dump().await, &tokens, "the database");
    assert_no_secret_in(
        crate::support::helpers::captured_logs().as_bytes(),
        &tokens,
        "the logs",
    );
    let mut conn = app.db.raw().await;
    let sealed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM mail_outbox WHERE sealed_link IS NOT NULL AND state <> 'queued'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        sealed, 0,
        "a sent, cancelled or failed message kept its sealed link"
    );
}

async fn a_link_is_emailed_reminded_once_and_submitted(backend: Backend) {
    let smtpd = Smtpd::start().await;
    let app = app_with(backend, &smtpd).await;
    let d = app
        .create_drop(json!({
            "org": "Initech",
            "note": "For the nightly sync.",
            "expires_in": 3 * 86_400,
            "contact": { "name": "Ada Lovelace", "email": "ada@vendor.example" },
            "send_to": "it@initech.example",
        }))
        .await;
    let id = d["id"].as_str().unwrap();
    assert_eq!(d["send_to"], "it@initech.example");
    assert_eq!(d["link_sent_at"], Value::Null);
    let url = d["url"].as_str().unwrap().to_owned();

    assert_eq!(pass(&app).await.sent, 1);
    let m = smtpd.wait_for(1).await;
    let first = &m[0];
    // Headers: who from, to whom, about what; replies go to the contact.
    assert_eq!(
        header(first, "From"),
        Some("\"Acme Integrations\" <links@acme.example>")
    );
    assert_eq!(header(first, "To"), Some("it@initech.example"));
    let subject = header(first, "Subject").unwrap();
    assert!(
        subject.contains("Initech") && subject.contains("Greenhouse"),
        "{subject}"
    );
    assert_eq!(header(first, "Reply-To"), Some("ada@vendor.example"));
    assert!(header(first, "Message-ID")
        .unwrap()
        .ends_with("@acme.example>"));
    assert!(header(first, "Date").is_some());
    assert!(first.contains("multipart/alternative"));
    assert!(first.contains("text/plain") && first.contains("text/html"));
    // Both bodies: the organisation, the note, the expiry in UTC, whom to ask, "once", "do
    // not forward"; the link is the one the API answered with. Nothing remote to load.
    let body = unfold_qp(first);
    for needed in [
        "Initech",
        "For the nightly sync.",
        " UTC",
        "Ada Lovelace",
        "works once",
        "Do not forward it",
    ] {
        assert!(
            body.matches(needed).count() >= 2,
            "{needed:?} in both bodies:\n{body}"
        );
    }
    assert_eq!(link_in(first), url);
    assert!(!body.contains("<img"), "no image without a brand logo");
    assert!(!body.to_ascii_lowercase().contains("src=\"http"));
    // Sent: recorded, audited, the link gone from the outbox.
    assert!(drop_json(&app, id).await["link_sent_at"].is_string());
    let sent = audit(&app, "drop.link_sent").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["details"]["purpose"], "link");
    assert!(
        !sent[0].to_string().contains("it@initech.example"),
        "the address is never logged"
    );
    no_link_at_rest(&app, &[&url]).await;
    // The link in the message opens.
    let (status, _) = app.page(&TestApp::link_path(&url)).await;
    assert_eq!(status, 200);

    // Nothing more until the reminder is due: 24 h before expiry.
    app.clock.as_ref().unwrap().advance(DAY + DAY / 2);
    assert_eq!(pass(&app).await, Default::default());
    app.clock
        .as_ref()
        .unwrap()
        .advance(DAY / 2 + Duration::from_secs(1));
    let p = pass(&app).await;
    assert_eq!((p.reminders, p.sent), (1, 1), "{p:?}");
    let m = smtpd.wait_for(2).await;
    let reminder = &m[1];
    assert!(header(reminder, "Subject").unwrap().starts_with("Reminder"));
    let new_url = link_in(reminder);
    remember_secret(link_token(&new_url));
    assert_ne!(new_url, url, "a reminder carries a new link");
    // The old link now says a newer one was sent, and whom to ask (once the page cache's
    // second has passed: the reminder was the mailer's change, not a request's).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, html) = app.page(&TestApp::link_path(&url)).await;
    assert_eq!(status, 410);
    assert!(html.contains("A newer link was sent to you"), "{html}");
    assert!(html.contains("Ada Lovelace"));
    assert_eq!(
        audit(&app, "drop.link_renewed").await[0]["details"]["reason"],
        "reminder"
    );
    assert_eq!(audit(&app, "drop.link_sent").await.len(), 1);
    let reminded = audit(&app, "drop.reminded").await;
    assert_eq!(reminded.len(), 1);
    assert_eq!(reminded[0]["details"]["purpose"], "reminder");
    // One reminder only.
    app.clock.as_ref().unwrap().advance(DAY / 4);
    assert_eq!(pass(&app).await, Default::default());
    assert_eq!(smtpd.messages().len(), 2);
    no_link_at_rest(&app, &[&url, &new_url]).await;

    // The customer uses the reminder's link.
    let (status, _) = app
        .submit(
            &TestApp::link_path(&new_url),
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(drop_json(&app, id).await["state"], "submitted");
    // The old link's POST is refused too.
    let (status, _) = app
        .submit(
            &TestApp::link_path(&url),
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 410);
    app.db.verify_audit().await.unwrap();
}

async fn send(app: &TestApp, id: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.post(&format!("/api/v1/drops/{id}/send"), Some(&app.admin_token));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn sending_again_replaces_the_link(backend: Backend) {
    let smtpd = Smtpd::start().await;
    let app = app_with(backend, &smtpd).await;
    let d = app.create_drop(json!({ "org": "Globex" })).await;
    let id = d["id"].as_str().unwrap();
    let url = d["url"].as_str().unwrap().to_owned();
    // Never e-mailed: an address is needed.
    let (status, body) = send(&app, id, None).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = send(&app, id, Some(json!({ "send_to": "not an address" }))).await;
    assert_eq!(status, 422);
    assert_eq!(
        app.page(&TestApp::link_path(&url)).await.0,
        200,
        "a refused send changes nothing"
    );
    // A submission that found the drop through the first link before it was replaced:
    let stale = app.store.drop_by_id(id).await.unwrap().unwrap();
    let (status, body) = send(&app, id, Some(json!({ "send_to": "ops@globex.example" }))).await;
    assert_eq!(status, 200, "{body}");
    // … takes no attempt once it is (the reservation names the link).
    let reserved = app
        .store
        .reserve_attempt(
            &stale,
            60_000,
            &keydrop::domain::audit::AuditEntry::untyped("test", "drop.attempt", "t"),
        )
        .await
        .unwrap();
    assert!(reserved.is_none(), "a replaced link reserved an attempt");
    assert_eq!(body["send_to"], "ops@globex.example");
    assert!(
        body.get("url").is_none(),
        "the new link is only in the e-mail"
    );
    // The link made at creation stops working at once.
    let (status, html) = app.page(&TestApp::link_path(&url)).await;
    assert_eq!(status, 410);
    assert!(html.contains("A newer link was sent to you"));
    pass(&app).await;
    let m = smtpd.wait_for(1).await;
    let second = link_in(&m[0]);
    remember_secret(link_token(&second));
    assert_eq!(app.page(&TestApp::link_path(&second)).await.0, 200);
    // Again, to where it went before: a third link; the second now answers 410.
    let (status, _) = send(&app, id, None).await;
    assert_eq!(status, 200);
    // Sent again before the first message left: only the newest is sent.
    let (status, _) = send(&app, id, None).await;
    assert_eq!(status, 200);
    let p = pass(&app).await;
    assert_eq!(p.sent, 1, "{p:?}");
    let m = smtpd.wait_for(2).await;
    let third = link_in(&m[1]);
    remember_secret(link_token(&third));
    assert_eq!(header(&m[1], "To"), Some("ops@globex.example"));
    assert!(header(&m[1], "Subject").unwrap().starts_with("New link:"));
    assert!(unfold_qp(&m[1]).contains("replaces any link sent to you before"));
    assert_eq!(app.page(&TestApp::link_path(&second)).await.0, 410);
    assert_eq!(app.page(&TestApp::link_path(&third)).await.0, 200);
    assert_eq!(audit(&app, "drop.link_renewed").await.len(), 3);
    no_link_at_rest(&app, &[&url, &second, &third]).await;
    // Not open: 409; no such drop: 404.
    let revoked = app
        .post(
            &format!("/api/v1/drops/{id}/revoke"),
            Some(&app.admin_token),
        )
        .fetch_status()
        .await;
    assert_eq!(revoked, 200);
    assert_eq!(send(&app, id, None).await.0, 409);
    assert_eq!(
        send(&app, &uuid::Uuid::new_v4().to_string(), None).await.0,
        404
    );
    assert_eq!(smtpd.messages().len(), 2);

    // Without a mail server, send_to is a 422 everywhere, and nothing is made.
    let plain = spawn_app_with(backend, AppOptions::default()).await;
    let res = plain
        .post("/api/v1/drops", Some(&plain.admin_token))
        .json(&json!({ "org": "Globex", "send_to": "ops@globex.example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("KEYDROP_SMTP_URL"));
    let d = plain.create_drop(json!({ "org": "Globex" })).await;
    let res = plain
        .post(
            &format!("/api/v1/drops/{}/send", d["id"].as_str().unwrap()),
            Some(&plain.admin_token),
        )
        .json(&json!({ "send_to": "ops@globex.example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let listed: Value = plain
        .get("/api/v1/drops", Some(&plain.admin_token))
        .fetch_json()
        .await;
    assert_eq!(listed["drops"].as_array().unwrap().len(), 1);
}

async fn a_mail_server_that_is_down_loses_nothing_and_sends_nothing_twice(backend: Backend) {
    let mut smtpd = Smtpd::on(crate::support::processes::free_port());
    let app = app_with(backend, &smtpd).await;
    let mut urls = Vec::new();
    for i in 0..3 {
        let d = app
            .create_drop(
                json!({ "org": format!("Org {i}"), "send_to": format!("it{i}@customer.example") }),
            )
            .await;
        urls.push(d["url"].as_str().unwrap().to_owned());
    }
    // Down: each message is tried, kept, and tried again later.
    let p = pass(&app).await;
    assert_eq!((p.sent, p.retried, p.failed), (0, 3, 0), "{p:?}");
    assert_eq!(
        pass(&app).await,
        Default::default(),
        "not again before its backoff"
    );
    let mut conn = app.db.raw().await;
    let (attempts, error): (i64, String) =
        sqlx::query_as("SELECT attempts, last_error FROM mail_outbox ORDER BY created_at LIMIT 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(attempts, 1);
    assert_eq!(error, "could not reach the mail server");
    let p = {
        app.clock.as_ref().unwrap().advance(Duration::from_secs(11));
        pass(&app).await
    };
    assert_eq!(p.retried, 3);
    // While queued, each link is sealed under the keyring: `keys status` counts them.
    let uses = app.store.key_uses().await.unwrap();
    assert_eq!(uses[&1].mail_links, 3, "{uses:?}");
    // Back: every message arrives once; later passes send nothing more.
    smtpd.restart().await;
    app.clock.as_ref().unwrap().advance(Duration::from_secs(31));
    assert_eq!(pass(&app).await.sent, 3);
    let m = smtpd.wait_for(3).await;
    let mut got: Vec<String> = m.iter().map(|m| link_in(m)).collect();
    got.sort();
    urls.sort();
    assert_eq!(got, urls);
    app.clock
        .as_ref()
        .unwrap()
        .advance(Duration::from_secs(3600));
    assert_eq!(pass(&app).await.sent, 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(smtpd.messages().len(), 3);
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    no_link_at_rest(&app, &refs).await;

    assert_eq!(app.store.key_uses().await.unwrap()[&1].mail_links, 0);

    // A drop revoked while its message waits: the sweep destroys the sealed link at once.
    smtpd.stop();
    let d = app
        .create_drop(json!({ "org": "Revoked", "send_to": "it@revoked.example" }))
        .await;
    let revoked_url = d["url"].as_str().unwrap().to_owned();
    let status = app
        .post(
            &format!("/api/v1/drops/{}/revoke", d["id"].as_str().unwrap()),
            Some(&app.admin_token),
        )
        .fetch_status()
        .await;
    assert_eq!(status, 200);
    app.state.sweep_mail(100).await.unwrap();
    no_link_at_rest(&app, &[&revoked_url]).await;
    assert_eq!(app.store.key_uses().await.unwrap()[&1].mail_links, 0);
    assert_eq!(pass(&app).await.sent, 0);

    // Down for good: given up after 24 h, audited, its link destroyed, never sent.
    let d = app
        .create_drop(
            json!({ "org": "Late", "expires_in": 7 * 86_400, "send_to": "it@late.example" }),
        )
        .await;
    let late = d["url"].as_str().unwrap().to_owned();
    for _ in 0..30 {
        pass(&app).await;
        app.clock
            .as_ref()
            .unwrap()
            .advance(Duration::from_secs(3600));
    }
    let failed = audit(&app, "drop.link_undelivered").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        failed[0]["subject"],
        format!("drop:{}", d["id"].as_str().unwrap())
    );
    no_link_at_rest(&app, &[&late]).await;
    let mut conn = app.db.raw().await;
    let sealed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox WHERE sealed_link IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(sealed, 0);
}

async fn a_relink_is_emailed(backend: Backend) {
    let smtpd = Smtpd::start().await;
    let app = app_with(backend, &smtpd).await;
    let d = app.create_drop(json!({ "org": "Hooli" })).await;
    let (status, _) = app
        .submit(
            &TestApp::link_path(d["url"].as_str().unwrap()),
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 200);
    let cid = drop_json(&app, d["id"].as_str().unwrap()).await["credential_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .post(
            &format!("/api/v1/credentials/{cid}/relink"),
            Some(&app.admin_token),
        )
        .json(&json!({ "send_to": "admin@hooli.example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let url = body["url"].as_str().unwrap().to_owned();
    remember_secret(link_token(&url));
    assert_eq!(body["replaces"], cid.as_str());
    assert_eq!(body["send_to"], "admin@hooli.example");
    pass(&app).await;
    let m = smtpd.wait_for(1).await;
    assert_eq!(link_in(&m[0]), url);
    assert_eq!(header(&m[0], "To"), Some("admin@hooli.example"));
}

/// The real binary: links queued by the CLI while the mail server is down, the service
/// killed with SIGKILL mid-retry and started again, the mail server back: every link arrives
/// exactly once. Then `drop send` replaces one, and its old link answers 410.
async fn the_cli_queues_and_a_killed_server_loses_nothing(backend: Backend) {
    use crate::support::helpers::TestDb;
    use crate::support::processes::{free_port, start_server_with};
    use base64::Engine as _;
    use std::process::Command;
    let db = TestDb::new(backend).await;
    let key = base64::engine::general_purpose::STANDARD
        .encode(keydrop::crypto::random::bytes::<32>().unwrap());
    let mut smtpd = Smtpd::on(free_port());
    let smtp_url = format!("smtp://127.0.0.1:{}", smtpd.port);
    let env = [
        ("KEYDROP_SMTP_URL", smtp_url.as_str()),
        ("KEYDROP_SMTP_FROM", "links@acme.example"),
    ];
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let server = start_server_with(&db, &key, port, dir.path(), &env);
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_keydrop"))
            .args(args)
            .env_clear()
            .env("KEYDROP_DATA_DIR", dir.path())
            .env("KEYDROP_DATABASE_URL", &db.url)
            .env("KEYDROP_MASTER_KEY", &key)
            .env("KEYDROP_LOG", "warn")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {said}");
        (String::from_utf8_lossy(&out.stdout).trim().to_owned(), said)
    };
    let mut urls = Vec::new();
    for i in 0..3 {
        let to = format!("it{i}@customer.example");
        let (url, said) = cli(&[
            "drop",
            "create",
            "--org",
            &format!("Org {i}"),
            "--send-to",
            &to,
        ]);
        assert!(said.contains(&format!("e-mails it to {to}")), "{said}");
        remember_secret(link_token(&url));
        urls.push(url);
    }
    // The service tries while the mail server is down, then is killed.
    let mut conn = db.raw().await;
    for _ in 0..100 {
        // Tried, and not held by a send under way (a kill then would leave that one to wait
        // out its 2-minute lease; the wait below allows for that too).
        let tried: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM mail_outbox WHERE attempts > 0 AND lease_id IS NULL",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if tried == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
    smtpd.restart().await;
    let _server = start_server_with(&db, &key, port, dir.path(), &env);
    // Retried after its 10 s backoff (one caught mid-send by the kill: after its lease).
    let m = smtpd.wait_for_within(3, Duration::from_secs(150)).await;
    let mut got: Vec<String> = m.iter().map(|m| link_in(m)).collect();
    got.sort();
    urls.sort();
    assert_eq!(got, urls);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smtpd.messages().len(), 3, "nothing twice");

    // `drop send`: a new link, the old one gone.
    let id: String =
        sqlx::query_scalar("SELECT id FROM drops WHERE send_to = 'it0@customer.example'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let (said, _) = cli(&["drop", "send", &id]);
    assert!(
        said.contains("on its way to it0@customer.example"),
        "{said}"
    );
    let m = smtpd.wait_for(4).await;
    let fresh = link_in(&m[3]);
    remember_secret(link_token(&fresh));
    assert_eq!(header(&m[3], "To"), Some("it0@customer.example"));
    let old = link_in(
        m[..3]
            .iter()
            .find(|x| header(x, "To") == Some("it0@customer.example"))
            .unwrap(),
    );
    assert_ne!(old, fresh);
    let http = reqwest::Client::new();
    assert_eq!(http.get(&old).send().await.unwrap().status(), 410);
    assert_eq!(http.get(&fresh).send().await.unwrap().status(), 200);
    let mut all = urls.clone();
    all.push(fresh);
    let tokens: Vec<String> = all.iter().map(|u| link_token(u).to_owned()).collect();
    assert_no_secret_in(&db.raw_dump().await, &tokens, "the database");
}

/// The console: the new-drop form's `send_to`, the drop page's messages and its "Send a new
/// link" button.
async fn the_console_emails_and_sends_again(backend: Backend) {
    use crate::console_drops::{console_get, console_post, sign_in};
    use crate::support::helpers::csrf_from;
    let smtpd = Smtpd::start().await;
    let app = app_with(backend, &smtpd).await;
    let session = sign_in(
        &app,
        "ada@acme.example",
        keydrop::domain::role::Role::Issuer,
    )
    .await;
    let (status, form) = console_get(&app, &session, "/console/drops/new").await;
    assert_eq!(status, 200);
    assert!(form.contains(r#"name="send_to""#), "{form}");
    let csrf = csrf_from(&form).unwrap();
    let res = console_post(
        &app,
        &session,
        "/console/drops/new",
        &[
            ("csrf_token", &csrf),
            ("org", "Initech"),
            ("kind", "harvest_v3"),
            ("send_to", "it@initech.example"),
        ],
    )
    .await;
    assert_eq!(res.status(), 201);
    let created = res.text().await.unwrap();
    let url = crate::console_drops::code_after(&created, "Link created").to_owned();
    remember_secret(link_token(&url));
    pass(&app).await;
    let m = smtpd.wait_for(1).await;
    assert_eq!(link_in(&m[0]), url);
    let id: String = {
        let mut conn = app.db.raw().await;
        sqlx::query_scalar("SELECT id FROM drops")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    let (status, page) = console_get(&app, &session, &format!("/console/drops/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("it@initech.example") && page.contains("sent "),
        "{page}"
    );
    assert!(
        !page.contains(link_token(&url)),
        "the console never shows a link again"
    );
    let csrf = csrf_from(&page).unwrap();
    let res = console_post(
        &app,
        &session,
        &format!("/console/drops/{id}/send"),
        &[("csrf_token", &csrf), ("send_to", "")],
    )
    .await;
    assert_eq!(res.status(), 303);
    pass(&app).await;
    let m = smtpd.wait_for(2).await;
    let fresh = link_in(&m[1]);
    remember_secret(link_token(&fresh));
    assert_eq!(header(&m[1], "To"), Some("it@initech.example"));
    assert_eq!(app.page(&TestApp::link_path(&url)).await.0, 410);
    assert_eq!(app.page(&TestApp::link_path(&fresh)).await.0, 200);
    // A bad address: refused, nothing changed.
    let res = console_post(
        &app,
        &session,
        &format!("/console/drops/{id}/send"),
        &[("csrf_token", &csrf), ("send_to", "nobody")],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(app.page(&TestApp::link_path(&fresh)).await.0, 200);
}

/// A mail server that refuses every recipient for good (550): a small in-process fake, as
/// aiosmtpd cannot be told to. Returns its port.
async fn refusing_smtp_server() -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 refuser ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 refuser\r\n",
                        "MAIL" => b"250 OK\r\n",
                        "RCPT" => b"550 5.1.1 <someone@example> no such user here\r\n",
                        "QUIT" => b"221 bye\r\n",
                        _ => b"503 bad sequence\r\n",
                    };
                    if write.write_all(answer).await.is_err() || verb == "QUIT" {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lasting_refusal_is_given_up_at_once_without_the_servers_words() {
    let port = refusing_smtp_server().await;
    let app = spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            manual_clock: true,
            smtp: Some(keydrop::config::SmtpSettings {
                host: "127.0.0.1".into(),
                port,
                security: keydrop::config::SmtpSecurity::Plain,
                username: None,
                password: None,
                from: "links@acme.example".into(),
            }),
            tune: Some(|s| s.jobs.mail_poll = Duration::from_secs(3600)),
            ..AppOptions::default()
        },
    )
    .await;
    let d = app
        .create_drop(json!({ "org": "Nowhere", "send_to": "someone@example.com" }))
        .await;
    let p = pass(&app).await;
    assert_eq!((p.sent, p.retried, p.failed), (0, 0, 1), "{p:?}");
    let failed = audit(&app, "drop.link_undelivered").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]["details"]["reason"],
        "the mail server answered 550"
    );
    assert!(
        !failed[0].to_string().contains("no such user"),
        "the server's words are not kept"
    );
    no_link_at_rest(&app, &[d["url"].as_str().unwrap()]).await;
}

/// `smtp://` to a host that is not loopback requires STARTTLS with a certificate the webpki
/// roots vouch for: a server that does not offer it, or offers it with a self-signed
/// certificate, is never sent the message (aiosmtpd, reached as if it were remote).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_smtpd,
    ignore = "aiosmtpd: set KEYDROP_TEST_SMTPD to a Python that imports it"
)]
async fn starttls_is_required_off_loopback() {
    let plain = Smtpd::start().await;
    let why = send_starttls(&plain).await;
    assert!(why.contains("does not offer STARTTLS"), "{why}");
    let untrusted = Smtpd::start_with_untrusted_tls().await;
    let why = send_starttls(&untrusted).await;
    assert!(why.contains("TLS with the mail server failed"), "{why}");
}

/// Send one message with STARTTLS required through `smtpd`; why it was not sent.
async fn send_starttls(smtpd: &Smtpd) -> String {
    let mut settings = smtpd.settings();
    settings.security = keydrop::config::SmtpSecurity::StartTls;
    let mailer = keydrop::mail::Mailer::new(&settings, "keys.acme.example").unwrap();
    let from = mailer.from().clone();
    let message = keydrop::mail::compose(&keydrop::mail::LinkMail {
        mail_id: "m1",
        from: &from,
        to: "it@initech.example",
        brand: "Acme",
        org: "Initech",
        note: None,
        url: "https://keys.acme.example/d/x",
        expires_at: 0,
        contact: None,
        support: None,
        why: keydrop::mail::Why::First,
        connect: false,
        logo: None,
        now_ms: 0,
    })
    .unwrap();
    let why = match mailer.send(message).await {
        Err(keydrop::mail::SendError::Transient(why)) => why,
        other => panic!("sent without trusted TLS: {other:?}"),
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(smtpd.messages().is_empty());
    why
}

/// `keys rewrap` seals the links of queued messages under the active version too, so
/// `keys status` can show a version unused and it can be removed (the runbook of SPEC §14).
async fn queued_links_move_with_keys_rewrap(backend: Backend) {
    let smtpd = Smtpd::on(crate::support::processes::free_port());
    let app = app_with(backend, &smtpd).await;
    for i in 0..2 {
        app.create_drop(json!({ "org": format!("Org {i}"), "send_to": "it@customer.example" }))
            .await;
    }
    assert_eq!(app.store.key_uses().await.unwrap()[&1].mail_links, 2);
    let ring_file = app.db.store_settings().keyring_file;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    std::fs::copy(&ring_file, &path).unwrap();
    let mut ring = keydrop::crypto::keyring::Keyring::read(&path).unwrap();
    assert_eq!(ring.rotate(&path).unwrap(), 2);
    assert_eq!(
        keydrop::service::mail::reseal_all(&app.store, &ring)
            .await
            .unwrap(),
        2
    );
    let uses = app.store.key_uses().await.unwrap();
    assert_eq!(uses.get(&1).map_or(0, |u| u.mail_links), 0, "{uses:?}");
    assert_eq!(uses[&2].mail_links, 2);
    assert_eq!(
        keydrop::service::mail::reseal_all(&app.store, &ring)
            .await
            .unwrap(),
        0
    );
}
