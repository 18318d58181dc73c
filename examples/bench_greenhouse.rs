//! Benchmark fixture: the fake Greenhouse on loopback, knowing every Harvest v3 client
//! whose id starts with `bench-` (the ids `bench_scale_load` writes), so health checks of
//! bulk-loaded credentials find them verified. Prints `GREENHOUSE=<base url>` and serves
//! until killed.
//!
//! cargo run --release --example bench_greenhouse
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keydrop::sandbox::FakeGreenhouse;

#[tokio::main]
async fn main() {
    let fake = FakeGreenhouse::start()
        .await
        .expect("the fake Greenhouse starts");
    fake.admit_v3_clients_with_prefix("bench-");
    println!("GREENHOUSE={}", fake.base_url());
    tokio::signal::ctrl_c().await.ok();
    // SIGTERM from the script ends the process with the fake in it.
    std::future::pending::<()>().await;
}
