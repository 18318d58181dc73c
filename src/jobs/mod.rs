//! Background jobs: a door, like `web` and `cli`, that calls the services on a timer. The
//! rules live in the services; here is only *when* and *how often*: drop expiry, lock sweep,
//! lease expiry and retention (the `sweeps` task), re-checks of pending credentials
//! (`rechecks`, [`Services::recheck_due`](crate::service::Services::recheck_due)), the partner keep-alive (`partner_refresher`,
//! [`Services::keep_alive_pass`](crate::service::Services::keep_alive_pass)), webhook delivery (`webhook_dispatcher`, [`webhooks`]) and,
//! with a mail server, reminders and link e-mails (`mailer`, [`mail_pass`]).
//! Each pass is safe to run in every keydrop process at once (conditional updates, leases),
//! and reads "now" from the store's clock, so tests run a pass directly with a controlled
//! clock instead of waiting ([`run_once`], [`recheck_pass`], [`refresh_pass`]).
//!
//! Each kind of work is its own task under the [`supervisor`] (SPEC §12), with the service's
//! `release_batcher` and the `database_probe`. Passes that call Greenhouse run apart from the
//! sweeps — re-checks at most [`JobSettings::recheck_concurrency`] at once — so a slow
//! Greenhouse never holds up expiry, leases or retention.

pub mod supervisor;
pub mod webhooks;

pub use crate::config::JobSettings;
use crate::service::credentials::REFRESH_PASS_LIMIT;
use crate::service::Services;
use std::sync::Arc;
use std::time::Duration;
use supervisor::{Beat, Supervisor};

/// Most pending credentials one re-check pass takes.
const RECHECK_BATCH: i64 = 20;
/// Most health checks one pass takes (SPEC §15): with a pass every 5 s, up to 20 a second
/// per process — 1.7 million a day, while 100 000 credentials checked daily need 1.2.
const HEALTH_BATCH: i64 = 100;
/// Most messages one mail pass hands to the mail server (one at a time, each bounded by
/// `mail::SEND_TIMEOUT`), and most reminders it queues.
const MAIL_BATCH: i64 = 10;
/// How long one mail pass may spend sending; the rest wait for the next pass, so reminders
/// (queued first in each pass) stay within seconds of their moment however slow the mail
/// server is.
const MAIL_BUDGET: Duration = Duration::from_secs(20);
/// Rows one sweep step handles per pass.
const SWEEP_BATCH: i64 = 500;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub expired_drops: usize,
    pub locked_drops: usize,
    pub rechecked: usize,
    pub expired_leases: usize,
    pub destroyed: usize,
}

/// Run every job once: the sweeps, then the re-checks.
pub async fn run_once(state: &Services) -> PassReport {
    let (mut report, _) = sweep(state).await;
    let (rechecked, _) = recheck_pass(state).await;
    report.rechecked = rechecked;
    report
}

/// One pass of the sweeps; the second value names the first step that failed.
pub async fn sweep(state: &Services) -> (PassReport, Option<&'static str>) {
    let mut report = PassReport::default();
    let mut failed = None;
    let mut fail = |step: &'static str, e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "{step} failed");
        failed.get_or_insert(step);
    };
    match state.store.expire_drops(None, SWEEP_BATCH).await {
        Ok(ids) => report.expired_drops = ids.len(),
        Err(e) => fail("drop expiry", &e),
    }
    match state.store.lock_exhausted(None, SWEEP_BATCH).await {
        Ok(ids) => report.locked_drops = ids.len(),
        Err(e) => fail("drop lock sweep", &e),
    }
    match state.store.expire_leases(SWEEP_BATCH).await {
        Ok(n) => report.expired_leases = n,
        Err(e) => fail("lease expiry", &e),
    }
    let retain_ms =
        i64::try_from(state.settings.retain_after_delivery.as_millis()).unwrap_or(i64::MAX);
    match state.store.destroy_retained(retain_ms, SWEEP_BATCH).await {
        Ok(n) => report.destroyed = n,
        Err(e) => fail("retention sweep", &e),
    }
    // The mail outbox, in every process (with or without a mail server): links of closed
    // drops destroyed, messages past 24 h given up, old rows deleted.
    if let Err(e) = state.sweep_mail(SWEEP_BATCH).await {
        fail("mail outbox sweep", &e);
    }
    (report, failed)
}

/// One pass of re-checks of due pending credentials, a few at a time;
/// returns how many ran and whether every one went through.
pub async fn recheck_pass(state: &Services) -> (usize, bool) {
    match state
        .recheck_due(RECHECK_BATCH, state.settings.jobs.recheck_concurrency)
        .await
    {
        Ok(pass) => (pass.ran, pass.failed == 0),
        Err(e) => {
            tracing::error!(error = %e, "pending re-check failed");
            (0, false)
        }
    }
}

/// One pass of the health checks that are due (SPEC §15), `recheck_concurrency` (4) at a
/// time; returns how many ran and whether every one went through. Nothing when
/// `KEYDROP_HEALTH_CHECK_EVERY` is `off`.
pub async fn health_pass(state: &Services) -> (usize, bool) {
    let Some(every) = state.settings.health_check_every else {
        return (0, true);
    };
    match state
        .health_check_due(every, HEALTH_BATCH, state.settings.jobs.recheck_concurrency)
        .await
    {
        Ok(pass) => {
            if pass.ran > 0 {
                tracing::info!(checked = pass.ran, broken = pass.broken, "health checks");
            }
            (pass.ran, pass.failed == 0)
        }
        Err(e) => {
            tracing::error!(error = %e, "health checks failed");
            (0, false)
        }
    }
}

/// One pass of the mail outbox (SPEC §15): reminders that fell due are queued (each with a
/// new link), then due messages are handed to the mail server. Nothing without
/// `KEYDROP_SMTP_URL`. The second value is false when the database failed us (a mail server
/// that fails is retried later, and is no fault of this task).
pub async fn mail_pass(state: &Services) -> (crate::service::mail::MailPass, bool) {
    mail_pass_with(state, &|| {}).await
}

/// [`mail_pass`], calling `alive` after each message sent or tried.
async fn mail_pass_with(
    state: &Services,
    alive: &(dyn Fn() + Send + Sync),
) -> (crate::service::mail::MailPass, bool) {
    let mut ok = true;
    let reminders = match state.remind_due(MAIL_BATCH).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "queueing reminders failed");
            ok = false;
            0
        }
    };
    let mut pass = match state.send_mail_due(MAIL_BATCH, MAIL_BUDGET, alive).await {
        Ok(pass) => pass,
        Err(e) => {
            tracing::error!(error = %e, "sending link e-mails failed");
            ok = false;
            Default::default()
        }
    };
    pass.reminders = reminders;
    (pass, ok)
}

async fn mailer(state: Arc<Services>, beat: Beat) -> Result<(), String> {
    let mut tick = ticker(state.settings.jobs.mail_poll);
    loop {
        tick.tick().await;
        let alive = || beat.pass();
        match mail_pass_with(&state, &alive).await {
            (_, true) => beat.pass(),
            (_, false) => beat.failed("the mail outbox could not be read or written"),
        }
    }
}

/// Passes in a row a scheduled task may miss before it counts as degraded.
const DEGRADED_AFTER_PASSES: u32 = 5;

/// Start the `sweeps`, `rechecks`, `partner_refresher` and `webhook_dispatcher` tasks under
/// `supervisor`. Each is degraded (`/readyz` 503) once it has not passed for a few of its
/// passes — plus, for those that call Greenhouse, as long as their longest pass may take.
pub fn spawn(state: Arc<Services>, supervisor: &Supervisor) {
    let every = state.settings.jobs.interval;
    let budget = state.settings.greenhouse_budget;
    let passes = every * DEGRADED_AFTER_PASSES;
    let s = state.clone();
    supervisor.supervise_periodic("sweeps", passes, move |beat| sweeps(s.clone(), every, beat));
    // A pass takes up to RECHECK_BATCH re-checks one after another at worst, then up to
    // HEALTH_BATCH health checks `recheck_concurrency` at a time.
    let concurrency = i64::try_from(state.settings.jobs.recheck_concurrency.max(1)).unwrap_or(4);
    let rounds = u32::try_from(RECHECK_BATCH + HEALTH_BATCH / concurrency).unwrap_or(45);
    let r = state.clone();
    supervisor.supervise_periodic("rechecks", passes + budget * rounds, move |beat| {
        rechecks(r.clone(), every, beat)
    });
    let k = state.clone();
    supervisor.supervise_periodic(
        "partner_refresher",
        passes + REFRESH_PASS_LIMIT + budget,
        move |beat| refresher(k.clone(), every, beat),
    );
    if state.mailer.is_some() {
        let m = state.clone();
        // A pass sends for at most MAIL_BUDGET, plus the one send under way then; each
        // message beats.
        let longest = MAIL_BUDGET + crate::mail::SEND_TIMEOUT + Duration::from_secs(5);
        supervisor.supervise_periodic(
            "mailer",
            state.settings.jobs.mail_poll * DEGRADED_AFTER_PASSES + longest,
            move |beat| mailer(m.clone(), beat),
        );
    }
    let poll = state.settings.jobs.webhook_poll;
    supervisor.supervise_periodic(
        "webhook_dispatcher",
        poll * DEGRADED_AFTER_PASSES + state.settings.jobs.webhook_timeout * 2,
        move |beat| webhooks::run(state.clone(), beat),
    );
}

fn ticker(every: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

async fn sweeps(state: Arc<Services>, every: Duration, beat: Beat) -> Result<(), String> {
    let mut tick = ticker(every);
    loop {
        tick.tick().await;
        let (report, failed) = sweep(&state).await;
        match failed {
            None => beat.pass(),
            Some(step) => beat.failed(&format!("{step} failed")),
        }
        if report != PassReport::default() {
            tracing::info!(
                expired_drops = report.expired_drops,
                locked_drops = report.locked_drops,
                expired_leases = report.expired_leases,
                destroyed = report.destroyed,
                "background sweep"
            );
        }
    }
}

async fn rechecks(state: Arc<Services>, every: Duration, beat: Beat) -> Result<(), String> {
    let mut tick = ticker(every);
    loop {
        tick.tick().await;
        let (ran, rechecks_ok) = recheck_pass(&state).await;
        // Then the health checks, in the same task (the same 4-at-a-time budget).
        let (_, health_ok) = health_pass(&state).await;
        match (rechecks_ok, health_ok) {
            (true, true) => beat.pass(),
            (false, _) => beat.failed("a pending re-check failed"),
            (true, false) => beat.failed("a health check failed"),
        }
        if ran > 0 {
            tracing::info!(rechecked = ran, "background re-checks");
        }
    }
}

/// One keep-alive pass (`service::credentials::keep_alive`): how many grants were due, and
/// whether every refresh went through.
pub async fn refresh_pass(state: &Services) -> (usize, bool) {
    let pass = state.keep_alive_pass().await;
    (pass.due, pass.ok)
}

async fn refresher(state: Arc<Services>, every: Duration, beat: Beat) -> Result<(), String> {
    let mut tick = ticker(every);
    loop {
        tick.tick().await;
        let (due, ok) = refresh_pass(&state).await;
        if ok {
            beat.pass();
        } else {
            beat.failed("a partner grant could not be refreshed");
        }
        if due > 0 {
            tracing::info!(refreshed = due, "partner keep-alive");
        }
    }
}

/// The database connectivity probe (see [`crate::store::Store::probe`]):
/// asks every [`crate::store::PROBE_EVERY`], for ever, under the supervisor.
pub async fn probe(store: crate::store::Store, beat: Beat) -> Result<(), String> {
    loop {
        if store.probe().await {
            beat.pass();
        }
        tokio::time::sleep(crate::store::PROBE_EVERY).await;
    }
}
