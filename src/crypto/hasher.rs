//! argon2id on a fixed set of threads, each reusing one memory buffer.
//!
//! One argon2 run of an API token needs 19 MiB. Run on whatever thread is
//! free (tokio's blocking pool), each run's buffer stayed behind in that
//! thread's malloc arena: 48 first-time tokens, four at once, took a
//! process from 15 to 339 MiB for good. Here every run happens on one of
//! [`THREADS`] threads that own their buffer for the life of the process,
//! so what argon2 can ever hold is `THREADS` × the largest cost in use, and
//! the buffer is wiped after each run (it is derived from the token).
//!
//! Callers queue through [`crate::web::auth_throttle::HashGate`] first, so
//! the queue here never holds more than a few jobs.

use super::token::{ApiToken, TagKey};
use super::CryptoError;
use std::sync::mpsc;
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
    jobs: Arc<Mutex<mpsc::Sender<Job>>>,
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
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..THREADS {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("keydrop-argon2-{n}"))
                .spawn(move || work(&rx))
                .map_err(|_| CryptoError::Hash)?;
        }
        Ok(Self {
            jobs: Arc::new(Mutex::new(tx)),
        })
    }

    fn send(&self, job: Job) -> Result<(), HasherGone> {
        self.jobs
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

fn work(jobs: &Mutex<mpsc::Receiver<Job>>) {
    let mut memory = Vec::new();
    loop {
        // Holding the lock while waiting is the point: one idle thread waits
        // for the next job, the others wait for the lock.
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return; // every handle is gone
        };
        match job {
            Job::Verify { token, phc, reply } => {
                let ok = token.verify_in(&phc, &mut memory);
                let _ = reply.send(ok);
            }
            Job::Mint { tag, reply } => {
                let minted = ApiToken::generate(&tag)
                    .and_then(|t| t.hash_in(&mut memory).map(|phc| (t, phc)));
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
    }
}
