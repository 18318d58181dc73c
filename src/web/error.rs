//! The API's one error type: every failure becomes
//! `{"error":{"code","message"}}` with its status, decided here.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Seconds to wait, sent as `Retry-After` (429 and 503).
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error, telling the client to wait `seconds` (`Retry-After`).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 429: this client made too many failed attempts; wait `seconds`.
    pub fn too_many_requests(seconds: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests with an invalid API token from this address; try again later",
        )
        .retry_after(seconds)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API token is required: send `Authorization: Bearer kd_…`",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token's role may not make this call",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {} KiB", limit / 1024),
        )
    }

    /// The body did not arrive within `body_timeout`. 400, not 408: the
    /// API's statuses are fixed (SPEC §4), and 400 with this code says what
    /// happened; the connection is closed after the answer.
    pub fn body_timeout() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "body_timeout",
            "the request body did not arrive in time; send it in one go",
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as `Content-Type: application/json`",
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// Log the cause chain; tell the client only that something failed:
    /// 503 with `Retry-After` when the database is unreachable (nothing is
    /// wrong with the request; try again), 422 when the database refused
    /// text it cannot store (the request's fault: a NUL character), else 500.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        if crate::store::is_unavailable(cause) {
            tracing::warn!(error = %cause, "database unavailable");
            return Self::unavailable(
                "the database is unavailable right now; nothing was changed, try again shortly",
            )
            .retry_after(5);
        }
        if crate::store::is_unstorable_text(cause) {
            tracing::info!(error = %cause, "text the database cannot store");
            return Self::unprocessable(
                "the request holds text the database cannot store (such as a NUL or other control character); nothing was changed",
            );
        }
        let mut chain = cause.to_string();
        let mut last = chain.clone();
        let mut source = cause.source();
        while let Some(s) = source {
            // A wrapper that shows its inner error adds nothing to the log line.
            let text = s.to_string();
            if text != last {
                chain.push_str(": ");
                chain.push_str(&text);
            }
            last = text;
            source = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it has been logged",
        )
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"keydrop\""));
        }
        if let Some(seconds) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        res.json(json!({ "error": { "code": self.code, "message": self.message } }))
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Conflict(message) => Self::conflict(message),
            e => Self::internal(&e),
        }
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        match e {
            // This process's keyring is behind the data (it is logged and
            // `/readyz` says so): another, current process can serve it.
            crate::crypto::CryptoError::UnknownKeyVersion(_) => {
                Self::unavailable("this keydrop process cannot open that data now; try again")
                    .retry_after(5)
            }
            e => Self::internal(&e),
        }
    }
}

impl From<crate::service::ServiceError> for ApiError {
    fn from(e: crate::service::ServiceError) -> Self {
        match e {
            crate::service::ServiceError::Store(e) => e.into(),
            crate::service::ServiceError::Crypto(e) => e.into(),
            e => Self::internal(&e),
        }
    }
}
