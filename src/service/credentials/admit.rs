//! Whether a customer's link still takes input (SPEC §2): a drop found by its link is
//! admitted only while it is open, unexpired and has an attempt left. A page view or a post
//! records on the way the transition its time or attempts have made due (`expired`,
//! `locked`), audited, so the customer never sees a form the sweeps would close a moment
//! later; a `HEAD` (link previewers) gets the same answer and changes nothing.

use crate::domain::drop::{DropRecord, DropState};
use crate::service::{ServiceError, Services};

/// Whether the drop takes input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Open,
    /// Not any more, and why (410). `recorded`: this call moved the drop there.
    Closed {
        state: DropState,
        recorded: bool,
    },
}

/// What the caller may change on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// A page view or a post: due transitions are recorded.
    Record,
    /// A `HEAD`: the same answer, nothing changed.
    Look,
}

impl Services {
    /// Admit `drop` (as found by its link, perhaps from a cache a second old).
    pub async fn admit(&self, drop: &DropRecord, visit: Visit) -> Result<Admission, ServiceError> {
        let record = visit == Visit::Record;
        let now = self.store.now_ms();
        if drop.state == DropState::Open && drop.expires_at <= now {
            if record {
                self.store.expire_drops(Some(&drop.id), 1).await?;
            }
            return Ok(Admission::Closed {
                state: DropState::Expired,
                recorded: record,
            });
        }
        if drop.state == DropState::Open && drop.attempts >= drop.max_attempts {
            // Every attempt is used: once no check is in flight any more (they end by time
            // even if their process died), the link is locked.
            let locked = if record {
                !self
                    .store
                    .lock_exhausted(Some(&drop.id), 1)
                    .await?
                    .is_empty()
            } else {
                self.store.would_lock(&drop.id).await?
            };
            if locked {
                return Ok(Admission::Closed {
                    state: DropState::Locked,
                    recorded: record,
                });
            }
        }
        if drop.state != DropState::Open {
            return Ok(Admission::Closed {
                state: drop.state,
                recorded: false,
            });
        }
        Ok(Admission::Open)
    }
}
