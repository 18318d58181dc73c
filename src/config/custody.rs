//! Where the master keys are kept (SPEC §14): `KEYDROP_KEY_CUSTODY` and the
//! settings each custody needs, checked when the command starts.

use super::args::GlobalArgs;
use secrecy::SecretString;
use std::path::PathBuf;
use std::time::Duration;

/// One custody and the key it wraps with, as written in `KEYDROP_KEY_CUSTODY`
/// and, split into kind and key reference, in the keyring file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustodyRef {
    /// The master key itself sits in the keyring file (or the environment).
    File,
    /// An AWS KMS key id, ARN or alias.
    AwsKms { key: String },
    /// A Vault or OpenBao Transit mount and key name.
    Transit { mount: String, key: String },
    /// The label of an AES key on a PKCS#11 token.
    Pkcs11 { label: String },
}

impl CustodyRef {
    /// `file`, `aws-kms:<key>`, `transit:<mount>/<key>` or `pkcs11:<label>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (kind, key_ref) = text.split_once(':').unwrap_or((text, ""));
        Self::from_parts(kind, key_ref).map_err(|reason| format!("KEYDROP_KEY_CUSTODY {reason}"))
    }

    /// A custody from the keyring file's `custody` and `key_ref` fields.
    pub fn from_parts(kind: &str, key_ref: &str) -> Result<Self, String> {
        let plain = |s: &str| {
            !s.is_empty()
                && s.len() <= 2048
                && s.chars()
                    .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        };
        match kind {
            "file" if key_ref.is_empty() => Ok(Self::File),
            "file" => Err("`file` takes no key reference".into()),
            "aws-kms" if plain(key_ref) => Ok(Self::AwsKms {
                key: key_ref.into(),
            }),
            "aws-kms" => Err("needs a key: aws-kms:<key id, ARN or alias>".into()),
            "transit" => match key_ref.rsplit_once('/') {
                Some((mount, key))
                    if plain(mount)
                        && !mount.starts_with('/')
                        && !mount.split('/').any(|p| p.is_empty() || p == ".." || p == ".")
                        && plain(key)
                        && !key.contains(['/', '?', '#', '%']) =>
                {
                    Ok(Self::Transit {
                        mount: mount.into(),
                        key: key.into(),
                    })
                }
                _ => Err("needs a mount and a key: transit:<mount>/<key name>".into()),
            },
            "pkcs11" if !key_ref.is_empty() && key_ref.len() <= 256 && !key_ref.contains(char::is_control) => {
                Ok(Self::Pkcs11 {
                    label: key_ref.into(),
                })
            }
            "pkcs11" => Err("needs a key label: pkcs11:<key label>".into()),
            other => Err(format!(
                "{other:?} is not a custody: use file, aws-kms:<key>, transit:<mount>/<key> or pkcs11:<label>"
            )),
        }
    }

    /// `file`, `aws-kms`, `transit` or `pkcs11`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::File => "file",
            Self::AwsKms { .. } => "aws-kms",
            Self::Transit { .. } => "transit",
            Self::Pkcs11 { .. } => "pkcs11",
        }
    }

    /// What the keyring file records as `key_ref` (empty for `file`).
    pub fn key_ref(&self) -> String {
        match self {
            Self::File => String::new(),
            Self::AwsKms { key } => key.clone(),
            Self::Transit { mount, key } => format!("{mount}/{key}"),
            Self::Pkcs11 { label } => label.clone(),
        }
    }
}

impl std::fmt::Display for CustodyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File => f.write_str("file"),
            other => write!(f, "{}:{}", other.kind(), other.key_ref()),
        }
    }
}

/// The custody that wraps new versions and how to reach each kind.
#[derive(Clone)]
pub struct CustodySettings {
    pub custody: CustodyRef,
    pub aws_kms_endpoint: Option<String>,
    pub vault_addr: Option<String>,
    pub vault_token_file: Option<PathBuf>,
    /// `VAULT_TOKEN`, when no token file is named.
    pub vault_token: Option<SecretString>,
    pub pkcs11_module: Option<PathBuf>,
    pub pkcs11_token: Option<String>,
    pub pkcs11_pin_file: Option<PathBuf>,
    /// How long start-up retries an unreachable custody.
    pub wait: Duration,
}

impl std::fmt::Debug for CustodySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustodySettings")
            .field("custody", &self.custody.to_string())
            .field("aws_kms_endpoint", &self.aws_kms_endpoint)
            .field("vault_addr", &self.vault_addr)
            .field("pkcs11_module", &self.pkcs11_module)
            .field("pkcs11_token", &self.pkcs11_token)
            .finish_non_exhaustive()
    }
}

impl CustodySettings {
    pub fn from_args(args: &GlobalArgs) -> Result<Self, String> {
        let custody = match args.key_custody.as_deref().map(str::trim) {
            None | Some("") => CustodyRef::File,
            Some(text) => CustodyRef::parse(text)?,
        };
        Ok(Self {
            custody,
            aws_kms_endpoint: args
                .aws_kms_endpoint
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|u| super::greenhouse_url("KEYDROP_AWS_KMS_ENDPOINT", u))
                .transpose()?,
            vault_addr: args
                .vault_addr
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|u| super::greenhouse_url("KEYDROP_VAULT_ADDR", u))
                .transpose()?,
            vault_token_file: args.vault_token_file.clone(),
            vault_token: std::env::var("VAULT_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .map(SecretString::from),
            pkcs11_module: args.pkcs11_module.clone(),
            pkcs11_token: args.pkcs11_token.clone().filter(|s| !s.is_empty()),
            pkcs11_pin_file: args.pkcs11_pin_file.clone(),
            wait: args.key_custody_wait,
        })
    }

    /// The file custody with nothing else configured (tests, `demo`).
    pub fn file() -> Self {
        Self {
            custody: CustodyRef::File,
            aws_kms_endpoint: None,
            vault_addr: None,
            vault_token_file: None,
            vault_token: None,
            pkcs11_module: None,
            pkcs11_token: None,
            pkcs11_pin_file: None,
            wait: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custody_references_parse_and_print_back() {
        for text in [
            "file",
            "aws-kms:arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "aws-kms:alias/keydrop",
            "transit:transit/keydrop",
            "transit:team/a/transit/keydrop",
            "pkcs11:keydrop kek",
        ] {
            assert_eq!(CustodyRef::parse(text).unwrap().to_string(), text);
        }
        for bad in [
            "vault:x",
            "aws-kms:",
            "transit:keydrop",
            "transit:/transit/k",
            "transit:../sys/k",
            "transit:transit/k?x=1",
            "pkcs11:",
            "file:x",
        ] {
            let err = CustodyRef::parse(bad).unwrap_err();
            assert!(err.starts_with("KEYDROP_KEY_CUSTODY"), "{bad}: {err}");
        }
    }
}
