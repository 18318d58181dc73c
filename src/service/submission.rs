//! A customer's submission (SPEC §4 `POST /d/{token}`), from the link to
//! the answer. Rejections count an attempt and store nothing; an accepted
//! credential is sealed and stored in the same transaction that moves the
//! drop to `submitted` and writes the audit event.

use super::ServiceError;
use crate::crypto::cipher::{self, Binding};
use crate::crypto::keyring::Keyring;
use crate::crypto::random;
use crate::domain::credential::Status;
use crate::domain::drop::{DropRecord, DropState};
use crate::domain::event::{Event, Origin};
use crate::greenhouse::{Checker, Kind, Outcome, Secret, ValidationError, Verification};
use crate::store::{NewCredential, Store};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub use crate::domain::credential::FIRST_RECHECK_MS;

/// The form fields, as posted. Zeroized on drop.
#[derive(Default, serde::Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Form {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub api_key: String,
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
    /// The drop after this attempt was counted.
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
        match self.check_and_record(&drop, form, ip.clone()).await {
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
        form: &Form,
        ip: Option<String>,
    ) -> Result<Outcomes, ServiceError> {
        let secret = match parse(drop.kind, form) {
            Ok(s) => s,
            Err(e) => {
                let message = e.to_string();
                return self.reject(drop, message, Some(e.field), None, ip).await;
            }
        };
        let verification = self.checker.check(&secret, &drop.profile).await;
        match verification.outcome {
            Outcome::Verified | Outcome::Pending => {
                self.accept(drop, &secret, verification, ip).await
            }
            Outcome::Invalid | Outcome::Insufficient => {
                let message = verification.message.clone();
                self.reject(drop, message, None, Some(verification), ip)
                    .await
            }
        }
    }

    async fn reject(
        &self,
        drop: &DropRecord,
        message: String,
        field: Option<&'static str>,
        verification: Option<Verification>,
        ip: Option<String>,
    ) -> Result<Outcomes, ServiceError> {
        let outcome = verification
            .as_ref()
            .map_or("malformed", |v| v.outcome.as_str());
        let audit = Origin::new("public", ip).entry(Event::AttemptFailed {
            drop: drop.id.clone(),
            outcome: outcome.to_owned(),
            field: field.map(str::to_owned),
            missing_required: verification
                .as_ref()
                .map(|v| v.missing_required.clone())
                .unwrap_or_default(),
        });
        let Some(after) = self.store.record_failed_attempt(&drop.id, &audit).await? else {
            return self.gone(drop).await;
        };
        let (missing_required, missing_optional) = verification
            .map(|v| (v.missing_required.clone(), v.missing_optional.clone()))
            .unwrap_or_default();
        Ok(Outcomes::Rejected(Rejection {
            outcome,
            message,
            field,
            missing_required,
            missing_optional,
            drop: after,
        }))
    }

    async fn accept(
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
        let credential = NewCredential {
            id: id.clone(),
            drop_id: drop.id.clone(),
            org: drop.org.clone(),
            kind: drop.kind.as_str().to_owned(),
            status: status.as_str().to_owned(),
            hint: secret.hint(),
            verification_json: serde_json::to_string(&verification)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            envelope,
            next_check_at: (status == Status::Pending).then_some(now + FIRST_RECHECK_MS),
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

    async fn gone(&self, drop: &DropRecord) -> Result<Outcomes, ServiceError> {
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

/// Surrounding whitespace is a copy-and-paste artefact, never part of a
/// Greenhouse credential: it is trimmed; whitespace inside is an error.
fn parse(kind: Kind, form: &Form) -> Result<Secret, ValidationError> {
    match kind {
        Kind::HarvestV3 => Secret::parse_v3(
            form.client_id.trim(),
            form.client_secret.trim(),
            Some(form.user_id.trim()),
        ),
        Kind::HarvestV1 => Secret::parse_v1(form.api_key.trim()),
    }
}
