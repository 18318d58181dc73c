//! Scale fixture (SPEC §10, "Scale"): bulk-loads a keydrop database with
//! many credentials (each with its submitted drop) and a long audit log that
//! is a VALID hash chain, continuing from whatever the database already
//! holds, so `keydrop audit verify` passes and a server started afterwards
//! appends to the same chain.
//!
//! ```sh
//! cargo run --release --example bench_scale_load -- <database url> <master key base64> \
//!     [--credentials 1000000] [--events 10000000] [--mix realistic|waiting]
//! ```
//!
//! `--mix realistic` (default): ~94 % verified, ~3 % insufficient, ~3 %
//! invalid; of the verified ones most are `destroyed` or `delivered`, ~5 % are
//! `waiting` (the newest) and ~0.1 % are `leased` (lease running for a day).
//! `--mix waiting`: every credential verified and waiting (the claim
//! benchmark's supply on an otherwise empty database).
//!
//! Every credential that still has a secret carries a real envelope sealed
//! under the given master key, so claims and secret reads really decrypt.
//! Rows go in as multi-row INSERTs of `--batch` rows, many batches per
//! transaction (SQLite: `synchronous=OFF` on the loader's connection;
//! PostgreSQL: `synchronous_commit=off`). A generator thread computes rows,
//! envelopes and chain hashes while the main task writes. Delivered
//! credentials are given a delivery time inside the default 7-day retention,
//! so the retention sweep has nothing to destroy during a measurement.

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use keydrop::clock::SystemClock;
use keydrop::crypto::cipher::{self, Binding};
use keydrop::crypto::keyring::{Keyring, MasterKey};
use keydrop::crypto::sha256_hex;
use keydrop::domain::audit::{canonical, chain_hash};
use keydrop::domain::drop::DropRequest;
use keydrop::store::Store;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Connection, Executor, Row};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

#[derive(Parser)]
struct Args {
    /// sqlite:///path/keydrop.db or postgres://…
    url: String,
    /// The master key (base64) the benchmark will serve with.
    key: String,
    #[arg(long, default_value_t = 1_000_000)]
    credentials: u64,
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    #[arg(long, default_value = "realistic")]
    mix: String,
    /// Rows per INSERT statement.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Rows per transaction.
    #[arg(long, default_value_t = 200_000)]
    tx_rows: u64,
}

const DAY_MS: i64 = 86_400_000;

/// One row of `drops` (state `submitted`) and one of `credentials`.
struct Pair {
    drop_id: String,
    token_hash: String,
    org: String,
    kind: &'static str,
    created_at: i64,
    cred_id: String,
    status: &'static str,
    hint: String,
    verification: String,
    delivery: &'static str,
    envelope: Option<cipher::Envelope>,
    lease_id: Option<String>,
    lease_expires_at: Option<i64>,
    delivered_at: Option<i64>,
    destroyed_at: Option<i64>,
}

struct Event {
    seq: i64,
    at: i64,
    actor: String,
    action: &'static str,
    subject: String,
    ip: Option<String>,
    details: String,
    hash: String,
    mac: String,
}

enum Batch {
    Pairs(Vec<Pair>),
    Events(Vec<Event>),
    /// The chain's new head: (seq, hash).
    Done(i64, String),
}

/// A tiny deterministic PRNG (splitmix64): the same arguments give the same data.
fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn uuid_from(seed: u64, salt: u64) -> String {
    let hi = mix64(seed ^ salt.rotate_left(17));
    let lo = mix64(hi ^ seed.rotate_left(7));
    uuid::Builder::from_random_bytes(
        [hi.to_be_bytes(), lo.to_be_bytes()]
            .concat()
            .try_into()
            .unwrap_or([0; 16]),
    )
    .into_uuid()
    .to_string()
}

fn verification(outcome: &str, at_ms: i64) -> String {
    let checked_at = keydrop::clock::rfc3339(keydrop::clock::from_millis(at_ms));
    let (missing, message) = match outcome {
        "verified" => ("[]", "All required permissions are granted."),
        "insufficient" => (
            r#"["harvest:candidates:list"]"#,
            "Some required permissions are missing.",
        ),
        _ => ("[]", "Greenhouse refused this credential."),
    };
    format!(
        r#"{{"outcome":"{outcome}","checked_at":"{checked_at}","granted":["harvest:users:list","harvest:jobs:list"],"missing_required":{missing},"missing_optional":[],"message":"{message}"}}"#
    )
}

struct Generator {
    keyring: Keyring,
    audit: keydrop::crypto::audit::AuditKey,
    args_credentials: u64,
    events: u64,
    waiting_only: bool,
    now: i64,
    salt: u64,
    start_seq: i64,
    seq: i64,
    hash: String,
    issuer: String,
    worker: String,
}

impl Generator {
    fn pair(&self, i: u64) -> Result<Pair> {
        let n = self.args_credentials.max(1);
        let r = mix64(i.wrapping_mul(31).wrapping_add(7));
        // Spread over the past year, oldest first, newest a day before now.
        let span = 365 * DAY_MS;
        let created_at = self.now - span - DAY_MS + (span as u128 * i as u128 / n as u128) as i64;
        let drop_id = uuid_from(i, self.salt + 1);
        let cred_id = uuid_from(i, self.salt + 2);
        let kind = if r.is_multiple_of(10) {
            "harvest_v1"
        } else {
            "harvest_v3"
        };
        let newest = i * 100 >= n * 94; // the newest 6 %
        let (status, delivery) = if self.waiting_only {
            ("verified", "waiting")
        } else {
            let s = match (r >> 8) % 100 {
                0..=2 => "invalid",
                3..=5 => "insufficient",
                _ => "verified",
            };
            let d = match (s, newest, (r >> 16) % 1000) {
                ("verified", true, 0..=19) => "leased",
                ("verified", true, 20..=849) => "waiting",
                ("verified", true, _) => "delivered",
                ("verified", false, 0..=329) => "delivered",
                (_, true, _) => "waiting",
                _ => "destroyed",
            };
            (s, d)
        };
        let secret = if kind == "harvest_v1" {
            format!(r#"{{"kind":"harvest_v1","api_key":"bench{:016x}"}}"#, r)
        } else {
            format!(
                r#"{{"kind":"harvest_v3","client_id":"bench-{:08x}","client_secret":"bench-secret-{:016x}","user_id":null}}"#,
                r as u32, r
            )
        };
        let hint = secret
            .chars()
            .rev()
            .skip(if kind == "harvest_v1" { 2 } else { 17 })
            .take(4)
            .collect::<String>()
            .chars()
            .rev()
            .collect();
        let envelope = if delivery == "destroyed" {
            None
        } else {
            let binding = Binding {
                credential_id: &cred_id,
                drop_id: &drop_id,
                kind,
            };
            Some(cipher::encrypt(&self.keyring, binding, secret.as_bytes())?)
        };
        let jitter = (r >> 24) as i64 % (5 * DAY_MS);
        let delivered_at = match delivery {
            // Inside the 7-day retention, whenever it was created.
            "delivered" => Some((created_at + 600_000).max(self.now - 6 * DAY_MS + jitter)),
            "destroyed" if status == "verified" => Some(created_at + 600_000),
            _ => None,
        };
        let destroyed_at = match delivery {
            "destroyed" => Some(delivered_at.unwrap_or(created_at) + 7 * DAY_MS),
            _ => None,
        };
        let (lease_id, lease_expires_at) = if delivery == "leased" {
            (Some(uuid_from(i, self.salt + 3)), Some(self.now + DAY_MS))
        } else {
            (None, None)
        };
        Ok(Pair {
            drop_id,
            token_hash: sha256_hex(&[
                b"bench-scale-link",
                &i.to_be_bytes(),
                &self.salt.to_be_bytes(),
            ]),
            org: format!("Bench Org {}", r % 5000),
            kind,
            created_at,
            cred_id,
            status,
            hint,
            verification: verification(status, created_at - 1000),
            delivery,
            envelope,
            lease_id,
            lease_expires_at,
            delivered_at,
            destroyed_at,
        })
    }

    /// This credential's share of the audit log, in order.
    fn events_for(&mut self, i: u64, p: &Pair, out: &mut Vec<Event>) {
        let n = self.args_credentials.max(1);
        let k = self.events / n + u64::from(i < self.events % n);
        if k == 0 {
            return;
        }
        let ip = Some(format!("10.{}.{}.{}", i % 200, (i / 200) % 250, i % 7 + 1));
        let drop_subject = format!("drop:{}", p.drop_id);
        let cred_subject = format!("credential:{}", p.cred_id);
        let lease = uuid_from(i, self.salt + 4);
        let mut planned: Vec<(String, &'static str, String, Option<String>, Value)> = vec![
            (
                self.issuer.clone(),
                "drop.create",
                drop_subject.clone(),
                Some("10.0.0.5".into()),
                json!({"org": p.org, "kind": p.kind, "profile": "full-analytics",
                       "expires_at": p.created_at + 7 * DAY_MS, "max_attempts": 5}),
            ),
            (
                "public".into(),
                "drop.submit",
                drop_subject,
                ip.clone(),
                json!({"credential": p.cred_id, "status": p.status, "hint": p.hint,
                       "missing_optional": []}),
            ),
        ];
        let claimed = matches!(p.delivery, "leased" | "delivered")
            || (p.delivery == "destroyed" && p.status == "verified");
        if claimed {
            planned.push((
                self.worker.clone(),
                "credential.claim",
                cred_subject.clone(),
                Some("10.0.1.9".into()),
                json!({"lease": lease, "drop": p.drop_id,
                       "lease_expires_at": keydrop::clock::rfc3339(keydrop::clock::from_millis(p.created_at + 300_000))}),
            ));
        }
        if matches!(p.delivery, "delivered" | "destroyed") && p.status == "verified" {
            planned.push((
                self.worker.clone(),
                "credential.ack",
                cred_subject.clone(),
                Some("10.0.1.9".into()),
                json!({"lease": lease}),
            ));
        }
        let tail = if p.delivery == "destroyed" {
            Some((
                "system".to_owned(),
                "credential.destroy",
                cred_subject.clone(),
                None,
                json!({"reason": "retention"}),
            ))
        } else {
            None
        };
        let fixed = planned.len() as u64 + u64::from(tail.is_some());
        for _ in fixed..k {
            planned.push((
                self.worker.clone(),
                "credential.secret_read",
                cred_subject.clone(),
                Some("10.0.1.9".into()),
                json!({}),
            ));
        }
        planned.extend(tail);
        planned.truncate(k as usize);
        for (j, (actor, action, subject, ip, details)) in planned.into_iter().enumerate() {
            self.seq += 1;
            let at = p.created_at - 3_600_000 + j as i64 * 1000;
            let content = canonical(
                self.seq,
                at,
                &actor,
                action,
                &subject,
                ip.as_deref(),
                &details,
            );
            self.hash = chain_hash(&self.hash, &content);
            out.push(Event {
                seq: self.seq,
                at,
                actor,
                action,
                subject,
                ip,
                details: details.to_string(),
                mac: self.audit.event_mac(self.seq, &self.hash),
                hash: self.hash.clone(),
            });
        }
    }

    fn run(mut self, batch: usize, tx: mpsc::Sender<Batch>) -> Result<()> {
        let mut pairs = Vec::with_capacity(batch);
        let mut events = Vec::with_capacity(batch * 2);
        let mut pending_events: Vec<Event> = Vec::new();
        for i in 0..self.args_credentials {
            let p = self.pair(i)?;
            self.events_for(i, &p, &mut pending_events);
            pairs.push(p);
            if pairs.len() == batch {
                tx.blocking_send(Batch::Pairs(std::mem::take(&mut pairs)))?;
            }
            events.append(&mut pending_events);
            while events.len() >= batch {
                let rest = events.split_off(batch);
                tx.blocking_send(Batch::Events(std::mem::replace(&mut events, rest)))?;
            }
        }
        // More events than credentials can carry (e.g. --credentials 0):
        // token and key bookkeeping, so the log still reaches its size.
        let mut extra = self.events.saturating_sub(self.seq_added());
        while extra > 0 {
            self.seq += 1;
            let details = json!({});
            let content = canonical(
                self.seq,
                self.now,
                "cli",
                "token.create",
                "token:bench",
                None,
                &details,
            );
            self.hash = chain_hash(&self.hash, &content);
            events.push(Event {
                seq: self.seq,
                at: self.now,
                actor: "cli".into(),
                action: "token.create",
                subject: "token:bench".into(),
                ip: None,
                details: details.to_string(),
                mac: self.audit.event_mac(self.seq, &self.hash),
                hash: self.hash.clone(),
            });
            if events.len() >= batch {
                tx.blocking_send(Batch::Events(std::mem::take(&mut events)))?;
            }
            extra -= 1;
        }
        if !pairs.is_empty() {
            tx.blocking_send(Batch::Pairs(pairs))?;
        }
        if !events.is_empty() {
            tx.blocking_send(Batch::Events(events))?;
        }
        tx.blocking_send(Batch::Done(self.seq, self.hash.clone()))?;
        Ok(())
    }

    fn seq_added(&self) -> u64 {
        u64::try_from(self.seq - self.start_seq).unwrap_or(0)
    }
}

/// `($1, …, $cols), (…), …` for `rows` rows; with `anonymous`, `(?, …)`:
/// SQLite looks each `$N` name up by a linear walk, which makes binding
/// thousands of them quadratic, while `?` binds by position.
fn values_sql(head: &str, cols: usize, rows: usize, anonymous: bool) -> String {
    let mut sql = String::with_capacity(head.len() + rows * cols * 7);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            if anonymous {
                sql.push('?');
            } else {
                sql.push('$');
                sql.push_str(&(r * cols + c + 1).to_string());
            }
        }
        sql.push(')');
    }
    sql
}

const DROPS_HEAD: &str =
    "INSERT INTO drops (id, token_hash, org, note, kind, profile, state, created_at, \
     expires_at, attempts, checking, max_attempts, credential_id, created_by, updated_at)";
const CREDS_HEAD: &str =
    "INSERT INTO credentials (id, drop_id, org, kind, status, hint, verification, \
     delivery, key_version, wrapped_key, ciphertext, lease_id, lease_expires_at, next_check_at, \
     check_failures, created_at, delivered_at, destroyed_at)";
const EVENTS_HEAD: &str =
    "INSERT INTO audit_events (seq, at, actor, action, subject, ip, details, hash, mac)";

struct Writer {
    conn: AnyConnection,
    sql: HashMap<(&'static str, usize), String>,
    sqlite: bool,
    open: bool,
    in_tx: u64,
    tx_rows: u64,
    profile: String,
    issuer: String,
}

impl Writer {
    fn sql(&mut self, head: &'static str, cols: usize, rows: usize) -> String {
        self.sql
            .entry((head, rows))
            .or_insert_with(|| values_sql(head, cols, rows, self.sqlite))
            .clone()
    }

    async fn before(&mut self) -> Result<()> {
        if !self.open {
            self.conn.execute("BEGIN").await?;
            self.open = true;
        }
        Ok(())
    }

    async fn after(&mut self, rows: usize) -> Result<()> {
        self.in_tx += rows as u64;
        if self.in_tx >= self.tx_rows {
            self.commit().await?;
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<()> {
        if self.open {
            self.conn.execute("COMMIT").await?;
            self.open = false;
            self.in_tx = 0;
        }
        Ok(())
    }

    async fn pairs(&mut self, pairs: &[Pair]) -> Result<()> {
        self.before().await?;
        let sql = self.sql(DROPS_HEAD, 15, pairs.len());
        let mut q = sqlx::query(&sql);
        for p in pairs {
            q = q
                .bind(&p.drop_id)
                .bind(&p.token_hash)
                .bind(&p.org)
                .bind(None::<String>)
                .bind(p.kind)
                .bind(&self.profile)
                .bind("submitted")
                .bind(p.created_at - 3_600_000)
                .bind(p.created_at - 3_600_000 + 7 * DAY_MS)
                .bind(1_i64)
                .bind(0_i64)
                .bind(5_i64)
                .bind(&p.cred_id)
                .bind(&self.issuer)
                .bind(p.created_at);
        }
        q.execute(&mut self.conn).await.context("inserting drops")?;
        let sql = self.sql(CREDS_HEAD, 18, pairs.len());
        let mut q = sqlx::query(&sql);
        for p in pairs {
            let env = p.envelope.as_ref();
            q = q
                .bind(&p.cred_id)
                .bind(&p.drop_id)
                .bind(&p.org)
                .bind(p.kind)
                .bind(p.status)
                .bind(&p.hint)
                .bind(&p.verification)
                .bind(p.delivery)
                .bind(env.map(|e| e.key_version))
                .bind(env.map(|e| e.wrapped_key.clone()))
                .bind(env.map(|e| e.ciphertext.clone()))
                .bind(p.lease_id.clone())
                .bind(p.lease_expires_at)
                .bind(None::<i64>)
                .bind(0_i64)
                .bind(p.created_at)
                .bind(p.delivered_at)
                .bind(p.destroyed_at);
        }
        q.execute(&mut self.conn)
            .await
            .context("inserting credentials")?;
        self.after(pairs.len() * 2).await
    }

    async fn events(&mut self, events: &[Event]) -> Result<()> {
        self.before().await?;
        let sql = self.sql(EVENTS_HEAD, 9, events.len());
        let mut q = sqlx::query(&sql);
        for e in events {
            q = q
                .bind(e.seq)
                .bind(e.at)
                .bind(&e.actor)
                .bind(e.action)
                .bind(&e.subject)
                .bind(e.ip.clone())
                .bind(&e.details)
                .bind(&e.hash)
                .bind(&e.mac);
        }
        q.execute(&mut self.conn)
            .await
            .context("inserting audit events")?;
        self.after(events.len()).await
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let waiting_only = match args.mix.as_str() {
        "realistic" => false,
        "waiting" => true,
        other => bail!("--mix must be realistic or waiting, not {other:?}"),
    };
    if args.batch == 0 || args.batch > 1800 {
        bail!("--batch must be 1..=1800 (18 parameters a row, 32 766 at most a statement)");
    }
    let keyring =
        Keyring::single(MasterKey::from_base64(&args.key).map_err(|e| anyhow!("master key: {e}"))?);
    let sqlite = args.url.starts_with("sqlite:");
    // Create the schema (migrations) and record the key's check value.
    let store = Store::open(&args.url, Arc::new(SystemClock)).await?;
    store
        .ensure_key_checks(&keyring)
        .await?
        .map_err(|e| anyhow!("the master key does not fit this database: {e:?}"))?;
    // The events are MACed under the audit key, as keydrop writes them.
    let audit = keydrop::service::secrets::audit_key(&store, &keyring).await?;
    store.close().await;

    let mut conn = AnyConnection::connect(&args.url).await?;
    if sqlite {
        conn.execute("PRAGMA journal_mode = WAL").await?;
        conn.execute("PRAGMA synchronous = OFF").await?;
        conn.execute("PRAGMA cache_size = -262144").await?;
        conn.execute("PRAGMA temp_store = MEMORY").await?;
    } else {
        conn.execute("SET synchronous_commit = off").await?;
    }
    let head = sqlx::query("SELECT seq, hash, keyed_from FROM audit_head WHERE id = 1")
        .fetch_one(&mut conn)
        .await?;
    let start_seq: i64 = head.try_get("seq")?;
    let start_hash: String = head.try_get("hash")?;
    let keyed_from: i64 = head
        .try_get::<Option<i64>, _>("keyed_from")?
        .unwrap_or(start_seq + 1);

    let spec = DropRequest {
        org: "Bench Org".into(),
        ..Default::default()
    }
    .validate(keydrop::greenhouse::registry())
    .map_err(|e| anyhow!("drop spec: {e:?}"))?;
    let profile = serde_json::to_string(&spec.profile)?;
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let issuer = format!("token:{}", uuid_from(1, 0xA11CE));
    let generator = Generator {
        keyring,
        audit: audit.clone(),
        args_credentials: args.credentials,
        events: args.events,
        waiting_only,
        now,
        salt: u64::try_from(start_seq)? << 3,
        start_seq,
        seq: start_seq,
        hash: start_hash,
        issuer: issuer.clone(),
        worker: format!("token:{}", uuid_from(2, 0xB0B)),
    };
    let (tx, mut rx) = mpsc::channel(16);
    let batch = args.batch;
    let gen = std::thread::spawn(move || generator.run(batch, tx));

    let total = args.credentials * 2 + args.events;
    let bar = ProgressBar::new(total);
    bar.set_style(ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} rows ({per_sec}, eta {eta})",
    )?);
    let mut writer = Writer {
        conn,
        sql: HashMap::new(),
        sqlite,
        open: false,
        in_tx: 0,
        tx_rows: args.tx_rows,
        profile,
        issuer,
    };
    let started = Instant::now();
    let mut done = 0_u64;
    let mut next_report = total / 10;
    let mut head = None;
    while let Some(b) = rx.recv().await {
        let rows = match b {
            Batch::Pairs(p) => {
                writer.pairs(&p).await?;
                p.len() as u64 * 2
            }
            Batch::Events(e) => {
                writer.events(&e).await?;
                e.len() as u64
            }
            Batch::Done(seq, hash) => {
                head = Some((seq, hash));
                0
            }
        };
        done += rows;
        bar.inc(rows);
        if bar.is_hidden() && done >= next_report && total > 0 {
            eprintln!(
                "{done}/{total} rows, {:.0} s, {:.0} rows/s",
                started.elapsed().as_secs_f64(),
                done as f64 / started.elapsed().as_secs_f64()
            );
            next_report += total / 10;
        }
    }
    gen.join()
        .map_err(|_| anyhow!("the generator thread panicked"))??;
    let (seq, hash) = head.ok_or_else(|| anyhow!("the generator stopped early"))?;
    writer.before().await?;
    sqlx::query(
        "UPDATE audit_head SET seq = $1, hash = $2, mac = $3, keyed_from = $4 WHERE id = 1",
    )
    .bind(seq)
    .bind(&hash)
    .bind(audit.head_mac(seq, &hash, keyed_from))
    .bind(keyed_from)
    .execute(&mut writer.conn)
    .await?;
    writer.commit().await?;
    bar.finish();
    let load_s = started.elapsed().as_secs_f64();
    let mut conn = writer.conn;
    if sqlite {
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    } else {
        // What autovacuum would have done on a database that grew this big.
        conn.execute("VACUUM ANALYZE").await?;
    }
    conn.close().await?;
    println!(
        "loaded {} credentials (+ drops) and {} audit events in {load_s:.1} s \
         ({:.0} rows/s); chain head now seq {seq}; total {:.1} s",
        args.credentials,
        seq - start_seq,
        done as f64 / load_s,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
