//! keydrop's integration suite: one binary, one module per feature.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod api_audit;
mod api_auth_limits;
mod api_tokens;
mod browser;
mod cli;
mod connect_kind;
mod console;
mod console_admin;
mod console_audit;
pub mod console_drops;
mod console_oidc;
mod credentials;
mod custody;
mod deploy;
mod drops;
mod faults;
mod form_key;
mod fuzz;
mod harvest_v3;
mod headers;
mod health_checks;
mod http_methods;
mod ingestion;
mod jobs;
mod list_filters;
mod mail;
mod metrics;
mod multiprocess;
mod openapi;
pub mod partner;
mod public;
mod relink;
mod slow_bodies;
mod store;
mod vend;
mod vend_multiprocess;
mod webhooks;
