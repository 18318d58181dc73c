//! keydrop: one-time upload links for Greenhouse Harvest credentials.
//!
//! Layout: `cli` parses commands; `startup` builds the service; `web` holds
//! routes, pages and middleware; `greenhouse` checks credentials; `store`
//! is the database; `crypto` owns every key; `domain` has the rules.
#![forbid(unsafe_code)]
#![recursion_limit = "512"]

pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod greenhouse;
pub mod health;
pub mod jobs;
pub mod metrics;
pub mod sandbox;
pub mod service;
pub mod startup;
pub mod store;
pub mod web;
