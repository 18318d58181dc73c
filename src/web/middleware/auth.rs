//! Bearer-token authentication with a verified-token cache (SPEC §5).
//!
//! A token is parsed (shape only), its tag checked (one HMAC: a forgery
//! stops here, before any I/O), its row fetched by the id it carries, and
//! its argon2id hash checked once. Success is cached under an HMAC of the
//! token with a per-process random key, so the cache never holds anything
//! that could be presented as a token. Cached entries re-read their row
//! (not the hash) every [`RECHECK`], so a revocation made by any process
//! takes effect within that time; one made here takes effect at once.
//!
//! Cold checks (no fresh cache entry) are throttled so a flood of wrong
//! tokens cannot stall real ones ([`crate::web::middleware::auth_throttle`]), and never so
//! that a good token is refused for other callers' failures: forgeries of
//! tagged tokens never reach the database or argon2; legacy (untagged)
//! tokens whose id recently saw a wrong secret wait (429 with
//! `Retry-After`); and the wait for an argon2 turn is bounded (503 with
//! `Retry-After` past it). There is no per-address lock-out: behind a proxy
//! every caller shares an address, and a good token must still pass.

use crate::crypto::random;
use crate::crypto::token::{ApiToken, Layout};
use crate::domain::role::{Capability, Role};
use crate::service::tokens::Tokens;
use crate::store::Store;
use crate::web::error::ApiError;
use crate::web::middleware::auth_throttle::{Backoff, HashGate};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;
use zeroize::Zeroizing;

/// How long a cached verification is trusted before its row is read again.
pub const RECHECK: Duration = Duration::from_secs(2);
/// Cache bound; only valid tokens enter it, so it is never filled by strangers.
const MAX_ENTRIES: usize = 10_000;
/// Concurrent argon2 verifications per process (one per hashing thread).
const MAX_HASHING: usize = crate::crypto::hasher::THREADS;
/// Longest wait for an argon2 turn before answering 503.
const HASH_WAIT: Duration = Duration::from_secs(1);
/// After a wrong secret for a legacy token id, cold attempts for it wait
/// this long, doubling with each further failure up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: Uuid,
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// 403 unless the caller holds one of `roles`.
    /// 403 unless the caller's role may do `what` (the matrix is `Role::may`).
    pub fn require(&self, what: Capability) -> Result<(), ApiError> {
        if self.role.may(what) {
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
        crate::domain::event::Origin::new(self.actor(), crate::web::client_ip(req))
    }
}

struct Entry {
    caller: Caller,
    checked: Instant,
}

pub struct TokenVerifier {
    store: Store,
    tokens: Tokens,
    cache_key: ring::hmac::Key,
    cache: Mutex<HashMap<[u8; 32], Entry>>,
    /// argon2 runs at once. Each takes 19 MiB and a core for ~20 ms, so a
    /// burst of new tokens waits here, for a bounded time, instead of
    /// queueing without end; a waiting request re-checks the cache once it
    /// gets a turn.
    hashing: HashGate,
    /// Legacy token ids whose secret was recently wrong.
    backoff: Backoff,
    /// One cold check per token at a time: 64 connections that open with the same new
    /// token cost one argon2 run, not one per permit.
    checking: Mutex<HashMap<[u8; 32], std::sync::Weak<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenVerifier")
    }
}

impl TokenVerifier {
    pub fn new(store: Store, tokens: Tokens) -> Result<Self, crate::crypto::CryptoError> {
        let key = random::bytes::<32>()?;
        Ok(Self {
            store,
            tokens,
            cache_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
            cache: Mutex::new(HashMap::new()),
            hashing: HashGate::new(MAX_HASHING, HASH_WAIT),
            backoff: Backoff::new(BACKOFF_FIRST, BACKOFF_MAX, MAX_ENTRIES),
            checking: Mutex::new(HashMap::new()),
        })
    }

    /// The gate of cold checks of the token with cache key `key`.
    fn check_gate(&self, key: &[u8; 32]) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.checking.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = gates.get(key).and_then(std::sync::Weak::upgrade) {
            return g;
        }
        gates.retain(|_, g| g.strong_count() > 0);
        let g = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        gates.insert(*key, std::sync::Arc::downgrade(&g));
        g
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

        // Cold: what follows costs a database read and an argon2 run.
        let id = token.id();
        let legacy = match token.layout() {
            Layout::Tagged if !token.tag_is_valid(&self.tokens.tag) => {
                return Err(ApiError::unauthorized());
            }
            Layout::Tagged => false,
            Layout::Legacy => {
                self.legacy_wait(id)?;
                true
            }
        };
        let row = self
            .store
            .token(id)
            .await?
            .filter(|r| r.revoked_at.is_none())
            .ok_or_else(ApiError::unauthorized)?;
        // Another request may be checking this very token: wait for its answer.
        let gate = self.check_gate(&key);
        let _one_at_a_time = gate.lock().await;
        if let Some((caller, true)) = self.cached(&key) {
            return Ok(caller);
        }
        let _permit = self.hashing.enter().await.map_err(|_| {
            ApiError::unavailable("too many API token checks at once; try again shortly")
                .retry_after(self.hashing.retry_after_secs())
        })?;
        // While this request waited, the same token may have been verified,
        // or a wrong secret for its (legacy) id found.
        if let Some((caller, true)) = self.cached(&key) {
            return Ok(caller);
        }
        if legacy {
            self.legacy_wait(id)?;
        }
        let ok = self
            .tokens
            .hasher
            .verify(token, row.hash.clone())
            .await
            .map_err(|e| ApiError::internal(&e))?;
        if !ok {
            if legacy {
                self.backoff.failed(id, Instant::now());
            } else {
                // Only a holder of the tag key could make this token.
                tracing::warn!(token = %id, "a token with a valid tag failed its hash check");
            }
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

    /// 429 with `Retry-After` while legacy token id `id` is backing off.
    fn legacy_wait(&self, id: Uuid) -> Result<(), ApiError> {
        match self.backoff.wait(id, Instant::now()) {
            Some(left) => Err(ApiError::too_many_requests(
                left.as_secs() + u64::from(left.subsec_nanos() > 0),
            )),
            None => Ok(()),
        }
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
    // The header is copied (the request moves on after the check); the copy
    // is wiped when it goes.
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| Zeroizing::new(v.to_owned()));
    let verified = match verifier {
        Some(v) => v.verify(header.as_deref().map(String::as_str)).await,
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
