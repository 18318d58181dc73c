//! Greenhouse Harvest credentials: their shapes, the permission profiles a drop asks for, and the
//! one-time check against Greenhouse (SPEC §1).
//!
//! - [`Secret`] is what a customer pastes, checked locally by [`Secret::parse_v3`] /
//!   [`Secret::parse_v1`] before any I/O.
//! - [`Profile`] is the set of resources a drop asks for, split into required and optional.
//! - [`Checker::check`] asks Greenhouse and returns a [`Verification`].
//! - [`fake::FakeGreenhouse`] is a local HTTP server that answers like Greenhouse, for tests,
//!   benchmarks and demos.

mod checker;
pub mod fake;
mod http;
mod messages;
mod profile;
mod report;
mod resources;
mod scrub;
mod secret;
mod v1;
mod v3;
mod validation;

pub use crate::domain::kind::{Kind, UnknownKind};
pub use checker::{BuildError, Checker, CheckerConfig};
pub use profile::Profile;
pub use report::{Outcome, Verification};
pub use resources::{known_resources, resource, resource_by_permission, Resource};
pub use secret::Secret;
pub use validation::ValidationError;
