//! The fake's OAuth host: `POST /token` (client credentials) and `POST /introspect`, as SPEC
//! §1.1's table says, with the switches of [`State`] (token lifetime field, introspection
//! missing, failing or slow).

use super::routes::{basic, has_suffix, params};
use super::state::{Introspection, Issued, State, TokenLifetime};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use std::sync::Mutex;

pub(super) async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let Some((id, secret)) = basic(&req) else {
        return HttpResponse::Unauthorized().json(
            json!({"message":"Unauthorized","errorId":format!("err-{}", uuid::Uuid::new_v4())}),
        );
    };
    if !has_suffix(&id) {
        return HttpResponse::BadRequest().json(json!({
            "message": format!("client_id={id} does not contain a valid client ID suffix"),
            "errorId": format!("err-{}", uuid::Uuid::new_v4()),
        }));
    }
    let p = params(&req, &body);
    match p.get("grant_type").map(String::as_str) {
        None => {
            return HttpResponse::BadRequest()
                .json(json!({"message":"Must include `grant_type` parameter in /token request"}))
        }
        Some("client_credentials") => {}
        Some("authorization_code") => {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            return super::partner::exchange(&mut s, (&id, &secret), &p);
        }
        Some("refresh_token") => {
            return super::partner::refresh(&state.into_inner(), (id, secret), p).await;
        }
        Some(other) => {
            return HttpResponse::BadRequest().json(json!({"message": format!(
                "grant_type={other} is invalid, please use one of: authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:token-exchange"
            )}))
        }
    }
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    if s.admit_v3_prefix
        .as_deref()
        .is_some_and(|p| id.starts_with(p))
        && !s.v3_clients.contains_key(&id)
    {
        let client = super::V3Client::new(id.clone(), secret.clone()).with_all_resources();
        s.v3_clients.insert(id.clone(), client);
    }
    let Some(client) = s.v3_clients.get(&id).filter(|c| c.client_secret == secret) else {
        return HttpResponse::Unauthorized().json(json!({"error":"invalid_client"}));
    };
    let sub = p.get("sub").filter(|v| !v.is_empty()).cloned();
    if let Some(sub) = &sub {
        if client.refused_subs.contains(sub) || !sub.bytes().all(|b| b.is_ascii_digit()) {
            return HttpResponse::BadRequest().json(json!({
                "error":"invalid_request","error_description":"The sub parameter is not an active user"
            }));
        }
    }
    let token = format!(
        "ghfake.{}.{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    s.tokens
        .insert(token.clone(), Issued { client_id: id, sub });
    s.issued_order.push(token.clone());
    let mut body = json!({"access_token":token,"token_type":"Bearer"});
    match s.token_lifetime {
        TokenLifetime::ExpiresIn(secs) => body["expires_in"] = json!(secs),
        TokenLifetime::ExpiresAt(at) => {
            body["expires_at"] = json!(crate::clock::rfc3339(at));
        }
        TokenLifetime::Neither => {}
    }
    HttpResponse::Ok().json(body)
}

/// `POST /introspect`: Basic client credentials, form `token=…`; an active token of that client
/// names its organisation, anything else is `{"active":false}`.
pub(super) async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let mode = state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .introspection;
    match mode {
        Introspection::NotFound => {
            return HttpResponse::NotFound().json(json!({"message":"Resource not found"}))
        }
        Introspection::Fails => {
            return HttpResponse::InternalServerError()
                .json(json!({"message":"Internal Server Error"}))
        }
        Introspection::Slow(d) => tokio::time::sleep(d).await,
        Introspection::Answer => {}
    }
    let s = state.lock().unwrap_or_else(|e| e.into_inner());
    // A partner client asks about a token of one of its grants: the grant's organisation.
    let partner = basic(&req).filter(|(id, secret)| s.partner.is_client(id, secret));
    let partner_grant = partner.as_ref().and_then(|(id, _)| {
        let p = params(&req, &body);
        let issued = p.get("token").and_then(|t| s.tokens.get(t))?;
        s.partner
            .owns(id, &issued.client_id)
            .then(|| s.v3_clients.get(&issued.client_id))
            .flatten()
    });
    if partner.is_some() {
        let Some(grant) = partner_grant else {
            return HttpResponse::Ok().json(json!({"active": false}));
        };
        let scope: Vec<&str> = grant.scopes.iter().map(String::as_str).collect();
        return HttpResponse::Ok().json(json!({
            "active": true,
            "scope": scope.join(" "),
            "https://auth.greenhouse.io/claims": {
                "organization": {"id": grant.organization.0, "name": grant.organization.1},
                "user_role": "site_admin",
            },
        }));
    }
    let client = basic(&req)
        .and_then(|(id, secret)| s.v3_clients.get(&id).filter(|c| c.client_secret == secret));
    let Some(client) = client else {
        return HttpResponse::Unauthorized().json(json!({"error":"invalid_client"}));
    };
    let p = params(&req, &body);
    let issued = p
        .get("token")
        .and_then(|t| s.tokens.get(t))
        .filter(|i| i.client_id == client.client_id);
    let Some(issued) = issued else {
        return HttpResponse::Ok().json(json!({"active": false}));
    };
    let admin = client.can_list(issued.sub.as_deref());
    let scope: Vec<&str> = client.scopes.iter().map(String::as_str).collect();
    HttpResponse::Ok().json(json!({
        "active": true,
        "client_id": client.client_id,
        "sub": issued.sub,
        "scope": scope.join(" "),
        "https://auth.greenhouse.io/claims": {
            "organization": {"id": client.organization.0, "name": client.organization.1},
            "user_role": if admin { "site_admin" } else { "basic" },
        },
    }))
}
