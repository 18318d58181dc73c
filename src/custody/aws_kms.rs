//! The `aws-kms` custody: AWS KMS `Encrypt` / `Decrypt` (JSON 1.1 protocol,
//! signed with SigV4 by `aws-sigv4`), each master key bound to its version
//! by the encryption context `{"keydrop":"kek","version":"<n>"}` — KMS
//! refuses to decrypt under any other context.

use super::aws_credentials::{self, AwsCredentials};
use super::{CustodyError, KeyCustody};
use crate::crypto::keyring::MasterKey;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

pub struct AwsKms {
    key: String,
    region: String,
    endpoint: String,
    credentials: AwsCredentials,
    http: reqwest::Client,
    name: String,
}

impl AwsKms {
    /// A client for `key`; region and credentials from the standard AWS
    /// variables (or the instance's role), the endpoint from
    /// `KEYDROP_AWS_KMS_ENDPOINT` or the region.
    pub async fn connect(
        key: &str,
        endpoint: Option<&str>,
        http: reqwest::Client,
    ) -> Result<Self, CustodyError> {
        let name = format!("aws-kms:{key}");
        let region = aws_credentials::region(&http, &name).await?;
        let endpoint = endpoint
            .map(str::to_owned)
            .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com"));
        let credentials = aws_credentials::resolve(&http, &region, &name).await?;
        Ok(Self {
            key: key.to_owned(),
            region,
            endpoint,
            credentials,
            http,
            name,
        })
    }

    fn context(version: i64) -> Value {
        json!({ "keydrop": "kek", "version": version.to_string() })
    }

    /// One KMS call: `action` (`Encrypt`, `Decrypt`, `DescribeKey`) with `body`.
    async fn call(&self, action: &str, body: &Value) -> Result<Value, CustodyError> {
        let body = serde_json::to_vec(body).map_err(|e| self.unreachable(e.to_string()))?;
        let url = format!("{}/", self.endpoint.trim_end_matches('/'));
        let target = format!("TrentService.{action}");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let signed = aws_credentials::sign(
            &self.credentials,
            &self.region,
            "kms",
            "POST",
            &url,
            &headers,
            &body,
        )
        .map_err(|e| CustodyError::Config(format!("{}: {e}", self.name)))?;
        let mut req = self.http.post(&url).body(body);
        for (k, v) in headers
            .iter()
            .copied()
            .chain(signed.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        {
            req = req.header(k, v);
        }
        let res = req
            .send()
            .await
            .map_err(|e| self.unreachable(super::describe_http_error(&e)))?;
        let status = res.status();
        // The answer to a Decrypt holds the key: wiped once parsed.
        let text = zeroize::Zeroizing::new(
            res.text()
                .await
                .map_err(|e| self.unreachable(super::describe_http_error(&e)))?,
        );
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        // `__type` is e.g. `InvalidCiphertextException` or
        // `com.amazonaws.kms#AccessDeniedException`; KMS errors name no key material.
        // (Authentication errors may come as XML: `<Code>SignatureDoesNotMatch</Code>`.)
        let xml_code = || {
            let start = text.find("<Code>")? + "<Code>".len();
            let end = text[start..].find("</Code>")? + start;
            Some(text[start..end].to_owned())
        };
        let kind = value["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or("").to_owned())
            .or_else(xml_code)
            .filter(|k| !k.is_empty() && k.len() < 100)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
        let message = value["message"]
            .as_str()
            .or_else(|| value["Message"].as_str())
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        let shown = format!(
            "{} {kind}{}{message}",
            status.as_u16(),
            if message.is_empty() { "" } else { ": " }
        );
        // Throttling, KMS's own faults and an unavailable key are worth
        // waiting for; anything else is a refusal.
        let transient = status.is_server_error()
            || matches!(
                kind.as_str(),
                "ThrottlingException"
                    | "KMSInternalException"
                    | "DependencyTimeoutException"
                    | "KeyUnavailableException"
            );
        Err(if transient {
            self.unreachable(shown)
        } else {
            CustodyError::Refused(format!("{}: {shown}", self.name))
        })
    }

    fn unreachable(&self, reason: String) -> CustodyError {
        CustodyError::Unreachable(format!("{}: {reason}", self.name))
    }
}

impl KeyCustody for AwsKms {
    async fn wrap(&self, version: i64, key: &MasterKey) -> Result<Vec<u8>, CustodyError> {
        let plain = zeroize::Zeroizing::new(B64.encode(key.bytes()));
        let body = json!({
            "KeyId": self.key,
            "Plaintext": plain.as_str(),
            "EncryptionContext": Self::context(version),
        });
        let out = self.call("Encrypt", &body).await;
        drop(body);
        let out = out?;
        out["CiphertextBlob"]
            .as_str()
            .and_then(|b| B64.decode(b).ok())
            .ok_or_else(|| {
                CustodyError::Refused(format!("{}: Encrypt returned no ciphertext", self.name))
            })
    }

    async fn unwrap(&self, version: i64, wrapped: &[u8]) -> Result<MasterKey, CustodyError> {
        let body = json!({
            "KeyId": self.key,
            "CiphertextBlob": B64.encode(wrapped),
            "EncryptionContext": Self::context(version),
        });
        let mut out = self.call("Decrypt", &body).await?;
        super::take_key(&mut out["Plaintext"]).ok_or_else(|| {
            CustodyError::Refused(format!("{}: Decrypt returned no 32-byte key", self.name))
        })
    }
}
