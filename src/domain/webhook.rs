//! Webhook events (SPEC §11): which typed [`Event`]s the vendor's systems
//! hear about, under which type, with which data. The data is metadata only
//! — ids, org, kind, states, outcomes, scope names (SPEC §8.10) — and is
//! built from the event, then completed in the change's own transaction
//! with what identifies its subject (`org`, `external_id`, `kind`,
//! `release`: `store::webhooks::with_subject`), so it is exactly what was
//! true when the change committed.

use super::event::Event;
use serde_json::{json, Value};

/// Every webhook type, in the order of SPEC §11.
pub const TYPES: [&str; 17] = [
    "drop.created",
    "drop.link_sent",
    "drop.reminded",
    "drop.revoked",
    "drop.expired",
    "drop.locked",
    "drop.attempt_failed",
    "credential.received",
    "credential.verified",
    "credential.rejected",
    "credential.delivered",
    "credential.destroyed",
    "credential.disconnected",
    "credential.refresh_failed",
    "webhook.ping",
    "credential.broken",
    "credential.superseded",
];

/// Whether `name` is a webhook type (for endpoint `events` filters).
pub fn is_type(name: &str) -> bool {
    TYPES.contains(&name)
}

/// One webhook message an event produces: its type and `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: &'static str,
    pub data: Value,
}

fn msg(kind: &'static str, data: Value) -> Message {
    Message { kind, data }
}

impl Event {
    /// The webhook messages this event produces (often none).
    pub fn webhooks(&self) -> Vec<Message> {
        match self {
            Self::DropCreated {
                drop,
                org,
                kind,
                profile,
                release,
                ..
            } => vec![msg(
                "drop.created",
                json!({ "drop_id": drop, "org": org, "kind": kind, "profile": profile, "release": release.as_str() }),
            )],
            Self::DropRevoked { drop } => vec![msg("drop.revoked", json!({ "drop_id": drop }))],
            Self::LinkSent { drop, reminder, .. } => vec![msg(
                if *reminder {
                    "drop.reminded"
                } else {
                    "drop.link_sent"
                },
                json!({ "drop_id": drop }),
            )],
            Self::DropExpired { drop } => vec![msg("drop.expired", json!({ "drop_id": drop }))],
            Self::DropLocked { drop, attempts } => vec![msg(
                "drop.locked",
                json!({ "drop_id": drop, "attempts": attempts }),
            )],
            Self::AttemptFailed {
                drop,
                outcome,
                missing_required,
                ..
            } => vec![msg(
                "drop.attempt_failed",
                json!({ "drop_id": drop, "outcome": outcome, "missing_required": missing_required }),
            )],
            Self::DropSubmitted {
                drop,
                credential,
                status,
                missing_optional,
                organization_mismatch,
                ..
            } => {
                let data = json!({
                    "drop_id": drop,
                    "credential_id": credential,
                    "status": status,
                    "missing_optional": missing_optional,
                    "organization_mismatch": organization_mismatch,
                });
                let mut out = vec![msg("credential.received", data.clone())];
                if status == "verified" {
                    out.push(msg("credential.verified", data));
                }
                out
            }
            Self::CredentialRechecked {
                credential,
                outcome,
                missing_required,
                organization_mismatch,
            }
            | Self::CredentialReverified {
                credential,
                outcome,
                missing_required,
                organization_mismatch,
            } => {
                let data = json!({
                    "credential_id": credential,
                    "outcome": outcome,
                    "missing_required": missing_required,
                    "organization_mismatch": organization_mismatch,
                });
                match outcome.as_str() {
                    "verified" => vec![msg("credential.verified", data)],
                    "invalid" | "insufficient" => vec![msg("credential.rejected", data)],
                    _ => Vec::new(),
                }
            }
            Self::CredentialDelivered { credential, .. } => vec![msg(
                "credential.delivered",
                json!({ "credential_id": credential }),
            )],
            Self::CredentialDisconnected { credential, .. } => vec![msg(
                "credential.disconnected",
                json!({ "credential_id": credential }),
            )],
            Self::RenewFailed {
                credential,
                reason,
                failures,
            } => vec![msg(
                "credential.refresh_failed",
                json!({ "credential_id": credential, "reason": reason, "failures": failures }),
            )],
            Self::CredentialBroken {
                credential,
                outcome,
                missing_required,
            } => vec![msg(
                "credential.broken",
                json!({ "credential_id": credential, "outcome": outcome, "missing_required": missing_required }),
            )],
            Self::CredentialSuperseded {
                credential,
                by,
                drop,
            } => vec![msg(
                "credential.superseded",
                json!({ "credential_id": credential, "superseded_by": by, "drop_id": drop }),
            )],
            Self::CredentialDestroyed { credential, reason } => vec![msg(
                "credential.destroyed",
                json!({ "credential_id": credential, "reason": reason.as_str() }),
            )],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verified_acceptance_is_received_and_verified() {
        let e = Event::DropSubmitted {
            drop: "d".into(),
            credential: "c".into(),
            status: "verified".into(),
            hint: "1234".into(),
            missing_optional: vec![],
            organization_mismatch: false,
        };
        let kinds: Vec<_> = e.webhooks().iter().map(|m| m.kind).collect();
        assert_eq!(kinds, ["credential.received", "credential.verified"]);
        // The hint is not a secret, but webhooks carry ids and states only.
        assert!(!e.webhooks()[0].data.to_string().contains("1234"));
        for m in e.webhooks() {
            assert!(is_type(m.kind));
        }
        assert!(Event::SecretRead {
            credential: "c".into()
        }
        .webhooks()
        .is_empty());
    }
}
