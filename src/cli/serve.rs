//! `keydrop serve`.

use crate::clock::SharedClock;
use crate::config::{ServeArgs, ServeSettings, StoreSettings};
use crate::startup::Application;
use std::process::ExitCode;

pub async fn run(
    store: &StoreSettings,
    args: &ServeArgs,
    clock: SharedClock,
) -> anyhow::Result<ExitCode> {
    let settings = ServeSettings::from_args(args).map_err(anyhow::Error::msg)?;
    let public_url = settings.public_url.clone();
    let app = Application::build(store, settings, clock).await?;
    if let Some(token) = &app.bootstrap_token {
        // Printed once to the terminal, never logged.
        println!(
            "\nThe database was empty, so an admin API token was created.\n\
             It is shown only this once; store it in a password manager:\n\n    {}\n\n\
             Use it as `Authorization: Bearer <token>`, e.g.\n    \
             curl -H 'Authorization: Bearer <token>' {public_url}/api/v1/tokens\n",
            token.reveal()
        );
    }
    println!(
        "keydrop is listening on {}:{} (links: {public_url}; Ctrl-C to stop)",
        args.bind.ip(),
        app.port()
    );
    app.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}
