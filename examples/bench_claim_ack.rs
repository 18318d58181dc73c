//! Claim + ack load generator (SPEC §10, "Scale"): each connection loops
//! `POST /api/v1/credentials/claim` then `POST /api/v1/credentials/{id}/ack`
//! with the lease it got, until the time or the count runs out or there is
//! nothing left to claim (204). Prints pairs/s and latency percentiles.
//!
//! ```sh
//! WORKER=<worker token> cargo run --release --example bench_claim_ack -- \
//!     http://127.0.0.1:18480 [--connections 32] [--seconds 10] [--max 20000]
//! ```

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Base URL of a running `keydrop serve`.
    base: String,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Stop after this many claim+ack pairs in all.
    #[arg(long, default_value_t = 20_000)]
    max: u64,
    /// Worker token (else $WORKER).
    #[arg(long, env = "WORKER", hide_env_values = true)]
    token: String,
}

#[derive(Default)]
struct Samples {
    claim: Vec<u64>,
    ack: Vec<u64>,
    errors: u64,
    /// What the errors were: an HTTP status, or "io".
    kinds: std::collections::BTreeMap<String, u64>,
    empty: u64,
}

impl Samples {
    fn error(&mut self, kind: impl Into<String>) {
        self.errors += 1;
        *self.kinds.entry(kind.into()).or_default() += 1;
    }
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)] as f64 / 1000.0
}

async fn worker(
    client: reqwest::Client,
    base: Arc<str>,
    auth: Arc<str>,
    deadline: Instant,
    max: u64,
    taken: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Samples {
    let mut s = Samples::default();
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        if taken.fetch_add(1, Ordering::Relaxed) >= max {
            break;
        }
        let t0 = Instant::now();
        let claim = client
            .post(format!("{base}/api/v1/credentials/claim"))
            .header("Authorization", &*auth)
            .send()
            .await;
        let Ok(resp) = claim else {
            s.error("claim io");
            continue;
        };
        match resp.status().as_u16() {
            200 => {}
            204 => {
                s.empty += 1;
                stop.store(true, Ordering::Relaxed);
                break;
            }
            other => {
                s.error(format!("claim {other}"));
                continue;
            }
        }
        let Ok(body) = resp.json::<Value>().await else {
            s.error("claim body");
            continue;
        };
        s.claim.push(t0.elapsed().as_micros() as u64);
        let (Some(id), Some(lease)) = (
            body["credential"]["id"].as_str(),
            body["lease"]["id"].as_str(),
        ) else {
            s.error("claim body");
            continue;
        };
        let t1 = Instant::now();
        let ack = client
            .post(format!("{base}/api/v1/credentials/{id}/ack"))
            .header("Authorization", &*auth)
            .header("Content-Type", "application/json")
            .body(format!(r#"{{"lease_id":"{lease}"}}"#))
            .send()
            .await;
        match ack {
            Ok(r) if r.status().is_success() => {
                // Read the body so the connection is reused.
                if r.bytes().await.is_err() {
                    s.error("ack io");
                    continue;
                }
                s.ack.push(t1.elapsed().as_micros() as u64);
            }
            Ok(r) => s.error(format!("ack {}", r.status().as_u16())),
            Err(_) => s.error("ack io"),
        }
    }
    s
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(30))
        .build()
        .context("http client")?;
    let base: Arc<str> = args.base.trim_end_matches('/').into();
    let auth: Arc<str> = format!("Bearer {}", args.token).into();
    let taken = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| {
            tokio::spawn(worker(
                client.clone(),
                base.clone(),
                auth.clone(),
                deadline,
                args.max,
                taken.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let mut all = Samples::default();
    for t in tasks {
        let s = t.await?;
        all.claim.extend(s.claim);
        all.ack.extend(s.ack);
        all.errors += s.errors;
        for (k, n) in s.kinds {
            *all.kinds.entry(k).or_default() += n;
        }
        all.empty += s.empty;
    }
    let secs = started.elapsed().as_secs_f64();
    let pairs = all.ack.len();
    let kinds = if all.kinds.is_empty() {
        String::new()
    } else {
        format!(" {:?}", all.kinds)
    };
    println!(
        "claim+ack: {pairs} pairs in {secs:.1} s = {:.0} pairs/s ({} connections); \
         claim p50 {:.2} ms p99 {:.2} ms; ack p50 {:.2} ms p99 {:.2} ms; errors {}{}{}",
        pairs as f64 / secs,
        args.connections,
        pct(&mut all.claim, 0.5),
        pct(&mut all.claim, 0.99),
        pct(&mut all.ack, 0.5),
        pct(&mut all.ack, 0.99),
        all.errors,
        kinds,
        if all.empty > 0 {
            " (ran out of waiting credentials)"
        } else {
            ""
        }
    );
    Ok(())
}
