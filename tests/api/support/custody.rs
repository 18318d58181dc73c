//! The real key custodies of SPEC §14, started on loopback for one test:
//! `moto_server` (AWS KMS), an OpenBao dev server (Transit) and a SoftHSM2
//! token in a temporary directory (PKCS#11). `.ci/run` installs them and
//! names them in `KEYDROP_TEST_MOTO_SERVER`, `KEYDROP_TEST_BAO` and
//! `KEYDROP_TEST_SOFTHSM2`; without the variable the tests are ignored with
//! the reason (build.rs).

use super::helpers::remember_secret;
use super::processes::free_port;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    AwsKms,
    Transit,
    Pkcs11,
}

/// A running custody server (or token) and how keydrop reaches it.
pub struct CustodyServer {
    pub kind: Kind,
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    port: u16,
    /// What `keydrop` needs in its environment to reach the custody.
    pub env: Vec<(String, String)>,
    /// `KEYDROP_KEY_CUSTODY` of the key made for the test.
    pub custody: String,
    /// Another key of the same custody (for "the wrong key").
    pub other: String,
    http: reqwest::Client,
}

fn var(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{name} is not set"))
}

async fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}) before it listened");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 30 s");
}

impl CustodyServer {
    pub async fn start(kind: Kind) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let http = reqwest::Client::new();
        let mut server = Self {
            kind,
            child: None,
            dir,
            port: 0,
            env: Vec::new(),
            custody: String::new(),
            other: String::new(),
            http,
        };
        match kind {
            Kind::AwsKms => server.start_moto().await,
            Kind::Transit => server.start_bao().await,
            Kind::Pkcs11 => server.init_softhsm(),
        }
        server
    }

    fn set(&mut self, k: &str, v: impl Into<String>) {
        self.env.push((k.to_owned(), v.into()));
    }

    async fn start_moto(&mut self) {
        self.port = free_port();
        // moto checks SigV4 signatures and IAM policies once its first
        // five actions (the set-up below) are done.
        let mut child = Command::new(var("KEYDROP_TEST_MOTO_SERVER"))
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "5")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        wait_for_port(self.port, "moto_server", &mut child).await;
        self.child = Some(child);
        let (a, b) = (self.kms_key().await, self.kms_key().await);
        self.custody = format!("aws-kms:{a}");
        self.other = format!("aws-kms:{b}");
        // An IAM user with README's policy; keydrop signs as that user.
        self.iam(&[("Action", "CreateUser"), ("UserName", "keydrop")])
            .await;
        let created = self
            .iam(&[("Action", "CreateAccessKey"), ("UserName", "keydrop")])
            .await;
        let field = |tag: &str| {
            let start = created.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
            let end = created[start..].find(&format!("</{tag}>")).unwrap() + start;
            created[start..end].to_owned()
        };
        let (id, secret) = (field("AccessKeyId"), field("SecretAccessKey"));
        remember_secret(&secret);
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": "*",
                "Condition": { "StringEquals": { "kms:EncryptionContext:keydrop": "kek" } }
            }]
        })
        .to_string();
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "keydrop"),
            ("PolicyName", "keydrop-kms"),
            ("PolicyDocument", &policy),
        ])
        .await;
        self.set("AWS_REGION", "us-east-1");
        self.set("AWS_ACCESS_KEY_ID", id);
        self.set("AWS_SECRET_ACCESS_KEY", secret);
        self.set("AWS_EC2_METADATA_DISABLED", "true");
        self.set(
            "KEYDROP_AWS_KMS_ENDPOINT",
            format!("http://127.0.0.1:{}", self.port),
        );
    }

    /// One IAM Query API call during moto's unauthenticated set-up.
    async fn iam(&self, form: &[(&str, &str)]) -> String {
        let mut form = form.to_vec();
        form.push(("Version", "2010-05-08"));
        let res = self
            .http
            .post(format!("http://127.0.0.1:{}/", self.port))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAKEYDROPTEST/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            )
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "IAM {form:?}: {}", res.status());
        res.text().await.unwrap()
    }

    /// A new symmetric KMS key (during moto's unauthenticated set-up).
    async fn kms_key(&self) -> String {
        let res: serde_json::Value = self
            .http
            .post(format!("http://127.0.0.1:{}/", self.port))
            .header("x-amz-target", "TrentService.CreateKey")
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAKEYDROPTEST/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body("{}")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        res["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
    }

    async fn start_bao(&mut self) {
        self.port = free_port();
        let root = uuid::Uuid::new_v4().to_string();
        let mut child = Command::new(var("KEYDROP_TEST_BAO"))
            .args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={root}"),
                &format!("-dev-listen-address=127.0.0.1:{}", self.port),
            ])
            .env("HOME", self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bao starts");
        wait_for_port(self.port, "bao server -dev", &mut child).await;
        self.child = Some(child);
        let base = format!("http://127.0.0.1:{}/v1", self.port);
        let call = |path: &'static str, body: serde_json::Value| {
            let req = self
                .http
                .post(format!("{base}/{path}"))
                .header("x-vault-token", &root)
                .json(&body);
            async move {
                for _ in 0..50 {
                    if let Ok(res) = req.try_clone().unwrap().send().await {
                        if res.status().is_success() {
                            return;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                panic!("OpenBao refused {path}");
            }
        };
        call(
            "sys/mounts/transit",
            serde_json::json!({ "type": "transit" }),
        )
        .await;
        call("transit/keys/keydrop", serde_json::json!({})).await;
        call("transit/keys/other", serde_json::json!({})).await;
        // keydrop gets a token that may only encrypt and decrypt with them.
        call(
            "sys/policies/acl/keydrop",
            serde_json::json!({ "policy": "path \"transit/encrypt/*\" { capabilities = [\"update\"] }\npath \"transit/decrypt/*\" { capabilities = [\"update\"] }" }),
        )
        .await;
        let token: serde_json::Value = self
            .http
            .post(format!("{base}/auth/token/create"))
            .header("x-vault-token", &root)
            .json(&serde_json::json!({ "policies": ["keydrop"], "no_default_policy": true }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["auth"]["client_token"].as_str().unwrap().to_owned();
        remember_secret(&token);
        let file = self.dir.path().join("vault-token");
        std::fs::write(&file, &token).unwrap();
        self.custody = "transit:transit/keydrop".into();
        self.other = "transit:transit/other".into();
        self.set(
            "KEYDROP_VAULT_ADDR",
            format!("http://127.0.0.1:{}", self.port),
        );
        self.set("KEYDROP_VAULT_TOKEN_FILE", file.display().to_string());
    }

    fn init_softhsm(&mut self) {
        let tokens = self.dir.path().join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = self.dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let module = var("KEYDROP_TEST_SOFTHSM2");
        let util =
            std::env::var("KEYDROP_TEST_SOFTHSM2_UTIL").unwrap_or_else(|_| "softhsm2-util".into());
        let out = Command::new(util)
            .args([
                "--init-token",
                "--free",
                "--label",
                "keydrop",
                "--so-pin",
                "52417390",
                "--pin",
                "90713524",
            ])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .expect("softhsm2-util runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pin = self.dir.path().join("pin");
        std::fs::write(&pin, "90713524\n").unwrap();
        self.custody = "pkcs11:keydrop kek".into();
        self.other = "pkcs11:another kek".into();
        self.set("SOFTHSM2_CONF", conf.display().to_string());
        self.set("KEYDROP_PKCS11_MODULE", module);
        self.set("KEYDROP_PKCS11_TOKEN", "keydrop");
        self.set("KEYDROP_PKCS11_PIN_FILE", pin.display().to_string());
    }

    fn token_dir(&self) -> PathBuf {
        self.dir.path().join("tokens")
    }

    /// Take the custody away: stop the server, or for PKCS#11 unplug the
    /// token (its directory moves away, so no slot holds it).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.kind == Kind::Pkcs11 {
            std::fs::rename(self.token_dir(), self.dir.path().join("unplugged")).unwrap();
        }
    }
}

impl Drop for CustodyServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
