//! `GET /oauth/greenhouse/callback` (SPEC §1.5 step 2): where Greenhouse sends the customer
//! back after "Connect with Greenhouse". The `state` names the drop, and the browser must
//! bring back the nonce of the connect cookie set when it started (`service::credentials`);
//! every outcome is a page of that drop (its contact included), except a bad state, which
//! names no drop. Callbacks count against the per-address rate limit of public POSTs, and
//! the cookie is cleared by every answer.

use crate::service::credentials::{Callback, CallbackQuery, Form, STATE_TTL_MS};
use crate::web::page_error::PageError;
use crate::web::pages::{self, Problem};
use crate::web::routes::public::{allow_connect, answer, drop_page, html, page_context};
use crate::web::{client_ip, AppState};
use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};

/// The cookie that binds a connection to the browser that started it.
pub const COOKIE: &str = "keydrop-connect";
/// It lives as long as the `state` it goes with.
pub const COOKIE_MAX_AGE_S: u64 = (STATE_TTL_MS / 1000) as u64;

#[get("/oauth/greenhouse/callback")]
pub async fn callback(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let https = state.settings.is_https();
    let mut res = answer_callback(&req, &state).await;
    if let Some(clear) = crate::web::cookies::set(COOKIE, "", 0, https) {
        res.headers_mut()
            .append(actix_web::http::header::SET_COOKIE, clear);
    }
    res
}

async fn answer_callback(req: &HttpRequest, state: &web::Data<AppState>) -> HttpResponse {
    if let (Some(limiter), Some(client)) = (&state.limiter, crate::web::client_addr(req)) {
        if let Err(wait) = limiter.check(client) {
            return PageError::RateLimited(wait).response(&page_context(state, None));
        }
    }
    // A query that does not parse is a bad state, like any other forged callback.
    let q: CallbackQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let nonce = crate::web::cookies::get(req, COOKIE, state.settings.is_https());
    let result = state
        .connect_callback(&q, nonce.as_deref(), client_ip(req))
        .await;
    let outcome = match result {
        Ok(o) => o,
        Err(e) => return PageError::internal(&e).response(&page_context(state, None)),
    };
    match outcome {
        Callback::BadState => {
            let ctx = page_context(state, None);
            html(
                StatusCode::BAD_REQUEST,
                pages::error_page(
                    &ctx,
                    "This connection could not be completed",
                    "This answer from Greenhouse does not belong to a connection started in \
                     this browser, or it was already used, or more than 10 minutes passed. \
                     Open the link you were sent again, in the browser you approve in, and \
                     click Connect with Greenhouse.",
                ),
            )
        }
        Callback::Gone(drop, s) => PageError::gone(s).response(&page_context(state, Some(&drop))),
        Callback::Unavailable(drop) => {
            let ctx = page_context(state, Some(&drop));
            HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
                .insert_header(("Retry-After", "60"))
                .content_type("text/html; charset=utf-8")
                .body(
                    pages::error_page(
                        &ctx,
                        "Greenhouse is not answering right now",
                        "Greenhouse could not complete the connection, so nothing was stored and \
                         no attempt was used. Open the link you were sent again in a few minutes \
                         and click Connect with Greenhouse.",
                    )
                    .into_string(),
                )
        }
        Callback::Declined(drop) => {
            let ctx = page_context(state, Some(&drop));
            let problem = Problem {
                message: "The connection was not approved in Greenhouse. If that was a \
                          mistake, connect again and click Authorize."
                    .into(),
                not_counted: true,
                ..Problem::default()
            };
            match drop_page(state, &drop, Some(&problem)) {
                Ok(page) => allow_connect(state, html(StatusCode::UNPROCESSABLE_ENTITY, page)),
                Err(e) => e.response(&ctx),
            }
        }
        Callback::Done(drop, outcome) => {
            let ctx = page_context(state, Some(&drop));
            state.drop_cache.evict(&drop.id);
            match answer(state, &ctx, &Form::default(), *outcome) {
                Ok(res) => allow_connect(state, res),
                Err(e) => e.response(&ctx),
            }
        }
    }
}
