//! Webhook load generator (SPEC §10: ≥ 500 deliveries/s to a local receiver,
//! p50 < 250 ms from the committed change to the receiver).
//!
//! Runs the real `keydrop` release binary on a fresh database, registers
//! `--endpoints` endpoints (with the CLI, before `serve`) that point to a
//! receiver this program runs itself, then:
//! 1. **paced**: creates drops through the API at `--rate`/s for `--seconds`,
//!    and measures each delivery's latency: from the moment the API call that
//!    committed the change returned (a lower bound of the true latency: the
//!    commit happened a little earlier), and from the `timestamp` in the body
//!    (an upper bound: taken when the change's transaction began);
//! 2. **burst**: creates `--burst` drops as fast as `--connections` clients
//!    can, and measures deliveries/s while they drain, and the same latencies.
//!
//! Every `drop.created` goes to every endpoint, so deliveries = drops ×
//! endpoints. Each request's signature is checked. Only `webhook.*` and
//! `drop.created` events happen here.
//!
//! ```sh
//! cargo build --release --bin keydrop --example bench_webhooks
//! target/release/examples/bench_webhooks                          # SQLite in a temp dir
//! target/release/examples/bench_webhooks --postgres postgres://postgres@127.0.0.1:5432/test
//! target/release/examples/bench_webhooks --receive-only 18491     # a receiver alone (bench/run.sh)
//! ```
//! With `--postgres`, a database `keydrop_bench_webhooks_<pid>` is created
//! next to the one named and dropped at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use anyhow::{bail, Context, Result};
use base64::Engine as _;
use clap::Parser;
use serde_json::Value;
use sqlx::{Connection, Executor};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

#[derive(Parser)]
struct Args {
    /// The keydrop binary.
    #[arg(long, default_value = "target/release/keydrop")]
    bin: String,
    /// Run on a fresh database next to this PostgreSQL one (else SQLite).
    #[arg(long)]
    postgres: Option<String>,
    /// Webhook endpoints registered (each hears every event).
    #[arg(long, default_value_t = 3)]
    endpoints: usize,
    /// Paced phase: drops created per second…
    #[arg(long, default_value_t = 50)]
    rate: u64,
    /// …for this long.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Burst phase: drops created as fast as possible.
    #[arg(long, default_value_t = 3000)]
    burst: usize,
    /// Clients creating drops in the burst.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Port keydrop listens on.
    #[arg(long, default_value_t = 18_470)]
    port: u16,
    /// Only run a receiver that answers 204 on this port, until killed.
    #[arg(long)]
    receive_only: Option<u16>,
}

/// One request the receiver got.
struct Got {
    at: Instant,
    wall: OffsetDateTime,
    id: String,
    timestamp: String,
    signature: String,
    body: web::Bytes,
}

#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Got>>,
    /// Keep nothing (`--receive-only`).
    forget: bool,
}

async fn receive(req: HttpRequest, body: web::Bytes, rx: web::Data<Receiver>) -> HttpResponse {
    let at = Instant::now();
    let wall = keydrop::clock::Clock::now(&keydrop::clock::SystemClock);
    let h = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    if rx.forget {
        return HttpResponse::NoContent().finish();
    }
    rx.got.lock().unwrap().push(Got {
        at,
        wall,
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        body,
    });
    HttpResponse::NoContent().finish()
}

/// Start a receiver on `port` (0: any); returns its port.
fn start_receiver(port: u16, rx: Arc<Receiver>) -> Result<u16> {
    let data = web::Data::from(rx);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .default_service(web::to(receive))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", port))?;
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    Ok(port)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM would be kinder; the numbers are taken by then.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Env {
    bin: String,
    vars: Vec<(&'static str, String)>,
}

impl Env {
    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.env_clear();
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    /// Run a CLI command and return its standard output.
    fn run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .cmd()
            .args(args)
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running {} {args:?}", self.bin))?;
        if !out.status.success() {
            bail!("{} {args:?} failed: {}", self.bin, out.status);
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[(((v.len() - 1) as f64) * p).round() as usize]
}

/// Check one request's signature against any of `secrets`.
fn verifies(secrets: &[Vec<u8>], g: &Got) -> bool {
    let mut signed = format!("{}.{}.", g.id, g.timestamp).into_bytes();
    signed.extend_from_slice(&g.body);
    secrets.iter().any(|key| {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        g.signature.split(' ').any(|s| {
            s.strip_prefix("v1,")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .is_some_and(|sig| ring::hmac::verify(&key, &signed, &sig).is_ok())
        })
    })
}

/// Create one drop; returns its id and when the call returned.
async fn create_drop(http: &reqwest::Client, base: &str, admin: &str, i: usize) -> Result<String> {
    let res = http
        .post(format!("{base}/api/v1/drops"))
        .bearer_auth(admin)
        .json(&serde_json::json!({ "org": format!("Bench Org {i}") }))
        .send()
        .await?;
    if res.status() != 201 {
        bail!("creating a drop answered {}", res.status());
    }
    let body: Value = res.json().await?;
    Ok(body["id"].as_str().context("no drop id")?.to_owned())
}

/// What one phase measured.
struct Phase {
    name: &'static str,
    drops: usize,
    create_secs: f64,
    deliveries: usize,
    /// First to last receipt.
    deliver_secs: f64,
    /// Receipt minus API return, ms.
    from_return: Vec<f64>,
    /// Receipt minus body timestamp, ms.
    from_timestamp: Vec<f64>,
    bad_signatures: usize,
    duplicates: usize,
}

impl Phase {
    fn print(&mut self) {
        println!(
            "{}: {} drops created in {:.2} s ({:.0}/s); {} deliveries in {:.2} s from the first \
             to the last = {:.0} deliveries/s; latency from the API's answer p50 {:.1} ms p90 {:.1} \
             ms p99 {:.1} ms max {:.1} ms; from the body timestamp p50 {:.1} ms p99 {:.1} ms; \
             bad signatures {}, duplicates {}",
            self.name,
            self.drops,
            self.create_secs,
            self.drops as f64 / self.create_secs,
            self.deliveries,
            self.deliver_secs,
            self.deliveries as f64 / self.deliver_secs,
            pct(&mut self.from_return, 0.5),
            pct(&mut self.from_return, 0.9),
            pct(&mut self.from_return, 0.99),
            pct(&mut self.from_return, 1.0),
            pct(&mut self.from_timestamp, 0.5),
            pct(&mut self.from_timestamp, 0.99),
            self.bad_signatures,
            self.duplicates,
        );
    }
}

/// Wait until `want` requests arrived after index `from`, then measure them
/// against the drops' return times.
async fn collect(
    name: &'static str,
    rx: &Receiver,
    from: usize,
    returned: &HashMap<String, Instant>,
    create_secs: f64,
    endpoints: usize,
    secrets: &[Vec<u8>],
) -> Result<Phase> {
    let want = returned.len() * endpoints;
    let started = Instant::now();
    loop {
        let n = rx.got.lock().unwrap().len() - from;
        if n >= want {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("{name}: only {n} of {want} deliveries arrived within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Let a duplicate show up if there is one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = rx.got.lock().unwrap();
    let got = &got[from..];
    let mut phase = Phase {
        name,
        drops: returned.len(),
        create_secs,
        deliveries: got.len(),
        deliver_secs: got
            .last()
            .zip(got.first())
            .map_or(0.0, |(l, f)| (l.at - f.at).as_secs_f64()),
        from_return: Vec::with_capacity(got.len()),
        from_timestamp: Vec::with_capacity(got.len()),
        bad_signatures: 0,
        duplicates: 0,
    };
    let mut seen = std::collections::HashSet::new();
    for g in got {
        if !verifies(secrets, g) {
            phase.bad_signatures += 1;
        }
        // One message per drop, sent to each endpoint: the pair is unique.
        if !seen.insert((g.id.clone(), g.signature.clone())) {
            phase.duplicates += 1;
        }
        let body: Value = serde_json::from_slice(&g.body)?;
        if let Some(t) = body["data"]["drop_id"]
            .as_str()
            .and_then(|d| returned.get(d))
        {
            phase
                .from_return
                .push(g.at.saturating_duration_since(*t).as_secs_f64() * 1000.0);
        }
        if let Some(ts) = body["timestamp"]
            .as_str()
            .and_then(|t| keydrop::clock::parse_rfc3339(t).ok())
        {
            phase
                .from_timestamp
                .push((g.wall - ts).as_seconds_f64() * 1000.0);
        }
    }
    Ok(phase)
}

async fn run(args: Args) -> Result<()> {
    let work = tempfile::tempdir()?;
    let key = base64::engine::general_purpose::STANDARD.encode(rand_bytes());
    let (url, pg_admin) = match &args.postgres {
        Some(base) => {
            sqlx::any::install_default_drivers();
            let name = format!("keydrop_bench_webhooks_{}", std::process::id());
            let mut conn = sqlx::AnyConnection::connect(base).await?;
            conn.execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
                .await?;
            conn.execute(format!("CREATE DATABASE {name}").as_str())
                .await?;
            let root = base.rsplit_once('/').map_or(base.as_str(), |(r, _)| r);
            (format!("{root}/{name}"), Some((conn, name)))
        }
        None => (
            format!("sqlite://{}/keydrop.db", work.path().display()),
            None,
        ),
    };
    let result = bench(&args, &url, &key, work.path()).await;
    if let Some((mut conn, name)) = pg_admin {
        conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await?;
    }
    result
}

fn rand_bytes() -> [u8; 32] {
    keydrop::crypto::random::bytes::<32>().unwrap()
}

async fn bench(args: &Args, url: &str, key: &str, dir: &std::path::Path) -> Result<()> {
    let rx = Arc::new(Receiver::default());
    let rx_port = start_receiver(0, rx.clone())?;
    let env = Env {
        bin: args.bin.clone(),
        vars: vec![
            ("KEYDROP_DATABASE_URL", url.to_owned()),
            ("KEYDROP_MASTER_KEY", key.to_owned()),
            ("KEYDROP_DATA_DIR", dir.display().to_string()),
            ("KEYDROP_LOG", "warn".into()),
            ("KEYDROP_RATE_LIMIT", "off".into()),
            ("KEYDROP_WEBHOOK_ALLOW_PRIVATE", "true".into()),
        ],
    };
    let admin = env.run(&["token", "create", "--name", "bench", "--role", "admin"])?;
    let mut secrets = Vec::new();
    for i in 0..args.endpoints {
        let secret = env.run(&[
            "webhook",
            "add",
            &format!("http://127.0.0.1:{rx_port}/hooks/{i}"),
            "--events",
            "drop.created",
        ])?;
        let raw = secret.strip_prefix("whsec_").context("a whsec_ secret")?;
        secrets.push(base64::engine::general_purpose::STANDARD.decode(raw)?);
    }
    let _server = Server(
        env.cmd()
            .args(["serve", "--bind", &format!("127.0.0.1:{}", args.port)])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting keydrop serve")?,
    );
    let base = format!("http://127.0.0.1:{}", args.port);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections.max(1))
        .timeout(Duration::from_secs(30))
        .build()?;
    let up = Instant::now();
    while http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        if up.elapsed() > Duration::from_secs(30) {
            bail!("keydrop did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "keydrop on {}, {} endpoints, receiver on 127.0.0.1:{rx_port}",
        if args.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        args.endpoints
    );
    // Warm up: connections, caches, the first deliveries.
    let mut warm = HashMap::new();
    for i in 0..20 {
        warm.insert(create_drop(&http, &base, &admin, i).await?, Instant::now());
    }
    collect("warm-up", &rx, 0, &warm, 1.0, args.endpoints, &secrets).await?;

    // 1. Paced.
    let from = rx.got.lock().unwrap().len();
    let n = usize::try_from(args.rate * args.seconds)?;
    let every = Duration::from_secs_f64(1.0 / args.rate.max(1) as f64);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..n {
        tick.tick().await;
        let (http, base, admin) = (http.clone(), base.clone(), admin.clone());
        calls.spawn(async move {
            let id = create_drop(&http, &base, &admin, 1000 + i).await?;
            anyhow::Ok((id, Instant::now()))
        });
    }
    let mut returned = HashMap::new();
    while let Some(r) = calls.join_next().await {
        let (id, at) = r??;
        returned.insert(id, at);
    }
    let secs = started.elapsed().as_secs_f64();
    collect(
        "paced",
        &rx,
        from,
        &returned,
        secs,
        args.endpoints,
        &secrets,
    )
    .await?
    .print();

    // 2. Burst.
    let from = rx.got.lock().unwrap().len();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..args.connections {
        let (http, base, admin, next) = (http.clone(), base.clone(), admin.clone(), next.clone());
        let total = args.burst;
        clients.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let id = create_drop(&http, &base, &admin, 100_000 + i).await?;
                mine.push((id, Instant::now()));
            }
            anyhow::Ok(mine)
        });
    }
    let mut returned = HashMap::new();
    while let Some(r) = clients.join_next().await {
        returned.extend(r??);
    }
    let secs = started.elapsed().as_secs_f64();
    collect(
        "burst",
        &rx,
        from,
        &returned,
        secs,
        args.endpoints,
        &secrets,
    )
    .await?
    .print();
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(port) = args.receive_only {
        let rx = Arc::new(Receiver {
            forget: true,
            ..Receiver::default()
        });
        let port = start_receiver(port, rx)?;
        eprintln!("receiver on 127.0.0.1:{port}");
        std::future::pending::<()>().await;
    }
    run(args).await
}
