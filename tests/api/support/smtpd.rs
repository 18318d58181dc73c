//! A real SMTP server on loopback for one test (SPEC §15): `aiosmtpd` (PyPI, or Debian's
//! `python3-aiosmtpd`) with its `Mailbox` handler, which files every message it accepts into
//! a Maildir the test reads. `KEYDROP_TEST_SMTPD` names a Python that can import aiosmtpd
//! (`.ci/run` sets it); without it the tests are ignored with the reason (build.rs).

use super::processes::free_port;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Smtpd {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// Offer STARTTLS with a self-signed certificate (`openssl` makes it).
    tls: bool,
}

impl Smtpd {
    /// A server on a free port, listening when this returns.
    pub async fn start() -> Self {
        let mut s = Self::on(free_port());
        s.restart().await;
        s
    }

    /// Where a server will listen, not started yet (its mail server is "down").
    pub fn on(port: u16) -> Self {
        Self {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
            tls: false,
        }
    }

    /// A server that offers STARTTLS with a self-signed certificate for `localhost`: one no
    /// client that checks certificates may trust.
    pub async fn start_with_untrusted_tls() -> Self {
        let mut s = Self::on(free_port());
        let (key, cert) = (s.dir.path().join("key.pem"), s.dir.path().join("cert.pem"));
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(made.success(), "openssl could not make a certificate");
        s.tls = true;
        s.restart().await;
        s
    }

    /// Start (again) on the same port and Maildir.
    pub async fn restart(&mut self) {
        let python = std::env::var("KEYDROP_TEST_SMTPD")
            .ok()
            .filter(|v| !v.is_empty())
            .expect("KEYDROP_TEST_SMTPD is not set");
        let mut child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(if self.tls {
                vec![
                    "--tlscert".to_owned(),
                    self.dir.path().join("cert.pem").display().to_string(),
                    "--tlskey".to_owned(),
                    self.dir.path().join("key.pem").display().to_string(),
                ]
            } else {
                Vec::new()
            })
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.dir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.child = Some(child);
                return;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("aiosmtpd exited ({status}) before it listened");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not listen within 10 s");
    }

    /// Kill it (`SIGKILL`): the port refuses connections until [`Smtpd::restart`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `KEYDROP_SMTP_*` for a keydrop that sends through it.
    pub fn settings(&self) -> keydrop::config::SmtpSettings {
        keydrop::config::SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            security: keydrop::config::SmtpSecurity::Plain,
            username: None,
            password: None,
            from: "Acme Integrations <links@acme.example>".into(),
        }
    }

    /// Every message received so far, raw, in the order they arrived.
    pub fn messages(&self) -> Vec<String> {
        let mut found = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.dir.path().join("mail").join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let modified = e.metadata().and_then(|m| m.modified()).ok();
                found.push((modified, std::fs::read_to_string(e.path()).unwrap()));
            }
        }
        found.sort_by_key(|(t, _)| *t);
        found.into_iter().map(|(_, m)| m).collect()
    }

    /// Wait (up to 20 s) until at least `n` messages arrived; all of them.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        self.wait_for_within(n, Duration::from_secs(20)).await
    }

    /// [`Smtpd::wait_for`], up to `limit`.
    pub async fn wait_for_within(&self, n: usize, limit: Duration) -> Vec<String> {
        let rounds = limit.as_millis() / 50;
        for _ in 0..rounds {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} message(s) arrived, not {n}", self.messages().len());
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The link in a message's plain-text part (quoted-printable undone).
pub fn link_in(message: &str) -> String {
    let text = unfold_qp(message);
    let start = text.find("/d/").expect("no link in the message");
    let begin = text[..start].rfind("http").unwrap();
    let token: String = text[start + 3..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("{}/d/{token}", &text[begin..start])
}

/// A message with quoted-printable soft line breaks and `=XX` escapes undone (enough to read
/// the ASCII of its bodies).
pub fn unfold_qp(message: &str) -> String {
    let joined = message.replace("=\r\n", "").replace("=\n", "");
    let mut out = String::with_capacity(joined.len());
    let mut chars = joined.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '=' {
            let hex: String = chars.clone().take(2).collect();
            if hex.len() == 2
                && hex
                    .chars()
                    .all(|h| h.is_ascii_hexdigit() && !h.is_ascii_lowercase())
            {
                if let Ok(b) = u8::from_str_radix(&hex, 16) {
                    if b.is_ascii() {
                        out.push(char::from(b));
                        chars.next();
                        chars.next();
                        continue;
                    }
                }
            }
        }
        out.push(c);
    }
    out
}
