//! The console's admin pages (SPEC §13): API tokens (create — shown once — and revoke),
//! webhook endpoints (add — secret shown once — rotate, remove, their deliveries), console
//! sessions (list, revoke: the session stops at its next request), key versions and
//! background-task health. Admins only, by the same role matrix as the API; every change is
//! the same service call as the API's, audited with the admin as actor.

use super::console::{context, form_token, internal, page, person_who_may, posted_by, see_other};
use super::console_drops::nav;
use crate::domain::event::Origin;
use crate::domain::role::{Capability, Role};
use crate::service::console::{self, Person};
use crate::service::webhooks::{self, NewEndpoint, WebhookError};
use crate::service::{tokens, ServiceError};
use crate::web::middleware::auth::TokenVerifier;
use crate::web::page_error::PageError;
use crate::web::pages::components::notice;
use crate::web::{client_ip, AppState};
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use maud::{html as markup, Markup};

fn when(ms: i64) -> String {
    crate::clock::rfc3339(crate::clock::from_millis(ms))
        .replace('T', " ")
        .chars()
        .take(16)
        .collect::<String>()
        + " UTC"
}

fn origin(person: &Person, req: &HttpRequest) -> Origin {
    Origin::new(person.actor(), client_ip(req))
}

fn admin_nav() -> Markup {
    markup! {
        p.console-nav {
            "Admin: "
            a href="/console/admin/tokens" { "API tokens" } " · "
            a href="/console/admin/webhooks" { "Webhooks" } " · "
            a href="/console/admin/sessions" { "Sessions" } " · "
            a href="/console/admin/status" { "Keys and tasks" }
        }
    }
}

/// The page of a secret shown once: a token or a webhook signing secret.
fn shown_once(
    state: &AppState,
    person: &Person,
    title: &str,
    what: &str,
    secret: &str,
    back: &str,
) -> HttpResponse {
    page(
        state,
        StatusCode::CREATED,
        title,
        Some(markup! { (what) " It is shown only now: copy it before you leave this page." }),
        markup! {
            (nav(person)) (admin_nav())
            p.link-once { code { (secret) } }
            p { a href=(back) { "Done" } }
        },
    )
}

fn problem(state: &AppState, status: StatusCode, why: &str, back: &str) -> HttpResponse {
    page(
        state,
        status,
        "That did not work",
        None,
        markup! {
            (notice("warning", markup! { p { (why) } }))
            p { a href=(back) { "Back" } }
        },
    )
}

#[derive(serde::Deserialize)]
struct Token {
    csrf_token: String,
}

fn uuid(id: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(id).ok()
}

// ---- API tokens ----

#[get("/console/admin/tokens")]
pub async fn tokens_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (session, person) = match person_who_may(&req, &state, Capability::ManageTokens).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let all = match state.store.list_tokens().await {
        Ok(t) => t,
        Err(e) => return internal(&state, &e.into()),
    };
    let csrf = form_token(&state, &session);
    page(
        &state,
        StatusCode::OK,
        "API tokens",
        Some(
            markup! { "For machines: ingestion workers, scripts. People sign in to the console instead." },
        ),
        markup! {
            (nav(&person)) (admin_nav())
            form.filters method="post" action="/console/admin/tokens" {
                input type="hidden" name="csrf_token" value=(csrf);
                label { "Name " input type="text" name="name" required maxlength="100"; }
                label { "Role "
                    select name="role" {
                        @for r in Role::ALL { option value=(r.as_str()) selected[r == Role::Worker] { (r.as_str()) } }
                    }
                }
                button.button type="submit" { "Create token" }
            }
            div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways on narrow screens)" { table {
                caption { "Tokens" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Role" } th scope="col" { "Created" } th scope="col" { "State" } } }
                tbody { @for t in &all { tr {
                    td { (t.name) } td { (t.role.as_str()) } td { (when(t.created_at)) }
                    td {
                        @if let Some(at) = t.revoked_at { "revoked " (when(at)) } @else {
                            form method="post" action={ "/console/admin/tokens/" (t.id) "/revoke" } {
                                input type="hidden" name="csrf_token" value=(csrf);
                                button.button.button-secondary type="submit" aria-label={ "Revoke " (t.name) } { "Revoke" }
                            }
                        }
                    }
                } } }
            } }
        },
    )
}

#[derive(serde::Deserialize)]
struct NewToken {
    csrf_token: String,
    name: String,
    role: String,
}

#[post("/console/admin/tokens")]
pub async fn token_create(
    req: HttpRequest,
    form: web::Form<NewToken>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, person) =
        match posted_by(&req, &state, Capability::ManageTokens, &form.csrf_token).await {
            Ok(p) => p,
            Err(res) => return res,
        };
    let back = "/console/admin/tokens";
    let name = match tokens::validate_name(&form.name) {
        Ok(n) => n,
        Err(why) => return problem(&state, StatusCode::UNPROCESSABLE_ENTITY, &why, back),
    };
    let Ok(role) = form.role.parse::<Role>() else {
        return problem(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "role must be admin, issuer, worker or auditor",
            back,
        );
    };
    match tokens::create(
        &state.store,
        &state.tokens,
        name,
        role,
        &person.actor(),
        client_ip(&req),
    )
    .await
    {
        Ok((record, token)) => shown_once(
            &state,
            &person,
            "Token created",
            &format!("The {} token {:?}.", record.role.as_str(), record.name),
            token.reveal(),
            back,
        ),
        Err(e) => internal(&state, &e),
    }
}

#[post("/console/admin/tokens/{id}/revoke")]
pub async fn token_revoke(
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<Token>,
    state: web::Data<AppState>,
    verifier: web::Data<TokenVerifier>,
) -> HttpResponse {
    let (_, person) =
        match posted_by(&req, &state, Capability::ManageTokens, &form.csrf_token).await {
            Ok(p) => p,
            Err(res) => return res,
        };
    let Some(id) = uuid(&id) else {
        return PageError::NotFound.response(&context(&state));
    };
    match tokens::revoke(&state.store, id, &origin(&person, &req)).await {
        Ok(Some(_)) => {
            verifier.forget(id);
            see_other("/console/admin/tokens")
        }
        Ok(None) => PageError::NotFound.response(&context(&state)),
        Err(e) => internal(&state, &e),
    }
}

// ---- webhooks ----

#[get("/console/admin/webhooks")]
pub async fn webhooks_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (session, person) = match person_who_may(&req, &state, Capability::ManageWebhooks).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let all = match state.store.list_endpoints().await {
        Ok(e) => e,
        Err(e) => return internal(&state, &e.into()),
    };
    let csrf = form_token(&state, &session);
    page(
        &state,
        StatusCode::OK,
        "Webhook endpoints",
        Some(markup! { "Signed notices of every change, sent to your systems." }),
        markup! {
            (nav(&person)) (admin_nav())
            form.filters method="post" action="/console/admin/webhooks" {
                input type="hidden" name="csrf_token" value=(csrf);
                label { "URL " input type="url" name="url" required maxlength="2000" placeholder="https://hooks.example.com/keydrop"; }
                label { "Description " input type="text" name="description" maxlength="500"; }
                button.button type="submit" { "Add endpoint" }
            }
            @if all.is_empty() { p { "No endpoints yet." } } @else {
                div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways on narrow screens)" { table {
                    caption { "Endpoints" }
                    thead { tr { th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "State" } th scope="col" { "Actions" } } }
                    tbody { @for e in &all { tr {
                        td { a href={ "/console/admin/webhooks/" (e.id) } { (e.url) }
                             @if let Some(d) = &e.description { br; small { (d) } } }
                        td { @match &e.events { Some(ev) => (ev.join(", ")), None => "all" } }
                        td { @if e.enabled { "enabled" } @else { "disabled" @if let Some(r) = &e.disabled_reason { ": " (r) } } }
                        td {
                            form method="post" action={ "/console/admin/webhooks/" (e.id) "/rotate" } {
                                input type="hidden" name="csrf_token" value=(csrf);
                                button.button.button-secondary type="submit" aria-label={ "Rotate secret of " (e.url) } { "Rotate secret" }
                            }
                            form method="post" action={ "/console/admin/webhooks/" (e.id) "/remove" } {
                                input type="hidden" name="csrf_token" value=(csrf);
                                button.button.button-secondary type="submit" aria-label={ "Remove " (e.url) } { "Remove" }
                            }
                        }
                    } } }
                } }
            }
        },
    )
}

#[derive(serde::Deserialize)]
struct NewWebhook {
    csrf_token: String,
    url: String,
    description: Option<String>,
}

fn webhook_problem(state: &AppState, e: WebhookError) -> HttpResponse {
    match e {
        WebhookError::Invalid(why) => problem(
            state,
            StatusCode::UNPROCESSABLE_ENTITY,
            &why,
            "/console/admin/webhooks",
        ),
        WebhookError::Service(e) => internal(state, &e),
    }
}

#[post("/console/admin/webhooks")]
pub async fn webhook_create(
    req: HttpRequest,
    form: web::Form<NewWebhook>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, person) =
        match posted_by(&req, &state, Capability::ManageWebhooks, &form.csrf_token).await {
            Ok(p) => p,
            Err(res) => return res,
        };
    let created = webhooks::create(
        &state.store,
        &state.keyring,
        &origin(&person, &req),
        NewEndpoint {
            url: form.url.trim().to_owned(),
            events: None,
            description: form.description.clone().filter(|d| !d.trim().is_empty()),
        },
        state.settings.webhook_allow_private,
    )
    .await;
    match created {
        Ok((e, secret)) => shown_once(
            &state,
            &person,
            "Endpoint added",
            &format!("The signing secret of {}.", e.url),
            secret.as_str(),
            "/console/admin/webhooks",
        ),
        Err(e) => webhook_problem(&state, e),
    }
}

#[post("/console/admin/webhooks/{id}/rotate")]
pub async fn webhook_rotate(
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<Token>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, person) =
        match posted_by(&req, &state, Capability::ManageWebhooks, &form.csrf_token).await {
            Ok(p) => p,
            Err(res) => return res,
        };
    let Some(id) = uuid(&id).map(|u| u.to_string()) else {
        return PageError::NotFound.response(&context(&state));
    };
    match webhooks::rotate(&state.store, &state.keyring, &origin(&person, &req), &id).await {
        Ok(Some(secret)) => shown_once(
            &state,
            &person,
            "Secret rotated",
            &format!(
                "The new signing secret. The previous one still signs for {} hours, so receivers can switch.",
                webhooks::ROTATION_OVERLAP_MS / 3_600_000
            ),
            secret.as_str(),
            "/console/admin/webhooks",
        ),
        Ok(None) => PageError::NotFound.response(&context(&state)),
        Err(e) => webhook_problem(&state, e),
    }
}

#[post("/console/admin/webhooks/{id}/remove")]
pub async fn webhook_remove(
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<Token>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, person) =
        match posted_by(&req, &state, Capability::ManageWebhooks, &form.csrf_token).await {
            Ok(p) => p,
            Err(res) => return res,
        };
    let Some(id) = uuid(&id).map(|u| u.to_string()) else {
        return PageError::NotFound.response(&context(&state));
    };
    match webhooks::remove(&state.store, &origin(&person, &req), &id).await {
        Ok(Some(_)) => see_other("/console/admin/webhooks"),
        Ok(None) => PageError::NotFound.response(&context(&state)),
        Err(e) => internal(&state, &e),
    }
}

#[get("/console/admin/webhooks/{id}")]
pub async fn webhook_deliveries(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, person) = match person_who_may(&req, &state, Capability::ManageWebhooks).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let Some(id) = uuid(&id).map(|u| u.to_string()) else {
        return PageError::NotFound.response(&context(&state));
    };
    let endpoint = match state.store.endpoint(&id).await {
        Ok(Some(e)) => e,
        Ok(None) => return PageError::NotFound.response(&context(&state)),
        Err(e) => return internal(&state, &e.into()),
    };
    let rows = match state.store.list_deliveries(&id, 100).await {
        Ok(r) => r,
        Err(e) => return internal(&state, &e.into()),
    };
    page(
        &state,
        StatusCode::OK,
        "Deliveries",
        Some(markup! { "The last 100 deliveries to " (endpoint.url) ", newest first." }),
        markup! {
            (nav(&person)) (admin_nav())
            @if rows.is_empty() { p { "Nothing sent yet." } } @else {
                div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways on narrow screens)" { table {
                    caption { "Deliveries" }
                    thead { tr { th scope="col" { "Created" } th scope="col" { "Event" } th scope="col" { "Status" } th scope="col" { "Attempts" } th scope="col" { "Last answer" } } }
                    tbody { @for d in &rows { tr {
                        td { (when(d.created_at)) } td { code { (d.kind) } } td { (d.status) } td { (d.attempts) }
                        td { @if let Some(s) = d.last_status { "HTTP " (s) } @if let Some(e) = &d.last_error { " " (e) } }
                    } } }
                } }
            }
        },
    )
}

// ---- sessions ----

#[get("/console/admin/sessions")]
pub async fn sessions_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (session, person) = match person_who_may(&req, &state, Capability::ManageConsole).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let live = match console::live_sessions(&state.store, state.settings.console.idle).await {
        Ok(l) => l,
        Err(e) => return internal(&state, &e),
    };
    let csrf = form_token(&state, &session);
    page(
        &state,
        StatusCode::OK,
        "Console sessions",
        Some(
            markup! { "Who is signed in. Revoking a session signs that person out at their next click." },
        ),
        markup! {
            (nav(&person)) (admin_nav())
            div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways on narrow screens)" { table {
                caption { "Live sessions" }
                thead { tr { th scope="col" { "Person" } th scope="col" { "Role" } th scope="col" { "Signed in" } th scope="col" { "Last seen" } th scope="col" { "From" } th scope="col" { "" } } }
                tbody { @for s in &live { tr {
                    td { (s.email) } td { (s.role.as_str()) } td { (when(s.created_at)) } td { (when(s.last_seen_at)) }
                    td { (s.ip.as_deref().unwrap_or("—")) }
                    td {
                        form method="post" action="/console/admin/sessions/revoke" {
                            input type="hidden" name="csrf_token" value=(csrf);
                            input type="hidden" name="session" value=(s.key);
                            button.button.button-secondary type="submit" aria-label={ "Revoke the session of " (s.email) } { "Revoke" }
                        }
                    }
                } } }
            } }
        },
    )
}

#[derive(serde::Deserialize)]
struct RevokeSession {
    csrf_token: String,
    session: String,
}

#[post("/console/admin/sessions/revoke")]
pub async fn session_revoke(
    req: HttpRequest,
    form: web::Form<RevokeSession>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, person) =
        match posted_by(&req, &state, Capability::ManageConsole, &form.csrf_token).await {
            Ok(p) => p,
            Err(res) => return res,
        };
    match console::revoke_session(&state.store, &form.session, &person, client_ip(&req)).await {
        Ok(_) => see_other("/console/admin/sessions"),
        Err(e) => internal(&state, &e),
    }
}

// ---- keys and tasks ----

#[get("/console/admin/status")]
pub async fn status_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (_, person) = match person_who_may(&req, &state, Capability::ManageConsole).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let keys = match state.store.key_status(&state.keyring).await {
        Ok(k) => k,
        Err(e) => return internal(&state, &ServiceError::from(e)),
    };
    let tasks = state.tasks.registry().snapshot();
    let now = std::time::Instant::now();
    page(
        &state,
        StatusCode::OK,
        "Keys and tasks",
        Some(
            markup! { "Master key versions (as " code { "keydrop keys status" } " shows them) and the background tasks." },
        ),
        markup! {
            (nav(&person)) (admin_nav())
            div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways on narrow screens)" { table {
                caption { "Master key versions" }
                thead { tr { th scope="col" { "Version" } th scope="col" { "In this keyring" } th scope="col" { "Kept by" } th scope="col" { "Check value" } th scope="col" { "Credentials" } th scope="col" { "Service secrets" } th scope="col" { "Webhook secrets" } th scope="col" { "E-mail links" } } }
                tbody { @for k in &keys { tr {
                    td { (k.version) }
                    td { @if k.in_keyring { "yes" } @else { strong { "missing" } } }
                    td { @if k.in_keyring { code { (state.keyring.custody_of(k.version)) } } @else { "—" } }
                    td { @match k.check_matches { Some(true) => "matches", Some(false) => strong { "MISMATCH" }, None => "not recorded" } }
                    td { (k.uses.credentials) } td { (k.uses.service_secrets) } td { (k.uses.webhook_secrets) } td { (k.uses.mail_links) }
                } } }
            } }
            div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways on narrow screens)" { table {
                caption { "Background tasks" }
                thead { tr { th scope="col" { "Task" } th scope="col" { "State" } th scope="col" { "Restarts" } th scope="col" { "Last good pass" } } }
                tbody { @for t in &tasks { tr {
                    td { (t.name) }
                    td { @if t.is_down() { strong { "down" } } @else if t.is_degraded(now) { strong { "degraded" } } @else { (t.state.as_str()) } }
                    td { (t.restarts) }
                    td { @match t.last_pass { Some(at) => (crate::clock::rfc3339(at)), None => "—" } }
                } } }
            } }
        },
    )
}

/// Admin links on the dashboard.
pub(super) fn dashboard_links(person: &Person) -> Markup {
    markup! {
        @if person.role.may(Capability::ManageConsole) { (admin_nav()) }
    }
}
