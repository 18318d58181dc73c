//! The access token of one `harvest_v3` check, shared by its concurrent requests, and the
//! authorised `GET {api}/v3/…` they all make: a 401 mints a new token once per check (another
//! request may already have done it) and the request is sent again with it.

use super::token::{mint, Creds};
use crate::greenhouse::checker::Checker;
use crate::greenhouse::http::{send, Answer, Budget, EndpointClass as Class};
use crate::greenhouse::oauth::MintedToken;
use crate::greenhouse::report::Transient;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

/// The current access token; re-minted at most once per check when Greenhouse answers 401.
pub(super) struct TokenCell {
    state: Mutex<TokenState>,
}

struct TokenState {
    generation: u32,
    token: MintedToken,
    reminted: bool,
}

impl TokenCell {
    pub(super) fn new(token: MintedToken) -> Self {
        Self {
            state: Mutex::new(TokenState {
                generation: 0,
                token,
                reminted: false,
            }),
        }
    }

    async fn current(&self) -> (u32, Zeroizing<String>) {
        let s = self.state.lock().await;
        (s.generation, s.token.token.clone())
    }
}

/// `GET {api}/v3/<path>?<query>` with the cell's token. The answer is never a 401: that is
/// re-minted once, then [`Transient::TokenRejected`]. `what` names the call in logs.
pub(super) async fn get(
    checker: &Checker,
    budget: Budget,
    creds: &Creds<'_>,
    cell: &TokenCell,
    path: &str,
    query: &[(&str, &str)],
    what: &str,
) -> Result<Answer, Transient> {
    let url = format!("{}/v3/{path}", checker.config.api_url);
    let (mut generation, mut token) = cell.current().await;
    for _ in 0..2 {
        let build = || {
            checker
                .client
                .get(&url)
                .query(query)
                .bearer_auth(token.as_str())
        };
        let answer = send(checker, Class::Resource, &build, budget, what).await?;
        if answer.status != 401 {
            return Ok(answer);
        }
        match remint(checker, budget, creds, cell, generation).await {
            Some((g, t)) => {
                generation = g;
                token = t;
            }
            None => return Err(Transient::TokenRejected),
        }
    }
    tracing::warn!(what, "Greenhouse refused a freshly minted token");
    Err(Transient::TokenRejected)
}

/// A token newer than `seen`: the one another request already minted, or a new one (once).
async fn remint(
    checker: &Checker,
    budget: Budget,
    creds: &Creds<'_>,
    cell: &TokenCell,
    seen: u32,
) -> Option<(u32, Zeroizing<String>)> {
    let mut s = cell.state.lock().await;
    if s.generation != seen {
        return Some((s.generation, s.token.token.clone()));
    }
    if s.reminted {
        return None;
    }
    s.reminted = true;
    tracing::info!("Greenhouse answered 401; minting a new token once");
    match mint(checker, budget, creds).await {
        Ok(t) => {
            s.generation += 1;
            s.token = t;
            Some((s.generation, s.token.token.clone()))
        }
        Err(_) => None,
    }
}
