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
use crate::web::{body, client_ip, AppState};
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
        &caller.actor(),
        client_ip(&req),
        &state.settings.public_url,
    )
    .await
    .map_err(|e| match e {
        CreateError::KindUnavailable(why) => ApiError::unprocessable(why),
        CreateError::Service(e) => ApiError::from(e),
    })?;
    let mut body = drop_json(&created.drop);
    body["url"] = json!(created.url());
    body["warnings"] = json!(created.warnings);
    Ok(HttpResponse::Created().json(body))
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
