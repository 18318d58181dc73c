//! The console's admin pages (SPEC §13): API tokens (created — shown once — and revoked),
//! webhook endpoints (added — secret shown once — rotated, removed, their deliveries),
//! console sessions (an admin's revocation stops the session at its next request), key
//! versions and task health. Admins only; every change audited with the admin as actor.

use crate::console_drops::{console_get, console_post, sign_in};
use crate::on_both_backends;
use crate::support::helpers::{
    assert_no_secret_in, csrf_from, remember_secret, remembered_secrets, spawn_app, Backend,
};
use keydrop::domain::role::Role;

on_both_backends!(
    an_admin_manages_tokens_and_webhooks_and_others_cannot,
    an_admin_revokes_a_session_and_it_stops_at_once,
);

/// The secret shown once on a 201 page.
fn shown(html: &str) -> String {
    let at = html.find("link-once").unwrap();
    let rest = &html[at..];
    let start = rest.find("<code>").unwrap() + 6;
    let end = rest[start..].find("</code>").unwrap();
    rest[start..start + end].to_owned()
}

async fn an_admin_manages_tokens_and_webhooks_and_others_cannot(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = sign_in(&app, "root@acme.example", Role::Admin).await;
    let issuer = sign_in(&app, "ada@acme.example", Role::Issuer).await;
    let auditor = sign_in(&app, "audrey@acme.example", Role::Auditor).await;

    let (status, page) = console_get(&app, &admin, "/console/admin/tokens").await;
    assert_eq!(status, 200);
    let csrf = csrf_from(&page).unwrap();
    let res = console_post(
        &app,
        &admin,
        "/console/admin/tokens",
        &[
            ("csrf_token", &csrf),
            ("name", "ingest-1"),
            ("role", "worker"),
        ],
    )
    .await;
    assert_eq!(res.status(), 201);
    let token = shown(&res.text().await.unwrap());
    remember_secret(&token);
    assert!(token.starts_with("kd_"), "{token}");
    assert_eq!(
        app.get("/api/v1/credentials", Some(&token))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (_, page) = console_get(&app, &admin, "/console/admin/tokens").await;
    assert!(
        page.contains("ingest-1") && !page.contains(&token),
        "shown once"
    );
    let tokens: serde_json::Value = app
        .get("/api/v1/tokens", Some(&app.admin_token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ingest-1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = console_post(
        &app,
        &admin,
        &format!("/console/admin/tokens/{id}/revoke"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.get("/api/v1/credentials", Some(&token))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let (status, page) = console_get(&app, &admin, "/console/admin/webhooks").await;
    assert_eq!(status, 200);
    let csrf = csrf_from(&page).unwrap();
    let res = console_post(
        &app,
        &admin,
        "/console/admin/webhooks",
        &[
            ("csrf_token", &csrf),
            ("url", "http://127.0.0.1:9/hooks"),
            ("description", "billing"),
        ],
    )
    .await;
    assert_eq!(res.status(), 201);
    let secret = shown(&res.text().await.unwrap());
    remember_secret(&secret);
    let hooks: serde_json::Value = app
        .get("/api/v1/webhooks", Some(&app.admin_token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook = hooks["webhooks"][0]["id"].as_str().unwrap().to_owned();
    let res = console_post(
        &app,
        &admin,
        &format!("/console/admin/webhooks/{hook}/rotate"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 201);
    let rotated = shown(&res.text().await.unwrap());
    remember_secret(&rotated);
    assert_ne!(rotated, secret);
    let (status, _) = console_get(&app, &admin, &format!("/console/admin/webhooks/{hook}")).await;
    assert_eq!(status, 200);
    let res = console_post(
        &app,
        &admin,
        "/console/admin/webhooks",
        &[("csrf_token", &csrf), ("url", "ftp://example.com")],
    )
    .await;
    assert_eq!(res.status(), 422);
    for path in [
        "/console/admin/tokens",
        "/console/admin/webhooks",
        &format!("/console/admin/webhooks/{hook}"),
        "/console/admin/sessions",
        "/console/admin/status",
    ] {
        let (status, html) = console_get(&app, &admin, path).await;
        assert_eq!(status, 200, "{path}");
        assert_no_secret_in(html.as_bytes(), &remembered_secrets(), path);
        for other in [&issuer, &auditor] {
            let (status, _) = console_get(&app, other, path).await;
            assert_eq!(status, 403, "{path}");
        }
    }
    let res = console_post(
        &app,
        &admin,
        &format!("/console/admin/webhooks/{hook}/remove"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (_, page) = console_get(&app, &admin, "/console/admin/webhooks").await;
    assert!(page.contains("No endpoints yet"));

    // Issuers and auditors manage no tokens, even with a valid form token of their own.
    for other in [&issuer, &auditor] {
        let (_, dash) = console_get(&app, other, "/console").await;
        let csrf = csrf_from(&dash).unwrap();
        let res = console_post(
            &app,
            other,
            "/console/admin/tokens",
            &[("csrf_token", &csrf), ("name", "sneaky"), ("role", "admin")],
        )
        .await;
        assert_eq!(res.status(), 403);
        let res = console_post(
            &app,
            other,
            "/console/admin/webhooks",
            &[("csrf_token", &csrf), ("url", "http://127.0.0.1:9/x")],
        )
        .await;
        assert_eq!(res.status(), 403);
    }
    let events = app.store.list_audit(0, 10_000).await.unwrap();
    let by_root: Vec<&str> = events
        .iter()
        .filter(|e| e.actor == "user:root@acme.example")
        .map(|e| e.action.as_str())
        .collect();
    for a in [
        "token.create",
        "token.revoke",
        "webhook.create",
        "webhook.rotate_secret",
        "webhook.delete",
    ] {
        assert!(by_root.contains(&a), "{a}: {by_root:?}");
    }
    assert!(!events
        .iter()
        .any(|e| e.details.to_string().contains("sneaky")));
}

async fn an_admin_revokes_a_session_and_it_stops_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = sign_in(&app, "root@acme.example", Role::Admin).await;
    let ada = sign_in(&app, "ada@acme.example", Role::Issuer).await;
    assert_eq!(console_get(&app, &ada, "/console").await.0, 200);
    let (_, page) = console_get(&app, &admin, "/console/admin/sessions").await;
    assert!(page.contains("ada@acme.example") && page.contains("root@acme.example"));
    // The form names sessions by their ids' hashes, never the ids.
    assert!(!page.contains(&ada) && !page.contains(&admin));
    let csrf = csrf_from(&page).unwrap();
    let at = page.find("Revoke the session of ada@acme.example").unwrap();
    let form = &page[page[..at].rfind("<form").unwrap()..at];
    let key_at =
        form.find("name=\"session\" value=\"").unwrap() + "name=\"session\" value=\"".len();
    let key = &form[key_at..key_at + 64];
    let res = console_post(
        &app,
        &admin,
        "/console/admin/sessions/revoke",
        &[("csrf_token", &csrf), ("session", key)],
    )
    .await;
    assert_eq!(res.status(), 303);
    // Ada's very next request: signed out.
    let res = app
        .get("/console", None)
        .header(reqwest::header::COOKIE, format!("keydrop-console={ada}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let events = app.store.list_audit(0, 10_000).await.unwrap();
    let revoked = events
        .iter()
        .find(|e| e.action == "console.session_revoked")
        .unwrap();
    assert_eq!(revoked.actor, "user:root@acme.example");
    assert_eq!(revoked.subject, "user:ada@acme.example");
    // A key that is not a live session's changes nothing.
    let before = events.len();
    for bogus in ["", "zz", &"0".repeat(64)] {
        let res = console_post(
            &app,
            &admin,
            "/console/admin/sessions/revoke",
            &[("csrf_token", &csrf), ("session", bogus)],
        )
        .await;
        assert_eq!(res.status(), 303);
    }
    assert_eq!(app.store.list_audit(0, 10_000).await.unwrap().len(), before);
    // The status page shows key version 1 in use and the background tasks.
    let (_, status) = console_get(&app, &admin, "/console/admin/status").await;
    assert!(
        status.contains("Master key versions") && status.contains("<td>1</td>"),
        "{status}"
    );
    // …and who keeps it (SPEC §14).
    assert!(
        status.contains("Kept by") && status.contains("<td><code>file</code></td>"),
        "{status}"
    );
}
