//! E-mail out (SPEC §15): the mail server keydrop hands link messages to, and the messages
//! themselves. An outside system like Greenhouse or a key custody, so on floor 4; the outbox
//! and its retries are the service's (`service::mail`).
//!
//! The client is `lettre` (async on tokio; TLS by rustls with the webpki roots):
//! `smtps://` is TLS from the first byte, `smtp://` requires STARTTLS — a server that does not
//! offer it is refused — except to a loopback relay. Errors are reduced to a status code or a
//! category: the server's own text may quote the recipient and is never kept or logged.

mod message;

pub use message::{compose, LinkMail, Why};

use crate::config::{SmtpSecurity, SmtpSettings};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use std::time::Duration;

/// How long one message may take, connection and TLS included.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a message did not reach the mail server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (connection, TLS, timeout, a 4xx answer).
    #[error("{0}")]
    Transient(String),
    /// The server refused it for good (a 5xx answer): retrying cannot help.
    #[error("{0}")]
    Permanent(String),
}

/// A mail server, ready to take messages. Cheap to share; each message opens its own
/// connection (a handful of link e-mails a minute needs no pool).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
    label: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.label)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `settings`, greeting the server as `hello` (the public URL's host).
    /// Fails on a `From` that is not a mailbox or a host lettre cannot use.
    pub fn new(settings: &SmtpSettings, hello: &str) -> Result<Self, String> {
        let from: lettre::message::Mailbox = settings.from.parse().map_err(|e| {
            format!(
                "KEYDROP_SMTP_FROM {:?} is not an e-mail address (\"Name <a@b.example>\" or \
                 \"a@b.example\"): {e}",
                settings.from
            )
        })?;
        let builder = match settings.security {
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host),
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
            }
            SmtpSecurity::Plain => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                settings.host.clone(),
            )),
        }
        .map_err(|e| format!("KEYDROP_SMTP_URL: {e}"))?;
        let mut builder = builder
            .port(settings.port)
            .timeout(Some(SEND_TIMEOUT))
            .hello_name(ClientId::Domain(hello.to_owned()));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            label: settings.label(),
        })
    }

    /// The sender of every message.
    pub fn from(&self) -> &lettre::message::Mailbox {
        &self.from
    }

    /// `smtp://host:port`, for logs and staff.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Hand `message` to the mail server.
    pub async fn send(&self, message: lettre::Message) -> Result<(), SendError> {
        match tokio::time::timeout(
            SEND_TIMEOUT + Duration::from_secs(5),
            self.transport.send(message),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(SendError::Transient("the mail server timed out".into())),
        }
    }
}

/// Whether a connection error is TLS refusing the server (a certificate no root vouches for,
/// a failed handshake): rustls's words, found in the error's source chain.
fn tls_failed(e: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string().to_ascii_lowercase();
        if text.contains("certificate") || text.contains("handshake") || text.contains("tls") {
            return true;
        }
        source = s.source();
    }
    false
}

/// A status code or a category; never the server's text.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    if let Some(code) = e.status() {
        let what = format!("the mail server answered {code}");
        return if e.is_permanent() {
            SendError::Permanent(what)
        } else {
            SendError::Transient(what)
        };
    }
    SendError::Transient(
        // A client error's text is lettre's own, never the server's.
        if e.is_client() && e.to_string().contains("STARTTLS") {
            "the mail server does not offer STARTTLS, which smtp:// requires off loopback (use \
             smtps://, or enable STARTTLS on the server)"
        } else if e.is_client() {
            "the mail server's answer could not be understood"
        } else if e.is_timeout() {
            "the mail server timed out"
        } else if e.is_tls() || tls_failed(e) {
            "TLS with the mail server failed (STARTTLS required, certificate checked)"
        } else {
            "could not reach the mail server"
        }
        .into(),
    )
}
