//! `/api/v1/tokens`: admins mint, list and revoke API tokens.

use crate::clock::{from_millis, rfc3339};
use crate::crypto::token::ApiToken;
use crate::domain::audit::AuditEntry;
use crate::domain::role::Role;
use crate::store::TokenRecord;
use crate::web::auth::{Caller, TokenVerifier};
use crate::web::error::ApiError;
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

/// Check a token name: 1–100 printable characters.
pub fn validate_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("name must be 1 to 100 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("name must not contain control characters".into());
    }
    Ok(name.to_owned())
}

/// Mint a token: returns the record to store and the token to show once.
pub fn mint(
    name: String,
    role: Role,
    now_ms: i64,
) -> Result<(TokenRecord, ApiToken), crate::crypto::CryptoError> {
    let token = ApiToken::generate()?;
    let record = TokenRecord {
        id: token.id(),
        name,
        role,
        hash: token.hash()?,
        created_at: now_ms,
        revoked_at: None,
    };
    Ok((record, token))
}

#[post("/tokens")]
pub async fn create(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let input: CreateToken = body::json(&req, payload).await?;
    let name = validate_name(&input.name).map_err(ApiError::unprocessable)?;
    let now = crate::clock::to_millis(state.store.clock().now());
    let (record, token) = web::block(move || mint(name, input.role, now))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    let audit = AuditEntry::new(
        caller.actor(),
        "token.create",
        format!("token:{}", record.id),
    )
    .ip(client_ip(&req))
    .details(json!({ "name": record.name, "role": record.role }));
    state.store.insert_token(&record, &audit).await?;
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
    caller.require(&[Role::Admin])?;
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
    caller.require(&[Role::Admin])?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::not_found("token"))?;
    let audit =
        AuditEntry::new(caller.actor(), "token.revoke", format!("token:{id}")).ip(client_ip(&req));
    let record = state
        .store
        .revoke_token(id, &audit)
        .await?
        .ok_or_else(|| ApiError::not_found("token"))?;
    verifier.forget(id);
    Ok(HttpResponse::Ok().json(TokenView::from(&record)))
}
