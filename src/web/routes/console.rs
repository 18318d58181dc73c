//! The staff console (SPEC §13): sign-in with OpenID Connect or by a single-use link
//! (`keydrop console link`), the dashboard, sign-out. Server-rendered like the customer pages (no JavaScript,
//! the same CSP and headers); every rule is in `service::console`.
//!
//! The session cookie is `keydrop-console` (`HttpOnly`, `SameSite=Lax`; `Secure` and
//! `__Host-` prefixed on https — which requires `Path=/`, so it is not narrowed to
//! `/console`). Every console `POST` carries a form token bound to the session (or, for a
//! sign-in link, to the link).

use super::public::{html, page_context};
use crate::service::console::{self, Person};
use crate::web::cookies;
use crate::web::pages::components::{notice, page_heading};
use crate::web::pages::layout::layout;
use crate::web::pages::PageContext;
use crate::web::{client_ip, AppState};
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use maud::html as markup;

/// The session cookie's base name.
pub(super) const COOKIE: &str = "keydrop-console";

/// The form token's binding for a session id or a link token (never the value itself).
pub(super) fn bound(purpose: &str, secret: &str) -> String {
    crate::crypto::sha256_hex(&[
        b"keydrop/console-form/",
        purpose.as_bytes(),
        b"\0",
        secret.as_bytes(),
    ])
}

#[derive(serde::Deserialize)]
pub(super) struct FormToken {
    pub(super) csrf_token: String,
}

pub(super) fn context(state: &AppState) -> PageContext {
    let mut ctx = page_context(state, None);
    ctx.console = true;
    // Staff pages name no customer contact and no support address.
    ctx.contact = None;
    ctx
}

/// A console page: the staff layout, a heading (with an optional lead), then `body`.
pub(super) fn page(
    state: &AppState,
    status: StatusCode,
    title: &str,
    lead: Option<maud::Markup>,
    body: maud::Markup,
) -> HttpResponse {
    html(
        status,
        layout(
            &context(state),
            title,
            markup! {
                (page_heading(title, lead))
                (body)
            },
        ),
    )
}

pub(super) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

pub(super) fn internal(state: &AppState, e: &crate::service::ServiceError) -> HttpResponse {
    crate::web::page_error::PageError::internal(e).response(&context(state))
}

/// The person of the request's session, if it has a live one.
pub(super) async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(String, Person)>, HttpResponse> {
    let Some(id) = cookies::get(req, COOKIE, state.settings.console_is_https()) else {
        return Ok(None);
    };
    match console::session(&state.store, &id, state.settings.console.idle).await {
        Ok(Some(person)) => Ok(Some((id, person))),
        Ok(None) => Ok(None),
        Err(e) => Err(internal(state, &e)),
    }
}

/// The signed-in person who may do `what`, with their session id; otherwise the answer: a
/// 303 to sign in (coming back to `here`), or a 403 page that says what their role lacks.
pub(super) async fn person_who_may(
    req: &HttpRequest,
    state: &AppState,
    what: crate::domain::role::Capability,
) -> Result<(String, Person), HttpResponse> {
    let Some((id, person)) = signed_in(req, state).await? else {
        let here = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/console");
        let back = serde_urlencoded::to_string([("next", console::landing(Some(here)))])
            .unwrap_or_default();
        return Err(see_other(&format!("/console/sign-in?{back}")));
    };
    if !person.role.may(what) {
        return Err(page(
            state,
            StatusCode::FORBIDDEN,
            "Not for your role",
            None,
            notice(
                "warning",
                markup! { p { "You are signed in as " (person.role.as_str()) ", which may not do this. Ask an administrator if you need to." } },
            ),
        ));
    }
    Ok((id, person))
}

/// The person behind a console `POST` who may do `what`, with their session id, once the
/// form's token checks against that session; otherwise the answer (303, 403 page, or the
/// expired-form page).
pub(super) async fn posted_by(
    req: &HttpRequest,
    state: &AppState,
    what: crate::domain::role::Capability,
    csrf_token: &str,
) -> Result<(String, Person), HttpResponse> {
    let (session, person) = person_who_may(req, state, what).await?;
    if !form_ok(state, &session, csrf_token) {
        return Err(crate::web::page_error::PageError::FormExpired.response(&context(state)));
    }
    Ok((session, person))
}

/// A form token for `session` (console POSTs are checked against the session).
pub(super) fn form_token(state: &AppState, session: &str) -> String {
    state
        .csrf
        .issue(&bound("session", session), state.store.now_ms())
}

/// Whether `token` was issued for `session`.
pub(super) fn form_ok(state: &AppState, session: &str, token: &str) -> bool {
    state
        .csrf
        .verify(&bound("session", session), token, state.store.now_ms())
}

#[get("/console")]
pub async fn dashboard(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (id, person) = match signed_in(&req, &state).await {
        Ok(Some(s)) => s,
        Ok(None) => return see_other("/console/sign-in"),
        Err(res) => return res,
    };
    let counts = match state.store.drop_counts().await {
        Ok(c) => c,
        Err(e) => return internal(&state, &e.into()),
    };
    let attention = match state.store.attention().await {
        Ok(a) => a,
        Err(e) => return internal(&state, &e.into()),
    };
    let tasks_down: Vec<String> = {
        let now = std::time::Instant::now();
        state
            .tasks
            .registry()
            .snapshot()
            .into_iter()
            .filter(|t| t.is_down() || t.is_degraded(now))
            .map(|t| t.name)
            .collect()
    };
    let calm = attention.credentials.is_empty()
        && attention.links.is_empty()
        && attention.webhooks.is_empty()
        && attention.broken.is_empty()
        && attention.undelivered.is_empty()
        && tasks_down.is_empty();
    let form = state
        .csrf
        .issue(&bound("session", &id), state.store.now_ms());
    page(
        &state,
        StatusCode::OK,
        "Console",
        Some(markup! { "What needs you, and every link by state." }),
        markup! {
            (super::console_drops::nav(&person))
            (super::console_admin::dashboard_links(&person))
            section aria-labelledby="attention-title" {
                h2 #attention-title { "Needs attention" }
                @if calm {
                    p { "Nothing: every credential is verified, no link lapsed unused in the last 30 days, webhooks and background tasks are healthy." }
                }
                @if !attention.credentials.is_empty() {
                    h3 { "Credentials not verified" }
                    ul { @for (drop, org, status) in &attention.credentials {
                        li { a href={ "/console/drops/" (drop) } { (org) } " — " (attention_word(status)) }
                    } }
                }
                @if !attention.broken.is_empty() {
                    h3 { "Credentials that stopped working" }
                    p.hint { "A health check found Greenhouse refusing them. Relink each from its drop's page." }
                    ul { @for (drop, org, status) in &attention.broken {
                        li { a href={ "/console/drops/" (drop) } { (org) } " — " (attention_word(status)) }
                    } }
                }
                @if !attention.undelivered.is_empty() {
                    h3 { "Link e-mails that could not be delivered" }
                    ul { @for (drop, org, to) in &attention.undelivered {
                        li { a href={ "/console/drops/" (drop) } { (org) } " — to " (to) }
                    } }
                }
                @if !attention.links.is_empty() {
                    h3 { "Links that lapsed with nothing received" }
                    ul { @for (drop, org, st) in &attention.links {
                        li { a href={ "/console/drops/" (drop) } { (org) } " — " (st) }
                    } }
                }
                @if !attention.webhooks.is_empty() {
                    h3 { "Webhook endpoints failing" }
                    ul { @for (_, url, enabled, failing) in &attention.webhooks {
                        li { (url) " — "
                            @if !enabled { "disabled" } @else { (failing) " deliveries failed or retrying in the last day" } }
                    } }
                }
                @if !tasks_down.is_empty() {
                    h3 { "Background tasks down" }
                    p { (tasks_down.join(", ")) }
                }
            }
            section aria-labelledby="counts-title" {
                h2 #counts-title { "Links by state" }
                dl.facts {
                    @for (state, n) in &counts {
                        div { dt { a href={ "/console/drops?state=" (state) } { (state) } } dd { (n) } }
                    }
                    @if counts.is_empty() {
                        div { dt { "No links yet" } dd { "—" } }
                    }
                }
            }
            form method="post" action="/console/sign-out" {
                input type="hidden" name="csrf_token" value=(form);
                button.button.button-secondary type="submit" { "Sign out" }
            }
        },
    )
}

/// The cookie holding the browser's secret of an OpenID Connect sign-in under way.
const OIDC_COOKIE: &str = "keydrop-console-oidc";

#[derive(serde::Deserialize)]
struct Next {
    next: Option<String>,
}

/// A credential status in the words of the "needs attention" list.
fn attention_word(status: &str) -> &'static str {
    match status {
        "pending" => "its check is still pending (Greenhouse did not answer yet)",
        "insufficient" => "permissions are missing",
        "invalid" => "Greenhouse refuses it (revoked or wrong)",
        "disconnected" => "the customer's Greenhouse connection was withdrawn",
        _ => "needs a look",
    }
}

#[get("/console/sign-in")]
pub async fn sign_in_page(query: web::Query<Next>, state: web::Data<AppState>) -> HttpResponse {
    let link_help = markup! {
        "Ask an administrator for a sign-in link: they make one with "
        code { "keydrop console link --email you@example.com --role issuer" }
        ". It works once, for a few minutes."
    };
    let mut csp = None;
    if let Some(provider) = &state.oidc {
        csp = crate::web::middleware::headers::policy_with_form_action(
            &provider.form_origins().await,
        );
    }
    let body = if state.oidc.is_some() {
        let form = state
            .csrf
            .issue(&bound("sign-in", ""), state.store.now_ms());
        markup! {
            form method="post" action="/console/sign-in" {
                input type="hidden" name="csrf_token" value=(form);
                input type="hidden" name="next" value=(console::landing(query.next.as_deref()));
                button.button type="submit" { "Sign in with single sign-on" }
            }
            p.hint { "Identity provider down? " (link_help) }
        }
    } else {
        markup! { p { (link_help) } }
    };
    let mut res = page(&state, StatusCode::OK, "Sign in to the console", None, body);
    if let Some(csp) = csp {
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    res
}

#[derive(serde::Deserialize)]
struct SignInForm {
    csrf_token: String,
    next: Option<String>,
}

/// Start single sign-on: the browser keeps a secret in a cookie and goes to the provider.
#[post("/console/sign-in")]
pub async fn sign_in_start(
    form: web::Form<SignInForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(provider) = state.oidc.clone() else {
        return crate::web::page_error::PageError::NotFound.response(&context(&state));
    };
    if !state.csrf.verify(
        &bound("sign-in", ""),
        &form.csrf_token,
        state.store.now_ms(),
    ) {
        return crate::web::page_error::PageError::FormExpired.response(&context(&state));
    }
    let started = console::start_oidc(&state.store, &provider, form.next.as_deref()).await;
    let start = match started {
        Ok(s) => s,
        Err(e) => return sign_in_failed(&state, &e),
    };
    let https = state.settings.console_is_https();
    let ttl = console::OIDC_SIGN_IN_TTL.as_secs();
    match cookies::set(OIDC_COOKIE, start.browser.reveal(), ttl, https) {
        Some(cookie) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, start.redirect))
            .insert_header((header::SET_COOKIE, cookie))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        None => internal(
            &state,
            &crate::service::ServiceError::Internal(
                "the sign-in cookie could not be written".into(),
            ),
        ),
    }
}

#[derive(serde::Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    /// RFC 9207: the provider names itself in the response, when it supports that.
    iss: Option<String>,
}

/// Back from the provider: a session, or a page that says why not.
#[get("/console/oidc/callback")]
pub async fn oidc_callback(
    req: HttpRequest,
    query: web::Query<Callback>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(provider) = state.oidc.clone() else {
        return crate::web::page_error::PageError::NotFound.response(&context(&state));
    };
    let https = state.settings.console_is_https();
    let finished = match (&query.error, &query.code, &query.state) {
        _ if query
            .iss
            .as_deref()
            .is_some_and(|iss| iss != provider.settings().issuer) =>
        {
            Err(console::SignInError::Rejected(
                "the callback names another identity provider".into(),
            ))
        }
        (Some(error), _, _) => Err(console::SignInError::Rejected(format!(
            "the identity provider did not sign you in ({})",
            error
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(60)
                .collect::<String>()
        ))),
        (None, Some(code), Some(st)) => {
            console::finish_oidc(
                &state.store,
                &provider,
                cookies::get(&req, OIDC_COOKIE, https).as_deref(),
                st,
                code,
                state.settings.console.max_age,
                client_ip(&req),
            )
            .await
        }
        _ => Err(console::SignInError::Rejected(
            "the callback carries no code and state".into(),
        )),
    };
    let mut res = match finished {
        Ok((session, _, next)) => {
            let max_age = state.settings.console.max_age.as_secs();
            match cookies::set(COOKIE, session.reveal(), max_age, https) {
                Some(cookie) => HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, next))
                    .insert_header((header::SET_COOKIE, cookie))
                    .finish(),
                None => internal(
                    &state,
                    &crate::service::ServiceError::Internal(
                        "the session cookie could not be written".into(),
                    ),
                ),
            }
        }
        Err(e) => sign_in_failed(&state, &e),
    };
    // The sign-in's secret has done its work, whatever the outcome.
    if let Some(gone) = cookies::set(OIDC_COOKIE, "", 0, https) {
        res.headers_mut().append(header::SET_COOKIE, gone);
    }
    res
}

/// The page of a sign-in that did not end in a session: 400 (start again), 403 (refused,
/// and why), 503 (the provider is down: use a sign-in link).
fn sign_in_failed(state: &AppState, e: &console::SignInError) -> HttpResponse {
    use console::SignInError as E;
    let again = markup! { p { a href="/console/sign-in" { "Start again" } } };
    match e {
        E::Rejected(why) => {
            tracing::info!(reason = %why, "console sign-in rejected");
            page(
                state,
                StatusCode::BAD_REQUEST,
                "This sign-in did not work",
                None,
                markup! {
                    (notice("warning", markup! { p { (why) "." } }))
                    (again)
                },
            )
        }
        E::Refused(reason) => {
            let why = match *reason {
                "no_email" => "Your identity provider did not tell keydrop your e-mail address.",
                "email_unverified" => "Your identity provider has not verified your e-mail address.",
                "domain_not_allowed" => "Your e-mail address is not in a domain allowed to use this console.",
                _ => "You are not in a group (and your e-mail address is not on a list) that gives a role in this console.",
            };
            page(
                state,
                StatusCode::FORBIDDEN,
                "You cannot use this console",
                None,
                markup! {
                    (notice("warning", markup! {
                        p { (why) }
                        p { "If you should have access, ask an administrator to add you (reason: " code { (reason) } ")." }
                    }))
                },
            )
        }
        E::Unavailable(why) => {
            tracing::warn!(reason = %why, "identity provider unavailable");
            let mut res = page(
                state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Single sign-on is unavailable",
                None,
                markup! {
                    (notice("warning", markup! {
                        p { "The identity provider could not be reached or answered unexpectedly. Try again in a minute." }
                        p { "In a hurry? An administrator can make you a single-use sign-in link with "
                            code { "keydrop console link" } "." }
                    }))
                    (again)
                },
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
            res
        }
        E::Service(e) => internal(state, e),
    }
}

/// A link's page: who it signs in and a button; a `GET` never uses the link.
#[get("/console/link/{token}")]
pub async fn link_page(token: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let person = match console::link_holder(&state.store, &token).await {
        Ok(Some(p)) => p,
        Ok(None) => return link_gone(&state),
        Err(e) => return internal(&state, &e),
    };
    let form = state
        .csrf
        .issue(&bound("link", &token), state.store.now_ms());
    page(
        &state,
        StatusCode::OK,
        "Sign in to the console",
        Some(markup! {
            "This link signs in " strong { (person.email) } " as "
            strong { (person.role.as_str()) } ", once."
        }),
        markup! {
            form method="post" {
                input type="hidden" name="csrf_token" value=(form);
                button.button type="submit" { "Sign in" }
            }
        },
    )
}

fn link_gone(state: &AppState) -> HttpResponse {
    page(
        state,
        StatusCode::GONE,
        "This sign-in link cannot be used",
        None,
        notice(
            "warning",
            markup! {
                p { "It was used already, it has expired, or it was never made. Ask an administrator for a new one." }
            },
        ),
    )
}

/// Use the link: a session, its cookie, and on to the dashboard.
#[post("/console/link/{token}")]
pub async fn link_sign_in(
    req: HttpRequest,
    token: web::Path<String>,
    form: web::Form<FormToken>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !state.csrf.verify(
        &bound("link", &token),
        &form.csrf_token,
        state.store.now_ms(),
    ) {
        return crate::web::page_error::PageError::FormExpired.response(&context(&state));
    }
    let signed = console::sign_in_with_link(
        &state.store,
        &token,
        state.settings.console.max_age,
        client_ip(&req),
    )
    .await;
    let (session, _) = match signed {
        Ok(Some(s)) => s,
        Ok(None) => return link_gone(&state),
        Err(e) => return internal(&state, &e),
    };
    let max_age = state.settings.console.max_age.as_secs();
    match cookies::set(
        COOKIE,
        session.reveal(),
        max_age,
        state.settings.console_is_https(),
    ) {
        Some(cookie) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/console"))
            .insert_header((header::SET_COOKIE, cookie))
            .finish(),
        None => internal(
            &state,
            &crate::service::ServiceError::Internal(
                "the session cookie could not be written".into(),
            ),
        ),
    }
}

/// The sign-out page (linked from every console page): a button whose form token is bound
/// to the session; the `GET` itself changes nothing.
#[get("/console/sign-out")]
pub async fn sign_out_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (id, person) = match signed_in(&req, &state).await {
        Ok(Some(s)) => s,
        Ok(None) => return see_other("/console/sign-in"),
        Err(res) => return res,
    };
    page(
        &state,
        StatusCode::OK,
        "Sign out",
        Some(markup! { "You are signed in as " (person.email) "." }),
        markup! {
            form method="post" action="/console/sign-out" {
                input type="hidden" name="csrf_token" value=(form_token(&state, &id));
                button.button type="submit" { "Sign out" }
            }
            p { a href="/console" { "Back to the console" } }
        },
    )
}

#[post("/console/sign-out")]
pub async fn sign_out(
    req: HttpRequest,
    form: web::Form<FormToken>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (id, person) = match signed_in(&req, &state).await {
        Ok(Some(s)) => s,
        Ok(None) => return see_other("/console/sign-in"),
        Err(res) => return res,
    };
    if !state.csrf.verify(
        &bound("session", &id),
        &form.csrf_token,
        state.store.now_ms(),
    ) {
        return crate::web::page_error::PageError::FormExpired.response(&context(&state));
    }
    if let Err(e) = console::sign_out(&state.store, &id, &person, client_ip(&req)).await {
        return internal(&state, &e);
    }
    let mut res = see_other("/console/sign-in");
    if let Some(gone) = cookies::set(COOKIE, "", 0, state.settings.console_is_https()) {
        res.headers_mut().insert(header::SET_COOKIE, gone);
    }
    res
}
