//! Typed events (STYLE 13): every state change and every release is one
//! [`Event`], and the event alone decides its audit `action`, `subject` and
//! `details`. Nothing else writes an action string, so two places can never
//! spell one change differently. The webhook outbox (SPEC §11) is fed from
//! the same value in the same transaction: `store::audit` appends the entry,
//! then `store::webhooks::outbox` the event's messages, before the commit.
//!
//! Details are metadata only — ids, names, states, outcomes, scope names —
//! never a secret, a link or a token; times are RFC 3339 UTC.
//!
//! *Over 400 lines:* the whole event vocabulary is one `match` per question (action, subject, details), so that no event can be added without answering all three in one place.

use super::audit::AuditEntry;
use super::release::Release;
use super::role::Role;
use crate::clock::{from_millis, rfc3339};
use serde_json::{json, Value};
use uuid::Uuid;

/// Who made a change and from where: `actor` is `token:<id>` for API
/// callers, `public` for customers, `cli`, or `system`; `ip` the client
/// address when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub actor: String,
    pub ip: Option<String>,
}

impl Origin {
    pub fn new(actor: impl Into<String>, ip: Option<String>) -> Self {
        Self {
            actor: actor.into(),
            ip,
        }
    }

    /// keydrop itself (background work, start-up).
    pub fn system() -> Self {
        Self::new("system", None)
    }

    /// The command line.
    pub fn cli() -> Self {
        Self::new("cli", None)
    }

    /// The audit entry of `event` made by this origin.
    pub fn entry(&self, event: Event) -> AuditEntry {
        event.by(self.actor.clone()).ip(self.ip.clone())
    }
}

/// Why a credential's ciphertext was destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestroyReason {
    /// Staff asked (`DELETE /api/v1/credentials/{id}`).
    Staff,
    /// Greenhouse killed the partner grant (`invalid_grant`): the refresh token is dead.
    Disconnected,
    /// `KEYDROP_RETAIN_AFTER_DELIVERY` passed after delivery (or was `0`).
    Retention,
    /// A later check found Greenhouse refusing it (invalid or insufficient).
    Refused,
    /// A relink's new credential replaced it (SPEC §15).
    Superseded,
}

impl DestroyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Retention => "retention",
            Self::Refused => "refused",
            Self::Disconnected => "disconnected",
            Self::Superseded => "superseded",
        }
    }
}

/// One state change or release.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    TokenCreated {
        token: Uuid,
        name: String,
        role: Role,
        bootstrap: bool,
    },
    TokenRevoked {
        token: Uuid,
    },
    DropCreated {
        drop: String,
        org: String,
        kind: String,
        profile: String,
        expires_at: i64,
        max_attempts: i64,
        /// The vendor's own id for the customer (metadata, not a secret).
        external_id: Option<String>,
        release: Release,
    },
    DropRevoked {
        drop: String,
    },
    DropExpired {
        drop: String,
    },
    DropLocked {
        drop: String,
        attempts: i64,
    },
    /// A new link replaced the drop's link (SPEC §15): sent again by staff (`reason`
    /// `send`) or for the reminder (`reminder`). The old link answers 410.
    LinkRenewed {
        drop: String,
        reason: &'static str,
        /// The outbox message that carries the new link.
        mail: String,
    },
    /// The mail server took a message with the drop's link (`reminder`: the reminder, whose
    /// new link replaced the old one then; audited as `drop.reminded`).
    LinkSent {
        drop: String,
        mail: String,
        reminder: bool,
        attempts: i64,
    },
    /// A message with the drop's link will not be sent: the mail server refused it for
    /// good, or kept failing for 24 h (`reason`: a status or category, never its text).
    LinkUndelivered {
        drop: String,
        mail: String,
        reason: String,
        attempts: i64,
    },
    /// A submission took one of the drop's attempts (before its check).
    AttemptReserved {
        drop: String,
    },
    /// A submission checked with Greenhouse was turned away. (One refused
    /// by the local shape checks changes nothing, costs no attempt and is
    /// not recorded: see `service::submission`.)
    AttemptFailed {
        drop: String,
        /// `invalid` or `insufficient`.
        outcome: String,
        field: Option<String>,
        missing_required: Vec<String>,
    },
    /// keydrop could not finish a check: the attempt is given back.
    AttemptReturned {
        drop: String,
    },
    /// A credential was accepted (verified or pending) and stored.
    DropSubmitted {
        drop: String,
        credential: String,
        status: String,
        hint: String,
        missing_optional: Vec<String>,
        /// Greenhouse named another organisation than the drop's (see
        /// `Verification::organization_mismatch`).
        organization_mismatch: bool,
    },
    CredentialClaimed {
        credential: String,
        drop: String,
        lease: String,
        lease_expires_at: i64,
    },
    CredentialDelivered {
        credential: String,
        lease: String,
    },
    SecretRead {
        credential: String,
    },
    /// Staff re-ran the check.
    CredentialReverified {
        credential: String,
        outcome: String,
        missing_required: Vec<String>,
        organization_mismatch: bool,
    },
    /// The background re-check of a pending credential answered.
    CredentialRechecked {
        credential: String,
        outcome: String,
        missing_required: Vec<String>,
        organization_mismatch: bool,
    },
    DecryptFailed {
        credential: String,
        error: String,
        quarantined_for_s: Option<i64>,
    },
    CredentialDestroyed {
        credential: String,
        reason: DestroyReason,
    },
    LeaseExpired {
        credential: String,
    },
    /// A health check found a verified credential refused (`invalid`) or short of a required
    /// permission (`insufficient`) (SPEC §15); it is destroyed in the same transaction.
    CredentialBroken {
        credential: String,
        outcome: String,
        missing_required: Vec<String>,
    },
    /// A relink's credential `by` was accepted and replaced `credential` (SPEC §15).
    CredentialSuperseded {
        credential: String,
        by: String,
        drop: String,
    },
    /// A claim gave its lease back because it could not hand out what it leased.
    LeaseReturned {
        credential: String,
    },
    KeyCheckRecorded {
        version: i64,
    },
    /// A process started and its key custodies unwrapped these master key
    /// versions (SPEC §14): `custody` kinds (`aws-kms`, …), never key material.
    KeysUnsealed {
        custody: Vec<String>,
        versions: Vec<i64>,
    },
    /// `keydrop serve` started with a setting the CLI must follow (its public URL, whether
    /// webhooks may go to private addresses) other than the one recorded.
    ServiceSettingRecorded {
        name: String,
        value: String,
    },
    /// A single-use console sign-in link was made for `email` as `role` (`console link`).
    ConsoleLinkCreated {
        email: String,
        role: String,
    },
    /// A person signed in to the console (`how`: `link` or `oidc`) with `role`.
    ConsoleSignIn {
        email: String,
        how: String,
        role: String,
    },
    /// A person signed out of the console.
    ConsoleSignOut {
        email: String,
    },
    /// An admin ended someone's console session.
    ConsoleSessionRevoked {
        email: String,
    },
    /// The identity provider vouched for someone the console does not let in; `who` is
    /// their verified e-mail, or `sub:<subject>` without one.
    ConsoleSignInRefused {
        who: String,
        reason: String,
    },
    /// A keydrop-internal secret (e.g. the form-token root) was created.
    ServiceSecretCreated {
        name: String,
    },
    /// A keydrop-internal secret was sealed again under `key_version`.
    ServiceSecretResealed {
        name: String,
        key_version: i64,
    },
    WebhookCreated {
        endpoint: String,
        /// The host only: a URL's path or query may carry a receiver's token.
        url_host: String,
    },
    WebhookUpdated {
        endpoint: String,
    },
    WebhookDeleted {
        endpoint: String,
    },
    WebhookSecretRotated {
        endpoint: String,
    },
    WebhookPinged {
        endpoint: String,
    },
    /// Staff asked for one delivery to be sent again now.
    WebhookDeliveryRetried {
        endpoint: String,
        delivery: String,
    },
    /// A webhook signing secret (generation `generation`, current or still
    /// in its overlap) was sealed again under `key_version`.
    WebhookSecretResealed {
        endpoint: String,
        generation: i64,
        key_version: i64,
    },
    /// A customer was sent to Greenhouse to connect a partner grant (a
    /// single-use `state` was stored, as a hash).
    ConnectStarted {
        drop: String,
    },
    /// An access token of a `vend` credential was handed to a caller (never
    /// the token itself).
    AccessTokenIssued {
        credential: String,
    },
    /// keydrop obtained and stored a new access token for a `vend`
    /// credential: minted with client credentials (`harvest_v3`) or by
    /// refreshing a partner grant (which also rotated its refresh token).
    AccessTokenRenewed {
        credential: String,
        /// `mint` or `refresh`.
        how: &'static str,
        /// `on_demand` or `keep_alive`.
        why: &'static str,
        expires_at: i64,
    },
    /// A refresh or mint failed for a reason that may pass (Greenhouse down,
    /// rate limited); retried with backoff.
    RenewFailed {
        credential: String,
        reason: String,
        failures: i64,
    },
    /// Greenhouse refused the partner grant's refresh token (`invalid_grant`):
    /// the grant is dead and its ciphertext destroyed; staff send a new link.
    CredentialDisconnected {
        credential: String,
        error: String,
    },
    KeysRewrapped {
        version: i64,
        credentials: u64,
        /// Credentials that could not be opened and were skipped.
        failed: Vec<String>,
    },
}

impl Event {
    /// The dotted action name in the audit log (and `GET /api/v1/audit?action=`).
    pub fn action(&self) -> &'static str {
        match self {
            Self::TokenCreated { .. } => "token.create",
            Self::TokenRevoked { .. } => "token.revoke",
            Self::DropCreated { .. } => "drop.create",
            Self::DropRevoked { .. } => "drop.revoke",
            Self::DropExpired { .. } => "drop.expire",
            Self::DropLocked { .. } => "drop.lock",
            Self::LinkRenewed { .. } => "drop.link_renewed",
            Self::LinkSent {
                reminder: false, ..
            } => "drop.link_sent",
            Self::LinkSent { reminder: true, .. } => "drop.reminded",
            Self::LinkUndelivered { .. } => "drop.link_undelivered",
            Self::AttemptReserved { .. } => "drop.attempt",
            Self::AttemptFailed { .. } => "drop.attempt_failed",
            Self::AttemptReturned { .. } => "drop.attempt_returned",
            Self::DropSubmitted { .. } => "drop.submit",
            Self::CredentialClaimed { .. } => "credential.claim",
            Self::CredentialDelivered { .. } => "credential.ack",
            Self::SecretRead { .. } => "credential.secret_read",
            Self::ConnectStarted { .. } => "drop.connect",
            Self::LeaseReturned { .. } => "credential.lease_returned",
            Self::AccessTokenIssued { .. } => "credential.access_token",
            Self::AccessTokenRenewed { .. } => "credential.token_renew",
            Self::RenewFailed { .. } => "credential.refresh_failed",
            Self::CredentialDisconnected { .. } => "credential.disconnect",
            Self::CredentialReverified { .. } => "credential.verify",
            Self::CredentialRechecked { .. } => "credential.recheck",
            Self::DecryptFailed { .. } => "credential.decrypt_failed",
            Self::CredentialDestroyed { .. } => "credential.destroy",
            Self::LeaseExpired { .. } => "credential.lease_expired",
            Self::CredentialSuperseded { .. } => "credential.superseded",
            Self::CredentialBroken { .. } => "credential.broken",
            Self::KeyCheckRecorded { .. } => "keys.check_recorded",
            Self::KeysUnsealed { .. } => "keys.unsealed",
            Self::KeysRewrapped { .. }
            | Self::ServiceSecretResealed { .. }
            | Self::WebhookSecretResealed { .. } => "keys.rewrap",
            Self::ServiceSecretCreated { .. } => "keys.service_secret_created",
            Self::ServiceSettingRecorded { .. } => "service.setting",
            Self::ConsoleLinkCreated { .. } => "console.link_created",
            Self::ConsoleSignIn { .. } => "console.sign_in",
            Self::ConsoleSignOut { .. } => "console.sign_out",
            Self::ConsoleSignInRefused { .. } => "console.sign_in_refused",
            Self::ConsoleSessionRevoked { .. } => "console.session_revoked",
            Self::WebhookCreated { .. } => "webhook.create",
            Self::WebhookUpdated { .. } => "webhook.update",
            Self::WebhookDeleted { .. } => "webhook.delete",
            Self::WebhookSecretRotated { .. } => "webhook.rotate_secret",
            Self::WebhookPinged { .. } => "webhook.ping",
            Self::WebhookDeliveryRetried { .. } => "webhook.retry",
        }
    }

    /// What it acted on: `token:<id>`, `drop:<id>`, `credential:<id>`, `key:<version>`.
    pub fn subject(&self) -> String {
        match self {
            Self::TokenCreated { token, .. } | Self::TokenRevoked { token } => {
                format!("token:{token}")
            }
            Self::DropCreated { drop, .. }
            | Self::DropRevoked { drop }
            | Self::DropExpired { drop }
            | Self::DropLocked { drop, .. }
            | Self::LinkRenewed { drop, .. }
            | Self::LinkSent { drop, .. }
            | Self::LinkUndelivered { drop, .. }
            | Self::AttemptReserved { drop }
            | Self::AttemptFailed { drop, .. }
            | Self::AttemptReturned { drop }
            | Self::ConnectStarted { drop }
            | Self::DropSubmitted { drop, .. } => format!("drop:{drop}"),
            Self::CredentialClaimed { credential, .. }
            | Self::CredentialDelivered { credential, .. }
            | Self::SecretRead { credential }
            | Self::CredentialReverified { credential, .. }
            | Self::CredentialRechecked { credential, .. }
            | Self::DecryptFailed { credential, .. }
            | Self::CredentialDestroyed { credential, .. }
            | Self::AccessTokenIssued { credential, .. }
            | Self::LeaseReturned { credential }
            | Self::AccessTokenRenewed { credential, .. }
            | Self::RenewFailed { credential, .. }
            | Self::CredentialDisconnected { credential, .. }
            | Self::LeaseExpired { credential }
            | Self::CredentialSuperseded { credential, .. }
            | Self::CredentialBroken { credential, .. } => format!("credential:{credential}"),
            Self::KeyCheckRecorded { version } | Self::KeysRewrapped { version, .. } => {
                format!("key:{version}")
            }
            Self::ServiceSecretCreated { name } | Self::ServiceSecretResealed { name, .. } => {
                format!("service_secret:{name}")
            }
            Self::ServiceSettingRecorded { name, .. } => format!("setting:{name}"),
            Self::KeysUnsealed { .. } => "keyring".into(),
            Self::ConsoleLinkCreated { email, .. }
            | Self::ConsoleSignIn { email, .. }
            | Self::ConsoleSignOut { email } => format!("user:{email}"),
            Self::ConsoleSignInRefused { who, .. } => format!("user:{who}"),
            Self::ConsoleSessionRevoked { email } => format!("user:{email}"),
            Self::WebhookCreated { endpoint, .. }
            | Self::WebhookUpdated { endpoint }
            | Self::WebhookDeleted { endpoint }
            | Self::WebhookSecretRotated { endpoint }
            | Self::WebhookPinged { endpoint }
            | Self::WebhookDeliveryRetried { endpoint, .. }
            | Self::WebhookSecretResealed { endpoint, .. } => format!("webhook:{endpoint}"),
        }
    }

    /// The typed details as JSON (metadata only; times RFC 3339).
    pub fn details(&self) -> Value {
        let time = |ms: &i64| rfc3339(from_millis(*ms));
        match self {
            Self::TokenCreated {
                name,
                role,
                bootstrap,
                ..
            } => {
                let mut d = json!({ "name": name, "role": role.as_str() });
                if *bootstrap {
                    d["bootstrap"] = json!(true);
                }
                d
            }
            Self::DropCreated {
                org,
                kind,
                profile,
                expires_at,
                max_attempts,
                external_id,
                release,
                ..
            } => {
                let mut d = json!({
                    "org": org,
                    "kind": kind,
                    "profile": profile,
                    "release": release.as_str(),
                    "expires_at": time(expires_at),
                    "max_attempts": max_attempts,
                });
                if let Some(id) = external_id {
                    d["external_id"] = json!(id);
                }
                d
            }
            Self::DropLocked { attempts, .. } => json!({ "attempts": attempts }),
            Self::LinkRenewed { reason, mail, .. } => json!({ "reason": reason, "mail": mail }),
            Self::LinkSent {
                mail,
                reminder,
                attempts,
                ..
            } => json!({
                "mail": mail,
                "purpose": if *reminder { "reminder" } else { "link" },
                "attempts": attempts,
            }),
            Self::LinkUndelivered {
                mail,
                reason,
                attempts,
                ..
            } => json!({ "mail": mail, "reason": reason, "attempts": attempts }),
            Self::AttemptFailed {
                outcome,
                field,
                missing_required,
                ..
            } => json!({
                "outcome": outcome,
                "field": field,
                "missing_required": missing_required,
            }),
            Self::AttemptReturned { .. } => json!({ "reason": "internal_error" }),
            Self::DropSubmitted {
                credential,
                status,
                hint,
                missing_optional,
                organization_mismatch,
                ..
            } => json!({
                "credential": credential,
                "status": status,
                "hint": hint,
                "missing_optional": missing_optional,
                "organization_mismatch": organization_mismatch,
            }),
            Self::CredentialClaimed {
                drop,
                lease,
                lease_expires_at,
                ..
            } => json!({
                "drop": drop,
                "lease": lease,
                "lease_expires_at": time(lease_expires_at),
            }),
            Self::CredentialDelivered { lease, .. } => json!({ "lease": lease }),
            Self::CredentialReverified {
                outcome,
                missing_required,
                organization_mismatch,
                ..
            }
            | Self::CredentialRechecked {
                outcome,
                missing_required,
                organization_mismatch,
                ..
            } => json!({
                "outcome": outcome,
                "missing_required": missing_required,
                "organization_mismatch": organization_mismatch,
            }),
            Self::DecryptFailed {
                error,
                quarantined_for_s,
                ..
            } => {
                let mut d = json!({ "error": error });
                if let Some(s) = quarantined_for_s {
                    d["quarantined_for_s"] = json!(s);
                }
                d
            }
            Self::CredentialDestroyed { reason, .. } => json!({ "reason": reason.as_str() }),
            Self::CredentialBroken {
                outcome,
                missing_required,
                ..
            } => json!({ "outcome": outcome, "missing_required": missing_required }),
            Self::CredentialSuperseded { by, drop, .. } => {
                json!({ "superseded_by": by, "drop": drop })
            }
            Self::AccessTokenRenewed {
                how,
                why,
                expires_at,
                ..
            } => json!({ "how": how, "why": why, "expires_at": time(expires_at) }),
            Self::RenewFailed {
                reason, failures, ..
            } => json!({ "reason": reason, "failures": failures }),
            Self::CredentialDisconnected { error, .. } => json!({ "error": error }),
            Self::ServiceSecretResealed { key_version, .. } => {
                json!({ "key_version": key_version })
            }
            Self::WebhookSecretResealed {
                generation,
                key_version,
                ..
            } => json!({ "generation": generation, "key_version": key_version }),
            Self::WebhookCreated { url_host, .. } => json!({ "host": url_host }),
            Self::ServiceSettingRecorded { name, value } => json!({ "name": name, "value": value }),
            Self::KeysUnsealed { custody, versions } => {
                json!({ "custody": custody, "versions": versions })
            }
            Self::ConsoleLinkCreated { role, .. } => json!({ "role": role }),
            Self::ConsoleSignIn { how, role, .. } => json!({ "how": how, "role": role }),
            Self::ConsoleSignOut { .. } => json!({}),
            Self::ConsoleSignInRefused { reason, .. } => json!({ "reason": reason }),
            Self::ConsoleSessionRevoked { .. } => json!({}),
            Self::WebhookDeliveryRetried { delivery, .. } => json!({ "delivery": delivery }),
            Self::KeysRewrapped {
                credentials,
                failed,
                ..
            } => json!({ "credentials": credentials, "failed": failed }),
            Self::TokenRevoked { .. }
            | Self::DropRevoked { .. }
            | Self::DropExpired { .. }
            | Self::AttemptReserved { .. }
            | Self::ConnectStarted { .. }
            | Self::AccessTokenIssued { .. }
            | Self::LeaseReturned { .. }
            | Self::SecretRead { .. }
            | Self::LeaseExpired { .. }
            | Self::KeyCheckRecorded { .. }
            | Self::ServiceSecretCreated { .. }
            | Self::WebhookUpdated { .. }
            | Self::WebhookDeleted { .. }
            | Self::WebhookSecretRotated { .. }
            | Self::WebhookPinged { .. } => json!({}),
        }
    }

    /// The audit entry of this event, made by `actor` (`token:<id>`,
    /// `public`, `cli`, `system`).
    pub fn by(self, actor: impl Into<String>) -> AuditEntry {
        AuditEntry::of(actor.into(), &self)
    }
}

/// An audit action in a few plain words, for people reading a timeline (the console shows
/// the action beside them); empty for actions without words yet.
pub fn plain_words(action: &str) -> &'static str {
    match action {
        "drop.create" => "Link created",
        "drop.revoke" => "Link revoked",
        "drop.expire" => "Link expired",
        "drop.lock" => "Link locked after too many failed attempts",
        "drop.link_renewed" => {
            "A new link replaced the old one (the old one answers \"a newer link was sent\")"
        }
        "drop.link_sent" => "Link e-mailed to the customer",
        "drop.reminded" => "Reminder e-mailed, with a new link (the old one stopped working)",
        "drop.link_undelivered" => "The link e-mail could not be delivered",
        "drop.attempt" => "The customer sent a credential (one attempt used)",
        "drop.attempt_failed" => "It was refused (the customer was told why)",
        "drop.attempt_returned" => "Greenhouse did not answer; the attempt was given back",
        "drop.submit" => "Credential accepted",
        "drop.connect" => "The customer started connecting Greenhouse",
        "credential.claim" => "Claimed by a worker",
        "credential.ack" => "Delivered to a worker",
        "credential.secret_read" => "Secret read by a worker",
        "credential.lease_returned" | "credential.lease_expired" => "Worker's claim ended",
        "credential.access_token" => "Access token issued",
        "credential.token_renew" => "Access token renewed",
        "credential.refresh_failed" => "Renewing its token failed",
        "credential.disconnect" => "Greenhouse connection withdrawn",
        "credential.verify" => "Checked again by staff",
        "credential.recheck" => "Checked again in the background",
        "credential.decrypt_failed" => "Could not be decrypted",
        "credential.destroy" => "Destroyed",
        "credential.superseded" => "Replaced by the credential of a new link",
        "credential.broken" => "Stopped working (a health check: Greenhouse refused it)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_names_its_action_subject_and_details() {
        let e = Event::CredentialClaimed {
            credential: "c1".into(),
            drop: "d1".into(),
            lease: "l1".into(),
            lease_expires_at: 1_795_600_000_000,
        }
        .by("token:abc")
        .ip(Some("192.0.2.1".into()));
        assert_eq!(e.action, "credential.claim");
        assert_eq!(e.subject, "credential:c1");
        assert_eq!(e.actor, "token:abc");
        assert_eq!(e.details["lease_expires_at"], "2026-11-25T09:46:40Z");
        let d = Event::CredentialDestroyed {
            credential: "c1".into(),
            reason: DestroyReason::Retention,
        };
        assert_eq!(d.details(), json!({ "reason": "retention" }));
        let t = Event::TokenCreated {
            token: Uuid::nil(),
            name: "n".into(),
            role: Role::Admin,
            bootstrap: true,
        };
        assert_eq!(t.subject(), format!("token:{}", Uuid::nil()));
        assert_eq!(t.details()["bootstrap"], true);
    }
}
