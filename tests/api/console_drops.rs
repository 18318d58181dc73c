//! The console's drops (SPEC §13): an issuer creates a drop in the console (the link shown
//! once), the customer hands over a credential, the drop's page shows it verified with a
//! timeline naming who did what; the list filters and searches; an auditor looks but cannot
//! touch; every console POST needs the session's form token; no page leaks a secret.

use crate::on_both_backends;
use crate::support::helpers::{
    assert_no_secret_in, csrf_from, link_token, remember_secret, remembered_secrets, spawn_app,
    spawn_app_with, AppOptions, Backend, TestApp, GOOD_ID, GOOD_SECRET,
};
use keydrop::domain::event::Origin;
use keydrop::domain::role::Role;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use std::time::Duration;

on_both_backends!(
    an_issuer_creates_a_drop_follows_it_to_verified_and_sees_who_did_what,
    an_auditor_looks_but_cannot_touch,
    console_posts_need_the_sessions_form_token,
    the_dashboard_lists_what_needs_attention,
    the_prefix_search_is_right_whether_few_or_many_drops_match,
);

/// A console session for `email` as `role`, through a single-use sign-in link.
pub async fn sign_in(app: &TestApp, email: &str, role: Role) -> String {
    let token = keydrop::service::console::create_link(
        &app.store,
        email,
        role,
        Duration::from_secs(600),
        &Origin::cli(),
    )
    .await
    .unwrap();
    remember_secret(token.reveal());
    let link = format!("/console/link/{}", token.reveal());
    let page = app
        .get(&link, None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_from(&page).unwrap();
    let res = app
        .post(&link, None)
        .form(&[("csrf_token", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap();
    let session = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    remember_secret(&session);
    session
}

pub async fn console_get(app: &TestApp, session: &str, path: &str) -> (u16, String) {
    let res = app
        .get(path, None)
        .header(COOKIE, format!("keydrop-console={session}"))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

pub async fn console_post(
    app: &TestApp,
    session: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.post(path, None)
        .header(COOKIE, format!("keydrop-console={session}"))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The text between `<code>` and `</code>` after `after`.
pub fn code_after<'a>(html: &'a str, after: &str) -> &'a str {
    let at = html.find(after).unwrap();
    let rest = &html[at..];
    let start = rest.find("<code>").unwrap() + 6;
    let end = rest[start..].find("</code>").unwrap();
    &rest[start..start + end]
}

async fn an_issuer_creates_a_drop_follows_it_to_verified_and_sees_who_did_what(backend: Backend) {
    // With the fake Greenhouse, so the credential is checked at once.
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let session = sign_in(&app, "ada@acme.example", Role::Issuer).await;

    // Not signed in: sent to sign in, and back here afterwards.
    let res = app
        .get("/console/drops?state=open", None)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()[LOCATION],
        "/console/sign-in?next=%2Fconsole%2Fdrops%3Fstate%3Dopen"
    );

    let (status, form) = console_get(&app, &session, "/console/drops/new").await;
    assert_eq!(status, 200);
    assert!(
        form.contains(r#"name="contact_email" maxlength="254" value="ada@acme.example""#),
        "{form}"
    );
    for field in [
        "org",
        "note",
        "kind",
        "profile",
        "release",
        "expires_in",
        "max_attempts",
        "external_id",
        "contact_name",
        "contact_email",
    ] {
        assert!(form.contains(&format!(r#"name="{field}""#)), "{field}");
    }
    let csrf = csrf_from(&form).unwrap();
    // A bad field: the API's own message, the form kept, nothing created.
    let res = console_post(
        &app,
        &session,
        "/console/drops/new",
        &[("csrf_token", &csrf), ("org", ""), ("kind", "harvest_v3")],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("org must be 1 to 200 characters"));

    let res = console_post(
        &app,
        &session,
        "/console/drops/new",
        &[
            ("csrf_token", &csrf),
            ("org", "Initech"),
            ("external_id", "cust-4410"),
            ("kind", "harvest_v3"),
            ("contact_name", "Ada Lovelace"),
            ("contact_email", "ada@acme.example"),
        ],
    )
    .await;
    assert_eq!(res.status(), 201);
    let created = res.text().await.unwrap();
    let url = code_after(&created, "Link created").to_owned();
    assert!(url.starts_with("http://127.0.0.1/d/"), "{url}");
    remember_secret(link_token(&url));

    // Permissions chosen one by one instead of a profile: the API's `required`/`optional`.
    let res = console_post(
        &app,
        &session,
        "/console/drops/new",
        &[
            ("csrf_token", &csrf),
            ("org", "Hooli"),
            ("kind", "harvest_v3"),
            ("perm.harvest_v3.users", "required"),
            ("perm.harvest_v3.jobs", "optional"),
            ("perm.candidate_ingestion.candidates", "required"),
        ],
    )
    .await;
    assert_eq!(res.status(), 201);
    let page = res.text().await.unwrap();
    remember_secret(link_token(code_after(&page, "Link created")));
    let follow = page.find("Follow this drop").unwrap();
    let at =
        page[..follow].rfind("href=\"/console/drops/").unwrap() + "href=\"/console/drops/".len();
    let hooli = &page[at..at + 36];
    let d: serde_json::Value = app
        .get(&format!("/api/v1/drops/{hooli}"), Some(&app.admin_token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["profile"]["required"],
        serde_json::json!(["users"]),
        "{d}"
    );
    assert_eq!(d["profile"]["optional"], serde_json::json!(["jobs"]), "{d}");
    let res = console_post(
        &app,
        &session,
        "/console/drops/new",
        &[
            ("csrf_token", &csrf),
            ("org", "Hooli"),
            ("perm.harvest_v3.jobs", "optional"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("optional needs a required list"));

    // The customer hands over a working credential.
    let path = TestApp::link_path(&url);
    let (status, _) = app
        .submit(
            &path,
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 200);

    // Found by an org prefix in any case, and by external_id; not by something else.
    let (_, list) = console_get(&app, &session, "/console/drops?q=initE").await;
    assert!(list.contains("Initech"), "{list}");
    let (_, list) = console_get(
        &app,
        &session,
        "/console/drops?q=cust-44&state=submitted&kind=harvest_v3",
    )
    .await;
    assert!(list.contains("Initech"), "{list}");
    let (_, list) = console_get(&app, &session, "/console/drops?q=Umbrella").await;
    assert!(!list.contains("Initech") && list.contains("No drops match"));
    let (_, list) = console_get(&app, &session, "/console/drops?q=%25").await;
    assert!(
        !list.contains("Initech"),
        "a % is a character, not a wildcard"
    );
    for bad in ["state=lost", "kind=nope", "after=xyz", "q=a%00b"] {
        let (status, _) = console_get(&app, &session, &format!("/console/drops?{bad}")).await;
        assert_eq!(status, 422, "{bad}");
    }
    let id = list_link(
        &console_get(&app, &session, "/console/drops?q=Initech")
            .await
            .1,
    );
    let (status, detail) = console_get(&app, &session, &format!("/console/drops/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        detail.contains("submitted") && detail.contains("verified"),
        "{detail}"
    );
    assert!(detail.contains("Check it again now"));
    // The timeline names the person who created it and the customer's submission.
    let timeline = &detail[detail.find("Timeline").unwrap()..];
    assert!(
        timeline.contains("Link created") && timeline.contains(" — ada@acme.example"),
        "{timeline}"
    );
    assert!(
        timeline.contains("the customer (through the link)"),
        "{timeline}"
    );
    assert!(timeline.contains("drop.submit"), "{timeline}");

    // Re-check from the console: audited with the person as actor.
    let res = console_post(
        &app,
        &session,
        &format!("/console/drops/{id}/recheck"),
        &[("csrf_token", &csrf_from(&detail).unwrap())],
    )
    .await;
    assert_eq!(res.status(), 303);
    let events = app.store.list_audit(0, 10_000).await.unwrap();
    let by_ada: Vec<_> = events
        .iter()
        .filter(|e| e.actor == "user:ada@acme.example")
        .map(|e| e.action.as_str())
        .collect();
    assert!(by_ada.contains(&"drop.create"), "{by_ada:?}");
    assert!(
        by_ada.iter().any(|a| a.starts_with("credential.")),
        "{by_ada:?}"
    );
    // …and the credential's events are in the drop's timeline too.
    let (_, detail) = console_get(&app, &session, &format!("/console/drops/{id}")).await;
    let timeline = &detail[detail.find("Timeline").unwrap()..];
    assert!(timeline.contains("<code>credential."), "{timeline}");

    // Relink (SPEC §15): a new link, shown once, that will replace the credential; a
    // second one while the first is open carries the same external id: refused, said why.
    assert!(detail.contains(">Relink</button>"), "{detail}");
    let res = console_post(
        &app,
        &session,
        &format!("/console/drops/{id}/relink"),
        &[("csrf_token", &csrf_from(&detail).unwrap())],
    )
    .await;
    assert_eq!(res.status(), 201);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("/d/") && page.contains("replaces the one it was made for"),
        "{page}"
    );
    let res = console_post(
        &app,
        &session,
        &format!("/console/drops/{id}/relink"),
        &[("csrf_token", &csrf_from(&detail).unwrap())],
    )
    .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("external id"));

    // Only an admin destroys the credential.
    let (_, detail) = console_get(&app, &session, &format!("/console/drops/{id}")).await;
    assert!(!detail.contains("Destroy the credential"));
    let res = console_post(
        &app,
        &session,
        &format!("/console/drops/{id}/destroy"),
        &[("csrf_token", &csrf_from(&detail).unwrap())],
    )
    .await;
    assert_eq!(res.status(), 403);
    let root = sign_in(&app, "root@acme.example", Role::Admin).await;
    let (_, detail) = console_get(&app, &root, &format!("/console/drops/{id}")).await;
    assert!(detail.contains("Destroy the credential"));
    let res = console_post(
        &app,
        &root,
        &format!("/console/drops/{id}/destroy"),
        &[("csrf_token", &csrf_from(&detail).unwrap())],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (_, detail) = console_get(&app, &root, &format!("/console/drops/{id}")).await;
    assert!(
        detail.contains("destroyed") && !detail.contains("Destroy the credential"),
        "{detail}"
    );
    let destroyed = app
        .store
        .list_audit(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.action == "credential.destroy")
        .unwrap();
    assert_eq!(destroyed.actor, "user:root@acme.example");

    // No console page shows a secret: not the credential, not the link token (after the
    // one page that shows it), not the session id.
    for path in [
        "/console",
        "/console/drops",
        &format!("/console/drops/{id}"),
        "/console/drops/new",
    ] {
        let (_, html) = console_get(&app, &session, path).await;
        assert_no_secret_in(html.as_bytes(), &remembered_secrets(), path);
    }
}

/// The first drop's id linked from a list page.
fn list_link(html: &str) -> String {
    let html = &html[html.find("<tbody>").unwrap()..];
    let at = html.find("href=\"/console/drops/").unwrap() + "href=\"/console/drops/".len();
    html[at..at + 36].to_owned()
}

async fn an_auditor_looks_but_cannot_touch(backend: Backend) {
    let app = spawn_app(backend).await;
    let drop = app.create_drop(serde_json::json!({"org": "Initech"})).await;
    let id = drop["id"].as_str().unwrap();
    let auditor = sign_in(&app, "audrey@acme.example", Role::Auditor).await;
    let (status, list) = console_get(&app, &auditor, "/console/drops").await;
    assert_eq!(status, 200);
    assert!(list.contains("Initech") && !list.contains("New drop"));
    let (status, detail) = console_get(&app, &auditor, &format!("/console/drops/{id}")).await;
    assert_eq!(status, 200);
    assert!(!detail.contains("Revoke"), "no buttons for an auditor");
    let (status, page) = console_get(&app, &auditor, "/console/drops/new").await;
    assert_eq!(status, 403);
    assert!(page.contains("auditor"));
    // Even with a valid form token of their own session, the POSTs are refused.
    let (_, dash) = console_get(&app, &auditor, "/console").await;
    let csrf = csrf_from(&dash).unwrap();
    let before = app.store.list_audit(0, 10_000).await.unwrap().len();
    let res = console_post(
        &app,
        &auditor,
        "/console/drops/new",
        &[("csrf_token", &csrf), ("org", "Umbrella")],
    )
    .await;
    assert_eq!(res.status(), 403);
    let res = console_post(
        &app,
        &auditor,
        &format!("/console/drops/{id}/revoke"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.store.list_audit(0, 10_000).await.unwrap().len(),
        before,
        "nothing changed"
    );

    // An issuer revokes it from the console.
    let issuer = sign_in(&app, "ada@acme.example", Role::Issuer).await;
    let (_, detail) = console_get(&app, &issuer, &format!("/console/drops/{id}")).await;
    assert!(detail.contains("Revoke the link"));
    let res = console_post(
        &app,
        &issuer,
        &format!("/console/drops/{id}/revoke"),
        &[("csrf_token", &csrf_from(&detail).unwrap())],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (_, detail) = console_get(&app, &issuer, &format!("/console/drops/{id}")).await;
    assert!(
        detail.contains("revoked") && detail.contains("drop.revoke"),
        "{detail}"
    );
    let revoked = app
        .store
        .list_audit(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.action == "drop.revoke")
        .unwrap();
    assert_eq!(revoked.actor, "user:ada@acme.example");
}

async fn console_posts_need_the_sessions_form_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let drop = app.create_drop(serde_json::json!({"org": "Initech"})).await;
    let id = drop["id"].as_str().unwrap();
    let ada = sign_in(&app, "ada@acme.example", Role::Issuer).await;
    let bob = sign_in(&app, "bob@acme.example", Role::Issuer).await;
    let (_, bobs_page) = console_get(&app, &bob, "/console/drops/new").await;
    let bobs_token = csrf_from(&bobs_page).unwrap();
    for token in ["", "forged", bobs_token.as_str()] {
        let res = console_post(
            &app,
            &ada,
            "/console/drops/new",
            &[("csrf_token", token), ("org", "Umbrella")],
        )
        .await;
        assert_eq!(res.status(), 403, "{token}");
        let res = console_post(
            &app,
            &ada,
            &format!("/console/drops/{id}/revoke"),
            &[("csrf_token", token)],
        )
        .await;
        assert_eq!(res.status(), 403, "{token}");
    }
    let (_, list) = console_get(&app, &ada, "/console/drops").await;
    assert!(!list.contains("Umbrella"));
    assert!(!app
        .store
        .list_audit(0, 10_000)
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "drop.revoke"));
}

async fn the_dashboard_lists_what_needs_attention(backend: Backend) {
    // Greenhouse unreachable: a submitted credential stays pending.
    let app = spawn_app_with(
        backend,
        AppOptions {
            greenhouse: false,
            manual_clock: true,
            ..AppOptions::default()
        },
    )
    .await;
    let ada = sign_in(&app, "ada@acme.example", Role::Issuer).await;
    let (_, dash) = console_get(&app, &ada, "/console").await;
    assert!(
        dash.contains("Needs attention") && dash.contains("Nothing: every credential is verified"),
        "{dash}"
    );
    let lapsing = app
        .create_drop(serde_json::json!({"org": "Hooli", "expires_in": 300}))
        .await;
    let pending = app.create_drop(serde_json::json!({"org": "Initech"})).await;
    let (status, _) = app
        .submit(
            &TestApp::link_path(pending["url"].as_str().unwrap()),
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 202);
    app.clock
        .as_ref()
        .unwrap()
        .advance(Duration::from_secs(600));
    let (_, dash) = console_get(&app, &ada, "/console").await;
    let attention =
        &dash[dash.find("Needs attention").unwrap()..dash.find("Links by state").unwrap()];
    assert!(
        attention.contains("Initech") && attention.contains("still pending"),
        "{attention}"
    );
    assert!(
        attention.contains("Hooli") && attention.contains("expired"),
        "{attention}"
    );
    assert!(attention.contains(&format!(
        "/console/drops/{}",
        lapsing["id"].as_str().unwrap()
    )));
}

/// 2 100 drops written straight to the store: "Acme 0" … "Acme 2099", every seventh with an
/// external id "CUST-<i>". A broad prefix (1 000 matches or more) takes the newest-first
/// walk, a narrow one the prefix indexes; both must give exactly the matching drops, newest
/// first, page after page.
async fn the_prefix_search_is_right_whether_few_or_many_drops_match(backend: Backend) {
    use keydrop::domain::audit::AuditEntry;
    use keydrop::store::{Cursor, DropFilter, NewDrop};
    let app = spawn_app_with(backend, AppOptions::with_manual_clock()).await;
    let clock = app.clock.clone().unwrap();
    let mut all = Vec::new();
    for i in 0..2100 {
        let id = uuid::Uuid::new_v4().to_string();
        let org = format!("Acme {i}");
        let external_id = (i % 7 == 0).then(|| format!("CUST-{i}"));
        app.store
            .insert_drop(
                &NewDrop {
                    release: keydrop::domain::release::Release::Handoff,
                    id: id.clone(),
                    token_hash: keydrop::crypto::sha256_hex(&[id.as_bytes()]),
                    org: org.clone(),
                    note: None,
                    kind: "harvest_v3".into(),
                    profile_json: r#"{"name":"minimal","required":["users"],"optional":[]}"#.into(),
                    expires_at: i64::MAX / 2,
                    max_attempts: 10,
                    created_by: "test".into(),
                    contact: None,
                    external_id: external_id.clone(),
                    metadata_json: None,
                    replaces: None,
                    mail: None,
                },
                &AuditEntry::untyped("test", "drop.create", format!("drop:{id}")),
            )
            .await
            .unwrap();
        all.push((id, org, external_id));
        clock.advance(Duration::from_millis(1));
    }
    all.reverse(); // newest first
    for q in [
        "acme",
        "ACME 1",
        "acme 20",
        "acme 2099",
        "cust-",
        "Cust-14",
        "acme 9999",
        "é",
    ] {
        let lower = q.to_lowercase();
        let want: Vec<&str> = all
            .iter()
            .filter(|(_, org, x)| {
                org.to_lowercase().starts_with(&lower)
                    || x.as_deref()
                        .is_some_and(|x| x.to_lowercase().starts_with(&lower))
            })
            .map(|(id, _, _)| id.as_str())
            .collect();
        let filter = DropFilter {
            prefix: Some(q.to_owned()),
            ..DropFilter::default()
        };
        let mut got = Vec::new();
        let mut after: Option<Cursor> = None;
        loop {
            let page = app
                .store
                .list_drops(&filter, after.as_ref(), 500)
                .await
                .unwrap();
            got.extend(page.iter().map(|d| d.id.clone()));
            match page.last() {
                Some(last) if page.len() == 500 => {
                    after = Some(Cursor {
                        created_at: last.created_at,
                        id: last.id.clone(),
                    })
                }
                _ => break,
            }
        }
        assert_eq!(got, want, "{q}: {} wanted, {} got", want.len(), got.len());
    }
}
