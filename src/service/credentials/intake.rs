//! A customer hands a credential over (SPEC §2, §4 `POST /d/{token}`, §1.5): the one flow
//! for a pasted credential and a connected one.
//!
//! ```text
//! local checks ─▶ reserve an attempt ─▶ obtain (pasted: as is; connected: code exchange)
//!   (no attempt)        │                      │ refused ─▶ reject (counted)
//!                       │                      │ unavailable ─▶ give the attempt back
//!                       │                      ▼
//!                       │                  check with Greenhouse
//!                       │                      │ verified / pending ─▶ accept (stored)
//!                       │                      │ invalid / insufficient ─▶ reject (counted)
//!                       └── a fault of keydrop's anywhere after the reserve ─▶ give back
//! ```
//!
//! The local shape checks run first: a submission they refuse never reaches Greenhouse, so
//! it costs no attempt, can never lock the link, changes nothing and therefore writes no
//! audit event (SPEC §2; it is logged, by drop id and field name only). A rejection by
//! Greenhouse keeps the attempt and stores nothing; an accepted credential is sealed and
//! stored in the same transaction that moves the drop to `submitted` and writes the audit
//! event; whatever keydrop itself could not finish gives the attempt back.
//!
//! *Over 400 lines:* the one intake flow (reserve, obtain, check, accept or reject, give back) reads best whole, and the form type it starts from belongs with it.

use super::connect::Started;
use crate::crypto::cipher::{self, Binding};
use crate::crypto::random;
use crate::domain::credential::Status;
use crate::domain::drop::{DropRecord, DropState};
use crate::domain::event::{Event, Origin};
use crate::greenhouse::{Fields, Kind, Outcome, Registry, Secret, ValidationError, Verification};
use crate::service::{ServiceError, Services};
use crate::store::NewCredential;
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
    /// 410: a newer link replaced the one posted to (the drop, whose contact the page names).
    Replaced(Box<DropRecord>),
}

/// What a post of a drop's form came to.
#[derive(Debug)]
pub enum Posted {
    /// The drop's kind connects: send the browser to Greenhouse (step 1 of §1.5).
    Connect(Started),
    /// A pasted credential, checked: accepted, rejected or gone.
    Submitted(Box<Outcomes>),
}

/// What obtaining the credential came to, once an attempt is reserved.
pub(super) enum Obtained {
    /// Something to check (a connected grant carries its first access token).
    Secret {
        secret: Secret,
        first_access: Option<(Zeroizing<String>, i64)>,
    },
    /// Greenhouse refused it before any check (a refused code exchange): counted, with
    /// what to tell the customer.
    Refused(String),
    /// No usable answer from Greenhouse: not the customer's fault, the attempt is given back.
    Unavailable,
}

/// What an attempt came to.
pub(super) enum Attempted {
    Done(Box<Outcomes>),
    /// Greenhouse gave nothing usable; the attempt was given back.
    Unavailable,
}

impl Services {
    /// The drop's form was posted (its CSRF token checked by the caller, the drop found by
    /// its link and admitted): a kind that connects starts the connection, any other kind's
    /// credential is checked and, if acceptable, stored.
    pub async fn post(
        &self,
        drop: &DropRecord,
        form: &Form,
        ip: Option<String>,
    ) -> Result<Posted, ServiceError> {
        let connects = self
            .checker
            .kinds()
            .get(drop.kind)
            .is_some_and(|k| k.connector().is_some());
        if connects {
            return Ok(Posted::Connect(self.connect_start(drop, ip).await?));
        }
        let outcome = self.submit(drop, form, ip).await?;
        self.count(drop, &outcome);
        Ok(Posted::Submitted(Box::new(outcome)))
    }

    /// `keydrop_submissions_total` for what a submission came to.
    pub(super) fn count(&self, drop: &DropRecord, outcome: &Outcomes) {
        let kind = self
            .checker
            .kinds()
            .get(drop.kind)
            .map_or("unknown", |k| k.name());
        match outcome {
            Outcomes::Accepted { verification, .. } => {
                self.metrics.submission(kind, verification.outcome.as_str())
            }
            Outcomes::Rejected(r) => self.metrics.submission(kind, r.outcome),
            Outcomes::Gone(_) | Outcomes::Replaced(_) => {}
        }
    }

    /// Check and, if acceptable, store a pasted credential for `drop`.
    async fn submit(
        &self,
        drop: &DropRecord,
        form: &Form,
        ip: Option<String>,
    ) -> Result<Outcomes, ServiceError> {
        // Parse first, then reserve: what the shape checks refuse is answered without
        // touching the drop.
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
        let obtained = Obtained::Secret {
            secret,
            first_access: None,
        };
        match self.attempt(drop, ip, async move { obtained }).await? {
            Attempted::Done(outcome) => Ok(*outcome),
            // A pasted credential needs nothing from Greenhouse before its check.
            Attempted::Unavailable => Err(ServiceError::Internal(
                "a pasted credential could not be obtained".into(),
            )),
        }
    }

    /// The one flow after the local checks: reserve an attempt, obtain the credential,
    /// check it, accept or reject it — and give the attempt back on anything that is not
    /// the customer's doing (Greenhouse unavailable, or a fault of keydrop's).
    pub(super) async fn attempt(
        &self,
        drop: &DropRecord,
        ip: Option<String>,
        obtain: impl std::future::Future<Output = Obtained>,
    ) -> Result<Attempted, ServiceError> {
        let reserve = Origin::new("public", ip.clone()).entry(Event::AttemptReserved {
            drop: drop.id.clone(),
        });
        let Some(drop) = self
            .store
            .reserve_attempt(drop, self.check_hold_ms(), &reserve)
            .await?
        else {
            return Ok(Attempted::Done(Box::new(self.gone(drop).await?)));
        };
        let result = match obtain.await {
            Obtained::Secret {
                secret,
                first_access,
            } => self
                .check_and_record(&drop, &secret, first_access, ip.clone())
                .await
                .map(Some),
            Obtained::Refused(message) => self.refused(&drop, message, ip.clone()).await.map(Some),
            Obtained::Unavailable => Ok(None),
        };
        match result {
            Ok(Some(outcome)) => Ok(Attempted::Done(Box::new(outcome))),
            outcome => {
                // Not the customer's doing: the attempt is given back (if the database is
                // down too, the reserved check still ends by time, see `reserve_attempt`).
                let audit = Origin::new("system", ip).entry(Event::AttemptReturned {
                    drop: drop.id.clone(),
                });
                if let Err(err) = self.store.return_attempt(&drop.id, &audit).await {
                    tracing::error!(error = %err, drop = %drop.id, "could not give back an attempt");
                }
                outcome.map(|_| Attempted::Unavailable)
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
        first_access: Option<(Zeroizing<String>, i64)>,
        ip: Option<String>,
    ) -> Result<Outcomes, ServiceError> {
        let verification = self
            .checker
            .check(secret, &drop.profile)
            .await
            .judged_for(&drop.org);
        match verification.outcome {
            Outcome::Verified | Outcome::Pending => {
                self.accept(drop, secret, first_access, verification, ip)
                    .await
            }
            Outcome::Invalid | Outcome::Insufficient => self.reject(drop, verification, ip).await,
        }
    }

    /// Greenhouse refused it: the reserved attempt stays used.
    async fn reject(
        &self,
        drop: &DropRecord,
        verification: Verification,
        ip: Option<String>,
    ) -> Result<Outcomes, ServiceError> {
        let audit = Origin::new("public", ip).entry(Event::AttemptFailed {
            drop: drop.id.clone(),
            outcome: verification.outcome.as_str().to_owned(),
            field: verification.field.map(str::to_owned),
            missing_required: verification.missing_required.clone(),
        });
        let Some(after) = self.store.record_failed_attempt(&drop.id, &audit).await? else {
            return self.gone(drop).await;
        };
        Ok(Outcomes::Rejected(Rejection {
            outcome: verification.outcome.as_str(),
            message: verification.message,
            field: verification.field,
            missing_required: verification.missing_required,
            missing_optional: verification.missing_optional,
            counted: true,
            drop: after,
        }))
    }

    /// Greenhouse refused what the customer brought before any check could run (a refused
    /// code exchange): counted, `invalid`.
    async fn refused(
        &self,
        drop: &DropRecord,
        message: String,
        ip: Option<String>,
    ) -> Result<Outcomes, ServiceError> {
        let audit = Origin::new("public", ip).entry(Event::AttemptFailed {
            drop: drop.id.clone(),
            outcome: "invalid".into(),
            field: None,
            missing_required: Vec::new(),
        });
        let Some(after) = self.store.record_failed_attempt(&drop.id, &audit).await? else {
            return self.gone(drop).await;
        };
        Ok(Outcomes::Rejected(Rejection {
            outcome: "invalid",
            message,
            field: None,
            missing_required: Vec::new(),
            missing_optional: Vec::new(),
            counted: true,
            drop: after,
        }))
    }

    /// Seal and store an accepted credential. A connected grant (`first_access`) has its
    /// first access token sealed as the vending cache, and its first keep-alive refresh
    /// scheduled.
    async fn accept(
        &self,
        drop: &DropRecord,
        secret: &Secret,
        first_access: Option<(Zeroizing<String>, i64)>,
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
        let envelope = cipher::encrypt(&self.keyring, binding, &plaintext)?;
        let status = Status::from_outcome(verification.outcome);
        let now = self.store.now_ms();
        let (access, refresh_due_at) = match first_access {
            Some((token, expires_at)) => {
                let json = Zeroizing::new(
                    serde_json::to_vec(&serde_json::json!({
                        "access_token": token.as_str(),
                        "expires_at": expires_at,
                    }))
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
                );
                let sealed = cipher::seal_aux(
                    &self.keyring,
                    binding,
                    &envelope,
                    crate::service::release::ACCESS_PURPOSE,
                    &json,
                )?;
                let every = i64::try_from(self.settings.partner_refresh_every.as_millis())
                    .unwrap_or(i64::MAX / 4);
                (Some((sealed, expires_at)), Some(now.saturating_add(every)))
            }
            None => (None, None),
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
            organization_mismatch: verification.organization_mismatch,
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

    /// Why a drop takes no more input, read again.
    pub(super) async fn gone(&self, drop: &DropRecord) -> Result<Outcomes, ServiceError> {
        let now = self.store.drop_by_id(&drop.id).await?;
        Ok(Outcomes::Gone(match now {
            Some(d) if d.state != DropState::Open => d.state,
            // A newer link replaced the one this came through.
            Some(d) if d.link_hash != drop.link_hash => return Ok(Outcomes::Replaced(Box::new(d))),
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
