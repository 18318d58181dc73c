//! The webhook dispatcher (SPEC §11): a supervised task that takes endpoints with due
//! deliveries (an endpoint lease across every process: `store::webhooks::deliveries`),
//! signs and sends, and records each result. It wakes within milliseconds of a commit in
//! this process that queued deliveries, and polls for those of other processes.
//!
//! Each endpoint taken gets a *lane*: a task of its own that sends that endpoint's
//! deliveries one after another, in commit order. A failed attempt — a refusal, a
//! timeout, a connection never made — ends the lane at once: the endpoint backs off as a
//! whole until that delivery's next attempt (its later deliveries wait behind it), and the
//! lane's other deliveries go back to the queue. So a slow or dead receiver holds back
//! only itself, and not for longer than one request timeout: at most [`LANES`] lanes run
//! per process, endpoints that answer are taken first, and endpoints whose last attempt
//! failed get at most half the lanes.
//!
//! The lanes hand what each attempt came to, and finally the endpoint, to one
//! *recorder*, which writes whatever has arrived in one transaction: one commit for an
//! event that fans out to many endpoints, and under load many results per commit. An
//! endpoint is released only after its results are written, so no other dispatcher can
//! take its next delivery before the failure of an earlier one is known.

use super::supervisor::Beat;
use crate::service::webhooks::{resolve, signature, signing_keys};
use crate::service::Services;
use crate::store::webhooks::{Due, Endpoint, Record, SendResult, TakenEndpoint};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{Receiver, Sender};
use tokio::task::JoinSet;

pub use crate::config::jobs::{RETRIES, TIMEOUT};
/// Deliveries one lane takes at a time.
const PER_ENDPOINT: i64 = 16;
/// Endpoints served at once by one process.
pub const LANES: usize = 32;
/// Of which at most this many are endpoints whose last attempt failed.
const FAILING_LANES: usize = LANES / 2;
/// Kept this long after they finished.
const KEEP_MS: i64 = 30 * 86_400_000;

pub async fn run(state: Arc<Services>, beat: Beat) -> Result<(), String> {
    let signal = state.store.outbox_signal();
    let poll = state.settings.jobs.webhook_poll;
    let clients = Arc::new(Clients::default());
    // Dropped with this run (when the supervisor stops it): the lanes and the
    // recorder stop too; what they had not recorded is sent again after its
    // lease: at least once.
    let mut lanes: JoinSet<()> = JoinSet::new();
    let mut recorder = JoinSet::new();
    let (records, received) = tokio::sync::mpsc::channel(RESULTS_QUEUE);
    recorder.spawn(record_results(state.clone(), received));
    // Whether each running lane's endpoint was failing when taken, by task.
    let mut busy: HashMap<tokio::task::Id, bool> = HashMap::new();
    let mut last_prune = std::time::Instant::now();
    loop {
        while let Some(done) = lanes.try_join_next_with_id() {
            lane_ended(&mut busy, done);
        }
        if busy.len() >= LANES {
            if let Some(done) = lanes.join_next_with_id().await {
                lane_ended(&mut busy, done);
            }
            continue;
        }
        let free = LANES - busy.len();
        let failing_busy = busy.values().filter(|f| **f).count();
        let failing_free = FAILING_LANES.saturating_sub(failing_busy).min(free);
        match state
            .store
            .take_due(free, failing_free, PER_ENDPOINT, lease_ms(&state))
            .await
        {
            Ok(taken) if taken.endpoints.is_empty() => {
                beat.pass();
                tokio::select! {
                    () = signal.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                    Some(done) = lanes.join_next_with_id(), if !lanes.is_empty() => {
                        lane_ended(&mut busy, done);
                    }
                }
            }
            Ok(taken) => {
                for endpoint in taken.endpoints {
                    let failing = endpoint.failing;
                    let task = lanes.spawn(lane(
                        state.clone(),
                        clients.clone(),
                        records.clone(),
                        taken.lease_id.clone(),
                        endpoint,
                    ));
                    busy.insert(task.id(), failing);
                }
                beat.pass();
            }
            Err(e) => {
                tracing::warn!(error = %e, "webhook dispatcher: cannot read the outbox");
                beat.failed("cannot read the outbox");
                tokio::time::sleep(poll).await;
            }
        }
        if recorder.try_join_next().is_some() {
            // It never ends while this run holds a sender: only a panic stops it.
            return Err("the webhook result recorder stopped".into());
        }
        if last_prune.elapsed() > Duration::from_secs(3600) {
            last_prune = std::time::Instant::now();
            if let Err(e) = state.store.prune_deliveries(KEEP_MS).await {
                tracing::warn!(error = %e, "webhook dispatcher: pruning old deliveries failed");
            }
        }
    }
}

/// A lane ended: its slot is free. (A lane cannot panic; were one aborted, its endpoint
/// and deliveries are taken again once their lease runs out.)
fn lane_ended(
    busy: &mut HashMap<tokio::task::Id, bool>,
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
) {
    let id = match done {
        Ok((id, ())) => id,
        Err(e) => {
            tracing::error!(error = %e, "webhook dispatcher: a delivery lane stopped");
            e.id()
        }
    };
    busy.remove(&id);
}

/// The lease on an endpoint and its deliveries: long enough for a few of them to time out.
fn lease_ms(state: &Services) -> i64 {
    i64::try_from((state.settings.jobs.webhook_timeout * 4).as_millis()).unwrap_or(60_000)
}

/// HTTP clients, one per (host, pinned address), shared by the lanes.
#[derive(Default)]
struct Clients(std::sync::Mutex<HashMap<(String, std::net::SocketAddr), reqwest::Client>>);

impl Clients {
    fn get(&self, key: &(String, std::net::SocketAddr)) -> Option<reqwest::Client> {
        self.0.lock().ok()?.get(key).cloned()
    }

    fn keep(&self, key: (String, std::net::SocketAddr), client: reqwest::Client) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= 256 {
                map.clear();
            }
            map.insert(key, client);
        }
    }
}

/// One endpoint's deliveries, in order, each attempt handed to the recorder, then the
/// endpoint itself. The lane stops at the first attempt that does not succeed (the
/// endpoint then backs off as a whole), and before an attempt its lease could not cover
/// (so no two dispatchers ever send it at once); what it did not attempt goes back to the
/// queue with the endpoint.
async fn lane(
    state: Arc<Services>,
    clients: Arc<Clients>,
    records: Sender<Record>,
    lease_id: String,
    taken: TakenEndpoint,
) {
    let endpoint_id = taken.id.clone();
    let mut list = taken.deliveries.into_iter();
    let mut was_failing = taken.failing;
    match state.store.endpoint(&endpoint_id).await {
        Ok(Some(endpoint)) => {
            let client = client_for(&state, &endpoint, &clients).await;
            let timeout_ms =
                i64::try_from(state.settings.jobs.webhook_timeout.as_millis()).unwrap_or(15_000);
            while let Some(due) = list.next() {
                if state.store.now_ms().saturating_add(timeout_ms) >= due.lease_until {
                    list = std::iter::once(due)
                        .chain(list)
                        .collect::<Vec<_>>()
                        .into_iter();
                    break;
                }
                let result = match &client {
                    Ok(c) => send(&state, &endpoint, c, &due).await,
                    Err(why) => failure(&state, &due, None, why.clone()),
                };
                let succeeded = matches!(result, SendResult::Succeeded(_));
                let sent = Record::Sent {
                    due,
                    result,
                    was_failing,
                };
                if records.send(sent).await.is_err() {
                    return;
                }
                if !succeeded {
                    break;
                }
                was_failing = false;
            }
        }
        // Deleted meanwhile: its deliveries went with it.
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "webhook dispatcher: cannot read an endpoint"),
    }
    let _ = records
        .send(Record::Done {
            endpoint_id,
            lease_id,
            untried: list.collect(),
        })
        .await;
}

/// Most records written in one transaction.
const RECORD_BATCH: usize = 256;
/// Records waiting for the recorder before lanes wait for it.
const RESULTS_QUEUE: usize = 4096;

/// Writes what lanes report: whatever has arrived, in one transaction (records that
/// arrive during a commit go into the next). Were a commit lost, those deliveries would
/// be sent again once their leases ran out: at least once.
async fn record_results(state: Arc<Services>, mut received: Receiver<Record>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while received.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        record(&state, std::mem::take(&mut batch)).await;
    }
}

async fn record(state: &Services, records: Vec<Record>) {
    if records.is_empty() {
        return;
    }
    match state.store.record_dispatch(&records).await {
        Ok(recorded) => {
            for (record, held) in records.iter().zip(recorded) {
                let Record::Sent { due, result, .. } = record else {
                    continue;
                };
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
    state: &Services,
    e: &Endpoint,
    clients: &Clients,
) -> Result<reqwest::Client, String> {
    let allow = state.settings.webhook_allow_private;
    let url = crate::service::webhooks::parse_url(&e.url, allow)?;
    let target = resolve(&url, allow).await?;
    let key = (target.host.clone(), target.addr);
    if let Some(c) = clients.get(&key) {
        return Ok(c);
    }
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        // A proxy from the environment would resolve the host itself, past the check
        // above and the pinned address (SPEC §8.10).
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(state.settings.jobs.webhook_timeout)
        .connect_timeout(state.settings.jobs.webhook_timeout)
        .resolve(&target.host, target.addr)
        .user_agent(concat!("keydrop-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| "cannot build an HTTP client".to_owned())?;
    clients.keep(key, client.clone());
    Ok(client)
}

async fn send(state: &Services, e: &Endpoint, client: &reqwest::Client, due: &Due) -> SendResult {
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

/// A failed attempt: retried after the next wait of the schedule, or given up. Its
/// endpoint waits as long (after a delivery is given up, the first wait of the schedule).
fn failure(state: &Services, due: &Due, status: Option<i64>, error: String) -> SendResult {
    let retries = &state.settings.jobs.webhook_retries;
    let now = state.store.now_ms();
    let after = |wait: &Duration| {
        now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2))
    };
    let next = usize::try_from(due.attempts)
        .ok()
        .and_then(|n| retries.get(n))
        .map(after);
    let first = retries.first().map_or(now, after);
    SendResult::Failed {
        status,
        error,
        next_attempt_at: next,
        endpoint_retry_at: next.unwrap_or(first),
    }
}
