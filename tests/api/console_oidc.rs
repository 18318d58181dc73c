//! Console sign-in with OpenID Connect (SPEC §13, §8.12) against the in-process fake provider:
//! the code flow with PKCE, state and nonce; every bad ID token refused; refused people told
//! why and audited; a rotated signing key fetched again; another browser's callback, a replayed
//! state and an open redirect all go nowhere; a provider that is down is a 503 that points to
//! sign-in links.

use crate::on_both_backends;
use crate::support::fake_idp::{FakeIdp, Mischief};
use crate::support::helpers::{
    csrf_from, remember_secret, spawn_app_with, AppOptions, Backend, TestApp,
};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

on_both_backends!(
    a_person_signs_in_with_single_sign_on_and_lands_where_they_asked,
    every_bad_id_token_is_refused_and_signs_no_one_in,
    people_without_a_role_or_domain_are_refused_and_told_why,
    a_rotated_signing_key_is_fetched_again,
    a_callback_from_another_browser_or_replayed_signs_no_one_in,
    a_provider_that_is_down_points_to_sign_in_links,
);

async fn app_with(
    backend: Backend,
    idp: &FakeIdp,
    tune: impl FnOnce(&mut keydrop::config::OidcSettings),
) -> TestApp {
    let mut oidc = idp.settings();
    tune(&mut oidc);
    spawn_app_with(
        backend,
        AppOptions {
            oidc: Some(oidc),
            real_public_url: true,
            ..AppOptions::default()
        },
    )
    .await
}

/// The value of cookie `name` set by `res`, if any.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get_all(SET_COOKIE).iter().find_map(|h| {
        let h = h.to_str().ok()?;
        let (n, rest) = h.split_once('=')?;
        (n == name).then(|| rest.split(';').next().unwrap_or("").to_owned())
    })
}

/// One sign-in as far as the provider's redirect back: (callback URL, the browser's cookie).
async fn to_provider_and_back(app: &TestApp, next: &str) -> (String, String) {
    let page = app
        .http
        .get(format!(
            "{}/console/sign-in?next={}",
            app.address,
            urlencode(next)
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in with single sign-on"), "{page}");
    let csrf = csrf_from(&page).unwrap();
    let res = app
        .http
        .post(format!("{}/console/sign-in", app.address))
        .form(&[("csrf_token", csrf.as_str()), ("next", next)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let browser = set_cookie(&res, "keydrop-console-oidc").expect("the sign-in's cookie");
    remember_secret(&browser);
    let authorize = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let at_idp = app.http.get(&authorize).send().await.unwrap();
    assert_eq!(
        at_idp.status().as_u16(),
        303,
        "{}",
        at_idp.text().await.unwrap()
    );
    let callback = at_idp.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("{}/console/oidc/callback?", app.address)));
    (callback, browser)
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).unwrap()[1..].to_owned()
}

async fn callback(app: &TestApp, url: &str, browser: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(url);
    if let Some(b) = browser {
        req = req.header(
            COOKIE,
            format!("keydrop-console-oidc={b}; keydrop-console=an-old-session-id-the-browser-held"),
        );
    }
    req.send().await.unwrap()
}

async fn actions(app: &TestApp) -> Vec<(String, String, serde_json::Value)> {
    app.store
        .list_audit(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("console."))
        .map(|e| (e.action.clone(), e.actor.clone(), e.details.clone()))
        .collect()
}

async fn a_person_signs_in_with_single_sign_on_and_lands_where_they_asked(backend: Backend) {
    let idp = FakeIdp::start().await;
    let app = app_with(backend, &idp, |_| {}).await;

    let (url, browser) = to_provider_and_back(&app, "/console/drops?state=verified").await;
    let res = callback(&app, &url, Some(&browser)).await;
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers()[LOCATION], "/console/drops?state=verified");
    let session = set_cookie(&res, "keydrop-console").expect("a session");
    remember_secret(&session);
    // Session fixation: the id is new, whatever the browser sent.
    assert_ne!(session, "an-old-session-id-the-browser-held");
    assert_eq!(session.len(), 43);
    assert_eq!(
        set_cookie(&res, "keydrop-console-oidc").as_deref(),
        Some(""),
        "spent"
    );
    let dash = app
        .http
        .get(format!("{}/console", app.address))
        .header(COOKIE, format!("keydrop-console={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(dash.contains("grace@acme.example"), "{dash}");
    assert!(dash.contains("issuer"));
    assert_eq!(idp.auth_methods(), vec!["client_secret_basic"]);
    let log = actions(&app).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].0, "console.sign_in");
    assert_eq!(log[0].1, "user:grace@acme.example");
    assert_eq!(log[0].2["how"], "oidc");
    assert_eq!(log[0].2["role"], "issuer");

    // No open redirect: anything but a path of the console lands on the dashboard.
    for next in [
        "https://evil.example/console",
        "//evil.example/console",
        "/console/../x",
        "/consoleevil",
        "/\\evil.example",
        "/console//evil.example",
    ] {
        let (url, browser) = to_provider_and_back(&app, next).await;
        let res = callback(&app, &url, Some(&browser)).await;
        assert_eq!(res.status().as_u16(), 303, "{next}");
        assert_eq!(res.headers()[LOCATION], "/console", "{next}");
    }

    // Claims the ID token leaves out are read from userinfo; an e-mail named for a role
    // counts like a group, and the highest role wins.
    idp.misbehave(Mischief::ClaimsInUserinfo);
    idp.person("Ada@Acme.example", &["keydrop-auditors"]);
    let app2 = app_with(backend, &idp, |s| s.admins.push("ada@acme.example".into())).await;
    let (url, browser) = to_provider_and_back(&app2, "/console").await;
    let res = callback(&app2, &url, Some(&browser)).await;
    assert_eq!(res.status().as_u16(), 303, "{}", res.text().await.unwrap());
    let log = actions(&app2).await;
    assert_eq!(log[0].1, "user:ada@acme.example");
    assert_eq!(log[0].2["role"], "admin");
    idp.stop().await;
}

async fn every_bad_id_token_is_refused_and_signs_no_one_in(backend: Backend) {
    let idp = FakeIdp::start().await;
    let app = app_with(backend, &idp, |_| {}).await;
    for (m, says) in [
        (Mischief::BadSignature, "signature does not match"),
        (Mischief::AlgNone, "unsigned"),
        (
            Mischief::Hs256,
            "signed with HS256, which keydrop does not accept",
        ),
        (Mischief::WrongAudience, "issued for another client"),
        (Mischief::WrongIssuer, "issued by another issuer"),
        (Mischief::Expired, "has expired"),
        (Mischief::WrongNonce, "nonce is not this sign-in"),
    ] {
        idp.misbehave(m);
        let (url, browser) = to_provider_and_back(&app, "/console").await;
        let res = callback(&app, &url, Some(&browser)).await;
        assert_eq!(res.status().as_u16(), 400, "{m:?}");
        assert!(set_cookie(&res, "keydrop-console").is_none(), "{m:?}");
        let page = res.text().await.unwrap();
        assert!(page.contains("This sign-in did not work"), "{m:?}: {page}");
        assert!(page.contains(says), "{m:?}: {page}");
    }
    assert!(actions(&app).await.is_empty(), "no one signed in");
    idp.stop().await;
}

async fn people_without_a_role_or_domain_are_refused_and_told_why(backend: Backend) {
    let idp = FakeIdp::start().await;
    let app = app_with(backend, &idp, |s| {
        s.allowed_domains = vec!["acme.example".into()]
    })
    .await;
    let cases = [
        (
            "grace@acme.example",
            vec!["keydrop-issuers"],
            Mischief::UnverifiedEmail,
            "email_unverified",
            "not verified",
        ),
        (
            "grace@acme.example",
            vec!["marketing"],
            Mischief::Nothing,
            "no_role",
            "not in a group",
        ),
        (
            "mallory@other.example",
            vec!["keydrop-admins"],
            Mischief::Nothing,
            "domain_not_allowed",
            "not in a domain allowed",
        ),
    ];
    for (email, groups, m, reason, says) in cases {
        idp.person(email, &groups);
        idp.misbehave(m);
        let (url, browser) = to_provider_and_back(&app, "/console").await;
        let res = callback(&app, &url, Some(&browser)).await;
        assert_eq!(res.status().as_u16(), 403, "{reason}");
        assert!(set_cookie(&res, "keydrop-console").is_none());
        let page = res.text().await.unwrap();
        assert!(page.contains(says), "{reason}: {page}");
        let log = actions(&app).await;
        let last = log.last().unwrap();
        assert_eq!(last.0, "console.sign_in_refused");
        assert_eq!(last.2["reason"], reason);
        if reason == "email_unverified" {
            assert_eq!(
                last.1, "user:sub:subject-7f3a",
                "an unverified address names no one"
            );
        } else {
            assert_eq!(last.1, format!("user:{email}"));
        }
    }
    assert!(!actions(&app).await.iter().any(|a| a.0 == "console.sign_in"));
    idp.stop().await;
}

async fn a_rotated_signing_key_is_fetched_again(backend: Backend) {
    let idp = FakeIdp::start().await;
    let app = app_with(backend, &idp, |_| {}).await;
    let (url, browser) = to_provider_and_back(&app, "/console").await;
    assert_eq!(
        callback(&app, &url, Some(&browser)).await.status().as_u16(),
        303
    );
    let (url, browser) = to_provider_and_back(&app, "/console").await;
    assert_eq!(
        callback(&app, &url, Some(&browser)).await.status().as_u16(),
        303
    );
    assert_eq!(idp.jwks_fetches(), 1, "the JWKS is cached");
    idp.rotate_key("k2");
    let (url, browser) = to_provider_and_back(&app, "/console").await;
    assert_eq!(
        callback(&app, &url, Some(&browser)).await.status().as_u16(),
        303
    );
    assert_eq!(idp.jwks_fetches(), 2, "fetched again for the unknown kid");
    idp.stop().await;
}

async fn a_callback_from_another_browser_or_replayed_signs_no_one_in(backend: Backend) {
    let idp = FakeIdp::start().await;
    let app = app_with(backend, &idp, |_| {}).await;
    // Without the browser's cookie, or with another sign-in's: refused, and the state is spent.
    let (url, _) = to_provider_and_back(&app, "/console").await;
    let (_, other) = to_provider_and_back(&app, "/console").await;
    assert_eq!(callback(&app, &url, None).await.status().as_u16(), 400);
    let (url, _) = to_provider_and_back(&app, "/console").await;
    let res = callback(&app, &url, Some(&other)).await;
    assert_eq!(res.status().as_u16(), 400);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("did not start this sign-in"));
    // Replayed: the first callback signs in, the same one again does not.
    let (url, browser) = to_provider_and_back(&app, "/console").await;
    assert_eq!(
        callback(&app, &url, Some(&browser)).await.status().as_u16(),
        303
    );
    let again = callback(&app, &url, Some(&browser)).await;
    assert_eq!(again.status().as_u16(), 400);
    assert!(set_cookie(&again, "keydrop-console").is_none());
    // Nonsense and the provider's own errors: 400 pages, never a 500.
    for q in [
        "",
        "?code=x",
        "?state=x",
        "?code=x&state=%00%01",
        "?error=access_denied&state=x",
        "?code=&state=",
    ] {
        let res = app
            .http
            .get(format!("{}/console/oidc/callback{q}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 400, "{q}");
    }
    // The sign-in form is CSRF-checked.
    let res = app
        .http
        .post(format!("{}/console/sign-in", app.address))
        .form(&[("csrf_token", "forged"), ("next", "/console")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let signed_in = actions(&app)
        .await
        .iter()
        .filter(|a| a.0 == "console.sign_in")
        .count();
    assert_eq!(signed_in, 1);
    idp.stop().await;
}

async fn a_provider_that_is_down_points_to_sign_in_links(backend: Backend) {
    let idp = FakeIdp::start().await;
    let app = app_with(backend, &idp, |_| {}).await;
    idp.set_down(true);
    let page = app
        .http
        .get(format!("{}/console/sign-in", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_from(&page).unwrap();
    let res = app
        .http
        .post(format!("{}/console/sign-in", app.address))
        .form(&[("csrf_token", csrf.as_str()), ("next", "/console")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let page = res.text().await.unwrap();
    assert!(page.contains("keydrop console link"), "{page}");
    // Up again: signing in works (nothing was cached from the failure).
    idp.set_down(false);
    let (url, browser) = to_provider_and_back(&app, "/console").await;
    assert_eq!(
        callback(&app, &url, Some(&browser)).await.status().as_u16(),
        303
    );
    // Down between the redirect and the callback: a 503, and no session.
    let (url, browser) = to_provider_and_back(&app, "/console").await;
    idp.set_down(true);
    let res = callback(&app, &url, Some(&browser)).await;
    assert_eq!(res.status().as_u16(), 503);
    assert!(set_cookie(&res, "keydrop-console").is_none());
    idp.stop().await;
}
