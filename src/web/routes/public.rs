//! The customer side (SPEC §4 "Public"): `GET /d/{token}` shows the page,
//! `POST /d/{token}` takes the credential. Every answer is an HTML page; the
//! link token is never logged and never written into a page.

use crate::clock::from_millis;
use crate::crypto::link::LinkToken;
use crate::domain::drop::{DropRecord, DropState};
use crate::greenhouse::kinds::Intake;
use crate::greenhouse::{CredentialKind, Outcome, UnknownKind};
use crate::service::credentials::{Admission, Form, Outcomes, Posted, Rejection, Visit};
use crate::web::page_error::PageError;
use crate::web::pages::{self, DropPage, GoneReason, Handling, PageContext, Problem, Receipt};
use crate::web::{body, client_ip, AppState};
use actix_web::http::{header, StatusCode};
use actix_web::{post, route, web, HttpRequest, HttpResponse};
use maud::Markup;
use zeroize::Zeroize;

/// Largest form body (SPEC §8.7).
pub const FORM_LIMIT: usize = 16 * 1024;

pub(super) fn html(status: StatusCode, page: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.into_string())
}

/// The pages of a link show the brand, for whom, the drop's contact (else the
/// support address) and, once one was received, the credential's reference;
/// before the drop is known (`None`), the brand and the support address.
pub(super) fn page_context(state: &AppState, drop: Option<&DropRecord>) -> PageContext {
    let s = &state.settings;
    let mut ctx = PageContext::new(&s.brand_name)
        .with_contact(drop.and_then(|d| d.contact.as_ref()))
        .with_support(s.support_email.as_deref());
    ctx.logo = s.brand_logo.as_ref().map(|l| l.path());
    ctx.org = drop.map(|d| d.org.clone());
    ctx.reference = drop
        .and_then(|d| d.credential_id.as_deref())
        .map(pages::short_reference);
    ctx.handling = Handling {
        egress_ips: s
            .egress_ips
            .iter()
            .map(crate::config::brand::shown)
            .collect(),
        retain_after_delivery: s.retain_after_delivery,
        vend: drop.is_some_and(|d| d.release == crate::domain::release::Release::Vend),
    };
    ctx
}

/// The drop behind a link, whatever its state (404 when there is none).
/// `for_display`: a page view may use the one-second cache; a submission never does.
async fn find_drop(
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
            let found = state
                .store
                .drop_by_token_hash(&hash)
                .await
                .map_err(|e| PageError::internal(&e))?;
            let Some(d) = found else {
                // A link replaced by a newer one (send again, reminder) answers 410.
                return Err(
                    match state
                        .store
                        .drop_by_replaced_link(&hash)
                        .await
                        .map_err(|e| PageError::internal(&e))?
                    {
                        // Only while the drop still takes input through its newer link;
                        // after, its real state (received, expired, revoked, locked).
                        Some(d) if d.accepts_input(state.store.now_ms()) => {
                            PageError::Replaced(Box::new(d))
                        }
                        Some(d) => PageError::Closed(Box::new(d)),
                        None => PageError::NotFound,
                    },
                );
            };
            if for_display && d.state == DropState::Open {
                state.drop_cache.put(hash, d.clone());
            }
            d
        }
    };
    Ok(drop)
}

/// Whether a found drop still accepts input; otherwise why not (410). `visit`: a GET or
/// POST records the transition the drop's time or attempts made due; a HEAD changes
/// nothing (see `service::credentials::admit`).
async fn ensure_open(state: &AppState, drop: &DropRecord, visit: Visit) -> Result<(), PageError> {
    match state
        .admit(drop, visit)
        .await
        .map_err(|e| PageError::internal(&e))?
    {
        Admission::Open => Ok(()),
        Admission::Closed { state: s, recorded } => {
            if recorded {
                state.drop_cache.evict(&drop.id);
            }
            Err(PageError::gone(s))
        }
    }
}

/// The registered kind of a drop; a drop of a kind this build does not know is our fault.
pub(super) fn kind_of(
    state: &AppState,
    drop: &DropRecord,
) -> Result<&'static dyn CredentialKind, PageError> {
    state
        .checker
        .kinds()
        .get(drop.kind)
        .ok_or_else(|| PageError::internal(&UnknownKind(drop.kind.to_string())))
}

pub(super) fn drop_page(
    state: &AppState,
    drop: &DropRecord,
    problem: Option<&Problem>,
) -> Result<Markup, PageError> {
    drop_page_for(state, drop, problem, false)
}

/// The cookie that tells a link page this browser saw it before: its value is
/// [`seen_tag`] of the drop (not a secret, not the drop's id), `HttpOnly`, `SameSite=Lax`.
const SEEN_COOKIE: &str = "keydrop-seen";
/// How long a browser is remembered as having seen a link page.
const SEEN_MAX_AGE_S: u64 = 30 * 86_400;

/// What the seen cookie holds for `drop_id`.
fn seen_tag(drop_id: &str) -> String {
    let mut tag = crate::crypto::sha256_hex(&[b"keydrop-seen:", drop_id.as_bytes()]);
    tag.truncate(32);
    tag
}

/// A link page's answer, remembering (for the next visit) that this browser saw it.
fn seen_page(state: &AppState, tag: &str, page: web::Bytes) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.content_type("text/html; charset=utf-8");
    if let Some(cookie) =
        crate::web::cookies::set(SEEN_COOKIE, tag, SEEN_MAX_AGE_S, state.settings.is_https())
    {
        res.insert_header((header::SET_COOKIE, cookie));
    }
    res.body(page)
}

fn drop_page_for(
    state: &AppState,
    drop: &DropRecord,
    problem: Option<&Problem>,
    returning: bool,
) -> Result<Markup, PageError> {
    let now = state.store.now_ms();
    Ok(pages::drop_page(
        &DropPage {
            ctx: page_context(state, Some(drop)),
            org: drop.org.clone(),
            note: drop.note.clone(),
            kind: kind_of(state, drop)?,
            profile: drop.profile.clone(),
            expires_at: from_millis(drop.expires_at),
            now: from_millis(now),
            csrf_token: state.csrf.issue(&drop.id, now),
            attempts_left: (drop.max_attempts - drop.attempts).max(0),
            returning,
        },
        problem,
    ))
}

/// A partner drop's pages hold the Connect form, whose answer redirects to Greenhouse's
/// authorize page: their `form-action` allows that one origin besides `'self'` (every other
/// page keeps the stricter default of `headers::CONTENT_SECURITY_POLICY`).
pub(super) fn allow_connect(state: &AppState, mut res: HttpResponse) -> HttpResponse {
    if let Some(csp) = &state.connect_csp {
        res.headers_mut().insert(
            header::HeaderName::from_static("content-security-policy"),
            csp.clone(),
        );
    }
    res
}

/// Whether the drop's page holds a Connect button rather than a form to paste into.
fn shows_connect(state: &AppState, drop: &DropRecord) -> bool {
    kind_of(state, drop).is_ok_and(|k| k.intake() == Intake::Connect)
}

/// Opening the link never consumes it: link previewers must not burn it.
/// `HEAD` answers as `GET` (actix sends no body) and changes nothing.
///
/// A browser that saw the page before (the seen cookie) gets the steps folded: it comes back
/// with the credential in hand. Its page is rendered, not cached.
#[route("/d/{token}", method = "GET", method = "HEAD")]
pub async fn show(
    req: HttpRequest,
    method: actix_web::http::Method,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let hash = LinkToken::parse(&token).map(|l| l.hash());
    let now = state.store.now_ms();
    let seen = crate::web::cookies::get(&req, SEEN_COOKIE, state.settings.is_https());
    if let Some((page, tag)) = hash.as_deref().and_then(|h| state.drop_cache.page(h, now)) {
        if seen.as_deref() != Some(tag.as_str()) {
            return seen_page(&state, &tag, page);
        }
    }
    let drop = match find_drop(&state, &token, true).await {
        Ok(drop) => drop,
        Err(e) => return e.response(&page_context(&state, e.drop())),
    };
    let visit = if method == actix_web::http::Method::HEAD {
        Visit::Look
    } else {
        Visit::Record
    };
    if let Err(e) = ensure_open(&state, &drop, visit).await {
        return e.response(&page_context(&state, Some(&drop)));
    }
    let tag = seen_tag(&drop.id);
    let returning = seen.as_deref() == Some(tag.as_str());
    let page = match drop_page_for(&state, &drop, None, returning) {
        Ok(page) => web::Bytes::from(page.into_string()),
        Err(e) => return e.response(&page_context(&state, Some(&drop))),
    };
    if shows_connect(&state, &drop) {
        // Not cached: the cache answers without knowing the drop, so without this header.
        return allow_connect(&state, seen_page(&state, &tag, page));
    }
    if let (Some(h), false) = (&hash, returning) {
        state
            .drop_cache
            .put_page(h, &drop.id, page.clone(), tag.clone());
    }
    seen_page(&state, &tag, page)
}

#[post("/d/{token}")]
pub async fn submit(
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    post_link(req, token, payload, state, false).await
}

/// `POST /d/{token}/connect` (SPEC §4): a partner drop's Connect button. The page's own form
/// posts to `POST /d/{token}` (so the page never holds the link token); both start the same
/// connection.
#[post("/d/{token}/connect")]
pub async fn connect(
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    post_link(req, token, payload, state, true).await
}

async fn post_link(
    req: HttpRequest,
    token: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
    connect_route: bool,
) -> HttpResponse {
    // The rate limit before the database is asked anything: its page can
    // name only the support address.
    if let (Some(limiter), Some(client)) = (&state.limiter, crate::web::client_addr(&req)) {
        if let Err(wait) = limiter.check(client) {
            return PageError::RateLimited(wait).response(&page_context(&state, None));
        }
    }
    // The link first, before a byte of the body is read: an unknown or dead
    // link is answered at once (and the connection closed, the body unread),
    // so junk posts cannot hold connections open.
    let drop = match find_drop(&state, &token, false).await {
        Ok(drop) => drop,
        Err(e) => return e.response(&page_context(&state, e.drop())),
    };
    let ctx = page_context(&state, Some(&drop));
    let partner = shows_connect(&state, &drop);
    let res = match take_submission(&req, drop, payload, &state, &ctx, connect_route).await {
        Ok(res) => res,
        Err(e) => e.response(&ctx),
    };
    if partner {
        allow_connect(&state, res)
    } else {
        res
    }
}

async fn take_submission(
    req: &HttpRequest,
    drop: DropRecord,
    payload: web::Payload,
    state: &AppState,
    ctx: &PageContext,
    connect_route: bool,
) -> Result<HttpResponse, PageError> {
    if connect_route && !shows_connect(state, &drop) {
        return Err(PageError::NotFound);
    }
    // A paste that arrives after the link ran out: the customer made a credential for it,
    // which still works (a Connect click made nothing yet).
    let late = |e: PageError| match e {
        PageError::Gone(GoneReason::Expired) if !shows_connect(state, &drop) => {
            PageError::Gone(GoneReason::ExpiredBeforeSent)
        }
        e => e,
    };
    ensure_open(state, &drop, Visit::Record)
        .await
        .map_err(late)?;
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
    let posted = state
        .post(&drop, &form, client_ip(req))
        .await
        .map_err(|e| PageError::internal(&e));
    state.drop_cache.evict(&drop.id);
    match posted? {
        // Step 1 of "Connect with Greenhouse": off to Greenhouse's authorize page, with the
        // nonce that binds the flow to this browser in a cookie.
        Posted::Connect(started) => {
            let cookie = crate::web::cookies::set(
                crate::web::routes::connect::COOKIE,
                started.browser_nonce.reveal(),
                crate::web::routes::connect::COOKIE_MAX_AGE_S,
                state.settings.is_https(),
            )
            .ok_or_else(|| {
                PageError::internal(&crate::service::ServiceError::Internal(
                    "the connect cookie could not be written".into(),
                ))
            })?;
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, started.authorize_url))
                .insert_header((header::SET_COOKIE, cookie))
                .finish())
        }
        Posted::Submitted(outcome) => answer(state, ctx, &form, *outcome),
    }
}

/// The page for what a submission (or a connection's callback) came to.
pub(super) fn answer(
    state: &AppState,
    ctx: &PageContext,
    form: &Form,
    outcome: Outcomes,
) -> Result<HttpResponse, PageError> {
    match outcome {
        Outcomes::Gone(s) => Err(PageError::gone(s)),
        Outcomes::Replaced(d) => Err(PageError::Replaced(d)),
        Outcomes::Accepted { drop, verification } => {
            let receipt = Receipt {
                reference: drop.credential_id.as_deref().map(pages::short_reference),
                received_at: from_millis(state.store.now_ms()),
            };
            Ok(match verification.outcome {
                Outcome::Pending => html(
                    StatusCode::ACCEPTED,
                    pages::pending_page(ctx, &drop.org, &receipt),
                ),
                _ => html(
                    StatusCode::OK,
                    pages::verified_page(
                        ctx,
                        &drop.org,
                        kind_of(state, &drop)?,
                        &verification,
                        &receipt,
                    ),
                ),
            })
        }
        Outcomes::Rejected(r) => rejected(state, form, r),
    }
}

fn rejected(state: &AppState, form: &Form, r: Rejection) -> Result<HttpResponse, PageError> {
    if r.drop.state == DropState::Locked {
        return Err(PageError::NowLocked(r.message));
    }
    // Each field says when its value may be shown again (never a secret field's; an
    // identifier only once Greenhouse accepted the credential as one, so a secret pasted into
    // the wrong box never is). The field at fault is never put back: it is to be changed.
    let kind = kind_of(state, &r.drop)?;
    let credential_worked = r.outcome == "insufficient";
    let kept = kind
        .fields()
        .iter()
        .filter(|f| Some(f.name) != r.field)
        .filter(|f| f.kept(form.fields.get(f.name), credential_worked))
        .map(|f| (f.name, form.fields.get(f.name).to_owned()))
        .collect();
    let problem = Problem {
        message: r.message,
        missing_required: r.missing_required,
        missing_optional: r.missing_optional,
        field: r.field,
        kept,
        not_counted: !r.counted,
    };
    Ok(html(
        StatusCode::UNPROCESSABLE_ENTITY,
        drop_page(state, &r.drop, Some(&problem))?,
    ))
}

/// Unknown pages: an HTML 404 outside the API.
pub async fn not_found(state: web::Data<AppState>) -> HttpResponse {
    PageError::NotFound.response(&page_context(&state, None))
}
