//! Where the data and the keys are: settings every command needs.

use super::args::GlobalArgs;
use secrecy::SecretString;
use std::path::PathBuf;

/// A database URL whose password never reaches a log or `Debug` output.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(url: String) -> Self {
        Self(SecretString::from(url))
    }

    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }

    /// Whether this is a PostgreSQL database (which several processes may share).
    pub fn is_postgres(&self) -> bool {
        let url = self.expose();
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = self.expose();
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_owned();
        };
        // The query may hold secrets too (`password=`, `sslpassword=`): drop it.
        let rest = rest.split('?').next().unwrap_or("");
        // The password may contain unencoded `/`, `:` or `@`: the user info
        // ends at the LAST `@`, and everything before it but the user is hidden.
        match rest.rsplit_once('@') {
            Some((userinfo, host_and_path)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                if userinfo.contains(':') {
                    format!("{scheme}://{user}:***@{host_and_path}")
                } else {
                    format!("{scheme}://{user}@{host_and_path}")
                }
            }
            None => format!("{scheme}://{rest}"),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Settings of the store and keys, typed.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub keyring_file: PathBuf,
    pub keyring_file_set: bool,
    pub master_key: Option<SecretString>,
    /// Who wraps new key versions and how each custody is reached (§14).
    pub custody: super::CustodySettings,
}

impl StoreSettings {
    pub fn from_args(args: &GlobalArgs) -> Result<Self, String> {
        let from_file = match &args.database_url_file {
            Some(path) if args.database_url.is_none() => Some(
                std::fs::read_to_string(path)
                    .map(|s| s.trim().to_owned())
                    .map_err(|e| format!("KEYDROP_DATABASE_URL_FILE {}: {e}", path.display()))?,
            ),
            _ => None,
        };
        let database_url = args
            .database_url
            .clone()
            .filter(|u| !u.is_empty())
            .or(from_file)
            .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| format!("sqlite://{}", args.data_dir.join("keydrop.db").display()));
        Ok(Self {
            data_dir: args.data_dir.clone(),
            database_url: DatabaseUrl::new(database_url),
            keyring_file: args
                .keyring_file
                .clone()
                .unwrap_or_else(|| args.data_dir.join("keyring.json")),
            keyring_file_set: args.keyring_file.is_some(),
            master_key: args
                .master_key
                .clone()
                .filter(|k| !k.is_empty())
                .map(SecretString::from),
            custody: super::CustodySettings::from_args(args)?,
        })
    }
}
