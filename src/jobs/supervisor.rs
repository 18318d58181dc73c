//! A small supervisor for background work (SPEC §12, STYLE 15).
//!
//! Each task has a name and a factory that makes one run of it. A run that
//! panics, returns an error or simply ends is started again after a backoff
//! (doubling from [`Backoff::first`] to [`Backoff::max`]; it starts over once
//! a run has reported a successful pass). What every task is doing is kept
//! in a [`Registry`] that `/readyz` reads: a task is *down* from the moment
//! a run stops until the next one starts.
//!
//! Nothing a task reports may hold a secret: `/readyz` shows names, states,
//! restart counts and pass times, never error text (that goes to the log).

pub use crate::config::Backoff;
pub use crate::health::{Beat, Registry, TaskHealth, TaskState};

use crate::clock::SharedClock;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Runs named tasks and starts them again when they stop.
#[derive(Debug)]
pub struct Supervisor {
    registry: Registry,
    clock: SharedClock,
    backoff: Backoff,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

/// Aborts the run it holds when dropped: aborting a supervisor loop (or
/// dropping it) ends its current run too.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Supervisor {
    /// A supervisor whose tasks restart after `backoff`; "now" for pass
    /// times is read from `clock`.
    pub fn new(clock: SharedClock, backoff: Backoff) -> Self {
        Self {
            registry: Registry::default(),
            clock,
            backoff,
            handles: Mutex::new(Vec::new()),
        }
    }

    /// The tasks' health, as `/readyz` reads it.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Supervise the task `name` with this supervisor's backoff: `make`
    /// starts one run. Must be called within a tokio runtime.
    pub fn supervise<F, Fut>(&self, name: &str, make: F)
    where
        F: Fn(Beat) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.supervise_with(name, self.backoff, make);
    }

    /// [`Supervisor::supervise`] for a task that passes on a schedule: without a
    /// successful pass for `stale_after` it counts as degraded (`/readyz` answers 503
    /// naming it), though it runs.
    pub fn supervise_periodic<F, Fut>(&self, name: &str, stale_after: Duration, make: F)
    where
        F: Fn(Beat) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.registry
            .update(name, |t| t.stale_after = Some(stale_after));
        self.supervise_with(name, self.backoff, make);
    }

    /// [`Supervisor::supervise`] with a backoff of its own.
    pub fn supervise_with<F, Fut>(&self, name: &str, backoff: Backoff, make: F)
    where
        F: Fn(Beat) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let registry = self.registry.clone();
        let clock = self.clock.clone();
        let name: Arc<str> = Arc::from(name);
        registry.update(&name, |t| t.state = TaskState::Up);
        let handle = tokio::spawn(async move {
            let mut failures: u32 = 0;
            loop {
                let beat = Beat::new(registry.clone(), clock.clone(), name.clone());
                let passed = beat.passed();
                registry.update(&name, |t| t.state = TaskState::Up);
                let mut run = AbortOnDrop(tokio::spawn(make(beat)));
                let why = match (&mut run.0).await {
                    Ok(Ok(())) => "the task ended".to_owned(),
                    Ok(Err(e)) => e,
                    Err(e) if e.is_panic() => "the task panicked".to_owned(),
                    Err(_) => "the task was cancelled".to_owned(),
                };
                if passed.load(std::sync::atomic::Ordering::Relaxed) {
                    failures = 0;
                }
                failures = failures.saturating_add(1);
                let wait = backoff.delay(failures);
                tracing::error!(
                    task = %name,
                    reason = %why,
                    restart_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "background task stopped; restarting it"
                );
                registry.update(&name, |t| {
                    t.state = TaskState::Restarting;
                    t.restarts = t.restarts.saturating_add(1);
                    t.last_error = Some(why);
                });
                tokio::time::sleep(wait).await;
            }
        });
        self.lock_handles().push(handle);
    }

    fn lock_handles(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.handles.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stop every task (their current runs included).
    pub fn shutdown(&self) {
        for handle in self.lock_handles().drain(..) {
            handle.abort();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_doubles_to_its_cap() {
        let b = Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.delay(1), Duration::from_millis(100));
        assert_eq!(b.delay(2), Duration::from_millis(200));
        assert_eq!(b.delay(4), Duration::from_millis(800));
        assert_eq!(b.delay(5), Duration::from_secs(1));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
    }

    async fn wait_for(registry: &Registry, name: &str, ok: impl Fn(&TaskHealth) -> bool) {
        for _ in 0..500 {
            if registry.get(name).is_some_and(|t| ok(&t)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{name} never got there: {:?}", registry.get(name));
    }

    #[tokio::test]
    async fn a_task_that_panics_or_ends_is_restarted_and_shown_down_meanwhile() {
        let sup = Supervisor::new(
            Arc::new(SystemClock),
            Backoff {
                first: Duration::from_millis(300),
                max: Duration::from_millis(300),
            },
        );
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        sup.supervise("flaky", move |beat| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => panic!("first run fails"),
                    1 => Ok(()),
                    _ => {
                        beat.pass();
                        std::future::pending::<()>().await;
                        Ok(())
                    }
                }
            }
        });
        let reg = sup.registry().clone();
        wait_for(&reg, "flaky", |t| t.is_down() && t.restarts == 1).await;
        assert_eq!(reg.down(), ["flaky"]);
        assert_eq!(
            reg.get("flaky").unwrap().last_error.as_deref(),
            Some("the task panicked")
        );
        wait_for(&reg, "flaky", |t| t.restarts == 2).await;
        assert_eq!(
            reg.get("flaky").unwrap().last_error.as_deref(),
            Some("the task ended")
        );
        wait_for(&reg, "flaky", |t| !t.is_down() && t.last_pass.is_some()).await;
        assert!(reg.down().is_empty());
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        sup.shutdown();
    }

    #[tokio::test]
    async fn shutdown_ends_the_running_task() {
        let sup = Supervisor::new(Arc::new(SystemClock), Backoff::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let tx = Arc::new(Mutex::new(Some(tx)));
        sup.supervise("holder", move |_| {
            // Keeps the sender alive for as long as the run lives.
            let held = tx.lock().unwrap().take();
            async move {
                let _held = held;
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        sup.shutdown();
        // The run was dropped, so its sender closed.
        assert!(tokio::time::timeout(Duration::from_secs(2), rx)
            .await
            .unwrap()
            .is_err());
    }
}
