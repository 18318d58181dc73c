//! The health of supervised background tasks (SPEC §12): what each reports
//! ([`Beat`]), as the supervisor (`jobs::supervisor`) records it and
//! `/readyz` and the metrics read it. On the ground floor, so the services
//! that run under supervision and the metrics need nothing above them.
//! Nothing here may hold a secret.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Whether a task is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// A run is in progress.
    Up,
    /// The last run stopped; the next one starts after the backoff.
    Restarting,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Restarting => "restarting",
        }
    }
}

/// What the registry knows about one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskHealth {
    pub name: String,
    pub state: TaskState,
    /// How many times a run stopped and was started again.
    pub restarts: u64,
    /// Why the last run stopped or the last pass failed (for the log and
    /// metrics; never served over HTTP).
    pub last_error: Option<String>,
    /// When the task last reported a successful pass.
    pub last_pass: Option<OffsetDateTime>,
    /// For a task that passes on a schedule: how long without a successful pass means it
    /// is failing every pass (degraded), though it runs.
    pub stale_after: Option<Duration>,
    /// The last successful pass, or when the task was registered (real, monotonic time:
    /// degradation is about the process, whatever clock the tests drive).
    pub last_good: Instant,
}

impl TaskHealth {
    pub fn is_down(&self) -> bool {
        self.state != TaskState::Up
    }

    /// Running, but no successful pass for longer than it should take.
    pub fn is_degraded(&self, now: Instant) -> bool {
        self.state == TaskState::Up
            && self
                .stale_after
                .is_some_and(|limit| now.saturating_duration_since(self.last_good) > limit)
    }
}

/// Handed to each run of a task, to report how its passes go.
#[derive(Debug, Clone)]
pub struct Beat {
    registry: Registry,
    clock: crate::clock::SharedClock,
    name: Arc<str>,
    passed: Arc<std::sync::atomic::AtomicBool>,
}

impl Beat {
    /// The beat of one run of task `name`.
    pub fn new(registry: Registry, clock: crate::clock::SharedClock, name: Arc<str>) -> Self {
        Self {
            registry,
            clock,
            name,
            passed: Default::default(),
        }
    }

    /// Set once a pass of this run succeeded.
    pub fn passed(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.passed.clone()
    }

    /// A pass of the task's work succeeded.
    pub fn pass(&self) {
        let now = self.clock.now();
        self.passed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.registry.update(&self.name, |t| {
            t.last_pass = Some(now);
            t.last_good = std::time::Instant::now();
        });
    }

    /// A pass failed but the task goes on (e.g. the database blinked).
    /// `error` must name no secret.
    pub fn failed(&self, error: &str) {
        self.registry
            .update(&self.name, |t| t.last_error = Some(error.to_owned()));
    }
}

/// The health of every supervised task; cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct Registry(Arc<Mutex<BTreeMap<String, TaskHealth>>>);

impl Registry {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, TaskHealth>> {
        // A panic while holding this lock leaves only plain data behind.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn update(&self, name: &str, f: impl FnOnce(&mut TaskHealth)) {
        let mut tasks = self.lock();
        let entry = tasks.entry(name.to_owned()).or_insert_with(|| TaskHealth {
            name: name.to_owned(),
            state: TaskState::Up,
            restarts: 0,
            last_error: None,
            last_pass: None,
            stale_after: None,
            last_good: Instant::now(),
        });
        f(entry);
    }

    /// Every task, by name.
    pub fn snapshot(&self) -> Vec<TaskHealth> {
        self.lock().values().cloned().collect()
    }

    /// One task, if it is registered.
    pub fn get(&self, name: &str) -> Option<TaskHealth> {
        self.lock().get(name).cloned()
    }

    /// The names of the tasks that run but have not passed for too long.
    pub fn degraded(&self) -> Vec<String> {
        let now = Instant::now();
        self.lock()
            .values()
            .filter(|t| t.is_degraded(now))
            .map(|t| t.name.clone())
            .collect()
    }

    /// The names of the tasks that are not running.
    pub fn down(&self) -> Vec<String> {
        self.lock()
            .values()
            .filter(|t| t.is_down())
            .map(|t| t.name.clone())
            .collect()
    }
}
