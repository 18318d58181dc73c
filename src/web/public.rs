//! The customer side (SPEC §4 "Public"): `GET /d/{token}` shows the page,
//! `POST /d/{token}` takes the credential. Every answer is an HTML page; the
//! link token is never logged and never written into a page.

use super::pages::{self, DropPage, GoneReason, Problem};
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

fn gone_reason(state: DropState) -> GoneReason {
    match state {
        DropState::Submitted => GoneReason::Submitted,
        DropState::Revoked => GoneReason::Revoked,
        DropState::Locked => GoneReason::Locked,
        DropState::Expired | DropState::Open => GoneReason::Expired,
    }
}

fn server_error(state: &AppState, cause: &(dyn std::error::Error + 'static)) -> HttpResponse {
    // Logs the cause chain; the customer sees a generic page.
    let _ = super::error::ApiError::internal(cause);
    if crate::store::is_unavailable(cause) {
        let mut res = html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::error_page(
                &state.settings.brand_name,
                "We are briefly unavailable",
                "Nothing you entered was stored. Please try again in a minute.",
            ),
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
        return res;
    }
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::error_page(
            &state.settings.brand_name,
            "Something went wrong on our side",
            "Nothing you entered was stored. Please try again in a few minutes.",
        ),
    )
}

/// The drop behind a link, if it still accepts input; otherwise the page to show.
/// `for_display`: a page view may use the one-second cache; a submission never does.
async fn open_drop(
    state: &AppState,
    token: &str,
    for_display: bool,
) -> Result<DropRecord, HttpResponse> {
    let brand = &state.settings.brand_name;
    let not_found = || html(StatusCode::NOT_FOUND, pages::not_found_page(brand));
    let link = LinkToken::parse(token).ok_or_else(not_found)?;
    let hash = link.hash();
    let cached = if for_display {
        state.drop_cache.get(&hash)
    } else {
        None
    };
    let drop = match cached {
        Some((d, _)) => d,
        None => match state.store.drop_by_token_hash(&hash).await {
            Ok(Some(d)) => {
                if for_display && d.state == DropState::Open {
                    state.drop_cache.put(hash, d.clone());
                }
                d
            }
            Ok(None) => return Err(not_found()),
            Err(e) => return Err(server_error(state, &e)),
        },
    };
    let now = state.store.now_ms();
    if drop.state == DropState::Open && drop.expires_at <= now {
        state.drop_cache.evict(&drop.id);
        if let Err(e) = state.store.expire_drops(Some(&drop.id), 1).await {
            return Err(server_error(state, &e));
        }
        return Err(html(
            StatusCode::GONE,
            pages::gone_page(brand, GoneReason::Expired),
        ));
    }
    if drop.state == DropState::Open && drop.attempts >= drop.max_attempts {
        // Every attempt is used: once no check is in flight any more (they
        // end by time even if their process died), the link is locked.
        match state.store.lock_exhausted(Some(&drop.id), 1).await {
            Ok(ids) if !ids.is_empty() => {
                state.drop_cache.evict(&drop.id);
                return Err(html(
                    StatusCode::GONE,
                    pages::gone_page(brand, GoneReason::Locked),
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(server_error(state, &e)),
        }
    }
    if drop.state != DropState::Open {
        return Err(html(
            StatusCode::GONE,
            pages::gone_page(brand, gone_reason(drop.state)),
        ));
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
        Err(page) => page,
    }
}

#[post("/d/{token}")]
pub async fn submit(
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let brand = state.settings.brand_name.clone();
    if let (Some(limiter), Some(client)) = (&state.limiter, super::client_addr(&req)) {
        if let Err(wait) = limiter.check(client) {
            let mut res = html(
                StatusCode::TOO_MANY_REQUESTS,
                pages::rate_limited_page(&brand, wait),
            );
            if let Ok(v) = header::HeaderValue::from_str(&wait.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return res;
        }
    }
    // The link first, before a byte of the body is read: an unknown or dead
    // link is answered at once (and the connection closed, the body unread),
    // so junk posts cannot hold connections open.
    let drop = match open_drop(&state, &token, false).await {
        Ok(d) => d,
        Err(page) => return page,
    };
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
        return html(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            pages::error_page(
                &brand,
                "Unsupported form",
                "Please submit the form on the page itself.",
            ),
        );
    }
    let mut raw = match body::read_limited(&req, payload, FORM_LIMIT).await {
        Ok(b) => b,
        Err(e) if e.code() == "payload_too_large" => {
            return html(
                StatusCode::PAYLOAD_TOO_LARGE,
                pages::error_page(
                    &brand,
                    "That was too much text",
                    "The form takes at most 16 KiB. Paste only the credential.",
                ),
            )
        }
        Err(e) if e.code() == "body_timeout" => {
            return html(
                StatusCode::BAD_REQUEST,
                pages::error_page(
                    &brand,
                    "The form took too long to arrive",
                    "Nothing was stored. Please reload the page and submit the form again.",
                ),
            )
        }
        Err(_) => {
            return html(
                StatusCode::BAD_REQUEST,
                pages::error_page(&brand, "The form did not arrive", "Please try again."),
            )
        }
    };
    let parsed = serde_urlencoded::from_bytes::<Form>(&raw);
    raw.as_mut().zeroize();
    let Ok(form) = parsed else {
        return html(
            StatusCode::BAD_REQUEST,
            pages::error_page(
                &brand,
                "The form could not be read",
                "Please reload the page and submit the form again.",
            ),
        );
    };
    let now = state.store.now_ms();
    if !state.csrf.verify(&drop.id, &form.csrf_token, now) {
        return html(
            StatusCode::FORBIDDEN,
            pages::error_page(
                &brand,
                "This form has expired",
                "Reload the page and enter the credential again.",
            ),
        );
    }
    let submitter = Submitter {
        store: &state.store,
        keyring: &state.keyring,
        checker: &state.checker,
    };
    let outcome = submitter.submit(&drop, &form, client_ip(&req)).await;
    state.drop_cache.evict(&drop.id);
    match outcome {
        Err(e) => server_error(&state, &e),
        Ok(Outcomes::Gone(s)) => html(StatusCode::GONE, pages::gone_page(&brand, gone_reason(s))),
        Ok(Outcomes::Accepted { drop, verification }) => match verification.outcome {
            Outcome::Pending => html(StatusCode::ACCEPTED, pages::pending_page(&brand, &drop.org)),
            _ => html(
                StatusCode::OK,
                pages::verified_page(&brand, &drop.org, drop.kind, &verification),
            ),
        },
        Ok(Outcomes::Rejected(r)) => rejected(&state, &form, r),
    }
}

fn rejected(state: &AppState, form: &Form, r: Rejection) -> HttpResponse {
    let brand = &state.settings.brand_name;
    if r.drop.state == DropState::Locked {
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::error_page(
                brand,
                "This link is now locked",
                &format!(
                    "{} That was the last attempt this link allows, so nothing more can be submitted through it. Ask {brand} for a new link.",
                    r.message
                ),
            ),
        );
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
    html(
        StatusCode::UNPROCESSABLE_ENTITY,
        drop_page(state, &r.drop, Some(&problem)),
    )
}

/// Unknown pages: an HTML 404 outside the API.
pub async fn not_found(state: web::Data<AppState>) -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        pages::not_found_page(&state.settings.brand_name),
    )
}
