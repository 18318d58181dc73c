//! The Greenhouse checker against the fake Greenhouse, over real HTTP (SPEC §1).
// Test helpers outside #[test] functions may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;
mod ingestion;
mod leaks;
mod resilience;
mod v1;
mod v3;
mod v3_2026;
