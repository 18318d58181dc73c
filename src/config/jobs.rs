//! How the background tasks run (SPEC §11, §12): intervals, the restart backoff, the webhook
//! schedule. Fixed in production; tests shorten them.

use std::time::Duration;

/// How often a process runs a pass.
pub const INTERVAL: Duration = Duration::from_secs(5);

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
/// A receiver has this long to answer (SPEC §11).
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// How long to wait before restarting a task that stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure in a row.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait after `failures` (≥ 1) stops in a row: first, 2×first, … max.
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        self.first.saturating_mul(1u32 << exp).min(self.max)
    }
}

/// How the background tasks run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    /// Time between passes of each task.
    pub interval: Duration,
    /// Wait before a stopped task is started again.
    pub restart_backoff: Backoff,
    /// Most re-checks in flight at once.
    pub recheck_concurrency: usize,
    /// Waits between webhook delivery attempts (SPEC §11); after the last,
    /// a delivery is given up.
    pub webhook_retries: Vec<Duration>,
    /// How often the webhook dispatcher looks for work queued by another
    /// process (its own commits wake it at once).
    pub webhook_poll: Duration,
    /// How long a webhook receiver has to answer (SPEC §11: 15 s).
    pub webhook_timeout: Duration,
    /// How often the mailer looks for due link e-mails and reminders (SPEC §15: a reminder
    /// within 30 s of its moment).
    pub mail_poll: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            interval: INTERVAL,
            restart_backoff: Backoff::default(),
            recheck_concurrency: 4,
            webhook_retries: RETRIES.to_vec(),
            webhook_poll: Duration::from_millis(500),
            webhook_timeout: TIMEOUT,
            mail_poll: Duration::from_secs(2),
        }
    }
}
