//! Roles of API tokens and console users (SPEC §5), and what each may do: the one place the
//! role matrix is written, for every door (API, CLI-made tokens, the console).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// Creates and manages drops, reads metadata, re-runs checks; never reads secrets.
    Issuer,
    /// Claims, acks and reads secrets, reads metadata; creates nothing.
    Worker,
    /// Reads drops, credential metadata and the audit log, exports it; changes nothing and
    /// reads no secret.
    Auditor,
}

/// Something a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// List and read drops.
    ReadDrops,
    /// Create and revoke drops.
    ManageDrops,
    /// List and read credential metadata (never the secret).
    ReadCredentials,
    /// Claim, acknowledge, read secrets, get access tokens.
    Release,
    /// Run a credential's check again.
    Recheck,
    /// Destroy a credential.
    Destroy,
    /// Create, list and revoke API tokens.
    ManageTokens,
    /// Everything about webhook endpoints and their deliveries.
    ManageWebhooks,
    /// Read and export the audit log.
    ReadAudit,
    /// Console sessions (list, revoke), key custody and background-task status.
    ManageConsole,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Issuer, Role::Worker, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Issuer => "issuer",
            Role::Worker => "worker",
            Role::Auditor => "auditor",
        }
    }

    /// Whether this role may do `what` (SPEC §4's role column, §5).
    pub fn may(self, what: Capability) -> bool {
        use Capability::*;
        match self {
            Role::Admin => true,
            Role::Issuer => matches!(what, ReadDrops | ManageDrops | ReadCredentials | Recheck),
            Role::Worker => matches!(what, ReadCredentials | Release),
            Role::Auditor => matches!(what, ReadDrops | ReadCredentials | ReadAudit),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown role {0:?}: use admin, issuer, worker or auditor")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.chars().take(40).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
        // The auditor changes nothing and reads no secret.
        use Capability::*;
        for c in [
            ManageDrops,
            Release,
            Recheck,
            Destroy,
            ManageTokens,
            ManageWebhooks,
        ] {
            assert!(!Role::Auditor.may(c), "{c:?}");
        }
        for c in [ReadDrops, ReadCredentials, ReadAudit] {
            assert!(Role::Auditor.may(c), "{c:?}");
        }
        assert!(!Role::Issuer.may(Release) && !Role::Issuer.may(ReadAudit));
        assert!(!Role::Worker.may(ReadDrops) && !Role::Worker.may(ManageDrops));
        assert!("Admin".parse::<Role>().is_err());
    }
}
