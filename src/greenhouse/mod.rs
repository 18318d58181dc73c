//! Greenhouse credentials: their kinds, the permission profiles a drop asks for, and the
//! one-time check against Greenhouse (SPEC §1).
//!
//! - [`kinds`] holds one plug-in per credential kind behind [`CredentialKind`], and the
//!   [`Registry`] the rest of keydrop iterates (see the module docs for the design).
//! - [`Secret`] is what a customer pasted, built by its kind after the local shape checks.
//! - [`Profile`] is the set of resources a drop asks for, split into required and optional.
//! - [`Checker::check`] asks Greenhouse and returns a [`Verification`].
//! - The fake Greenhouse the tests, benchmarks and `keydrop demo` talk to is apart from it, in
//!   [`crate::sandbox`].

mod checker;
mod http;
mod introspect;
pub mod kinds;
mod messages;
pub mod oauth;
mod profile;
mod report;
mod resources;
mod scrub;
mod secret;
mod validation;

pub use crate::config::PartnerClient;
pub use crate::domain::kind::{Kind, UnknownKind};
pub use checker::{BuildError, Checker, CheckerConfig};
pub use http::Budget;
pub use kinds::{registry, CredentialKind, Fields, Registry, Renewed};
pub use oauth::{MintedToken, TokenError};
pub use profile::Profile;
pub use report::{Named, Outcome, Verification};
pub use resources::Resource;
pub use secret::Secret;
pub use validation::ValidationError;
