//! Group commit for audited secret reads. Every release must have its audit
//! event durably committed before the secret leaves; one transaction (and
//! one fsync) per release caps throughput at the disk's fsync rate. Here
//! one task takes every release waiting at that moment (up to [`BATCH`]),
//! writes all their audit events in one transaction, commits once, and only
//! then decrypts and answers each caller. A lone request is not delayed.

use super::delivery::Plaintext;
use super::ServiceError;
use crate::crypto::cipher::{self, Binding};
use crate::crypto::keyring::Keyring;
use crate::domain::audit::AuditEntry;
use crate::domain::event::Origin;
use crate::store::{Sealed, SecretRead, Store, Want};

/// The `purpose` under which a `vend` credential's current access token is sealed.
pub const ACCESS_PURPOSE: &str = "access";
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most releases committed together.
pub const BATCH: usize = 128;

type Reply = oneshot::Sender<Result<SecretRead<Plaintext>, ServiceError>>;

struct Job {
    id: String,
    want: Want,
    audit: AuditEntry,
    reply: Reply,
}

/// Handle to the release task; cheap to share.
#[derive(Debug, Clone)]
pub struct Releases {
    queue: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The release task's side of the queue. Each [`ReleaseWorker::run`] is one
/// run of the task (supervised as `release_batcher`); the queue outlives a
/// run that panics, so the next run takes over the waiting releases. The
/// releases of a batch in flight when a run dies get an error (their reply
/// is dropped): nothing is released without its committed audit event.
#[derive(Clone)]
pub struct ReleaseWorker {
    store: Store,
    keyring: Arc<Keyring>,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
}

impl std::fmt::Debug for ReleaseWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseWorker").finish_non_exhaustive()
    }
}

impl ReleaseWorker {
    /// Serve releases until the queue closes (every [`Releases`] dropped).
    /// `beat` hears of each batch committed.
    pub async fn run(self, beat: crate::health::Beat) -> Result<(), String> {
        let mut rx = self.rx.lock_owned().await;
        run(&self.store, &self.keyring, &mut rx, &beat).await;
        Err("the release queue closed".into())
    }
}

impl Releases {
    /// The handle and the task's side of its queue; run the worker under
    /// the supervisor.
    pub fn new(store: Store, keyring: Arc<Keyring>) -> (Self, ReleaseWorker) {
        let (queue, rx) = mpsc::channel(4 * BATCH);
        let worker = ReleaseWorker {
            store,
            keyring,
            rx: Arc::new(tokio::sync::Mutex::new(rx)),
        };
        (Self { queue }, worker)
    }

    /// Release one credential's secret (audited, group-committed).
    pub async fn read(
        &self,
        id: String,
        audit: AuditEntry,
    ) -> Result<SecretRead<Plaintext>, ServiceError> {
        self.release(id, Want::Secret, audit).await
    }

    /// Release what `want` asks for (audited, group-committed): the secret, or a `vend`
    /// credential's stored access token (the plaintext is then the sealed access JSON).
    pub async fn release(
        &self,
        id: String,
        want: Want,
        audit: AuditEntry,
    ) -> Result<SecretRead<Plaintext>, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job {
                id,
                want,
                audit,
                reply,
            })
            .await
            .map_err(|_| ServiceError::Internal("the release task stopped".into()))?;
        answer
            .await
            .map_err(|_| ServiceError::Internal("the release task dropped a request".into()))?
    }
}

async fn run(
    store: &Store,
    keyring: &Keyring,
    rx: &mut mpsc::Receiver<Job>,
    beat: &crate::health::Beat,
) {
    let mut jobs = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut jobs, BATCH).await > 0 {
        let requests: Vec<(String, Want, AuditEntry)> = jobs
            .iter()
            .map(|j| (j.id.clone(), j.want, j.audit.clone()))
            .collect();
        match store.read_secrets(&requests).await {
            Ok(results) => {
                beat.pass();
                for (job, result) in jobs.drain(..).zip(results) {
                    let answer = open(store, keyring, &job, result).await;
                    let _ = job.reply.send(answer);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batch = jobs.len(), "secret release batch failed; nothing was released");
                beat.failed("a release batch could not be recorded");
                // Each caller hears what kind of failure it was: an unreachable database
                // is a 503 (try again), anything else a fault of ours.
                let unavailable = crate::store::is_unavailable(&e);
                for job in jobs.drain(..) {
                    let _ = job.reply.send(Err(if unavailable {
                        ServiceError::Store(crate::store::StoreError::Unavailable)
                    } else {
                        ServiceError::Internal("the release could not be recorded".into())
                    }));
                }
            }
        }
    }
}

/// Decrypt after the commit; a failure releases nothing and is audited.
async fn open(
    store: &Store,
    keyring: &Keyring,
    job: &Job,
    result: SecretRead<Sealed>,
) -> Result<SecretRead<Plaintext>, ServiceError> {
    Ok(match result {
        SecretRead::Released(meta, sealed) => {
            let binding = Binding {
                credential_id: &job.id,
                drop_id: &sealed.drop_id,
                kind: meta.kind.as_str(),
            };
            let opened = match &sealed.access {
                Some((blob, _)) => {
                    cipher::open_aux(keyring, binding, &sealed.envelope, ACCESS_PURPOSE, blob)
                }
                None => cipher::decrypt(keyring, binding, &sealed.envelope),
            };
            match opened {
                Ok(plain) => SecretRead::Released(meta, plain),
                Err(e) => {
                    return Err(super::delivery::decrypt_failed(
                        store,
                        &job.id,
                        &Origin::new(job.audit.actor.clone(), job.audit.ip.clone()),
                        e,
                    )
                    .await)
                }
            }
        }
        SecretRead::Destroyed => SecretRead::Destroyed,
        SecretRead::NotVerified => SecretRead::NotVerified,
        SecretRead::NotFound => SecretRead::NotFound,
        SecretRead::WrongMode(r) => SecretRead::WrongMode(r),
        SecretRead::Disconnected => SecretRead::Disconnected,
        SecretRead::Stale(m) => SecretRead::Stale(m),
    })
}
