//! Tells the test suite which of its optional halves can run here, so the
//! others show up in `cargo test` as *ignored*, with the reason, instead of
//! passing without having run:
//!
//! - `keydrop_no_postgres` when `KEYDROP_TEST_POSTGRES_URL` is unset (the
//!   PostgreSQL half of `on_both_backends!` and the two-process test);
//! - `keydrop_no_browser` when `KEYDROP_TEST_CHROMEDRIVER` is unset (the
//!   headless-Chromium tests);
//! - `keydrop_no_axe` when `KEYDROP_TEST_AXE` (the path of axe-core's
//!   `axe.min.js`, installed by `.ci/run`) is unset (the accessibility check);
//! - `keydrop_no_oidc_provider` when `KEYDROP_TEST_OIDC_PROVIDER` (a directory where the npm
//!   package `oidc-provider` v9 is installed, as `.ci/run` does) is unset (console single
//!   sign-on through a real provider);
//! - `keydrop_no_moto`, `keydrop_no_bao`, `keydrop_no_softhsm2` when
//!   `KEYDROP_TEST_MOTO_SERVER` (the `moto_server` command), `KEYDROP_TEST_BAO` (the `bao`
//!   command) or `KEYDROP_TEST_SOFTHSM2` (the path of `libsofthsm2.so`) is unset (the key
//!   custodies of SPEC §14 against real servers; `.ci/run` installs all three);
//! - `keydrop_no_smtpd` when `KEYDROP_TEST_SMTPD` (a Python that imports `aiosmtpd`) is unset
//!   (links by e-mail, SPEC §15, through a real SMTP server).
//!
//! `keydrop_never` is declared and never set (a test macro's "no extra condition").
//!
//! Cargo re-runs this when one of the variables changes, so setting one rebuilds
//! the crate and its tests once. Nothing in the service itself uses these.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(keydrop_never)");
    // The migrations are embedded by `sqlx::migrate!`: a new file must rebuild.
    println!("cargo::rerun-if-changed=migrations");
    for (var, cfg) in [
        ("KEYDROP_TEST_POSTGRES_URL", "keydrop_no_postgres"),
        ("KEYDROP_TEST_CHROMEDRIVER", "keydrop_no_browser"),
        ("KEYDROP_TEST_AXE", "keydrop_no_axe"),
        ("KEYDROP_TEST_OIDC_PROVIDER", "keydrop_no_oidc_provider"),
        ("KEYDROP_TEST_MOTO_SERVER", "keydrop_no_moto"),
        ("KEYDROP_TEST_BAO", "keydrop_no_bao"),
        ("KEYDROP_TEST_SOFTHSM2", "keydrop_no_softhsm2"),
        ("KEYDROP_TEST_SMTPD", "keydrop_no_smtpd"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var_os(var).is_none_or(|v| v.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
