//! Bearer-token authentication with a verified-token cache (SPEC §5).
//!
//! A token is parsed (shape only), its row fetched by the id it carries,
//! and its argon2id hash checked once. Success is cached under an HMAC of
//! the token with a per-process random key, so the cache never holds
//! anything that could be presented as a token. Cached entries re-read their
//! row (not the hash) every [`RECHECK`], so a revocation made by any process
//! takes effect within that time; one made here takes effect at once.

use super::error::ApiError;
use crate::crypto::random;
use crate::crypto::token::ApiToken;
use crate::domain::role::Role;
use crate::store::Store;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a cached verification is trusted before its row is read again.
pub const RECHECK: Duration = Duration::from_secs(2);
/// Cache bound; only valid tokens enter it, so it is never filled by strangers.
const MAX_ENTRIES: usize = 10_000;
/// Concurrent argon2 verifications per process.
const MAX_HASHING: usize = 2;

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: Uuid,
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// 403 unless the caller holds one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// How the caller is named in the audit log.
    pub fn actor(&self) -> String {
        format!("token:{}", self.token_id)
    }
}

struct Entry {
    caller: Caller,
    checked: Instant,
}

pub struct TokenVerifier {
    store: Store,
    cache_key: ring::hmac::Key,
    cache: Mutex<HashMap<[u8; 32], Entry>>,
    /// argon2 runs at once. Each takes 19 MiB and a core for ~20 ms, so a
    /// burst of new (or wrong) tokens queues here instead of exhausting
    /// memory; a queued request re-checks the cache once it gets a permit.
    hashing: tokio::sync::Semaphore,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenVerifier")
    }
}

impl TokenVerifier {
    pub fn new(store: Store) -> Result<Self, crate::crypto::CryptoError> {
        let key = random::bytes::<32>()?;
        Ok(Self {
            store,
            cache_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
            cache: Mutex::new(HashMap::new()),
            hashing: tokio::sync::Semaphore::new(MAX_HASHING),
        })
    }

    /// Check the value of an `Authorization` header.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Caller, ApiError> {
        let text = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        let token = ApiToken::parse(text).map_err(|_| ApiError::unauthorized())?;
        let key = token.cache_key(&self.cache_key);

        let cached = self.cached(&key);
        if let Some((caller, fresh)) = cached {
            if fresh {
                return Ok(caller);
            }
            return match self.store.token(caller.token_id).await? {
                Some(row) if row.revoked_at.is_none() => {
                    self.remember(key, caller.clone());
                    Ok(caller)
                }
                _ => {
                    self.forget(caller.token_id);
                    Err(ApiError::unauthorized())
                }
            };
        }

        let row = self
            .store
            .token(token.id())
            .await?
            .filter(|r| r.revoked_at.is_none())
            .ok_or_else(ApiError::unauthorized)?;
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|e| ApiError::internal(&e))?;
        if let Some((caller, true)) = self.cached(&key) {
            return Ok(caller);
        }
        let hash = row.hash.clone();
        let ok = web::block(move || token.verify(&hash))
            .await
            .map_err(|e| ApiError::internal(&e))?;
        if !ok {
            return Err(ApiError::unauthorized());
        }
        let caller = Caller {
            token_id: row.id,
            name: row.name,
            role: row.role,
        };
        self.remember(key, caller.clone());
        Ok(caller)
    }

    fn cached(&self, key: &[u8; 32]) -> Option<(Caller, bool)> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(key)
            .map(|e| (e.caller.clone(), e.checked.elapsed() < RECHECK))
    }

    fn remember(&self, key: [u8; 32], caller: Caller) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
            cache.insert(
                key,
                Entry {
                    caller,
                    checked: Instant::now(),
                },
            );
        }
    }

    /// Drop every cached verification of a token (on revocation).
    pub fn forget(&self, token_id: Uuid) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, e| e.caller.token_id != token_id);
        }
    }
}

/// Middleware for the API scope: authenticate before anything else about
/// the request is looked at, so an unauthenticated caller learns nothing.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let verifier = req.app_data::<web::Data<TokenVerifier>>().cloned();
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let verified = match verifier {
        Some(v) => v.verify(header.as_deref()).await,
        None => Err(ApiError::unauthorized()),
    };
    match verified {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(e) => {
            let (http_req, _) = req.into_parts();
            Ok(ServiceResponse::new(http_req, e.error_response()).map_into_right_body())
        }
    }
}

/// Handlers take a `Caller`, put in place by [`authenticate`].
impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(ApiError::unauthorized),
        )
    }
}
