//! The internal JSON API under `/api/v1`.

pub mod audit;
pub mod tokens;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(tokens::create)
        .service(tokens::list)
        .service(tokens::revoke)
        .service(audit::list);
}

/// `limit` for list calls: 1…500, default 100.
pub fn page_limit(limit: Option<i64>) -> Result<i64, super::error::ApiError> {
    match limit {
        None => Ok(100),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(super::error::ApiError::unprocessable(
            "limit must be between 1 and 500",
        )),
    }
}
