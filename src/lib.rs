//! keydrop: one-time links through which customers hand over Greenhouse credentials, checked
//! once, sealed, and released to a vendor's workers (the secret, or access tokens only).
//!
//! The modules are floors; each imports only from the floors below it (`.ci/layers` checks
//! this, ARCHITECTURE.md draws it):
//!
//! - 10 `cli` (commands) and 9 `startup` (builds and wires the service);
//! - 8 `web` (routes, API, pages, middleware) and 7 `jobs` (background passes and their
//!   supervisor): doors that parse, authorise, call a service and map its answer;
//! - 6 `service`: one function per use case, the only way the doors reach a credential
//!   (`service::credentials`: intake, connect, release, checks, the keep-alive);
//! - 5 `sandbox`: the fake Greenhouse of the tests, benchmarks and `keydrop demo`;
//! - 4 `greenhouse` (credential kinds as plug-ins, their checks and token endpoints) and
//!   `store` (SQLite and PostgreSQL; every transition one audited statement) and `oidc` (the
//!   console's OpenID Connect relying party) and `custody` (the KMS or HSM that wraps the
//!   master keys, called only at start and by `keydrop keys`);
//! - 3 `config`, `metrics`, `health`; 2 `domain` (the rules, typed events); 1 `crypto`
//!   (every key) and `clock`.
#![forbid(unsafe_code)]
#![recursion_limit = "512"]

pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod custody;
pub mod domain;
pub mod greenhouse;
pub mod health;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod sandbox;
pub mod service;
pub mod startup;
pub mod store;
pub mod web;
