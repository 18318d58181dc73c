//! Release modes (SPEC §3): how a credential leaves keydrop.
//!
//! - `handoff`: the worker receives the secret itself (claim and `GET …/secret`).
//! - `vend`: the secret never leaves keydrop; workers receive short-lived access tokens
//!   (`POST …/access-token`, and the claim returns one instead of the secret). A `vend`
//!   credential is not destroyed by retention: it lives until staff destroy it, or, for a
//!   partner grant, until it is `disconnected`.
//!
//! Which modes a kind allows is the kind's business ([`ReleaseModes`], asked through the
//! kind catalogue).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    Handoff,
    Vend,
}

impl Release {
    pub const ALL: [Release; 2] = [Release::Handoff, Release::Vend];

    pub fn as_str(self) -> &'static str {
        match self {
            Release::Handoff => "handoff",
            Release::Vend => "vend",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The release modes a kind allows; the first is its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseModes(pub &'static [Release]);

impl ReleaseModes {
    /// The secret itself only (most kinds).
    pub const HANDOFF: ReleaseModes = ReleaseModes(&[Release::Handoff]);
    /// Either; the secret by default (`harvest_v3`).
    pub const EITHER: ReleaseModes = ReleaseModes(&[Release::Handoff, Release::Vend]);
    /// Access tokens only (`harvest_v3_partner`: the refresh token never leaves keydrop).
    pub const VEND_ONLY: ReleaseModes = ReleaseModes(&[Release::Vend]);

    pub fn default(self) -> Release {
        self.0.first().copied().unwrap_or(Release::Handoff)
    }

    /// `wanted` if this kind allows it (the default when `None`), else a staff-facing reason.
    pub fn choose(self, kind: &str, wanted: Option<Release>) -> Result<Release, String> {
        let Some(r) = wanted else {
            return Ok(self.default());
        };
        if self.0.contains(&r) {
            return Ok(r);
        }
        let allowed: Vec<&str> = self.0.iter().map(|r| r.as_str()).collect();
        Err(format!(
            "release {r} is not available for kind {kind}; it allows: {}",
            allowed.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose() {
        assert_eq!(
            ReleaseModes::EITHER.choose("harvest_v3", None),
            Ok(Release::Handoff)
        );
        assert_eq!(
            ReleaseModes::EITHER.choose("harvest_v3", Some(Release::Vend)),
            Ok(Release::Vend)
        );
        assert_eq!(ReleaseModes::VEND_ONLY.choose("p", None), Ok(Release::Vend));
        let e = ReleaseModes::HANDOFF
            .choose("harvest_v1", Some(Release::Vend))
            .unwrap_err();
        assert!(e.contains("harvest_v1") && e.contains("handoff"), "{e}");
        assert_eq!(Release::parse("vend"), Some(Release::Vend));
        assert_eq!(Release::parse("x"), None);
    }
}
