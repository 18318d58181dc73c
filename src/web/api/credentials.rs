//! `/api/v1/credentials`: metadata for staff and workers; claim, ack and
//! secret reads for workers; re-checks for staff; destruction for admins.

use super::page_limit;
use super::views::credential_json;
use crate::clock::{from_millis, rfc3339};
use crate::domain::credential::{Delivery, Status};
use crate::domain::role::Capability;
use crate::service::credentials::{Claimed, Rechecked};
use crate::service::vend::{AccessToken, VendError};
use crate::service::ServiceError;
use crate::store::{AckResult, Cursor, Lease, SecretRead};
use crate::web::error::ApiError;
use crate::web::middleware::auth::Caller;
use crate::web::{body, AppState};
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

pub const DEFAULT_LEASE_SECS: i64 = 300;
pub const LEASE_SECS: std::ops::RangeInclusive<i64> = 10..=3600;

/// A response body that holds a secret. The buffer is built once at its
/// final size and wiped when the body is dropped (SPEC §8.8); what keydrop
/// cannot reach is the copy actix-web makes into its connection write buffer.
fn secret_body(buf: Zeroizing<Vec<u8>>) -> web::Bytes {
    struct Wiped(Zeroizing<Vec<u8>>);
    impl AsRef<[u8]> for Wiped {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }
    web::Bytes::from_owner(Wiped(buf))
}

/// `{"credential":…,"secret":<the stored secret JSON, byte for byte>,"lease":…}`
/// in one zeroizing buffer: the secret is never parsed into a JSON value
/// (whose strings would not be wiped), only checked to be JSON.
fn claim_body(
    credential: &Value,
    plaintext: &[u8],
    lease: &Value,
) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let not_json =
        || ApiError::internal(&ServiceError::Internal("stored secret is not JSON".into()));
    serde_json::from_slice::<serde::de::IgnoredAny>(plaintext).map_err(|_| not_json())?;
    let credential = serde_json::to_vec(credential).map_err(|_| not_json())?;
    let lease = serde_json::to_vec(lease).map_err(|_| not_json())?;
    let parts: [&[u8]; 7] = [
        b"{\"credential\":",
        &credential,
        b",\"secret\":",
        plaintext,
        b",\"lease\":",
        &lease,
        b"}",
    ];
    let mut buf = Zeroizing::new(Vec::with_capacity(parts.iter().map(|p| p.len()).sum()));
    for p in parts {
        buf.extend_from_slice(p);
    }
    Ok(buf)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    delivery: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

#[get("/credentials")]
pub async fn list(
    caller: Caller,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ReadCredentials)?;
    let limit = page_limit(query.limit.as_deref())?;
    let status = super::filter(
        query.status.as_deref(),
        Status::parse,
        "status must be one of pending, verified, insufficient, invalid",
    )?;
    let delivery = super::filter(
        query.delivery.as_deref(),
        Delivery::parse,
        "delivery must be one of waiting, leased, delivered, destroyed",
    )?;
    let after = super::after(query.after.as_deref())?;
    let items = state
        .store
        .list_credentials(status, delivery, after.as_ref(), limit)
        .await?;
    let next = super::next(&items, limit, |c| Cursor {
        created_at: c.created_at,
        id: c.id.clone(),
    });
    let items: Vec<Value> = items.iter().map(credential_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "credentials": items, "next": next })))
}

#[get("/credentials/{id}")]
pub async fn get(
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ReadCredentials)?;
    let id = super::path_id(&id, "credential")?;
    let meta = state
        .store
        .credential_meta(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("credential"))?;
    Ok(HttpResponse::Ok().json(credential_json(&meta)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    #[serde(default, deserialize_with = "crate::domain::number::whole")]
    lease_seconds: Option<i64>,
}

#[post("/credentials/claim")]
pub async fn claim(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::Release)?;
    let input: ClaimBody = body::optional_json(&req, payload).await?;
    let lease = input.lease_seconds.unwrap_or(DEFAULT_LEASE_SECS);
    if !LEASE_SECS.contains(&lease) {
        return Err(ApiError::unprocessable(
            "lease_seconds must be between 10 and 3600",
        ));
    }
    let claimed = state
        .claim(lease, &caller.origin(&req))
        .await
        .map_err(vend_error)?;
    let body = match claimed {
        None => return Ok(HttpResponse::NoContent().finish()),
        Some(Claimed::Secret {
            meta,
            secret: plaintext,
            lease,
        }) => claim_body(&credential_json(&meta), &plaintext, &lease_json(&lease))?,
        // `secret` is `{"kind","access_token","token_type","expires_at","api_url"}`.
        Some(Claimed::Token { meta, token, lease }) => {
            let not_json = || ApiError::internal(&ServiceError::Internal("claim JSON".into()));
            let credential = serde_json::to_vec(&credential_json(&meta)).map_err(|_| not_json())?;
            let lease = serde_json::to_vec(&lease_json(&lease)).map_err(|_| not_json())?;
            let mut prefix = b"{\"credential\":".to_vec();
            prefix.extend_from_slice(&credential);
            prefix.extend_from_slice(b",\"secret\":");
            let mut suffix = b",\"lease\":".to_vec();
            suffix.extend_from_slice(&lease);
            suffix.push(b'}');
            access_token_body(
                &token,
                Some(meta.kind.as_str()),
                &state.checker.config().api_url,
                &prefix,
                &suffix,
            )?
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(secret_body(body)))
}

fn lease_json(lease: &Lease) -> Value {
    json!({ "id": lease.id, "expires_at": rfc3339(from_millis(lease.expires_at)) })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    #[serde(deserialize_with = "super::uuid_field")]
    lease_id: uuid::Uuid,
}

#[post("/credentials/{id}/ack")]
pub async fn ack(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::Release)?;
    let id = super::path_id(&id, "credential")?;
    let input: AckBody = body::json(&req, payload).await?;
    match state
        .ack(&id, &input.lease_id.to_string(), &caller.origin(&req))
        .await?
    {
        AckResult::Delivered(meta) => Ok(HttpResponse::Ok().json(credential_json(&meta))),
        AckResult::WrongLease => Err(ApiError::conflict(
            "this lease is not the credential's current lease, or it ran out",
        )),
        AckResult::NotFound => Err(ApiError::not_found("credential")),
    }
}

#[get("/credentials/{id}/secret")]
pub async fn secret(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::Release)?;
    let id = super::path_id(&id, "credential")?;
    match state.secret(&id, &caller.origin(&req)).await? {
        // The stored plaintext is exactly the secret JSON of SPEC §4: sent as is.
        SecretRead::Released(_, plaintext) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(secret_body(plaintext))),
        SecretRead::Destroyed => Err(ApiError::new(
            actix_web::http::StatusCode::GONE,
            "gone",
            "this credential was destroyed; its secret no longer exists",
        )),
        SecretRead::NotVerified | SecretRead::Stale(_) => Err(ApiError::conflict(
            "this credential is not verified; its secret is not released",
        )),
        SecretRead::Disconnected => Err(vend_error(VendError::Disconnected)),
        SecretRead::WrongMode(_) => Err(ApiError::conflict(
            "this credential's release mode is vend: its secret never leaves keydrop; \
             POST /api/v1/credentials/{id}/access-token for an access token",
        )),
        SecretRead::NotFound => Err(ApiError::not_found("credential")),
    }
}

/// The API answer for a token that could not be handed out.
fn vend_error(e: VendError) -> ApiError {
    use actix_web::http::StatusCode;
    match e {
        VendError::NotFound => ApiError::not_found("credential"),
        VendError::Destroyed => ApiError::new(
            StatusCode::GONE,
            "gone",
            "this credential was destroyed; no token can be issued for it",
        ),
        VendError::NotVerified => {
            ApiError::conflict("this credential is not verified; no token is issued for it")
        }
        VendError::WrongMode(_) => ApiError::conflict(
            "this credential's release mode is handoff: claim it or read its secret instead",
        ),
        VendError::Disconnected => ApiError::conflict(
            "Greenhouse disconnected this grant (its refresh token is no longer valid); \
             send the customer a new link",
        ),
        VendError::Unavailable(secs) => ApiError::unavailable(
            "Greenhouse cannot issue an access token right now; try again shortly",
        )
        .retry_after(secs),
        VendError::Service(e) => ApiError::from(e),
    }
}

/// `{"access_token","token_type":"Bearer","expires_at","api_url"}` in a zeroizing buffer.
fn access_token_body(
    token: &AccessToken,
    kind: Option<&str>,
    api_url: &str,
    prefix: &[u8],
    suffix: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        kind: Option<&'a str>,
        access_token: &'a str,
        token_type: &'static str,
        expires_at: String,
        api_url: &'a str,
    }
    let body = Body {
        kind,
        access_token: token.token.as_str(),
        token_type: "Bearer",
        expires_at: rfc3339(from_millis(token.expires_at)),
        api_url,
    };
    // Serialized straight into the wiped buffer: no intermediate JSON value holds the token.
    let mut buf = Zeroizing::new(Vec::with_capacity(
        prefix.len() + token.token.len() + api_url.len() + 256 + suffix.len(),
    ));
    buf.extend_from_slice(prefix);
    serde_json::to_writer(&mut *buf, &body)
        .map_err(|_| ApiError::internal(&ServiceError::Internal("token JSON".into())))?;
    buf.extend_from_slice(suffix);
    Ok(buf)
}

#[post("/credentials/{id}/access-token")]
pub async fn access_token(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::Release)?;
    let id = super::path_id(&id, "credential")?;
    let token = state
        .access_token(&id, &caller.origin(&req))
        .await
        .map_err(vend_error)?;
    let body = access_token_body(&token, None, &state.checker.config().api_url, b"", b"")?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(secret_body(body)))
}

/// `POST /credentials/{id}/relink` (SPEC §15): a new drop whose credential will replace
/// this one; 201 with the link once and `replaces`.
#[post("/credentials/{id}/relink")]
pub async fn relink(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    use crate::service::drops::{RelinkError, RelinkRequest};
    caller.require(Capability::ManageDrops)?;
    let id = super::path_id(&id, "credential")?;
    // No body is "change nothing", like a claim's.
    let input: RelinkRequest = body::optional_json(&req, payload).await?;
    let created = crate::service::drops::relink(
        &state.store,
        &state.checker,
        &id,
        input,
        &caller.origin(&req),
        &state.settings.public_url,
        state.mail_keyring(),
    )
    .await
    .map_err(|e| match e {
        RelinkError::NotFound => ApiError::not_found("credential"),
        RelinkError::Replaced(_) => ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "conflict",
            e.to_string(),
        ),
        RelinkError::Invalid(why) => ApiError::unprocessable(why),
        RelinkError::Create(e) => super::drops::create_error(e),
    })?;
    let mut body = super::views::drop_json(&created.drop);
    body["url"] = json!(created.url());
    body["warnings"] = json!(created.warnings);
    Ok(HttpResponse::Created().json(body))
}

#[post("/credentials/{id}/verify")]
pub async fn verify(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::Recheck)?;
    let id = super::path_id(&id, "credential")?;
    match state
        .check(&id, &caller.origin(&req))
        .await
        .map_err(vend_error)?
    {
        Rechecked::Checked(meta) => Ok(HttpResponse::Ok().json(credential_json(&meta))),
        Rechecked::NotFound => Err(ApiError::not_found("credential")),
        Rechecked::Destroyed => Err(ApiError::new(
            actix_web::http::StatusCode::GONE,
            "gone",
            "this credential was destroyed; it cannot be checked again",
        )),
    }
}

#[delete("/credentials/{id}")]
pub async fn destroy(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::Destroy)?;
    let id = super::path_id(&id, "credential")?;
    let meta = state
        .destroy(&id, &caller.origin(&req))
        .await?
        .ok_or_else(|| ApiError::not_found("credential"))?;
    Ok(HttpResponse::Ok().json(credential_json(&meta)))
}
