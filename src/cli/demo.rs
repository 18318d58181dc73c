//! `keydrop demo`: the whole flow offline, in one command. A fresh data
//! directory with its own throwaway keyring, the built-in Greenhouse sandbox, four open drops
//! (a Harvest v3 credential, a Candidate Ingestion key, Connect with Greenhouse and a legacy
//! v1 key) with a contact and a support address, sample credentials that verify and that miss
//! a permission, metrics on a listener of their own, and webhooks allowed to a receiver on
//! this machine — with the commands to try each printed.

use crate::clock::SharedClock;
use crate::config::{ServeSettings, StoreSettings};
use crate::crypto::{hex, random};
use crate::domain::drop::DropRequest;
use crate::domain::role::Role;
use crate::sandbox::{FakeGreenhouse, IngestionUser, V3Client};
use crate::service;
use crate::startup::Application;
use clap::Args;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct DemoArgs {
    /// Listen address.
    #[arg(long, env = "KEYDROP_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Where Prometheus metrics are served (port 0: any free port, printed).
    #[arg(long, env = "KEYDROP_METRICS_BIND", default_value = "127.0.0.1:0")]
    pub metrics_bind: SocketAddr,
    /// The port of the sample webhook receiver the demo prints (webhooks to this machine
    /// are allowed in the demo).
    #[arg(long, default_value_t = 8765)]
    pub receiver_port: u16,
}

pub async fn run(args: &DemoArgs, clock: SharedClock) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("keydrop-demo-{}", hex(&random::bytes::<6>()?)));
    // A throwaway keyring of the demo's own, written before the start: the production
    // warning about a generated master key is not for it.
    std::fs::create_dir_all(&dir)?;
    let keyring_file = dir.join("keyring.json");
    crate::crypto::keyring::Keyring::single(crate::crypto::keyring::MasterKey::generate()?)
        .write_new(&keyring_file)?;
    let store_settings = StoreSettings {
        data_dir: dir.clone(),
        database_url: crate::config::DatabaseUrl::new(format!(
            "sqlite://{}",
            dir.join("keydrop.db").display()
        )),
        keyring_file,
        keyring_file_set: true,
        master_key: None,
        custody: crate::config::CustodySettings::file(),
    };
    let fake = FakeGreenhouse::start().await?;
    let suffix = || -> anyhow::Result<String> { Ok(hex(&random::bytes::<12>()?)) };
    let good = (
        "demo-complete-1001".to_owned(),
        format!("demo-secret-{}", suffix()?),
    );
    let partial = (
        "demo-partial-1002".to_owned(),
        format!("demo-secret-{}", suffix()?),
    );
    fake.add_v3_client(
        V3Client::new(&good.0, &good.1)
            .with_all_resources()
            .with_organization(7_000_001, "Demo Customer Inc."),
    );
    fake.add_v3_client(
        V3Client::new(&partial.0, &partial.1)
            .with_resources(["users", "jobs", "departments"])
            .with_organization(7_000_001, "Demo Customer Inc."),
    );
    let ingestion_key = format!("demo-ingest-{}", suffix()?);
    let (ingestion_user, basic_user) = (
        "pat.admin@demo-customer.example",
        "sam.basic@demo-customer.example",
    );
    let board = "democustomer";
    fake.add_ingestion_key(&ingestion_key);
    fake.add_ingestion_user(IngestionUser::site_admin(7001, ingestion_user, "Pat Admin"));
    fake.add_ingestion_user(IngestionUser::basic(7002, basic_user, "Sam Basic"));
    fake.add_job_board(board, "Demo Customer Inc.");
    let v1_key = format!("demo-v1-{}", suffix()?);
    let v1_profile = crate::greenhouse::Profile::default_for(crate::greenhouse::kinds::HARVEST_V1);
    fake.add_v1_key(
        &v1_key,
        v1_profile.required.iter().chain(&v1_profile.optional),
    );
    let demo_partner_secret = format!("demo-partner-{}", uuid::Uuid::new_v4().simple());
    fake.add_partner_client(DEMO_PARTNER_ID, &demo_partner_secret);
    fake.set_partner_organization(7_000_001, "Demo Customer Inc.");

    let public_url = format!("http://{}", args.bind);
    let settings = ServeSettings {
        bind: args.bind,
        public_url: public_url.clone(),
        brand_name: "keydrop demo".into(),
        support_email: Some(DEMO_SUPPORT.into()),
        brand_logo: None,
        egress_ips: Vec::new(),
        greenhouse_auth_url: fake.base_url().to_owned(),
        greenhouse_api_url: fake.base_url().to_owned(),
        greenhouse_ingestion_url: fake.base_url().to_owned(),
        greenhouse_boards_url: fake.base_url().to_owned(),
        greenhouse_timeout: Duration::from_secs(5),
        greenhouse_budget: Duration::from_secs(15),
        retain_after_delivery: Duration::from_secs(7 * 86_400),
        trusted_proxies: Vec::new(),
        rate_limit: None,
        // Receivers on this machine, as the printed sample is.
        webhook_allow_private: true,
        metrics_bind: Some(args.metrics_bind),
        // A sandbox partner client, so "Connect with Greenhouse" works offline.
        partner: Some(crate::greenhouse::PartnerClient::new(
            DEMO_PARTNER_ID,
            zeroize::Zeroizing::new(demo_partner_secret.clone()),
        )),
        partner_refresh_every: Duration::from_secs(8 * 3600),
        // Every minute (not daily), so a credential broken in the sandbox (step 8) is found
        // while you watch.
        health_check_every: Some(Duration::from_secs(60)),
        smtp: None,
        reminder_before: Some(Duration::from_secs(24 * 3600)),
        body_timeout: crate::config::BODY_TIMEOUT,
        console: crate::config::ConsoleSettings::default(),
        jobs: crate::jobs::JobSettings::default(),
    };
    let app = Application::build(&store_settings, settings, clock.clone()).await?;
    let store = app.store().clone();
    let checker = &app.state().checker;
    let contact = || crate::domain::contact::Contact {
        name: DEMO_CONTACT.0.into(),
        email: DEMO_CONTACT.1.into(),
    };
    let make = |kind: Option<&'static str>, note: &str| {
        DropRequest {
            org: "Demo Customer Inc.".into(),
            note: Some(note.into()),
            kind: kind.map(crate::domain::kind::Kind::from_static),
            contact: Some(contact()),
            ..DropRequest::default()
        }
        .validate(crate::greenhouse::registry())
        .map_err(anyhow::Error::msg)
    };
    let mut links = Vec::new();
    for (kind, note) in [
        (
            None,
            "This is a demo link: paste one of the sample credentials printed in the terminal.",
        ),
        (
            Some("candidate_ingestion"),
            "This demo link asks for a Candidate Ingestion key: use the sample printed in the terminal.",
        ),
        (
            Some("harvest_v3_partner"),
            "This demo link uses Connect with Greenhouse: click the button, the sandbox approves at once.",
        ),
        (
            Some("harvest_v1"),
            "This demo link asks for a legacy Harvest v1 key: use the sample printed in the terminal.",
        ),
    ] {
        let created =
            service::drops::create(
                &store,
                checker,
                make(kind, note)?,
                &crate::domain::event::Origin::cli(),
                &public_url,
                None,
            )
                .await?;
        links.push(created);
    }
    let [created, ingestion, partner, v1] = match <[_; 4]>::try_from(links) {
        Ok(all) => all,
        Err(_) => anyhow::bail!("the demo's drops could not be created"),
    };
    let console_link = match crate::service::console::create_link(
        &store,
        "admin@keydrop-demo.example",
        Role::Admin,
        crate::service::console::MAX_LINK_TTL,
        &crate::domain::event::Origin::cli(),
    )
    .await
    {
        Ok(token) => format!("{public_url}/console/link/{}", token.reveal()),
        Err(e) => anyhow::bail!("the demo's console link: {e}"),
    };
    let tokens = &app.state().tokens;
    let issuer = demo_token(&store, tokens, "demo issuer", Role::Issuer).await?;
    let worker = demo_token(&store, tokens, "demo worker", Role::Worker).await?;
    let admin = app
        .bootstrap_token
        .as_ref()
        .map(|t| t.reveal().to_owned())
        .unwrap_or_default();
    // This very binary, so the commands below can be pasted as they are.
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "keydrop".into());

    let metrics_url = app
        .metrics_port()
        .map(|port| format!("http://{}:{port}/metrics", args.metrics_bind.ip()))
        .unwrap_or_default();
    let receiver = args.receiver_port;
    // At the left margin, so it pastes into a shell as it is.
    let receiver_script = format!(
        "python3 - <<'PY'\n\
         from http.server import BaseHTTPRequestHandler, HTTPServer\n\
         class Hook(BaseHTTPRequestHandler):\n\
         \x20   def do_POST(self):\n\
         \x20       body = self.rfile.read(int(self.headers[\"Content-Length\"]))\n\
         \x20       print(self.headers[\"webhook-id\"], body.decode(), flush=True)\n\
         \x20       self.send_response(204); self.end_headers()\n\
         \x20   def log_message(self, *args): pass\n\
         HTTPServer((\"127.0.0.1\", {receiver}), Hook).serve_forever()\n\
         PY\n"
    );
    // To the terminal only (stdout), never to the log.
    println!(
        "\nkeydrop demo — everything runs on this machine; Greenhouse is a built-in sandbox.\n\
         Greenhouse sandbox: {sandbox}\n\
         Data (deleted on exit): {dir}\n\
         The per-address rate limit on customer posts is off in the demo (`serve` defaults to 30/min).\n\n\
         1. Open the customer link:\n     {link}\n\n\
         2. Paste a credential that verifies:\n     Client ID:     {good_id}\n     Client Secret: {good_secret}\n\n\
         \x20  or one that misses scopes (you will see which):\n     Client ID:     {partial_id}\n     Client Secret: {partial_secret}\n\n\
         \x20  A second link asks for a Candidate Ingestion key instead:\n     {ingestion_link}\n\
         \x20    API key:         {ingestion_key}\n\
         \x20    User e-mail:     {ingestion_user}   (or {basic_user}: a Basic user, verified without candidates)\n\
         \x20    Job board token: {board}   (optional)\n\n\
         \x20  A third link shows \"Connect with Greenhouse\" (partner OAuth; workers get access tokens only):\n     {partner_link}\n\n\
         \x20  A fourth asks for a legacy Harvest v1 key (retired by Greenhouse; kept for old accounts):\n     {v1_link}\n\
         \x20    API key (v1):    {v1_key}\n\n\
         3. Look at it as staff and as a worker (the README's examples use these variables):\n\
         \x20    export ADMIN={admin} ISSUER={issuer} WORKER={worker}\n\
         \x20    curl -s -H \"Authorization: Bearer $ADMIN\" {public_url}/api/v1/drops/{drop_id}\n\
         \x20    curl -s -H \"Authorization: Bearer $ADMIN\" {public_url}/api/v1/audit\n\
         \x20    curl -s -H \"Authorization: Bearer $WORKER\" -X POST {public_url}/api/v1/credentials/claim\n\n\
         4. The command line works on the demo's data while it runs:\n\
         \x20    {exe} --data-dir {dir} drop list\n\
         \x20    {exe} --data-dir {dir} audit verify\n\n\
         5. Webhooks: start this receiver in another terminal (it prints each event)…\n\n\
         {receiver_script}\n\
         \x20  …then register it (the signing secret is printed once) and submit a link again:\n\
         \x20    {exe} --data-dir {dir} webhook add http://127.0.0.1:{receiver}/ --allow-private\n\n\
         6. Metrics (Prometheus text), on a listener of their own:\n\
         \x20    curl -s {metrics_url}\n\n\
         7. The staff console (first pages), signed in as an admin by a single-use link (1 hour):\n\
         \x20    {console_link}\n\n\
         8. Break a credential the way a customer would in Greenhouse, after submitting it above:\n\
         \x20    curl -s -X POST {sandbox}/_sandbox/v3/{good_id}/revoke              (deleted)\n\
         \x20    curl -s -X POST {sandbox}/_sandbox/v3/{good_id}/remove/candidates   (a permission unticked)\n\
         \x20    curl -s -X POST {sandbox}/_sandbox/partner/disconnect                (the app disconnected)\n\
         \x20  Within a minute the health check reports it (`credential.broken`, the console's dashboard);\n\
         \x20  relink it from its drop's page in the console.\n\n\
         Customers see {contact_name} ({contact_email}) as their contact, and {support} on the \
         unknown-link page.\n\n\
         Ctrl-C stops the demo.\n",
        dir = dir.display(),
        link = created.url(),
        good_id = good.0,
        good_secret = good.1,
        partial_id = partial.0,
        partial_secret = partial.1,
        issuer = issuer.reveal(),
        worker = worker.reveal(),
        drop_id = created.drop.id,
        ingestion_link = ingestion.url(),
        partner_link = partner.url(),
        v1_link = v1.url(),
        sandbox = fake.base_url(),
        contact_name = DEMO_CONTACT.0,
        contact_email = DEMO_CONTACT.1,
        support = DEMO_SUPPORT,
    );
    let result = app.run_until_stopped().await;
    fake.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    Ok(ExitCode::SUCCESS)
}

/// The contact every demo drop names.
const DEMO_CONTACT: (&str, &str) = ("Dana Demo", "dana@keydrop-demo.example");
/// `KEYDROP_SUPPORT_EMAIL` of the demo.
const DEMO_SUPPORT: &str = "support@keydrop-demo.example";

/// The sandbox partner OAuth client of the demo (its secret is random per run).
const DEMO_PARTNER_ID: &str = "keydrop-demo-partner-1";

/// A token for the demo, created (and audited) like `keydrop token create`.
async fn demo_token(
    store: &crate::store::Store,
    tokens: &service::tokens::Tokens,
    name: &str,
    role: Role,
) -> anyhow::Result<crate::crypto::token::ApiToken> {
    let (_, token) =
        service::tokens::create(store, tokens, name.to_owned(), role, "cli", None).await?;
    Ok(token)
}
