//! The two kinds of Greenhouse credential keydrop accepts.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The kind of a credential. `harvest_v3` (OAuth client credentials) is the default;
/// `harvest_v1` is the legacy Basic-auth API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
    HarvestV3,
    HarvestV1,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::HarvestV3, Kind::HarvestV1];

    /// The wire name: `harvest_v3` or `harvest_v1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::HarvestV3 => "harvest_v3",
            Kind::HarvestV1 => "harvest_v1",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind name that is neither `harvest_v3` nor `harvest_v1`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown credential kind {0:?}: use \"harvest_v3\" or \"harvest_v1\"")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "harvest_v3" => Ok(Kind::HarvestV3),
            "harvest_v1" => Ok(Kind::HarvestV1),
            other => Err(UnknownKind(other.chars().take(40).collect())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        assert_eq!(Kind::default(), Kind::HarvestV3);
        assert!("harvest_v2".parse::<Kind>().is_err());
        assert!(serde_json::from_str::<Kind>("\"HarvestV3\"").is_err());
    }
}
