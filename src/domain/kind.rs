//! The name of a credential kind (`harvest_v3`, `harvest_v1`, `candidate_ingestion`, …).
//!
//! The domain only carries the name: which kinds exist, their fields, checks and profiles
//! live behind the `CredentialKind` trait in `greenhouse::kinds`, one folder per kind plus one
//! registry line. So that the domain stays below `greenhouse`, the rules that need the
//! registry (is this kind known, which profile does a name mean) are asked through the small
//! [`KindCatalog`] trait, which the registry implements.

use super::profile::Profile;
use super::release::ReleaseModes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Longest kind name, in bytes.
pub const MAX_KIND_LEN: usize = 32;

/// A well-formed kind name: 1 to 32 characters of `a-z`, `0-9` and `_`, starting with a
/// letter. `Copy`, so records carry it by value. Well-formed is not known: a stored or posted
/// name is checked against the registry where it matters (drop creation, the link page).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind {
    len: u8,
    bytes: [u8; MAX_KIND_LEN],
}

impl Kind {
    /// A kind name known at compile time (a registry entry's own name). A name that is not
    /// well-formed yields a kind that no registry will know.
    pub const fn from_static(name: &'static str) -> Kind {
        let src = name.as_bytes();
        let mut bytes = [0u8; MAX_KIND_LEN];
        let mut i = 0;
        while i < src.len() && i < MAX_KIND_LEN {
            bytes[i] = src[i];
            i += 1;
        }
        Kind {
            len: i as u8,
            bytes,
        }
    }

    /// The wire name, e.g. `harvest_v3`.
    pub fn as_str(&self) -> &str {
        let n = usize::from(self.len).min(MAX_KIND_LEN);
        std::str::from_utf8(&self.bytes[..n]).unwrap_or("")
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kind({})", self.as_str())
    }
}

/// A kind name that is not well-formed, or that the registry does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown credential kind {0:?}")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let well_formed = (1..=MAX_KIND_LEN).contains(&s.len())
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed {
            return Err(UnknownKind(s.chars().take(40).collect()));
        }
        let mut bytes = [0u8; MAX_KIND_LEN];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Kind {
            len: s.len() as u8,
            bytes,
        })
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How staff choose a drop's profile: the kind's default, a named profile, or explicit lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileChoice {
    Default,
    Named(String),
    Explicit {
        required: Vec<String>,
        optional: Vec<String>,
    },
}

/// What the domain needs to know about the kinds that exist. Implemented by the kind
/// registry (`greenhouse::kinds::Registry`); errors are staff-facing and name the field.
pub trait KindCatalog {
    /// The kind of a drop created without one (`harvest_v3`).
    fn default_kind(&self) -> Kind;
    /// `Ok` when `kind` is registered; otherwise a message listing the known kinds.
    fn check_kind(&self, kind: Kind) -> Result<(), String>;
    /// The profile `choice` means for `kind` (unknown names and resources are errors).
    fn profile(&self, kind: Kind, choice: ProfileChoice) -> Result<Profile, String>;
    /// The release modes `kind` allows (SPEC §3); the first is its default.
    fn release_modes(&self, kind: Kind) -> ReleaseModes {
        let _ = kind;
        ReleaseModes::HANDOFF
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_shape_is_checked() {
        for name in ["harvest_v3", "harvest_v1", "candidate_ingestion", "a"] {
            let k: Kind = name.parse().unwrap();
            assert_eq!(k.as_str(), name);
            assert_eq!(k, Kind::from_static(name));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<Kind>(&format!("\"{name}\"")).unwrap(),
                k
            );
        }
        for bad in ["", "HarvestV3", "1abc", "a-b", "é", &"a".repeat(33)] {
            assert!(bad.parse::<Kind>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Kind>("\"HarvestV3\"").is_err());
        assert_eq!(format!("{:?}", Kind::from_static("x_1")), "Kind(x_1)");
    }
}
