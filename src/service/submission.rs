//! A customer's submission (SPEC §4 `POST /d/{token}`), from the link to
//! the answer. The local shape checks run first: a submission they refuse
//! never reaches Greenhouse, so it costs no attempt, can never lock the
//! link, changes nothing and therefore writes no audit event (SPEC §2; it
//! is logged, by drop id and field name only). Only then is an attempt
//! reserved and the credential checked; a rejection by Greenhouse keeps the
//! attempt and stores nothing; an accepted credential is sealed and stored
//! in the same transaction that moves the drop to `submitted` and writes
//! the audit event.

use super::ServiceError;
use crate::crypto::cipher::{self, Binding};
use crate::crypto::keyring::Keyring;
use crate::crypto::random;
use crate::domain::credential::Status;
use crate::domain::drop::{DropRecord, DropState};
use crate::domain::event::{Event, Origin};
use crate::greenhouse::{
    Checker, Fields, Kind, Outcome, Registry, Secret, ValidationError, Verification,
};
use crate::store::{NewCredential, Store};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub use crate::domain::credential::FIRST_RECHECK_MS;

/// The form as posted: the CSRF token and every other field by name (the drop's kind picks
/// its own, see `greenhouse::kinds`). A field posted twice is refused. Zeroized on drop.
#[derive(Default, Zeroize, ZeroizeOnDrop)]
pub struct Form {
    pub csrf_token: String,
    pub fields: Fields,
}

impl<'de> serde::Deserialize<'de> for Form {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Form;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("form fields")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Form, A::Error> {
                let mut form = Form::default();
                let mut csrf_seen = false;
                while let Some((name, mut value)) = map.next_entry::<String, String>()? {
                    let fresh = if name == "csrf_token" {
                        std::mem::swap(&mut form.csrf_token, &mut value);
                        !std::mem::replace(&mut csrf_seen, true)
                    } else {
                        form.fields.insert(name, std::mem::take(&mut value))
                    };
                    value.zeroize();
                    if !fresh {
                        return Err(serde::de::Error::custom("a field was posted twice"));
                    }
                }
                Ok(form)
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// Why a submission was turned away, for the 422 page.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// `malformed`, `invalid` or `insufficient`.
    pub outcome: &'static str,
    pub message: String,
    pub field: Option<&'static str>,
    pub missing_required: Vec<String>,
    pub missing_optional: Vec<String>,
    /// Whether it took one of the drop's attempts (it reached Greenhouse).
    pub counted: bool,
    /// The drop after this submission (with the attempt counted, if it was).
    pub drop: DropRecord,
}

#[derive(Debug)]
pub enum Outcomes {
    /// 200 (verified) or 202 (pending).
    Accepted {
        drop: DropRecord,
        verification: Verification,
    },
    /// 422, with what to fix; the drop may now be locked.
    Rejected(Rejection),
    /// 410: the drop no longer accepts input.
    Gone(DropState),
}

/// Everything a submission needs.
#[derive(Debug, Clone)]
pub struct Submitter<'a> {
    pub store: &'a Store,
    pub keyring: &'a Keyring,
    pub checker: &'a Checker,
    /// Keep-alive interval of partner grants (their first refresh is due this long after
    /// acceptance).
    pub partner_refresh_every: std::time::Duration,
}

impl Submitter<'_> {
    /// Check and, if acceptable, store a submission for `drop` (already
    /// found by its link and seen open by the caller).
    pub async fn submit(
        &self,
        drop: &DropRecord,
        form: &Form,
        ip: Option<String>,
    ) -> Result<Outcomes, ServiceError> {
        // Parse first, then reserve: what the shape checks refuse is
        // answered without touching the drop.
        let secret = match parse(self.checker.kinds(), drop.kind, form) {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(
                    drop = %drop.id,
                    field = e.field,
                    "submission refused by the local shape checks; no attempt used"
                );
                return Ok(Outcomes::Rejected(Rejection {
                    outcome: "malformed",
                    message: e.to_string(),
                    field: Some(e.field),
                    missing_required: Vec::new(),
                    missing_optional: Vec::new(),
                    counted: false,
                    drop: drop.clone(),
                }));
            }
        };
        let reserve = Origin::new("public", ip.clone()).entry(Event::AttemptReserved {
            drop: drop.id.clone(),
        });
        let Some(drop) = self
            .store
            .reserve_attempt(&drop.id, self.check_hold_ms(), &reserve)
            .await?
        else {
            return self.gone(drop).await;
        };
        match self.check_and_record(&drop, &secret, ip.clone()).await {
            Ok(outcome) => Ok(outcome),
            Err(e) => {
                // Our fault, not the customer's: the attempt is given back
                // (if the database is down too, the in-flight check still
                // ends by time, see `reserve_attempt`).
                let audit = Origin::new("system", ip).entry(Event::AttemptReturned {
                    drop: drop.id.clone(),
                });
                if let Err(err) = self.store.return_attempt(&drop.id, &audit).await {
                    tracing::error!(error = %err, drop = %drop.id, "could not give back an attempt");
                }
                Err(e)
            }
        }
    }

    /// How long a reserved check counts as in flight: longer than any check
    /// can take (the Greenhouse budget, plus sealing and storing).
    fn check_hold_ms(&self) -> i64 {
        let budget = self.checker.config().total_budget.as_millis();
        i64::try_from(budget.saturating_mul(2)).unwrap_or(i64::MAX / 2) + 30_000
    }

    async fn check_and_record(
        &self,
        drop: &DropRecord,
        secret: &Secret,
        ip: Option<String>,
    ) -> Result<Outcomes, ServiceError> {
        let verification = self.checker.check(secret, &drop.profile).await;
        match verification.outcome {
            Outcome::Verified | Outcome::Pending => {
                self.accept(drop, secret, verification, ip).await
            }
            Outcome::Invalid | Outcome::Insufficient => self.reject(drop, verification, ip).await,
        }
    }

    /// Greenhouse refused it: the reserved attempt stays used.
    pub(super) async fn reject(
        &self,
        drop: &DropRecord,
        verification: Verification,
        ip: Option<String>,
    ) -> Result<Outcomes, ServiceError> {
        let audit = Origin::new("public", ip).entry(Event::AttemptFailed {
            drop: drop.id.clone(),
            outcome: verification.outcome.as_str().to_owned(),
            field: None,
            missing_required: verification.missing_required.clone(),
        });
        let Some(after) = self.store.record_failed_attempt(&drop.id, &audit).await? else {
            return self.gone(drop).await;
        };
        Ok(Outcomes::Rejected(Rejection {
            outcome: verification.outcome.as_str(),
            message: verification.message,
            field: None,
            missing_required: verification.missing_required,
            missing_optional: verification.missing_optional,
            counted: true,
            drop: after,
        }))
    }

    pub(super) async fn accept(
        &self,
        drop: &DropRecord,
        secret: &Secret,
        verification: Verification,
        ip: Option<String>,
    ) -> Result<Outcomes, ServiceError> {
        let id = random::uuid()?.to_string();
        let plaintext = Zeroizing::new(
            serde_json::to_vec(secret).map_err(|e| ServiceError::Internal(e.to_string()))?,
        );
        let binding = Binding {
            credential_id: &id,
            drop_id: &drop.id,
            kind: drop.kind.as_str(),
        };
        let envelope = cipher::encrypt(self.keyring, binding, &plaintext)?;
        let status = Status::from_outcome(verification.outcome);
        let now = self.store.now_ms();
        // A partner grant arrives with its first access token: seal it as the vending cache,
        // and schedule the grant's first keep-alive refresh.
        let (access, refresh_due_at) = if self.checker.kinds().connects(drop.kind) {
            let expires_at = secret
                .get("expires_at")
                .and_then(|e| e.parse::<i64>().ok())
                .unwrap_or(now);
            let json = Zeroizing::new(
                serde_json::to_vec(&serde_json::json!({
                    "access_token": secret.get("access_token").unwrap_or(""),
                    "expires_at": expires_at,
                }))
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            );
            let sealed = cipher::seal_aux(
                self.keyring,
                binding,
                &envelope,
                super::release::ACCESS_PURPOSE,
                &json,
            )?;
            let every =
                i64::try_from(self.partner_refresh_every.as_millis()).unwrap_or(i64::MAX / 4);
            (Some((sealed, expires_at)), Some(now.saturating_add(every)))
        } else {
            (None, None)
        };
        let metadata_json = drop
            .metadata
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let credential = NewCredential {
            id: id.clone(),
            drop_id: drop.id.clone(),
            org: drop.org.clone(),
            external_id: drop.external_id.clone(),
            metadata_json,
            kind: drop.kind.as_str().to_owned(),
            release: drop.release,
            status: status.as_str().to_owned(),
            hint: secret.hint(),
            verification_json: serde_json::to_string(&verification)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            envelope,
            next_check_at: (status == Status::Pending).then_some(now + FIRST_RECHECK_MS),
            access,
            refresh_due_at,
        };
        let audit = Origin::new("public", ip).entry(Event::DropSubmitted {
            drop: drop.id.clone(),
            credential: id.clone(),
            status: status.as_str().to_owned(),
            hint: credential.hint.clone(),
            missing_optional: verification.missing_optional.clone(),
        });
        if !self.store.accept_credential(&credential, &audit).await? {
            return self.gone(drop).await;
        }
        let drop = self
            .store
            .drop_by_id(&drop.id)
            .await?
            .unwrap_or_else(|| drop.clone());
        Ok(Outcomes::Accepted { drop, verification })
    }

    pub(super) async fn gone(&self, drop: &DropRecord) -> Result<Outcomes, ServiceError> {
        let now = self.store.drop_by_id(&drop.id).await?;
        Ok(Outcomes::Gone(match now {
            Some(d) if d.state != DropState::Open => d.state,
            // Open, but every attempt is taken by checks still running: it
            // ends submitted or locked, either way closed to this one.
            Some(d) if d.attempts >= d.max_attempts => DropState::Locked,
            _ => DropState::Expired,
        }))
    }
}

/// The drop's kind checks the posted fields locally (surrounding whitespace, a
/// copy-and-paste artefact, is trimmed; whitespace inside is an error).
fn parse(kinds: &Registry, kind: Kind, form: &Form) -> Result<Secret, ValidationError> {
    kinds.parse(kind, &form.fields)
}
