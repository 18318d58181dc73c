//! A drop's permission profile (SPEC §1.3): which resources it asks for.
//! The named profiles and the resource catalogue are Greenhouse facts and
//! live in `greenhouse::profile`.

use serde::{Deserialize, Serialize};

/// A drop's permission profile. Serialized as `{"name","required":[…],"optional":[…]}`; the
/// lists hold resource names (`users`, `tags/candidate`), not permission strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub required: Vec<String>,
    pub optional: Vec<String>,
}
