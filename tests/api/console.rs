//! The console's sessions and single-use sign-in links (SPEC §13, §8.12), at the service
//! layer the console pages will call: a link signs in once however many posts race, lives at
//! most an hour, names a person, never a worker; sessions end when idle, at their absolute
//! end, or at sign-out; only hashes are stored; every change names the person.

use crate::on_both_backends;
use crate::support::helpers::{csrf_from, manual_clock, spawn_app, Backend, TestDb};
use keydrop::domain::event::Origin;
use keydrop::domain::role::Role;
use keydrop::service::console::{self, LinkError};
use std::time::Duration;

on_both_backends!(
    a_sign_in_link_signs_in_once_and_sessions_end_as_they_should,
    links_are_for_people_and_live_at_most_an_hour,
    a_person_signs_in_with_a_link_sees_the_dashboard_and_signs_out,
    with_a_console_listener_the_console_is_only_there,
);

const IDLE: Duration = Duration::from_secs(30 * 60);
const MAX_AGE: Duration = Duration::from_secs(12 * 3600);

async fn a_sign_in_link_signs_in_once_and_sessions_end_as_they_should(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = manual_clock();
    let store = db.store_with_clock(clock.clone()).await;
    let token = console::create_link(
        &store,
        "ada@acme.example",
        Role::Admin,
        Duration::from_secs(600),
        &Origin::cli(),
    )
    .await
    .unwrap();
    let token = token.reveal().to_owned();
    crate::support::helpers::remember_secret(&token);

    // Looking at it does not use it.
    for _ in 0..2 {
        let holder = console::link_holder(&store, &token).await.unwrap().unwrap();
        assert_eq!(
            (holder.email.as_str(), holder.role),
            ("ada@acme.example", Role::Admin)
        );
    }
    // Eight posts at once: one session.
    let mut racing = Vec::new();
    for _ in 0..8 {
        let (store, token) = (store.clone(), token.clone());
        racing.push(tokio::spawn(async move {
            console::sign_in_with_link(&store, &token, MAX_AGE, Some("198.51.100.4".into()))
                .await
                .unwrap()
        }));
    }
    let mut sessions = Vec::new();
    for r in racing {
        if let Some(s) = r.await.unwrap() {
            sessions.push(s);
        }
    }
    assert_eq!(sessions.len(), 1, "a link signs in once");
    let (id, person) = sessions.pop().unwrap();
    let id = id.reveal().to_owned();
    crate::support::helpers::remember_secret(&id);
    assert_eq!(person.actor(), "user:ada@acme.example");
    assert!(console::link_holder(&store, &token)
        .await
        .unwrap()
        .is_none());
    assert!(console::sign_in_with_link(&store, &token, MAX_AGE, None)
        .await
        .unwrap()
        .is_none());

    // The session is live while used; idle for longer than IDLE, it ends.
    clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(
        console::session(&store, &id, IDLE).await.unwrap(),
        Some(person.clone())
    );
    clock.advance(Duration::from_secs(29 * 60));
    assert!(console::session(&store, &id, IDLE).await.unwrap().is_some());
    clock.advance(Duration::from_secs(31 * 60));
    assert!(
        console::session(&store, &id, IDLE).await.unwrap().is_none(),
        "idle"
    );

    // Used all day, it still ends at its absolute end.
    let token = console::create_link(
        &store,
        "ada@acme.example",
        Role::Admin,
        Duration::from_secs(600),
        &Origin::cli(),
    )
    .await
    .unwrap();
    let (id, _) = console::sign_in_with_link(&store, token.reveal(), MAX_AGE, None)
        .await
        .unwrap()
        .unwrap();
    let id = id.reveal().to_owned();
    for _ in 0..(12 * 3) {
        assert!(console::session(&store, &id, IDLE).await.unwrap().is_some());
        clock.advance(Duration::from_secs(20 * 60));
    }
    assert!(
        console::session(&store, &id, IDLE).await.unwrap().is_none(),
        "absolute end"
    );

    // Sign-out ends a session at once; a second sign-out changes nothing.
    let token = console::create_link(
        &store,
        "ada@acme.example",
        Role::Auditor,
        Duration::from_secs(60),
        &Origin::cli(),
    )
    .await
    .unwrap();
    let (id, auditor) = console::sign_in_with_link(&store, token.reveal(), MAX_AGE, None)
        .await
        .unwrap()
        .unwrap();
    let id = id.reveal().to_owned();
    assert_eq!(auditor.role, Role::Auditor);
    assert!(console::sign_out(&store, &id, &auditor, None)
        .await
        .unwrap());
    assert!(!console::sign_out(&store, &id, &auditor, None)
        .await
        .unwrap());
    assert!(console::session(&store, &id, IDLE).await.unwrap().is_none());

    // The audit log names the person; the database holds no token or session id.
    let events = store.list_audit(0, 1000).await.unwrap();
    let actions: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.action.starts_with("console."))
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("console.link_created", "cli"),
            ("console.sign_in", "user:ada@acme.example"),
            ("console.link_created", "cli"),
            ("console.sign_in", "user:ada@acme.example"),
            ("console.link_created", "cli"),
            ("console.sign_in", "user:ada@acme.example"),
            ("console.sign_out", "user:ada@acme.example"),
        ]
    );
    let signed_in = events
        .iter()
        .find(|e| e.action == "console.sign_in")
        .unwrap();
    assert_eq!(signed_in.ip.as_deref(), Some("198.51.100.4"));
    assert_eq!(signed_in.details["how"], "link");
    crate::support::helpers::assert_no_secret_in(
        &db.raw_dump().await,
        &crate::support::helpers::remembered_secrets(),
        "database",
    );
}

async fn links_are_for_people_and_live_at_most_an_hour(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = manual_clock();
    let store = db.store_with_clock(clock.clone()).await;
    for (email, role, ttl, says) in [
        (
            "ada@acme.example",
            Role::Worker,
            600,
            "role must be admin, issuer or auditor",
        ),
        ("ada@acme.example", Role::Admin, 3601, "at most 1h"),
        ("not an address", Role::Admin, 600, "email"),
    ] {
        match console::create_link(
            &store,
            email,
            role,
            Duration::from_secs(ttl),
            &Origin::cli(),
        )
        .await
        {
            Err(LinkError::Invalid(m)) => assert!(m.contains(says), "{m}"),
            other => panic!("{email} {role:?} {ttl}: {other:?}"),
        }
    }
    // An expired link signs nobody in.
    let token = console::create_link(
        &store,
        "ada@acme.example",
        Role::Issuer,
        Duration::from_secs(600),
        &Origin::cli(),
    )
    .await
    .unwrap();
    clock.advance(Duration::from_secs(601));
    assert!(console::link_holder(&store, token.reveal())
        .await
        .unwrap()
        .is_none());
    assert!(
        console::sign_in_with_link(&store, token.reveal(), MAX_AGE, None)
            .await
            .unwrap()
            .is_none()
    );
    // Anything not shaped like a token is refused before any database work.
    for junk in ["", "x", &"A".repeat(200)] {
        assert!(console::link_holder(&store, junk).await.unwrap().is_none());
        assert!(console::session(&store, junk, IDLE)
            .await
            .unwrap()
            .is_none());
    }
}

/// Over HTTP: the console sends a stranger to sign in; a link's page names the person and
/// shows a button (opening it uses nothing); the post signs in once and sets an `HttpOnly`
/// session cookie; the dashboard names the person; sign-out ends the session. No page holds
/// the link token or the session id.
async fn a_person_signs_in_with_a_link_sees_the_dashboard_and_signs_out(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_drop(serde_json::json!({"org": "Initech"})).await;
    let token = console::create_link(
        &app.store,
        "ada@acme.example",
        Role::Issuer,
        Duration::from_secs(600),
        &Origin::cli(),
    )
    .await
    .unwrap();
    let token = token.reveal().to_owned();
    crate::support::helpers::remember_secret(&token);

    let res = app.get("/console", None).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/console/sign-in");
    let res = app.get("/console/sign-in", None).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("content-security-policy"));
    assert!(res.text().await.unwrap().contains("keydrop console link"));

    let link = format!("/console/link/{token}");
    let page = app
        .get(&link, None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("ada@acme.example") && page.contains("Sign in"),
        "{page}"
    );
    assert!(!page.contains(&token), "the page does not repeat the token");
    let csrf = csrf_from(&page).unwrap();
    // Without the form token: refused, the link still usable.
    let res = app
        .post(&link, None)
        .form(&[("csrf_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .post(&link, None)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/console");
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.starts_with("keydrop-console=")
            && set.contains("HttpOnly")
            && set.contains("SameSite=Lax"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    let session_id = cookie.trim_start_matches("keydrop-console=").to_owned();
    crate::support::helpers::remember_secret(&session_id);
    // Used: the link is gone.
    assert_eq!(app.get(&link, None).send().await.unwrap().status(), 410);

    let dash = app
        .get("/console", None)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(dash.status(), 200);
    let dash = dash.text().await.unwrap();
    assert!(
        dash.contains("signed in as ada@acme.example (issuer)"),
        "{dash}"
    );
    assert!(
        dash.contains("Links by state") && dash.contains("open"),
        "{dash}"
    );
    assert!(!dash.contains(&session_id) && !dash.contains(&token));

    // Sign-out needs the session's form token; then the cookie opens nothing.
    let res = app
        .post("/console/sign-out", None)
        .header("cookie", &cookie)
        .form(&[("csrf_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let csrf = csrf_from(&dash).unwrap();
    let res = app
        .post("/console/sign-out", None)
        .header("cookie", &cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let res = app
        .get("/console", None)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let signed_out: serde_json::Value = app
        .get(
            "/api/v1/audit?action=console.sign_out",
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(signed_out["events"][0]["actor"], "user:ada@acme.example");
    // Neither the link token nor the session id reached the logs (the access log shows the
    // link's route with the token hidden) or the database.
    crate::support::helpers::assert_no_secret_in(
        crate::support::helpers::captured_logs().as_bytes(),
        &[token.clone(), session_id.clone()],
        "logs",
    );
    crate::support::helpers::assert_no_secret_in(
        &app.db.raw_dump().await,
        &[token, session_id],
        "database",
    );
}

async fn with_a_console_listener_the_console_is_only_there(backend: Backend) {
    let app = crate::support::helpers::spawn_app_with(
        backend,
        crate::support::helpers::AppOptions {
            tune: Some(|s| s.console.bind = Some("127.0.0.1:0".parse().unwrap())),
            ..crate::support::helpers::AppOptions::default()
        },
    )
    .await;
    let console = app.console_address.clone().expect("a console listener");
    let http = crate::support::helpers::test_client();
    // The main listener: links, the API and health, no console.
    for path in [
        "/console",
        "/console/sign-in",
        "/console/drops",
        "/console/link/x",
    ] {
        let res = app.get(path, None).send().await.unwrap();
        assert_eq!(res.status(), 404, "main {path}");
    }
    assert_eq!(
        app.get("/healthz", None).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        app.get("/api/v1/drops", Some(&app.admin_token))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The console's listener: the console and its stylesheet, nothing else.
    let res = http.get(format!("{console}/console")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let res = http
        .get(format!("{console}/console/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("content-security-policy"));
    assert_eq!(
        http.get(format!("{console}/static/keydrop.css"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for path in ["/api/v1/drops", "/healthz", "/d/abc"] {
        let res = http.get(format!("{console}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 404, "console {path}");
    }
    // Signing in works there.
    let token = console::create_link(
        &app.store,
        "ada@acme.example",
        Role::Admin,
        Duration::from_secs(600),
        &Origin::cli(),
    )
    .await
    .unwrap();
    crate::support::helpers::remember_secret(token.reveal());
    let link = format!("{console}/console/link/{}", token.reveal());
    let page = http.get(&link).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_from(&page).unwrap();
    let res = http
        .post(&link)
        .form(&[("csrf_token", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}
