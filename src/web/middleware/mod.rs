//! What runs around the handlers: the access log and metrics, API authentication and its
//! throttles, the bound on request bodies, the security headers, 405 with `Allow`, and the
//! per-address limit of public POSTs.

pub mod access_log;
pub mod auth;
pub mod auth_throttle;
pub mod body_deadline;
pub mod headers;
pub mod methods;
pub mod rate_limit;
