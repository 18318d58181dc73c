//! `keydrop serve`.

use crate::clock::SharedClock;
use crate::config::{ServeArgs, ServeSettings, StoreSettings};
use crate::startup::{Application, BootstrapSink};
use std::process::ExitCode;

pub async fn run(
    store: &StoreSettings,
    args: &ServeArgs,
    clock: SharedClock,
) -> anyhow::Result<ExitCode> {
    let settings = ServeSettings::from_args(args).map_err(anyhow::Error::msg)?;
    let public_url = settings.public_url.clone();
    let sink = BootstrapSink::for_serve(&store.data_dir, &public_url);
    let app = Application::build_with(store, settings, clock, sink).await?;
    println!(
        "keydrop is listening on {}:{} (links: {public_url}; Ctrl-C to stop)",
        args.bind.ip(),
        app.port()
    );
    app.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}
