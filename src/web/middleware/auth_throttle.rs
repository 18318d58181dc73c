//! Limits on cold API authentication. An argon2 run costs a core for
//! ~20 ms and 19 MiB, so callers without a valid token must not be able to
//! queue runs up in front of real tokens — and the limits must never lock
//! out the holder of a good token (SPEC §5):
//!
//! - tagged tokens (every token minted now) are told from forgeries by
//!   their tag before any run (`crypto::token`), so forgeries cost nothing
//!   and a genuine token's run is never refused for others' failures;
//! - [`HashGate`]: a few runs at once, and a bounded wait for a turn (past
//!   it the caller gets 503 with `Retry-After`) instead of an endless queue;
//! - [`Backoff`], for legacy (untagged) tokens only: after a wrong secret
//!   for token id X, cold attempts for X wait (429 with `Retry-After`, never
//!   401: a worker must not read "revoked" into it) for a window that
//!   doubles with each further failure; tokens already verified and cached
//!   keep working.
//!
//! Times are parameters (`now`), so the rules are tested without sleeping.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};
use uuid::Uuid;

/// No argon2 turn came within the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// At most `permits` argon2 runs at once; a caller waits at most `wait`.
#[derive(Debug)]
pub struct HashGate {
    permits: Semaphore,
    wait: Duration,
}

impl HashGate {
    pub fn new(permits: usize, wait: Duration) -> Self {
        Self {
            permits: Semaphore::new(permits),
            wait,
        }
    }

    /// A turn, or [`Busy`] once the wait is over.
    pub async fn enter(&self) -> Result<SemaphorePermit<'_>, Busy> {
        match tokio::time::timeout(self.wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Busy),
        }
    }

    /// How long a caller may wait, rounded up to whole seconds (`Retry-After`).
    pub fn retry_after_secs(&self) -> u64 {
        self.wait.as_secs() + u64::from(self.wait.subsec_nanos() > 0)
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    until: Instant,
}

/// Failed verifications per token id.
#[derive(Debug)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    /// A failure this long ago no longer counts toward the next window.
    forget: Duration,
    max_tracked: usize,
    ids: Mutex<HashMap<Uuid, Failures>>,
}

impl Backoff {
    /// Windows of `first`, then twice as long after each further failure, up to `max`.
    pub fn new(first: Duration, max: Duration, max_tracked: usize) -> Self {
        Self {
            first,
            max,
            forget: max.saturating_mul(10),
            max_tracked,
            ids: Mutex::new(HashMap::new()),
        }
    }

    fn ids(&self) -> MutexGuard<'_, HashMap<Uuid, Failures>> {
        // A panic elsewhere while holding the lock leaves consistent data.
        self.ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long a cold attempt for `id` must still wait at `now` (`None`: it may go ahead).
    pub fn wait(&self, id: Uuid, now: Instant) -> Option<Duration> {
        self.ids()
            .get(&id)
            .map(|f| f.until.saturating_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// Whether a cold attempt for `id` is refused at `now`.
    pub fn refused(&self, id: Uuid, now: Instant) -> bool {
        self.wait(id, now).is_some()
    }

    /// A wrong secret was presented for `id` at `now`.
    pub fn failed(&self, id: Uuid, now: Instant) {
        let mut ids = self.ids();
        if ids.len() >= self.max_tracked && !ids.contains_key(&id) {
            let forget = self.forget;
            ids.retain(|_, f| now.saturating_duration_since(f.last) < forget);
            if ids.len() >= self.max_tracked {
                ids.clear();
            }
        }
        let f = ids.entry(id).or_insert(Failures {
            count: 0,
            last: now,
            until: now,
        });
        if now.saturating_duration_since(f.last) >= self.forget {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        let doublings = f.count.saturating_sub(1).min(31);
        let window = self.first.saturating_mul(1 << doublings).min(self.max);
        f.last = now;
        f.until = now + window;
    }

    /// The right secret was presented for `id`: its record is cleared.
    pub fn succeeded(&self, id: Uuid) {
        self.ids().remove(&id);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.ids().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn failures_open_a_growing_window_per_token_id() {
        let b = Backoff::new(500 * MS, 4000 * MS, 100);
        let (x, y) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let t0 = Instant::now();
        assert!(!b.refused(x, t0));
        b.failed(x, t0);
        assert!(b.refused(x, t0 + 499 * MS));
        assert_eq!(b.wait(x, t0 + 100 * MS), Some(400 * MS));
        assert!(!b.refused(x, t0 + 500 * MS));
        assert_eq!(b.wait(x, t0 + 500 * MS), None);
        assert!(!b.refused(y, t0), "other token ids are not affected");
        // Each further failure doubles the window, up to the maximum.
        let mut now = t0 + 500 * MS;
        for window in [1000, 2000, 4000, 4000] {
            b.failed(x, now);
            assert!(b.refused(x, now + (window - 1) * MS), "{window}");
            assert!(!b.refused(x, now + window * MS), "{window}");
            now += window * MS;
        }
        // A success clears the record; the next failure starts small again.
        b.succeeded(x);
        assert!(!b.refused(x, now));
        b.failed(x, now);
        assert!(!b.refused(x, now + 500 * MS));
    }

    #[test]
    fn old_failures_are_forgotten() {
        let b = Backoff::new(500 * MS, 1000 * MS, 100);
        let x = Uuid::from_u128(1);
        let t0 = Instant::now();
        b.failed(x, t0);
        b.failed(x, t0 + 500 * MS);
        let later = t0 + 60_000 * MS;
        b.failed(x, later);
        assert!(!b.refused(x, later + 500 * MS), "back to the first window");
    }

    #[test]
    fn memory_is_bounded() {
        let b = Backoff::new(500 * MS, 1000 * MS, 10);
        let t0 = Instant::now();
        for i in 0..1000u128 {
            b.failed(Uuid::from_u128(i), t0);
            assert!(b.tracked() <= 10);
        }
        // Stale records are dropped first; live ones survive a sweep.
        let b = Backoff::new(500 * MS, 1000 * MS, 3);
        b.failed(Uuid::from_u128(1), t0);
        b.failed(Uuid::from_u128(2), t0);
        let later = t0 + 60_000 * MS;
        b.failed(Uuid::from_u128(3), later);
        b.failed(Uuid::from_u128(4), later);
        assert_eq!(b.tracked(), 2);
        assert!(b.refused(Uuid::from_u128(3), later));
    }

    #[tokio::test]
    async fn the_wait_for_a_turn_is_bounded() {
        let gate = HashGate::new(2, 50 * MS);
        let a = gate.enter().await.unwrap();
        let _b = gate.enter().await.unwrap();
        // Both turns are taken: a third caller gives up after the wait
        // instead of queueing for ever.
        let third = tokio::time::timeout(Duration::from_secs(10), gate.enter()).await;
        assert_eq!(third.expect("the wait is bounded").unwrap_err(), Busy);
        assert_eq!(gate.retry_after_secs(), 1);
        assert_eq!(HashGate::new(1, 1500 * MS).retry_after_secs(), 2);
        drop(a);
        assert!(gate.enter().await.is_ok(), "a freed turn is taken at once");
    }

    #[tokio::test]
    async fn a_waiter_gets_a_turn_freed_within_the_wait() {
        let gate = std::sync::Arc::new(HashGate::new(1, Duration::from_secs(5)));
        let held = gate.enter().await.unwrap();
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter().await.is_ok() })
        };
        tokio::task::yield_now().await;
        drop(held);
        assert!(waiter.await.unwrap());
    }
}
