//! The Greenhouse checker against the fake Greenhouse, over real HTTP (SPEC §1).

mod helpers;
mod leaks;
mod resilience;
mod v1;
mod v3;
