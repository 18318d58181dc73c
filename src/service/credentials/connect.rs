//! "Connect with Greenhouse" (SPEC §1.5 steps 1–2), for every kind with a
//! [`Connector`](crate::greenhouse::kinds::Connector): send the customer to the kind's
//! authorize page with a single-use `state`, then take the callback — exchange the code once
//! and hand what it brought to the one intake flow (`intake.rs`), which checks it and
//! accepts or rejects it exactly like a pasted credential (same attempts, same audit events,
//! same pages, the attempt given back on anything that is not the customer's doing).
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
//! the attempt was taken; a declined approval (`error=…`) costs nothing. Whatever Greenhouse
//! answers, the callback answers a page of the drop, never a 500.

use super::intake::{Attempted, Obtained, Outcomes};
use crate::crypto::link::Opaque;
use crate::domain::drop::{DropRecord, DropState};
use crate::domain::event::{Event, Origin};
use crate::greenhouse::kinds::{ConnectError, Connector};
use crate::greenhouse::Budget;
use crate::service::{ServiceError, Services};

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
/// Longest authorization code taken (Greenhouse's are far shorter).
const MAX_CODE: usize = 4096;

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

impl Services {
    /// The connector of `drop`'s kind; a drop of a kind that does not connect (or one this
    /// build does not know) here is keydrop's fault.
    fn connector_of(&self, drop: &DropRecord) -> Result<&'static dyn Connector, ServiceError> {
        self.checker
            .kinds()
            .get(drop.kind)
            .and_then(|k| k.connector())
            .ok_or_else(|| {
                ServiceError::Internal(format!("drop {}: its kind does not connect", drop.id))
            })
    }

    /// Step 1: a fresh `state` for `drop` and a nonce for the browser (both stored as
    /// hashes, audited), and the authorize URL to send the customer to. `Err` when the
    /// kind's OAuth client is not configured.
    pub async fn connect_start(
        &self,
        drop: &DropRecord,
        ip: Option<String>,
    ) -> Result<Started, ServiceError> {
        let connector = self.connector_of(drop)?;
        let Some(authorize) = connector.authorize(&self.checker, &drop.profile) else {
            return Err(ServiceError::Internal(format!(
                "a {} drop, but its OAuth client is not configured",
                drop.kind
            )));
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
        let query = serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", authorize.client_id.as_str()),
            (
                "redirect_uri",
                redirect_uri(&self.settings.public_url).as_str(),
            ),
            ("scope", authorize.scope.as_str()),
            ("state", state.reveal()),
        ])
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(Started {
            authorize_url: format!("{}?{query}", authorize.endpoint),
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
            let gone = self.gone_state(&drop).await?;
            return Ok(Callback::Gone(drop, gone));
        }
        if q.error.is_some() {
            tracing::info!(drop = %drop.id, "the customer declined the Greenhouse connection");
            return Ok(Callback::Declined(drop));
        }
        let Some(code) = q
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= MAX_CODE)
        else {
            return Ok(Callback::BadState);
        };
        let connector = self.connector_of(&drop)?;
        let redirect = redirect_uri(&self.settings.public_url);
        let budget = Budget::new(self.checker.config().total_budget);
        let drop_id = drop.id.clone();
        let obtain = async {
            match connector
                .exchange(&self.checker, budget, code, &redirect)
                .await
            {
                Ok(connected) => Obtained::Secret {
                    secret: connected.secret,
                    first_access: Some((connected.access_token, connected.expires_at)),
                },
                Err(ConnectError::Refused(error)) => {
                    tracing::info!(drop = %drop_id, error, "Greenhouse refused the code exchange");
                    Obtained::Refused(
                        "Greenhouse did not accept this connection (the approval may have \
                         expired: it is valid for one minute). Connect again."
                            .to_owned(),
                    )
                }
                Err(ConnectError::Unavailable) => {
                    tracing::warn!(drop = %drop_id, "Greenhouse could not exchange the code");
                    Obtained::Unavailable
                }
            }
        };
        Ok(match self.attempt(&drop, ip, obtain).await? {
            Attempted::Done(outcome) => {
                self.count(&drop, &outcome);
                let after = match outcome.as_ref() {
                    Outcomes::Accepted { drop, .. } => drop.clone(),
                    Outcomes::Rejected(r) => r.drop.clone(),
                    Outcomes::Gone(s) => return Ok(Callback::Gone(drop, *s)),
                    // Only if the link was replaced in the instant between the callback's
                    // read and its reservation: closed to this connection.
                    Outcomes::Replaced(_) => return Ok(Callback::Gone(drop, DropState::Expired)),
                };
                Callback::Done(after, outcome)
            }
            Attempted::Unavailable => Callback::Unavailable(drop),
        })
    }

    /// Why a drop takes no more input, read again.
    async fn gone_state(&self, drop: &DropRecord) -> Result<DropState, ServiceError> {
        Ok(match self.gone(drop).await? {
            Outcomes::Gone(s) => s,
            _ => DropState::Expired,
        })
    }
}
