//! The command line (SPEC §7). Every command exits non-zero with a one-line
//! reason on error.

mod audit;
mod console;
mod credential;
mod demo;
mod drop;
mod keys;
mod serve;
mod token;
mod webhook;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{GlobalArgs, LogFormat, ServeArgs, StoreSettings};
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "keydrop",
    version,
    about = "One-time upload links for Greenhouse Harvest credentials: checked once, encrypted at rest, released to ingestion workers with an audit trail."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Serve with a built-in Greenhouse sandbox, one open drop and sample credentials.
    Demo(demo::DemoArgs),
    /// Manage one-time upload links.
    #[command(subcommand)]
    Drop(drop::DropCommand),
    /// Credentials: relink one that broke.
    #[command(subcommand)]
    Credential(credential::CredentialCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Manage master keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Check the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Manage webhook endpoints.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// The staff console: single-use sign-in links.
    #[command(subcommand)]
    Console(console::ConsoleCommand),
}

/// Parse the command line, run the command, turn any error into one line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::Error::new(e)),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("keydrop: error: {}", one_line(e));
    ExitCode::FAILURE
}

/// The error and its causes on one line, each said once: a cause whose words the line
/// already holds (a wrapper that quotes its source) is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let store_settings = StoreSettings::from_args(&cli.global).map_err(anyhow::Error::msg)?;
    let clock: SharedClock = Arc::new(SystemClock);
    match cli.command {
        Command::Serve(args) => serve::run(&store_settings, &args, clock).await,
        Command::Migrate => {
            let store = crate::startup::open_store(&store_settings, clock).await?;
            println!(
                "database {} is at the latest schema",
                store_settings.database_url
            );
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => demo::run(&args, clock).await,
        Command::Drop(cmd) => drop::run(cmd, &store_settings, clock).await,
        Command::Token(cmd) => token::run(cmd, &store_settings, clock).await,
        Command::Credential(cmd) => credential::run(cmd, &store_settings, clock).await,
        Command::Keys(cmd) => keys::run(cmd, &store_settings, clock).await,
        Command::Audit(cmd) => audit::run(cmd, &store_settings, clock).await,
        Command::Webhook(cmd) => webhook::run(cmd, &store_settings, clock).await,
        Command::Console(cmd) => console::run(cmd, &store_settings, clock).await,
    }
}

/// Logs go to stderr; `KEYDROP_LOG` (or `RUST_LOG`) filters them.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("KEYDROP_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info,sqlx=warn,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
