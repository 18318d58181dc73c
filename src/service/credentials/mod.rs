//! Every credential use case, one function each, on [`Services`](super::Services): the one
//! door that the HTTP handlers (`web/`), the commands (`cli/`) and the background loops
//! (`jobs/`) all go through. They parse, authorise, call one of these and map the answer;
//! the product rules live here.
//!
//! | Use case | Function | File |
//! |---|---|---|
//! | A link is opened or posted to: does it still take input? | [`Services::admit`](crate::service::Services::admit) | `admit.rs` |
//! | The customer posts the form: paste, or start connecting | [`Services::post`](crate::service::Services::post) | `intake.rs` |
//! | Greenhouse sends the customer back (OAuth callback) | [`Services::connect_callback`](crate::service::Services::connect_callback) | `connect.rs` |
//! | Reserve → obtain → check → accept/reject → give back | `Services::attempt` (both above) | `intake.rs` |
//! | A worker claims the next credential (hand-off or vend) | [`Services::claim`](crate::service::Services::claim) | `release.rs` |
//! | A worker acknowledges a claim | [`Services::ack`](crate::service::Services::ack) | `release.rs` |
//! | A worker reads a secret / gets an access token | [`Services::secret`](crate::service::Services::secret), [`Services::access_token`](crate::service::Services::access_token) | `release.rs` |
//! | Staff check a credential again | [`Services::check`](crate::service::Services::check) | `check.rs` |
//! | The system re-checks pending credentials | [`Services::recheck_due`](crate::service::Services::recheck_due) | `check.rs` |
//! | The partner keep-alive pass | [`Services::keep_alive_pass`](crate::service::Services::keep_alive_pass) | `keep_alive.rs` |
//! | An admin destroys a credential | [`Services::destroy`](crate::service::Services::destroy) | `release.rs` |
//!
//! A kind that connects (OAuth) instead of taking a paste is a plug-in: everything here asks
//! the kind's [`Connector`](crate::greenhouse::kinds::Connector) and never names a kind.

mod admit;
mod check;
mod connect;
mod intake;
mod keep_alive;
mod release;

pub use admit::{Admission, Visit};
pub use check::{backoff_ms, HealthPass, RecheckPass, Rechecked, MAX_INTERVAL_MS};
pub use connect::{redirect_uri, Callback, CallbackQuery, Started, CALLBACK_PATH, STATE_TTL_MS};
pub use intake::{Form, Outcomes, Posted, Rejection, FIRST_RECHECK_MS};
pub use keep_alive::{KeepAlivePass, REFRESH_BATCH, REFRESH_PASS_LIMIT};
pub use release::Claimed;
