//! The webhook dispatcher (SPEC §11): a supervised task that takes due
//! deliveries from the outbox under a lease, signs and sends them, and
//! records each result. It wakes within milliseconds of a commit in this
//! process that queued deliveries, and polls for those of other processes.
//!
//! Deliveries are taken oldest change first, a batch at a time; those of one
//! endpoint are sent one after another (commit order, as far as retries
//! allow), different endpoints in parallel. A slow or dead receiver never
//! delays a customer's submission or a release, which only write rows, but
//! the next batch waits for this one, so it holds other endpoints back (at
//! most a lease's length: a lane starts no attempt its lease cannot cover).
//! The attempts of a batch are recorded in one transaction.

use super::supervisor::Beat;
use crate::service::webhooks::{resolve, signature, signing_keys};
use crate::store::webhooks::{Due, Endpoint, SendResult};
use crate::web::AppState;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Waits after a failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h;
/// after the eighth attempt the delivery is given up (`failed`).
pub const RETRIES: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];
/// A receiver has this long to answer.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Deliveries taken per pass.
const BATCH: i64 = 64;
/// Kept this long after they finished.
const KEEP_MS: i64 = 30 * 86_400_000;

pub async fn run(state: Arc<AppState>, beat: Beat) -> Result<(), String> {
    let signal = state.store.outbox_signal();
    let poll = state.settings.jobs.webhook_poll;
    let mut clients: HashMap<(String, std::net::SocketAddr), reqwest::Client> = HashMap::new();
    let mut last_prune = std::time::Instant::now();
    loop {
        match state.store.take_due(BATCH, lease_ms()).await {
            Ok(due) if due.is_empty() => {
                beat.pass();
                tokio::select! {
                    () = signal.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                }
            }
            Ok(due) => {
                send_batch(&state, due, &mut clients).await;
                beat.pass();
            }
            Err(e) => {
                tracing::warn!(error = %e, "webhook dispatcher: cannot read the outbox");
                beat.failed("cannot read the outbox");
                tokio::time::sleep(poll).await;
            }
        }
        if last_prune.elapsed() > Duration::from_secs(3600) {
            last_prune = std::time::Instant::now();
            if let Err(e) = state.store.prune_deliveries(KEEP_MS).await {
                tracing::warn!(error = %e, "webhook dispatcher: pruning old deliveries failed");
            }
        }
        if clients.len() > 256 {
            clients.clear();
        }
    }
}

fn lease_ms() -> i64 {
    // Long enough for a whole endpoint's share of a batch to time out.
    i64::try_from((TIMEOUT * 4).as_millis()).unwrap_or(60_000)
}

async fn send_batch(
    state: &AppState,
    due: Vec<Due>,
    clients: &mut HashMap<(String, std::net::SocketAddr), reqwest::Client>,
) {
    let mut by_endpoint: Vec<(String, Vec<Due>)> = Vec::new();
    for d in due {
        match by_endpoint.iter_mut().find(|(e, _)| *e == d.endpoint_id) {
            Some((_, list)) => list.push(d),
            None => by_endpoint.push((d.endpoint_id.clone(), vec![d])),
        }
    }
    let mut lanes = Vec::with_capacity(by_endpoint.len());
    for (endpoint_id, list) in by_endpoint {
        let endpoint = match state.store.endpoint(&endpoint_id).await {
            Ok(Some(e)) => e,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "webhook dispatcher: cannot read an endpoint");
                continue;
            }
        };
        let client = client_for(state, &endpoint, clients).await;
        lanes.push(lane(state, endpoint, client, list));
    }
    let results: Vec<(Due, SendResult)> = futures_util::future::join_all(lanes)
        .await
        .into_iter()
        .flatten()
        .collect();
    if results.is_empty() {
        return;
    }
    // One commit for the whole batch. Were it lost, the deliveries would be
    // sent again once their leases ran out: at least once.
    match state.store.record_sends(&results).await {
        Ok(recorded) => {
            for ((due, result), held) in results.iter().zip(recorded) {
                if held {
                    state.metrics.webhook_delivery(outcome(result));
                } else {
                    tracing::warn!(delivery = %due.id, "webhook delivery lease was lost");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "webhook dispatcher: cannot record results"),
    }
}

fn outcome(result: &SendResult) -> &'static str {
    match result {
        SendResult::Succeeded(_) => "succeeded",
        SendResult::Failed {
            next_attempt_at: Some(_),
            ..
        } => "retrying",
        SendResult::Failed { .. } => "failed",
        SendResult::Gone => "gone",
    }
}

/// A client pinned to the address the endpoint's host resolves to now
/// (checked again against private ranges), or why there is none.
async fn client_for(
    state: &AppState,
    e: &Endpoint,
    clients: &mut HashMap<(String, std::net::SocketAddr), reqwest::Client>,
) -> Result<reqwest::Client, String> {
    let allow = state.settings.webhook_allow_private;
    let url = crate::service::webhooks::parse_url(&e.url, allow)?;
    let target = resolve(&url, allow).await?;
    let key = (target.host.clone(), target.addr);
    if let Some(c) = clients.get(&key) {
        return Ok(c.clone());
    }
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .resolve(&target.host, target.addr)
        .user_agent(concat!("keydrop-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| "cannot build an HTTP client".to_owned())?;
    clients.insert(key, client.clone());
    Ok(client)
}

/// One endpoint's deliveries, in order; what each attempt came to. A
/// delivery whose lease could run out during its attempt is left alone (and
/// taken again once it has), so no two dispatchers ever send it at once.
async fn lane(
    state: &AppState,
    endpoint: Endpoint,
    client: Result<reqwest::Client, String>,
    list: Vec<Due>,
) -> Vec<(Due, SendResult)> {
    let timeout_ms = i64::try_from(TIMEOUT.as_millis()).unwrap_or(i64::MAX / 2);
    let mut done = Vec::with_capacity(list.len());
    for due in list {
        if state.store.now_ms().saturating_add(timeout_ms) >= due.lease_until {
            break;
        }
        let result = match &client {
            Ok(c) => send(state, &endpoint, c, &due).await,
            Err(why) => failure(state, &due, None, why.clone()),
        };
        let gone = matches!(result, SendResult::Gone);
        done.push((due, result));
        if gone {
            break;
        }
    }
    done
}

async fn send(state: &AppState, e: &Endpoint, client: &reqwest::Client, due: &Due) -> SendResult {
    let now_ms = state.store.now_ms();
    let keys = match signing_keys(&state.keyring, e, now_ms) {
        Ok(k) => k,
        Err(err) => {
            tracing::error!(endpoint = %e.id, error = %err, "cannot open a webhook signing secret");
            return failure(
                state,
                due,
                None,
                "the signing secret cannot be opened".into(),
            );
        }
    };
    let timestamp = now_ms / 1000;
    let body = due.body.as_bytes();
    let res = client
        .post(&e.url)
        .header("content-type", "application/json")
        .header("webhook-id", &due.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signature(&keys, &due.message_id, timestamp, body),
        )
        .body(due.body.clone())
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => SendResult::Succeeded(i64::from(r.status().as_u16())),
        Ok(r) if r.status().as_u16() == 410 => {
            tracing::warn!(endpoint = %e.id, "webhook endpoint answered 410 Gone: disabled");
            SendResult::Gone
        }
        Ok(r) => {
            let code = r.status().as_u16();
            failure(
                state,
                due,
                Some(i64::from(code)),
                format!("answered {code}"),
            )
        }
        Err(err) => {
            let why = if err.is_timeout() {
                "timed out".to_owned()
            } else if err.is_connect() {
                "could not connect".to_owned()
            } else {
                "the request failed".to_owned()
            };
            failure(state, due, None, why)
        }
    }
}

/// A failed attempt: retried after the next wait of the schedule, or given up.
fn failure(state: &AppState, due: &Due, status: Option<i64>, error: String) -> SendResult {
    let retries = &state.settings.jobs.webhook_retries;
    let next = usize::try_from(due.attempts)
        .ok()
        .and_then(|n| retries.get(n))
        .map(|wait| {
            state
                .store
                .now_ms()
                .saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2))
        });
    SendResult::Failed {
        status,
        error,
        next_attempt_at: next,
    }
}
