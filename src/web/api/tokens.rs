//! `/api/v1/tokens`: admins mint, list and revoke API tokens.

use crate::clock::{from_millis, rfc3339};
use crate::domain::role::{Capability, Role};
use crate::service::tokens::{self, validate_name};
use crate::store::TokenRecord;
use crate::web::error::ApiError;
use crate::web::middleware::auth::{Caller, TokenVerifier};
use crate::web::{body, client_ip, AppState};
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: String,
    role: Role,
}

/// A token as listed: never the token or its hash.
#[derive(Serialize)]
pub struct TokenView {
    id: String,
    name: String,
    role: Role,
    created_at: String,
    revoked_at: Option<String>,
}

impl From<&TokenRecord> for TokenView {
    fn from(t: &TokenRecord) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            role: t.role,
            created_at: rfc3339(from_millis(t.created_at)),
            revoked_at: t.revoked_at.map(|ms| rfc3339(from_millis(ms))),
        }
    }
}

#[post("/tokens")]
pub async fn create(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageTokens)?;
    let input: CreateToken = body::json(&req, payload).await?;
    let name = validate_name(&input.name).map_err(ApiError::unprocessable)?;
    let (record, token) = tokens::create(
        &state.store,
        &state.tokens,
        name,
        input.role,
        &caller.actor(),
        client_ip(&req),
    )
    .await?;
    let view = TokenView::from(&record);
    Ok(HttpResponse::Created().json(json!({
        "id": view.id,
        "name": view.name,
        "role": view.role,
        "token": token.reveal(),
        "created_at": view.created_at,
    })))
}

#[get("/tokens")]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageTokens)?;
    let tokens = state.store.list_tokens().await?;
    let views: Vec<TokenView> = tokens.iter().map(TokenView::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "tokens": views })))
}

#[delete("/tokens/{id}")]
pub async fn revoke(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
    verifier: web::Data<TokenVerifier>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageTokens)?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::not_found("token"))?;
    let record = tokens::revoke(&state.store, id, &caller.origin(&req))
        .await?
        .ok_or_else(|| ApiError::not_found("token"))?;
    verifier.forget(id);
    Ok(HttpResponse::Ok().json(TokenView::from(&record)))
}
