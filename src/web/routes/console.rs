//! The staff console (SPEC §13), first pages: sign-in by a single-use link (`keydrop console
//! link`), the dashboard, sign-out. Server-rendered like the customer pages (no JavaScript,
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
const COOKIE: &str = "keydrop-console";

/// The form token's binding for a session id or a link token (never the value itself).
fn bound(purpose: &str, secret: &str) -> String {
    crate::crypto::sha256_hex(&[
        b"keydrop/console-form/",
        purpose.as_bytes(),
        b"\0",
        secret.as_bytes(),
    ])
}

#[derive(serde::Deserialize)]
struct FormToken {
    csrf_token: String,
}

fn context(state: &AppState) -> PageContext {
    let mut ctx = page_context(state, None);
    ctx.console = true;
    // Staff pages name no customer contact and no support address.
    ctx.contact = None;
    ctx
}

/// A console page: the staff layout, a heading (with an optional lead), then `body`.
fn page(
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

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

fn internal(state: &AppState, e: &crate::service::ServiceError) -> HttpResponse {
    crate::web::page_error::PageError::internal(e).response(&context(state))
}

/// The person of the request's session, if it has a live one.
async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(String, Person)>, HttpResponse> {
    let Some(id) = cookies::get(req, COOKIE, state.settings.is_https()) else {
        return Ok(None);
    };
    match console::session(&state.store, &id, state.settings.console.idle).await {
        Ok(Some(person)) => Ok(Some((id, person))),
        Ok(None) => Ok(None),
        Err(e) => Err(internal(state, &e)),
    }
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
    let form = state
        .csrf
        .issue(&bound("session", &id), state.store.now_ms());
    page(
        &state,
        StatusCode::OK,
        "Console",
        Some(markup! {
            "Signed in as " strong { (person.email) } " (" (person.role.as_str()) ")."
        }),
        markup! {
            section aria-labelledby="counts-title" {
                h2 #counts-title { "Links by state" }
                dl.facts {
                    @for (state, n) in &counts {
                        div { dt { (state) } dd { (n) } }
                    }
                    @if counts.is_empty() {
                        div { dt { "No links yet" } dd { "—" } }
                    }
                }
            }
            form method="post" action="/console/sign-out" {
                input type="hidden" name="csrf_token" value=(form);
                button.button type="submit" { "Sign out" }
            }
        },
    )
}

#[get("/console/sign-in")]
pub async fn sign_in_page(state: web::Data<AppState>) -> HttpResponse {
    page(
        &state,
        StatusCode::OK,
        "Sign in to the console",
        None,
        markup! {
            p {
                "Ask an administrator for a sign-in link: they make one with "
                code { "keydrop console link --email you@example.com --role issuer" }
                ". It works once, for a few minutes."
            }
        },
    )
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
    match cookies::set(COOKIE, session.reveal(), max_age, state.settings.is_https()) {
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
    if let Some(gone) = cookies::set(COOKIE, "", 0, state.settings.is_https()) {
        res.headers_mut().insert(header::SET_COOKIE, gone);
    }
    res
}
