//! The webhook dispatcher (SPEC §11): a supervised task that takes due
//! deliveries from the outbox under a lease, signs and sends them, and
//! records each result. It wakes within milliseconds of a commit in this
//! process that queued deliveries, and polls for those of other processes.
//!
//! Deliveries are taken oldest change first, a batch at a time, and handed
//! to one *lane* per endpoint: a task of its own that sends that endpoint's
//! deliveries one after another (commit order, as far as retries allow).
//! While an endpoint has a lane in this process, no more of its deliveries
//! are taken here, so a slow or dead receiver holds back only itself: other
//! endpoints' lanes start as their events commit, and a customer's
//! submission or a release only ever writes rows. (Across processes each
//! delivery is still sent by one at a time, by its lease, but two processes
//! may serve one endpoint at once.) At most [`LANES`] lanes run per process.
//!
//! The lanes hand what each attempt came to to one *recorder*, which writes
//! whatever has arrived in one transaction: one commit for an event that
//! fans out to many endpoints, and under load many results per commit.
//! Deliveries a lane took but did not attempt are given back at once.

use super::supervisor::Beat;
use crate::service::webhooks::{resolve, signature, signing_keys};
use crate::store::webhooks::{Due, Endpoint, SendResult};
use crate::web::AppState;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{Receiver, Sender};
use tokio::task::JoinSet;

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
/// Endpoints served at once by one process.
pub const LANES: usize = 32;
/// Kept this long after they finished.
const KEEP_MS: i64 = 30 * 86_400_000;

pub async fn run(state: Arc<AppState>, beat: Beat) -> Result<(), String> {
    let signal = state.store.outbox_signal();
    let poll = state.settings.jobs.webhook_poll;
    let clients = Arc::new(Clients::default());
    // Dropped with this run (when the supervisor stops it): the lanes and the
    // recorder stop too; what they had not recorded is sent again after its
    // lease: at least once.
    let mut lanes: JoinSet<()> = JoinSet::new();
    let mut recorder = JoinSet::new();
    let (results, received) = tokio::sync::mpsc::channel(RESULTS_QUEUE);
    recorder.spawn(record_results(state.clone(), received));
    // The endpoint each running lane serves, by task.
    let mut busy: HashMap<tokio::task::Id, String> = HashMap::new();
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
        let serving: Vec<&str> = busy.values().map(String::as_str).collect();
        match state.store.take_due(BATCH, lease_ms(), &serving).await {
            Ok(due) if due.is_empty() => {
                beat.pass();
                tokio::select! {
                    () = signal.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                    Some(done) = lanes.join_next_with_id(), if !lanes.is_empty() => {
                        lane_ended(&mut busy, done);
                    }
                }
            }
            Ok(due) => {
                let mut no_room = Vec::new();
                for (endpoint_id, list) in by_endpoint(due) {
                    if busy.len() >= LANES {
                        no_room.extend(list);
                        continue;
                    }
                    let lane = lane(
                        state.clone(),
                        clients.clone(),
                        results.clone(),
                        endpoint_id.clone(),
                        list,
                    );
                    let task = lanes.spawn(lane);
                    busy.insert(task.id(), endpoint_id);
                }
                give_back(&state, &no_room).await;
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

/// A lane ended: its endpoint may be taken again. (A lane cannot panic;
/// were one aborted, what it held is taken again once its lease runs out.)
fn lane_ended(
    busy: &mut HashMap<tokio::task::Id, String>,
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

/// Deliveries taken but not attempted go back to the queue at once.
async fn give_back(state: &AppState, taken: &[Due]) {
    if let Err(e) = state.store.release_leases(taken).await {
        // They are taken again when their leases run out.
        tracing::warn!(error = %e, "webhook dispatcher: cannot give deliveries back");
    }
}

fn lease_ms() -> i64 {
    // Long enough for a few of an endpoint's deliveries to time out.
    i64::try_from((TIMEOUT * 4).as_millis()).unwrap_or(60_000)
}

/// A batch split by endpoint, each endpoint's deliveries in the order taken.
fn by_endpoint(due: Vec<Due>) -> Vec<(String, Vec<Due>)> {
    let mut out: Vec<(String, Vec<Due>)> = Vec::new();
    for d in due {
        match out.iter_mut().find(|(e, _)| *e == d.endpoint_id) {
            Some((_, list)) => list.push(d),
            None => out.push((d.endpoint_id.clone(), vec![d])),
        }
    }
    out
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

/// One endpoint's deliveries, in order, each attempt handed to the recorder.
/// A delivery whose lease could run out during its attempt is not started
/// (so no two dispatchers ever send it at once) but given back, with the
/// rest of the list, for the next lane to send in order.
async fn lane(
    state: Arc<AppState>,
    clients: Arc<Clients>,
    results: Sender<(Due, SendResult)>,
    endpoint_id: String,
    list: Vec<Due>,
) {
    let endpoint = match state.store.endpoint(&endpoint_id).await {
        Ok(Some(e)) => e,
        // Deleted meanwhile: its deliveries went with it.
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "webhook dispatcher: cannot read an endpoint");
            give_back(&state, &list).await;
            return;
        }
    };
    let client = client_for(&state, &endpoint, &clients).await;
    let timeout_ms = i64::try_from(TIMEOUT.as_millis()).unwrap_or(i64::MAX / 2);
    let mut list = list.into_iter();
    while let Some(due) = list.next() {
        if state.store.now_ms().saturating_add(timeout_ms) >= due.lease_until {
            let rest: Vec<Due> = std::iter::once(due).chain(list).collect();
            give_back(&state, &rest).await;
            return;
        }
        let result = match &client {
            Ok(c) => send(&state, &endpoint, c, &due).await,
            Err(why) => failure(&state, &due, None, why.clone()),
        };
        // Gone: the endpoint is disabled with this result; the rest wait for
        // it to be enabled again.
        let gone = matches!(result, SendResult::Gone);
        if results.send((due, result)).await.is_err() || gone {
            return;
        }
    }
}

/// Most results written in one transaction.
const RECORD_BATCH: usize = 256;
/// Results waiting for the recorder before lanes wait for it.
const RESULTS_QUEUE: usize = 4096;

/// Writes what attempts came to: whatever has arrived, in one transaction
/// (results that arrive during a commit go into the next). Were a commit
/// lost, those deliveries would be sent again once their leases ran out: at
/// least once.
async fn record_results(state: Arc<AppState>, mut received: Receiver<(Due, SendResult)>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while received.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        record(&state, std::mem::take(&mut batch)).await;
    }
}

async fn record(state: &AppState, results: Vec<(Due, SendResult)>) {
    if results.is_empty() {
        return;
    }
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
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .resolve(&target.host, target.addr)
        .user_agent(concat!("keydrop-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| "cannot build an HTTP client".to_owned())?;
    clients.keep(key, client.clone());
    Ok(client)
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
