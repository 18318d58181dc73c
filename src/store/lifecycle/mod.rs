//! The credential lifecycle (STYLE 12): every transition of a credential
//! row — accept ([`accept`]), claim, quarantine, ack, give back or lapse a
//! lease ([`lease`]), apply a verification and take a re-check ([`verify`]),
//! renew a `vend` credential's token, store a rotated refresh token or
//! disconnect a dead grant ([`vend`]), destroy ([`destroy`]) — lives here,
//! each ONE conditional
//! statement built from the fragments below, inside an audited transaction
//! that records its typed event. "0 rows" means the row was not in the
//! state the transition needs; nothing is read, checked, then written.
//!
//! ```text
//! accept ─▶ waiting ──claim──▶ leased ──ack──▶ delivered ──retention──▶ destroyed
//!             ▲                  │ lease runs out / quarantine ends
//!             └──────────────────┘
//! any state but destroyed ──staff destroy / refused check──▶ destroyed
//! ```
//!
//! One rule each: a check that comes back `invalid` or `insufficient`
//! (staff re-verify or background re-check alike) destroys the ciphertext in
//! the same transaction — a credential Greenhouse refuses is never kept
//! (SPEC §3), metadata stays; staff send a new link.

mod accept;
mod destroy;
mod health;
mod lease;
pub(crate) mod vend;
mod verify;

pub use health::next_slot;
pub use vend::{Need, Renewing, TokenLease};

use crate::crypto::cipher::Envelope;
use crate::domain::audit::AuditEntry;
use crate::domain::credential::CredentialMeta;
use crate::domain::release::Release;

/// Claimable at `now` (a bound parameter): verified, sealed, and waiting or
/// with a lease that ran out. The claim's select, its update and a
/// quarantine all use this one rule. Its first three terms are, word for
/// word, the WHERE clause of the partial index `credentials_claimable`
/// (migration 0005), so the oldest claimable row is found without sorting
/// every verified row.
fn claimable(now: &str) -> String {
    format!(
        "status = 'verified' AND key_version IS NOT NULL AND delivery IN ('waiting', 'leased') \
         AND (delivery = 'waiting' OR (delivery = 'leased' AND lease_expires_at <= {now}))"
    )
}

/// Leased under `lease` and not yet run out at `now`.
fn live_lease(lease: &str, now: &str) -> String {
    format!("delivery = 'leased' AND lease_id = {lease} AND lease_expires_at > {now}")
}

/// What destruction sets, at `now`: the ciphertext and the wrapped data key
/// are gone, metadata stays. The delivering lease id is kept (it is not a
/// secret) so that a repeated ack stays idempotent.
pub(super) fn destroyed_at(now: &str) -> String {
    format!(
        "delivery = 'destroyed', destroyed_at = {now}, lease_expires_at = NULL, \
         key_version = NULL, wrapped_key = NULL, ciphertext = NULL, next_check_at = NULL, \
         access_sealed = NULL, access_expires_at = NULL, token_lease_id = NULL, \
         token_lease_until = NULL, refresh_due_at = NULL"
    )
}

/// An accepted credential: metadata plus its sealed secret.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub id: String,
    pub drop_id: String,
    pub org: String,
    /// The drop's, copied at acceptance.
    pub external_id: Option<String>,
    /// The drop's metadata object as JSON, copied at acceptance.
    pub metadata_json: Option<String>,
    pub kind: String,
    pub release: Release,
    pub status: String,
    pub hint: String,
    pub verification_json: String,
    pub envelope: Envelope,
    pub next_check_at: Option<i64>,
    /// A `vend` credential's first access token, sealed, and its expiry (partner grants).
    pub access: Option<(Vec<u8>, i64)>,
    /// A partner grant's first keep-alive refresh.
    pub refresh_due_at: Option<i64>,
}

/// Why [`Store::claim`](crate::store::Store::claim)'s `open` failed, and whether to set the row aside:
/// `quarantine` = (how long, the audit event) for data that cannot be
/// opened; `None` for a fault of this process (e.g. a key version missing
/// from its keyring), which must not park the row for other processes.
#[derive(Debug)]
pub struct OpenFailure<E> {
    pub error: E,
    pub quarantine: Option<Box<(i64, AuditEntry)>>,
}

/// A live lease: its id (a UUID the worker acks with) and when it runs out
/// (Unix ms, by the database's clock).
#[derive(Debug)]
pub struct Lease {
    pub id: String,
    pub expires_at: i64,
}

/// What ack found.
#[derive(Debug)]
pub enum AckResult {
    /// Delivered now, or earlier with this same lease (an idempotent repeat).
    Delivered(Box<CredentialMeta>),
    /// The lease is not the current one, or it ran out.
    WrongLease,
    NotFound,
}

/// Who ran a check whose result is being applied.
#[derive(Debug, Clone, Copy)]
pub enum CheckBy {
    /// Staff re-ran it (`POST …/verify`): any credential not destroyed.
    Staff,
    /// The background re-check of a pending credential: only while it is
    /// still pending (a staff check meanwhile wins), with its next check.
    Recheck { next_check_at: Option<i64> },
}
