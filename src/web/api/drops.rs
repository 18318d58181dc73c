//! `/api/v1/drops`: staff create, list, read and revoke one-time links.

use super::page_limit;
use super::views::{credential_json, drop_json};
use crate::domain::drop::{DropRequest, DropState};
use crate::domain::event::Event;
use crate::domain::role::Role;
use crate::service;
use crate::store::Cursor;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::{body, client_ip, AppState};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

const STAFF: &[Role] = &[Role::Admin, Role::Issuer];

#[post("/drops")]
pub async fn create(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(STAFF)?;
    let input: DropRequest = body::json(&req, payload).await?;
    let spec = input
        .validate(state.checker.kinds())
        .map_err(ApiError::unprocessable)?;
    let created = service::drops::create(
        &state.store,
        spec,
        &caller.actor(),
        client_ip(&req),
        &state.settings.public_url,
    )
    .await
    .map_err(|e| ApiError::internal(&e))?;
    let mut body = drop_json(&created.drop);
    body["url"] = json!(created.url());
    Ok(HttpResponse::Created().json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

#[get("/drops")]
pub async fn list(
    caller: Caller,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(STAFF)?;
    let limit = page_limit(query.limit.as_deref())?;
    let filter = super::filter(
        query.state.as_deref(),
        DropState::parse,
        "state must be one of open, submitted, expired, revoked, locked",
    )?;
    let after = super::after(query.after.as_deref())?;
    let drops = state
        .store
        .list_drops(filter, after.as_ref(), limit)
        .await?;
    let next = super::next(&drops, limit, |d| Cursor {
        created_at: d.created_at,
        id: d.id.clone(),
    });
    let drops: Vec<_> = drops.iter().map(drop_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "drops": drops, "next": next })))
}

fn parse_id(id: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::not_found("drop"))
}

#[get("/drops/{id}")]
pub async fn get(
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(STAFF)?;
    let id = parse_id(&id)?;
    let drop = state
        .store
        .drop_by_id(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("drop"))?;
    let mut body = drop_json(&drop);
    if let Some(cid) = &drop.credential_id {
        if let Some(meta) = state.store.credential_meta(cid).await? {
            body["credential"] = credential_json(&meta);
        }
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
    caller.require(STAFF)?;
    let id = parse_id(&id)?;
    let audit = caller
        .origin(&req)
        .entry(Event::DropRevoked { drop: id.clone() });
    let closed = state
        .store
        .close_drop(&id, DropState::Revoked, &audit)
        .await?;
    state.drop_cache.evict(&id);
    match closed {
        None => Err(ApiError::not_found("drop")),
        Some(Ok(drop)) => Ok(HttpResponse::Ok().json(drop_json(&drop))),
        Some(Err(drop)) => Err(ApiError::conflict(format!(
            "the drop is {}, not open",
            if drop.state == DropState::Open {
                "past its expiry"
            } else {
                drop.state.as_str()
            }
        ))),
    }
}
