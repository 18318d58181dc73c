//! Bearer-token authentication with a verified-token cache (SPEC §5).
//!
//! A token is parsed (shape only), its row fetched by the id it carries,
//! and its argon2id hash checked once. Success is cached under an HMAC of
//! the token with a per-process random key, so the cache never holds
//! anything that could be presented as a token. Cached entries re-read their
//! row (not the hash) every [`RECHECK`], so a revocation made by any process
//! takes effect within that time; one made here takes effect at once.
//!
//! Cold checks (no fresh cache entry) are throttled so a flood of wrong
//! tokens cannot stall real ones ([`super::auth_throttle`]): a client address
//! with too many recent 401s gets 429 before any work, a token id whose
//! secret was recently wrong is refused without an argon2 run, and the wait
//! for an argon2 turn is bounded (503 with `Retry-After` past it).

use super::auth_throttle::{Backoff, HashGate};
use super::error::ApiError;
use super::rate_limit::RateLimiter;
use crate::config::RateLimit;
use crate::crypto::random;
use crate::crypto::token::ApiToken;
use crate::domain::role::Role;
use crate::store::Store;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a cached verification is trusted before its row is read again.
pub const RECHECK: Duration = Duration::from_secs(2);
/// Cache bound; only valid tokens enter it, so it is never filled by strangers.
const MAX_ENTRIES: usize = 10_000;
/// Concurrent argon2 verifications per process.
const MAX_HASHING: usize = 2;
/// Longest wait for an argon2 turn before answering 503.
const HASH_WAIT: Duration = Duration::from_secs(1);
/// After a wrong secret for a token id, cold attempts for it are refused for
/// this long, doubling with each further failure up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// 401 answers one client address may get per window before its cold
/// checks are answered 429.
pub const FAILURES_PER_CLIENT: RateLimit = RateLimit {
    requests: 30,
    per: Duration::from_secs(60),
};

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

    /// The caller and its client address, for the audit log.
    pub fn origin(&self, req: &HttpRequest) -> crate::domain::event::Origin {
        crate::domain::event::Origin::new(self.actor(), super::client_ip(req))
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
    /// burst of new (or wrong) tokens waits here, for a bounded time, instead
    /// of exhausting memory; a waiting request re-checks the cache and the
    /// back-off once it gets a turn.
    hashing: HashGate,
    /// Token ids whose secret was recently wrong.
    backoff: Backoff,
    /// 401 answers per client address.
    failures: RateLimiter,
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
            hashing: HashGate::new(MAX_HASHING, HASH_WAIT),
            backoff: Backoff::new(BACKOFF_FIRST, BACKOFF_MAX, MAX_ENTRIES),
            failures: RateLimiter::new(FAILURES_PER_CLIENT),
        })
    }

    /// Check the value of an `Authorization` header sent from `client`;
    /// every 401 counts against that address.
    pub async fn verify(
        &self,
        authorization: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Caller, ApiError> {
        let verified = self.check(authorization, client).await;
        if let (Err(e), Some(ip)) = (&verified, client) {
            if e.status_code() == StatusCode::UNAUTHORIZED {
                self.failures.record(ip);
            }
        }
        verified
    }

    async fn check(
        &self,
        authorization: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Caller, ApiError> {
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

        // Cold: what follows costs a database read and maybe an argon2 run.
        if let Some(ip) = client {
            self.failures
                .peek(ip)
                .map_err(ApiError::too_many_requests)?;
        }
        let id = token.id();
        if self.backoff.refused(id, Instant::now()) {
            return Err(ApiError::unauthorized());
        }
        let row = self
            .store
            .token(id)
            .await?
            .filter(|r| r.revoked_at.is_none())
            .ok_or_else(ApiError::unauthorized)?;
        let _permit = self.hashing.enter().await.map_err(|_| {
            ApiError::unavailable("too many API token checks at once; try again shortly")
                .retry_after(self.hashing.retry_after_secs())
        })?;
        // While this request waited, the same token may have been verified,
        // or a wrong secret for its id found.
        if let Some((caller, true)) = self.cached(&key) {
            return Ok(caller);
        }
        if self.backoff.refused(id, Instant::now()) {
            return Err(ApiError::unauthorized());
        }
        let hash = row.hash.clone();
        let ok = web::block(move || token.verify(&hash))
            .await
            .map_err(|e| ApiError::internal(&e))?;
        if !ok {
            self.backoff.failed(id, Instant::now());
            return Err(ApiError::unauthorized());
        }
        self.backoff.succeeded(id);
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
    let client = super::client_addr(req.request());
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let verified = match verifier {
        Some(v) => v.verify(header.as_deref(), client).await,
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
