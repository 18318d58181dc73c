//! argon2id on a fixed set of threads, each reusing one memory buffer.
//!
//! One argon2 run of an API token needs 19 MiB. Run on whatever thread is
//! free (tokio's blocking pool), each run's buffer stayed behind in that
//! thread's malloc arena: 100 first-time tokens, four at once, took a
//! process from 14 to 357 MiB for good (`bench/cold_tokens.sh`). Here every
//! run happens on one of two threads that own their buffer for the life of
//! the process, so what argon2 can ever hold is two buffers of the largest
//! cost in use, and a buffer is wiped after each run (it is derived from
//! the token). A job goes to the first thread whenever it is waiting for
//! one, and to the second only when two runs overlap, so a process whose
//! checks come one at a time holds one buffer, not two.
//!
//! Callers queue through [`crate::web::middleware::auth_throttle::HashGate`] first, so
//! no more runs are in flight than there are threads.

use super::token::{ApiToken, TagKey};
use super::CryptoError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, TrySendError};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Threads that run argon2.
pub const THREADS: usize = 2;

enum Job {
    Verify {
        token: ApiToken,
        phc: String,
        reply: oneshot::Sender<bool>,
    },
    Mint {
        tag: TagKey,
        reply: oneshot::Sender<Result<(ApiToken, String), CryptoError>>,
    },
}

/// A handle on the argon2 threads; cheap to clone. The threads end when the
/// last handle is dropped.
#[derive(Clone)]
pub struct Hasher {
    /// The first thread, taking a job only while it waits for one (a rendezvous).
    first: Arc<Mutex<mpsc::SyncSender<Job>>>,
    /// The second thread, for a job that arrives while the first is busy.
    second: Arc<Mutex<mpsc::Sender<Job>>>,
    /// Whether the first thread is running a job right now.
    first_busy: Arc<AtomicBool>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher")
    }
}

/// The argon2 threads are gone (they never stop while a handle lives, so
/// this means one panicked).
#[derive(Debug, thiserror::Error)]
#[error("the password-hashing threads stopped")]
pub struct HasherGone;

impl Hasher {
    /// Start the threads.
    pub fn start() -> Result<Self, CryptoError> {
        let (first, first_jobs) = mpsc::sync_channel::<Job>(0);
        let (second, second_jobs) = mpsc::channel::<Job>();
        let first_busy = Arc::new(AtomicBool::new(false));
        spawn("keydrop-argon2-0", first_jobs, first_busy.clone())?;
        spawn("keydrop-argon2-1", second_jobs, Arc::default())?;
        Ok(Self {
            first: Arc::new(Mutex::new(first)),
            second: Arc::new(Mutex::new(second)),
            first_busy,
        })
    }

    fn send(&self, job: Job) -> Result<(), HasherGone> {
        let first = self.first.lock().map_err(|_| HasherGone)?;
        let job = match first.try_send(job) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(job)) => job,
            Err(TrySendError::Disconnected(_)) => return Err(HasherGone),
        };
        if !self.first_busy.load(Ordering::SeqCst) {
            // Idle but not yet back at its receive (just started, or just done):
            // it takes the job within moments.
            return first.send(job).map_err(|_| HasherGone);
        }
        drop(first);
        self.second
            .lock()
            .map_err(|_| HasherGone)?
            .send(job)
            .map_err(|_| HasherGone)
    }

    /// Whether `token` matches the stored PHC string `phc`.
    pub async fn verify(&self, token: ApiToken, phc: String) -> Result<bool, HasherGone> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Verify { token, phc, reply })?;
        answer.await.map_err(|_| HasherGone)
    }

    /// A new token tagged with `tag`, and its PHC string (the only thing stored).
    pub async fn mint(&self, tag: TagKey) -> Result<(ApiToken, String), CryptoError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Mint { tag, reply })
            .map_err(|_| CryptoError::Hash)?;
        answer.await.map_err(|_| CryptoError::Hash)?
    }
}

fn spawn(name: &str, jobs: mpsc::Receiver<Job>, busy: Arc<AtomicBool>) -> Result<(), CryptoError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || work(&jobs, &busy))
        .map(|_| ())
        .map_err(|_| CryptoError::Hash)
}

fn work(jobs: &mpsc::Receiver<Job>, busy: &AtomicBool) {
    let mut memory = Vec::new();
    // Ends when every handle is gone. Busy is cleared before the answer goes out, so
    // the caller's next job finds this thread idle.
    while let Ok(job) = jobs.recv() {
        busy.store(true, Ordering::SeqCst);
        match job {
            Job::Verify { token, phc, reply } => {
                let ok = token.verify_in(&phc, &mut memory);
                busy.store(false, Ordering::SeqCst);
                let _ = reply.send(ok);
            }
            Job::Mint { tag, reply } => {
                let minted = ApiToken::generate(&tag)
                    .and_then(|t| t.hash_in(&mut memory).map(|phc| (t, phc)));
                busy.store(false, Ordering::SeqCst);
                let _ = reply.send(minted);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn mints_and_verifies_on_its_threads() {
        let hasher = Hasher::start().unwrap();
        let tag = TagKey::from_bytes(&[7u8; 32]);
        let (token, phc) = hasher.mint(tag.clone()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(hasher.verify(token.clone(), phc.clone()).await.unwrap());
        let (other, _) = hasher.mint(tag).await.unwrap();
        assert!(!hasher.verify(other, phc.clone()).await.unwrap());
        // The same answers as the plain (allocating) path.
        assert!(token.verify(&phc));
        // Overlapping runs go to both threads and all come back.
        let runs = (0..6).map(|_| hasher.verify(token.clone(), phc.clone()));
        let all = futures_util::future::join_all(runs).await;
        assert!(all.into_iter().all(|r| r.unwrap()));
    }
}
