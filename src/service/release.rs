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
use crate::store::{SecretRead, Store};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most releases committed together.
pub const BATCH: usize = 128;

type Reply = oneshot::Sender<Result<SecretRead<Plaintext>, ServiceError>>;

struct Job {
    id: String,
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

impl Releases {
    /// Start the release task on the current runtime.
    pub fn start(store: Store, keyring: Arc<Keyring>) -> Self {
        let (queue, rx) = mpsc::channel(4 * BATCH);
        tokio::spawn(run(store, keyring, rx));
        Self { queue }
    }

    /// Release one credential's secret (audited, group-committed).
    pub async fn read(
        &self,
        id: String,
        audit: AuditEntry,
    ) -> Result<SecretRead<Plaintext>, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { id, audit, reply })
            .await
            .map_err(|_| ServiceError::Internal("the release task stopped".into()))?;
        answer
            .await
            .map_err(|_| ServiceError::Internal("the release task dropped a request".into()))?
    }
}

async fn run(store: Store, keyring: Arc<Keyring>, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut jobs, BATCH).await > 0 {
        let requests: Vec<(String, AuditEntry)> = jobs
            .iter()
            .map(|j| (j.id.clone(), j.audit.clone()))
            .collect();
        match store.read_secrets(&requests).await {
            Ok(results) => {
                for (job, result) in jobs.drain(..).zip(results) {
                    let answer = open(&store, &keyring, &job, result).await;
                    let _ = job.reply.send(answer);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batch = jobs.len(), "secret release batch failed; nothing was released");
                for job in jobs.drain(..) {
                    let _ = job.reply.send(Err(ServiceError::Internal(
                        "the release could not be recorded".into(),
                    )));
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
    result: SecretRead<(String, crate::crypto::cipher::Envelope)>,
) -> Result<SecretRead<Plaintext>, ServiceError> {
    Ok(match result {
        SecretRead::Released(meta, (drop_id, envelope)) => {
            let binding = Binding {
                credential_id: &job.id,
                drop_id: &drop_id,
                kind: meta.kind.as_str(),
            };
            match cipher::decrypt(keyring, binding, &envelope) {
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
    })
}
