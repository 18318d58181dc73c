//! "Connect with Greenhouse" (SPEC §1.5 steps 1–2): send the customer to Greenhouse's
//! authorize page with a single-use `state`, then take the callback — exchange the code once,
//! probe with the new access token, and accept or reject exactly like a pasted credential
//! (same attempts, same audit events, same pages).
//!
//! Choices where the spec is silent: a callback whose code exchange Greenhouse could not
//! answer gives its attempt back (the customer did nothing wrong; nothing is stored and the
//! code is spent, so they connect again); a declined approval (`error=…`) costs nothing.

use super::submission::{Outcomes, Rejection, Submitter};
use super::ServiceError;
use crate::crypto::random;
use crate::domain::drop::{DropRecord, DropState};
use crate::domain::event::{Event, Origin};
use crate::greenhouse::kinds::HarvestV3Partner;
use crate::greenhouse::oauth::{self, TokenError};
use crate::greenhouse::{Budget, Outcome};
use base64::Engine as _;

/// How long a `state` may wait for its callback.
pub const STATE_TTL_MS: i64 = 10 * 60_000;
/// The callback path, under the public URL.
pub const CALLBACK_PATH: &str = "/oauth/greenhouse/callback";

/// What a callback came to.
#[derive(Debug)]
pub enum Callback {
    /// The state is unknown, spent or expired (or missing): 400.
    BadState,
    /// The drop behind the state no longer takes input: 410.
    Gone(DropRecord, DropState),
    /// The customer declined in Greenhouse: 422 with "Connect again"; no attempt used.
    Declined(DropRecord),
    /// Greenhouse could not exchange the code now: 503, connect again (attempt given back).
    Unavailable(DropRecord),
    /// Accepted (verified or pending) or rejected, as for a pasted credential.
    Done(DropRecord, Box<Outcomes>),
}

/// The callback's query.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

impl Drop for CallbackQuery {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.code.zeroize();
        self.state.zeroize();
    }
}

fn state_hash(state: &str) -> String {
    crate::crypto::sha256_hex(&[b"keydrop/oauth-state/v1\0", state.as_bytes()])
}

/// The redirect URI registered with Greenhouse.
pub fn redirect_uri(public_url: &str) -> String {
    format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/'))
}

impl Submitter<'_> {
    /// Step 1: a fresh `state` for `drop` (stored as a hash, audited) and the authorize URL
    /// to send the customer to. `Err` when no partner client is configured.
    pub async fn connect_url(
        &self,
        drop: &DropRecord,
        public_url: &str,
        ip: Option<String>,
    ) -> Result<String, ServiceError> {
        let Some(client) = self.checker.config().partner.as_ref() else {
            return Err(ServiceError::Internal(
                "a partner drop, but no partner client is configured".into(),
            ));
        };
        let state = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(random::bytes::<32>().map_err(|e| ServiceError::Internal(e.to_string()))?);
        let audit = Origin::new("public", ip).entry(Event::ConnectStarted {
            drop: drop.id.clone(),
        });
        self.store
            .insert_oauth_state(&state_hash(&state), &drop.id, STATE_TTL_MS, &audit)
            .await?;
        let scope: Vec<String> = drop
            .profile
            .required
            .iter()
            .chain(&drop.profile.optional)
            .map(|r| format!("harvest:{r}:list"))
            .collect();
        let query = serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", client.client_id.as_str()),
            ("redirect_uri", redirect_uri(public_url).as_str()),
            ("scope", scope.join(" ").as_str()),
            ("state", state.as_str()),
        ])
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(format!(
            "{}/authorize?{query}",
            self.checker.config().auth_url
        ))
    }

    /// Step 2: the callback.
    pub async fn connect_callback(
        &self,
        q: &CallbackQuery,
        public_url: &str,
        ip: Option<String>,
    ) -> Result<Callback, ServiceError> {
        let Some(state) = q
            .state
            .as_deref()
            .filter(|s| !s.is_empty() && s.len() <= 128)
        else {
            return Ok(Callback::BadState);
        };
        let Some(drop_id) = self.store.take_oauth_state(&state_hash(state)).await? else {
            return Ok(Callback::BadState);
        };
        let Some(drop) = self.store.drop_by_id(&drop_id).await? else {
            return Ok(Callback::BadState);
        };
        if !drop.accepts_input(self.store.now_ms()) {
            let gone = match self.gone(&drop).await? {
                Outcomes::Gone(s) => s,
                _ => DropState::Expired,
            };
            return Ok(Callback::Gone(drop, gone));
        }
        if q.error.is_some() {
            tracing::info!(drop = %drop.id, "the customer declined the Greenhouse connection");
            return Ok(Callback::Declined(drop));
        }
        let Some(code) = q
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 4096)
        else {
            return Ok(Callback::BadState);
        };
        let Some(client) = self.checker.config().partner.as_ref() else {
            return Err(ServiceError::Internal(
                "no partner client is configured".into(),
            ));
        };
        let reserve = Origin::new("public", ip.clone()).entry(Event::AttemptReserved {
            drop: drop.id.clone(),
        });
        let hold = i64::try_from(self.checker.config().total_budget.as_millis())
            .unwrap_or(i64::MAX / 4)
            .saturating_mul(2)
            .saturating_add(30_000);
        let Some(drop) = self.store.reserve_attempt(&drop.id, hold, &reserve).await? else {
            let gone = match self.gone(&drop).await? {
                Outcomes::Gone(s) => s,
                _ => DropState::Expired,
            };
            return Ok(Callback::Gone(drop, gone));
        };
        let budget = Budget::new(self.checker.config().total_budget);
        let redirect = redirect_uri(public_url);
        let tokens = match oauth::exchange_code(
            self.checker,
            budget,
            client.auth(),
            code,
            &redirect,
        )
        .await
        {
            Ok(t) => t,
            Err(TokenError::Refused(error)) => {
                tracing::info!(drop = %drop.id, error, "Greenhouse refused the code exchange");
                let message = "Greenhouse did not accept this connection (the approval may \
                                   have expired: it is valid for one minute). Connect again."
                    .to_owned();
                return self.refused(&drop, message, ip).await;
            }
            Err(TokenError::Transient(t)) => {
                tracing::warn!(drop = %drop.id, reason = ?t, "Greenhouse could not exchange the code");
                let audit = Origin::new("system", ip).entry(Event::AttemptReturned {
                    drop: drop.id.clone(),
                });
                self.store.return_attempt(&drop.id, &audit).await?;
                return Ok(Callback::Unavailable(drop));
            }
        };
        let secret = HarvestV3Partner.secret_of(&tokens).map_err(|e| {
            ServiceError::Internal(format!("Greenhouse sent a malformed {}", e.field))
        })?;
        let verification = self.checker.check(&secret, &drop.profile).await;
        let outcome = match verification.outcome {
            Outcome::Verified | Outcome::Pending => {
                self.accept(&drop, &secret, verification, ip).await?
            }
            Outcome::Invalid | Outcome::Insufficient => {
                self.reject(&drop, verification, ip).await?
            }
        };
        Ok(Callback::Done(drop, Box::new(outcome)))
    }

    async fn refused(
        &self,
        drop: &DropRecord,
        message: String,
        ip: Option<String>,
    ) -> Result<Callback, ServiceError> {
        let audit = Origin::new("public", ip).entry(Event::AttemptFailed {
            drop: drop.id.clone(),
            outcome: "invalid".into(),
            field: None,
            missing_required: Vec::new(),
        });
        let Some(after) = self.store.record_failed_attempt(&drop.id, &audit).await? else {
            return Ok(Callback::Gone(drop.clone(), DropState::Expired));
        };
        Ok(Callback::Done(
            after.clone(),
            Box::new(Outcomes::Rejected(Rejection {
                outcome: "invalid",
                message,
                field: None,
                missing_required: Vec::new(),
                missing_optional: Vec::new(),
                counted: true,
                drop: after,
            })),
        ))
    }
}
