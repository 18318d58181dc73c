//! keydrop: one-time upload links for Greenhouse Harvest credentials.
#![forbid(unsafe_code)]

pub mod clock;
pub mod greenhouse;
