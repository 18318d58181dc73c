//! "Connect with Greenhouse" (SPEC §1.5 steps 1–2): send the customer to Greenhouse's
//! authorize page with a single-use `state`, then take the callback — exchange the code once,
//! probe with the new access token, and accept or reject exactly like a pasted credential
//! (same attempts, same audit events, same pages).
//!
//! The flow is bound to the browser that started it (an OAuth login-CSRF defence): the
//! Connect button's answer sets a cookie holding a random nonce, whose hash is stored with
//! the `state`; a callback is taken only with the state *and* that cookie. Someone who
//! starts a connection for their own link and gets another organisation's admin to approve
//! it finds the callback refused in the approver's browser, so one customer's grant never
//! lands in another customer's drop.
//!
//! PKCE is not sent: Greenhouse's partner OAuth is not known to honour it (Nango, which
//! integrates it, turns PKCE off for this provider; GREENHOUSE.md), and a parameter the
//! token endpoint refuses would break every connection. The browser binding, single-use
//! states and the confidential client's secret at the token endpoint stand instead.
//!
//! Choices where the spec is silent: a callback whose code exchange Greenhouse could not
//! answer gives its attempt back (the customer did nothing wrong; nothing is stored and the
//! code is spent, so they connect again); so does one that fails on keydrop's side after
//! the attempt was taken; a declined approval (`error=…`) costs nothing.

use super::submission::{Outcomes, Rejection, Submitter};
use super::ServiceError;
use crate::crypto::link::Opaque;
use crate::domain::drop::{DropRecord, DropState};
use crate::domain::event::{Event, Origin};
use crate::greenhouse::kinds::HarvestV3Partner;
use crate::greenhouse::oauth::{self, TokenError};
use crate::greenhouse::{Budget, Outcome};

/// How long a `state` may wait for its callback.
pub const STATE_TTL_MS: i64 = 10 * 60_000;
/// The callback path, under the public URL.
pub const CALLBACK_PATH: &str = "/oauth/greenhouse/callback";

/// What a callback came to.
#[derive(Debug)]
pub enum Callback {
    /// The state is unknown, spent, expired, missing, or came back to another browser: 400.
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

/// The purposes under which a state and the browser's nonce are hashed.
const STATE: &str = "oauth-state";
const BROWSER: &str = "connect-browser";

/// Where a connection was started: the authorize URL to send the browser to, and the nonce
/// that browser must keep (in a cookie) and bring back to the callback.
pub struct Started {
    pub authorize_url: String,
    pub browser_nonce: Opaque,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Started { .. }")
    }
}

/// The redirect URI registered with Greenhouse.
pub fn redirect_uri(public_url: &str) -> String {
    format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/'))
}

impl Submitter<'_> {
    /// Step 1: a fresh `state` for `drop` and a nonce for the browser (both stored as
    /// hashes, audited), and the authorize URL to send the customer to. `Err` when no
    /// partner client is configured.
    pub async fn connect_url(
        &self,
        drop: &DropRecord,
        public_url: &str,
        ip: Option<String>,
    ) -> Result<Started, ServiceError> {
        let Some(client) = self.checker.config().partner.as_ref() else {
            return Err(ServiceError::Internal(
                "a partner drop, but no partner client is configured".into(),
            ));
        };
        let state = Opaque::generate()?;
        let browser_nonce = Opaque::generate()?;
        let audit = Origin::new("public", ip).entry(Event::ConnectStarted {
            drop: drop.id.clone(),
        });
        self.store
            .insert_oauth_state(
                &state.hash(STATE),
                &browser_nonce.hash(BROWSER),
                &drop.id,
                STATE_TTL_MS,
                &audit,
            )
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
            ("state", state.reveal()),
        ])
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(Started {
            authorize_url: format!("{}/authorize?{query}", self.checker.config().auth_url),
            browser_nonce,
        })
    }

    /// Step 2: the callback, with the nonce of the browser's connect cookie (if it sent
    /// one). Anything not shaped like a state and a nonce is refused before any database
    /// work.
    pub async fn connect_callback(
        &self,
        q: &CallbackQuery,
        browser_nonce: Option<&str>,
        public_url: &str,
        ip: Option<String>,
    ) -> Result<Callback, ServiceError> {
        let (Some(state), Some(browser)) = (
            q.state.as_deref().and_then(Opaque::parse),
            browser_nonce.and_then(Opaque::parse),
        ) else {
            return Ok(Callback::BadState);
        };
        let Some(drop_id) = self
            .store
            .take_oauth_state(&state.hash(STATE), &browser.hash(BROWSER))
            .await?
        else {
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
        match self
            .exchange_and_check(&drop, client, code, public_url, ip.clone())
            .await
        {
            Ok(Some(done)) => Ok(done),
            // Greenhouse could not complete it, or keydrop failed on its side: not the
            // customer's fault, so the attempt is given back.
            outcome => {
                let audit = Origin::new("system", ip).entry(Event::AttemptReturned {
                    drop: drop.id.clone(),
                });
                if let Err(err) = self.store.return_attempt(&drop.id, &audit).await {
                    tracing::error!(error = %err, drop = %drop.id, "could not give back an attempt");
                }
                outcome.map(|_| Callback::Unavailable(drop))
            }
        }
    }

    /// The code exchange and the check of a reserved callback. `Ok(None)`: Greenhouse gave
    /// no usable answer (down, or tokens keydrop cannot store).
    async fn exchange_and_check(
        &self,
        drop: &DropRecord,
        client: &crate::config::PartnerClient,
        code: &str,
        public_url: &str,
        ip: Option<String>,
    ) -> Result<Option<Callback>, ServiceError> {
        let budget = Budget::new(self.checker.config().total_budget);
        let redirect = redirect_uri(public_url);
        let tokens = match oauth::exchange_code(
            self.checker,
            budget,
            client.into(),
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
                return self.refused(drop, message, ip).await.map(Some);
            }
            Err(TokenError::Transient(t)) => {
                tracing::warn!(drop = %drop.id, reason = ?t, "Greenhouse could not exchange the code");
                return Ok(None);
            }
        };
        let secret = match HarvestV3Partner.secret_of(&tokens) {
            Ok(secret) => secret,
            Err(e) => {
                tracing::error!(drop = %drop.id, field = e.field, "Greenhouse sent a malformed token");
                return Ok(None);
            }
        };
        let verification = self.checker.check(&secret, &drop.profile).await;
        let outcome = match verification.outcome {
            Outcome::Verified | Outcome::Pending => {
                self.accept(drop, &secret, verification, ip).await?
            }
            Outcome::Invalid | Outcome::Insufficient => self.reject(drop, verification, ip).await?,
        };
        Ok(Some(Callback::Done(drop.clone(), Box::new(outcome))))
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
