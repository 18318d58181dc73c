//! What rendering one customer page costs (SPEC §10), without HTTP: the `GET /d/{token}` page
//! of an open drop of every registered kind, its default profile, the bench fixture's brand.
//! A page view served from the one-second cache does not render; the first view of a link
//! (and every view after a second) does.
//!
//! `cargo run --release --example bench_render [-- <renders per kind>]`

use keydrop::greenhouse::{registry, Profile};
use keydrop::web::pages::{drop_page, PageContext};
use std::time::Instant;
use time::macros::datetime;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    for kind in registry().all() {
        let mut ctx = PageContext::new("keydrop");
        ctx.org = Some("Bench Org".into());
        let page = keydrop::web::pages::DropPage {
            ctx,
            org: "Bench Org".into(),
            note: Some("A note from staff, with <angle brackets> & ampersands.".into()),
            kind,
            profile: Profile::default_for(kind),
            expires_at: datetime!(2026-11-23 09:00 UTC),
            now: datetime!(2026-11-20 09:00 UTC),
            csrf_token: "1764000000000.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into(),
            attempts_left: 5,
            returning: false,
        };
        let bytes = drop_page(&page, None).into_string().len();
        let started = Instant::now();
        let mut total = 0;
        for _ in 0..n {
            total += drop_page(&page, None).into_string().len();
        }
        let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        assert_eq!(total, bytes * n as usize);
        println!(
            "{:<22} {bytes:>6} bytes  {us:>7.1} us per render",
            kind.name()
        );
    }
}
