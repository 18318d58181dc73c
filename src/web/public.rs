//! The customer side (SPEC §4 "Public"): `GET /d/{token}` shows the page,
//! `POST /d/{token}` takes the credential. Every answer is an HTML page; the
//! link token is never logged and never written into a page.

use super::page_error::PageError;
use super::pages::{self, DropPage, Problem};
use super::{body, client_ip, AppState};
use crate::clock::from_millis;
use crate::crypto::link::LinkToken;
use crate::domain::drop::{DropRecord, DropState};
use crate::greenhouse::Outcome;
use crate::service::submission::{Form, Outcomes, Rejection, Submitter};
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use maud::Markup;
use zeroize::Zeroize;

/// Largest form body (SPEC §8.7).
pub const FORM_LIMIT: usize = 16 * 1024;

fn html(status: StatusCode, page: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.into_string())
}

/// The drop behind a link, if it still accepts input; otherwise why not.
/// `for_display`: a page view may use the one-second cache; a submission never does.
async fn open_drop(
    state: &AppState,
    token: &str,
    for_display: bool,
) -> Result<DropRecord, PageError> {
    let link = LinkToken::parse(token).ok_or(PageError::NotFound)?;
    let hash = link.hash();
    let cached = if for_display {
        state.drop_cache.get(&hash)
    } else {
        None
    };
    let drop = match cached {
        Some((d, _)) => d,
        None => {
            let d = state
                .store
                .drop_by_token_hash(&hash)
                .await
                .map_err(|e| PageError::internal(&e))?
                .ok_or(PageError::NotFound)?;
            if for_display && d.state == DropState::Open {
                state.drop_cache.put(hash, d.clone());
            }
            d
        }
    };
    let now = state.store.now_ms();
    if drop.state == DropState::Open && drop.expires_at <= now {
        state.drop_cache.evict(&drop.id);
        state
            .store
            .expire_drops(Some(&drop.id), 1)
            .await
            .map_err(|e| PageError::internal(&e))?;
        return Err(PageError::gone(DropState::Expired));
    }
    if drop.state == DropState::Open && drop.attempts >= drop.max_attempts {
        // Every attempt is used: once no check is in flight any more (they
        // end by time even if their process died), the link is locked.
        let locked = state
            .store
            .lock_exhausted(Some(&drop.id), 1)
            .await
            .map_err(|e| PageError::internal(&e))?;
        if !locked.is_empty() {
            state.drop_cache.evict(&drop.id);
            return Err(PageError::gone(DropState::Locked));
        }
    }
    if drop.state != DropState::Open {
        return Err(PageError::gone(drop.state));
    }
    Ok(drop)
}

fn drop_page(state: &AppState, drop: &DropRecord, problem: Option<&Problem>) -> Markup {
    let now = state.store.now_ms();
    pages::drop_page(
        &DropPage {
            brand: state.settings.brand_name.clone(),
            org: drop.org.clone(),
            note: drop.note.clone(),
            kind: drop.kind,
            profile: drop.profile.clone(),
            expires_at: from_millis(drop.expires_at),
            csrf_token: state.csrf.issue(&drop.id, now),
            attempts_left: (drop.max_attempts - drop.attempts).max(0),
        },
        problem,
    )
}

/// Opening the link never consumes it: link previewers must not burn it.
#[get("/d/{token}")]
pub async fn show(token: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let hash = LinkToken::parse(&token).map(|l| l.hash());
    let now = state.store.now_ms();
    if let Some(page) = hash.as_deref().and_then(|h| state.drop_cache.page(h, now)) {
        return HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(page);
    }
    match open_drop(&state, &token, true).await {
        Ok(drop) => {
            let page = web::Bytes::from(drop_page(&state, &drop, None).into_string());
            if let Some(h) = &hash {
                state.drop_cache.put_page(h, &drop.id, page.clone());
            }
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(page)
        }
        Err(e) => e.response(&state.settings.brand_name),
    }
}

#[post("/d/{token}")]
pub async fn submit(
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    match take_submission(&req, &token, payload, &state).await {
        Ok(res) => res,
        Err(e) => e.response(&state.settings.brand_name),
    }
}

async fn take_submission(
    req: &HttpRequest,
    token: &str,
    payload: web::Payload,
    state: &AppState,
) -> Result<HttpResponse, PageError> {
    if let (Some(limiter), Some(client)) = (&state.limiter, super::client_addr(req)) {
        limiter.check(client).map_err(PageError::RateLimited)?;
    }
    // The link first, before a byte of the body is read: an unknown or dead
    // link is answered at once (and the connection closed, the body unread),
    // so junk posts cannot hold connections open.
    let drop = open_drop(state, token, false).await?;
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(PageError::UnsupportedForm);
    }
    let mut raw = body::read_limited(req, payload, FORM_LIMIT)
        .await
        .map_err(|e| match e.code() {
            "payload_too_large" => PageError::TooLarge,
            "body_timeout" => PageError::BodyTimeout,
            _ => PageError::Unreadable,
        })?;
    let parsed = serde_urlencoded::from_bytes::<Form>(&raw);
    raw.as_mut().zeroize();
    let form = parsed.map_err(|_| PageError::Unreadable)?;
    if !state
        .csrf
        .verify(&drop.id, &form.csrf_token, state.store.now_ms())
    {
        return Err(PageError::FormExpired);
    }
    let submitter = Submitter {
        store: &state.store,
        keyring: &state.keyring,
        checker: &state.checker,
    };
    let outcome = submitter.submit(&drop, &form, client_ip(req)).await;
    state.drop_cache.evict(&drop.id);
    let kind = drop.kind.as_str();
    match &outcome {
        Ok(Outcomes::Accepted { verification, .. }) => {
            state
                .metrics
                .submission(kind, verification.outcome.as_str());
        }
        Ok(Outcomes::Rejected(r)) => state.metrics.submission(kind, r.outcome),
        Ok(Outcomes::Gone(_)) | Err(_) => {}
    }
    let brand = &state.settings.brand_name;
    match outcome.map_err(|e| PageError::internal(&e))? {
        Outcomes::Gone(s) => Err(PageError::gone(s)),
        Outcomes::Accepted { drop, verification } => Ok(match verification.outcome {
            Outcome::Pending => html(StatusCode::ACCEPTED, pages::pending_page(brand, &drop.org)),
            _ => html(
                StatusCode::OK,
                pages::verified_page(brand, &drop.org, drop.kind, &verification),
            ),
        }),
        Outcomes::Rejected(r) => rejected(state, &form, r),
    }
}

fn rejected(state: &AppState, form: &Form, r: Rejection) -> Result<HttpResponse, PageError> {
    if r.drop.state == DropState::Locked {
        return Err(PageError::NowLocked(r.message));
    }
    // The Client ID is shown again only when Greenhouse accepted it as one
    // (missing permissions), so a secret pasted into the wrong box never is.
    let insufficient = !r.missing_required.is_empty();
    let user_id = form.user_id.trim();
    let problem = Problem {
        message: r.message,
        missing_required: r.missing_required,
        missing_optional: r.missing_optional,
        field: r.field,
        kept_client_id: insufficient.then(|| form.client_id.trim().to_owned()),
        kept_user_id: (!user_id.is_empty()
            && user_id.len() <= 20
            && user_id.bytes().all(|b| b.is_ascii_digit()))
        .then(|| user_id.to_owned()),
    };
    Ok(html(
        StatusCode::UNPROCESSABLE_ENTITY,
        drop_page(state, &r.drop, Some(&problem)),
    ))
}

/// Unknown pages: an HTML 404 outside the API.
pub async fn not_found(state: web::Data<AppState>) -> HttpResponse {
    PageError::NotFound.response(&state.settings.brand_name)
}
