//! `/api/v1/drops`: staff create, list, read and revoke one-time links.

use super::page_limit;
use super::query_text::QueryText;
use super::views::{credential_json, drop_json};
use crate::domain::drop::{DropRequest, DropState};
use crate::domain::role::Capability;
use crate::service;
use crate::service::drops::{CreateError, Revoked};
use crate::store::{Cursor, DropFilter};
use crate::web::error::ApiError;
use crate::web::middleware::auth::Caller;
use crate::web::{body, AppState};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[post("/drops")]
pub async fn create(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageDrops)?;
    let input: DropRequest = body::json(&req, payload).await?;
    let spec = input
        .validate(state.checker.kinds())
        .map_err(ApiError::unprocessable)?;
    // A kind this configuration cannot serve (a partner drop without a partner client) is a
    // 422; a second live drop with the same external_id a 409.
    let created = service::drops::create(
        &state.store,
        &state.checker,
        spec,
        &caller.origin(&req),
        &state.settings.public_url,
        state.mail_keyring(),
    )
    .await
    .map_err(create_error)?;
    let mut body = drop_json(&created.drop);
    body["url"] = json!(created.url());
    body["warnings"] = json!(created.warnings);
    Ok(HttpResponse::Created().json(body))
}

/// A drop that was not created: 422 for what the caller can fix (a kind or e-mail this
/// configuration cannot serve), 409 for a live drop with the same external_id.
pub(super) fn create_error(e: CreateError) -> ApiError {
    match e {
        CreateError::KindUnavailable(why) => ApiError::unprocessable(why),
        CreateError::NoMail => ApiError::unprocessable(e.to_string()),
        CreateError::Service(e) => ApiError::from(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    #[serde(default)]
    send_to: Option<String>,
}

/// `POST /api/v1/drops/{id}/send` (SPEC §15): a new link for an open drop, e-mailed to
/// `send_to` or where the link went before; the old link answers 410 from now on.
#[post("/drops/{id}/send")]
pub async fn send(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    use crate::service::mail::{send_again, SentAgain, NO_MAIL};
    caller.require(Capability::ManageDrops)?;
    let id = super::path_id(&id, "drop")?;
    let input: SendRequest = body::optional_json(&req, payload).await?;
    let to = input
        .send_to
        .as_deref()
        .map(|to| crate::domain::contact::check_email("send_to", to))
        .transpose()
        .map_err(ApiError::unprocessable)?;
    let Some(keyring) = state.mail_keyring() else {
        return Err(ApiError::unprocessable(NO_MAIL));
    };
    let sent = send_again(&state.store, keyring, &id, to, &caller.origin(&req)).await?;
    state.drop_cache.evict(&id);
    match sent {
        SentAgain::Queued(drop) => Ok(HttpResponse::Ok().json(drop_json(&drop))),
        SentAgain::NotOpen(drop) => Err(ApiError::conflict(Revoked::reason(&drop))),
        SentAgain::NoRecipient => Err(ApiError::unprocessable(
            "send_to is required: this drop's link was never e-mailed",
        )),
        SentAgain::NotFound => Err(ApiError::not_found("drop")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    external_id: Option<QueryText>,
    limit: Option<String>,
    after: Option<String>,
}

#[get("/drops")]
pub async fn list(
    caller: Caller,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ReadDrops)?;
    let query = query.into_inner();
    let limit = page_limit(query.limit.as_deref())?;
    let filter = super::filter(
        query.state.as_deref(),
        DropState::parse,
        "state must be one of open, submitted, expired, revoked, locked",
    )?;
    let after = super::after(query.after.as_deref())?;
    let filter = DropFilter {
        state: filter,
        external_id: query.external_id.and_then(QueryText::filter),
        ..DropFilter::default()
    };
    let drops = state
        .store
        .list_drops(&filter, after.as_ref(), limit)
        .await?;
    let next = super::next(&drops, limit, |d| Cursor {
        created_at: d.created_at,
        id: d.id.clone(),
    });
    let drops: Vec<_> = drops.iter().map(drop_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "drops": drops, "next": next })))
}

#[get("/drops/{id}")]
pub async fn get(
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ReadDrops)?;
    let id = super::path_id(&id, "drop")?;
    let (drop, credential) = service::drops::find(&state.store, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("drop"))?;
    let mut body = drop_json(&drop);
    if let Some(meta) = &credential {
        body["credential"] = credential_json(meta);
    }
    Ok(HttpResponse::Ok().json(body))
}

#[post("/drops/{id}/revoke")]
pub async fn revoke(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageDrops)?;
    let id = super::path_id(&id, "drop")?;
    let revoked = service::drops::revoke(&state.store, &id, &caller.origin(&req)).await?;
    state.drop_cache.evict(&id);
    match revoked {
        Revoked::NotFound => Err(ApiError::not_found("drop")),
        Revoked::Now(drop) => Ok(HttpResponse::Ok().json(drop_json(&drop))),
        Revoked::NotOpen(drop) => Err(ApiError::conflict(Revoked::reason(&drop))),
    }
}
