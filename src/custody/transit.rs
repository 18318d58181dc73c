//! The `transit` custody: Vault or OpenBao Transit `encrypt` / `decrypt`
//! under `<mount>/<key name>`, each master key bound to its version by
//! `associated_data` (AES-GCM keys; Vault ≥ 1.10 and OpenBao check it and
//! refuse a decrypt under other data).

use super::{CustodyError, KeyCustody};
use crate::crypto::keyring::MasterKey;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

pub struct Transit {
    addr: String,
    mount: String,
    key: String,
    token: SecretString,
    http: reqwest::Client,
    name: String,
}

impl Transit {
    pub fn connect(
        mount: &str,
        key: &str,
        addr: Option<&str>,
        token_file: Option<&std::path::Path>,
        env_token: Option<&SecretString>,
        http: reqwest::Client,
    ) -> Result<Self, CustodyError> {
        let name = format!("transit:{mount}/{key}");
        let addr = addr.ok_or_else(|| {
            CustodyError::Config(format!(
                "{name}: set KEYDROP_VAULT_ADDR (the Vault or OpenBao address)"
            ))
        })?;
        let token = match (token_file, env_token) {
            (Some(file), _) => SecretString::from(
                std::fs::read_to_string(file)
                    .map_err(|e| {
                        CustodyError::Config(format!(
                            "{name}: KEYDROP_VAULT_TOKEN_FILE {}: {e}",
                            file.display()
                        ))
                    })?
                    .trim()
                    .to_owned(),
            ),
            (None, Some(token)) => token.clone(),
            (None, None) => {
                return Err(CustodyError::Config(format!(
                    "{name}: no token: set KEYDROP_VAULT_TOKEN_FILE or VAULT_TOKEN"
                )))
            }
        };
        Ok(Self {
            addr: addr.trim_end_matches('/').to_owned(),
            mount: mount.to_owned(),
            key: key.to_owned(),
            token,
            http,
            name,
        })
    }

    fn associated_data(version: i64) -> String {
        B64.encode(format!("keydrop kek version {version}"))
    }

    async fn call(&self, op: &str, body: &Value) -> Result<Value, CustodyError> {
        let url = format!("{}/v1/{}/{op}/{}", self.addr, self.mount, self.key);
        let res = self
            .http
            .post(&url)
            .header("x-vault-token", {
                let mut v = reqwest::header::HeaderValue::from_str(self.token.expose_secret())
                    .map_err(|_| {
                        CustodyError::Config(format!(
                            "{}: the token is not a valid header value",
                            self.name
                        ))
                    })?;
                v.set_sensitive(true);
                v
            })
            .json(body)
            .send()
            .await
            .map_err(|e| {
                CustodyError::Unreachable(format!(
                    "{}: {}",
                    self.name,
                    super::describe_http_error(&e)
                ))
            })?;
        let status = res.status();
        // The answer to a decrypt holds the key: wiped once parsed.
        let text = zeroize::Zeroizing::new(res.text().await.map_err(|e| {
            CustodyError::Unreachable(format!("{}: {}", self.name, super::describe_http_error(&e)))
        })?);
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        // Vault's `errors` name what went wrong, never key material.
        let errors = value["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect::<String>();
        let shown = format!(
            "{} {op}: HTTP {}{}{errors}",
            self.name,
            status.as_u16(),
            if errors.is_empty() { "" } else { ": " }
        );
        // A sealed or standby server (503), or its own fault, is worth waiting for.
        Err(if status.is_server_error() || status.as_u16() == 429 {
            CustodyError::Unreachable(shown)
        } else {
            CustodyError::Refused(shown)
        })
    }
}

impl KeyCustody for Transit {
    async fn wrap(&self, version: i64, key: &MasterKey) -> Result<Vec<u8>, CustodyError> {
        let plain = zeroize::Zeroizing::new(B64.encode(key.bytes()));
        let body = json!({
            "plaintext": plain.as_str(),
            "associated_data": Self::associated_data(version),
        });
        let out = self.call("encrypt", &body).await?;
        // `vault:v<n>:<base64>`, kept as text: Transit wants it back as is.
        out["data"]["ciphertext"]
            .as_str()
            .filter(|c| c.starts_with("vault:v"))
            .map(|c| c.as_bytes().to_vec())
            .ok_or_else(|| {
                CustodyError::Refused(format!("{}: encrypt returned no ciphertext", self.name))
            })
    }

    async fn unwrap(&self, version: i64, wrapped: &[u8]) -> Result<MasterKey, CustodyError> {
        let ciphertext = std::str::from_utf8(wrapped).map_err(|_| {
            CustodyError::Refused(format!("{}: not a Transit ciphertext", self.name))
        })?;
        let body = json!({
            "ciphertext": ciphertext,
            "associated_data": Self::associated_data(version),
        });
        let mut out = self.call("decrypt", &body).await?;
        super::take_key(&mut out["data"]["plaintext"]).ok_or_else(|| {
            CustodyError::Refused(format!("{}: decrypt returned no 32-byte key", self.name))
        })
    }
}
