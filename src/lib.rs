//! keydrop: one-time upload links for Greenhouse Harvest credentials.
#![forbid(unsafe_code)]

pub mod clock;
pub mod crypto;
pub mod domain;
pub mod store;
pub mod config;
pub mod startup;
pub mod web;
pub mod cli;
