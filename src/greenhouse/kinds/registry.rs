//! The registry of credential kinds: the built-in list (one line per kind) and what the rest
//! of keydrop asks of it.

use super::fields::Fields;
use super::{candidate_ingestion, harvest_v1, harvest_v3, harvest_v3_partner, CredentialKind};
use crate::domain::kind::{Kind, KindCatalog, ProfileChoice};
use crate::domain::profile::Profile;
use crate::domain::release::ReleaseModes;
use crate::greenhouse::secret::Secret;
use crate::greenhouse::validation::ValidationError;
use std::borrow::Cow;
use std::fmt;

/// The built-in kinds. The first is the default kind of a drop. Adding a kind: its folder
/// under `kinds/`, and one line here.
static BUILTIN: Registry = Registry {
    kinds: Cow::Borrowed(&[
        &harvest_v3::HarvestV3,
        &candidate_ingestion::CandidateIngestion,
        &harvest_v3_partner::HarvestV3Partner,
        &harvest_v1::HarvestV1,
    ]),
};

/// The built-in registry.
pub fn registry() -> &'static Registry {
    &BUILTIN
}

/// A list of credential kinds, in the order to offer them; the first is the default.
#[derive(Clone)]
pub struct Registry {
    kinds: Cow<'static, [&'static dyn CredentialKind]>,
}

/// A stored secret that is not a secret of a registered kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored secret is malformed: {0}")]
pub struct SecretFormatError(String);

impl Registry {
    /// This registry plus `extra` (which replaces a registered kind of the same name).
    pub fn with(&self, extra: &'static dyn CredentialKind) -> Registry {
        let mut kinds: Vec<&'static dyn CredentialKind> = self
            .kinds
            .iter()
            .copied()
            .filter(|k| k.name() != extra.name())
            .collect();
        kinds.push(extra);
        Registry {
            kinds: Cow::Owned(kinds),
        }
    }

    /// Every kind, default first.
    pub fn all(&self) -> impl Iterator<Item = &'static dyn CredentialKind> + '_ {
        self.kinds.iter().copied()
    }

    /// The wire names, default first.
    pub fn names(&self) -> Vec<&'static str> {
        self.all().map(|k| k.name()).collect()
    }

    /// The kind called `kind`, if registered.
    pub fn get(&self, kind: Kind) -> Option<&'static dyn CredentialKind> {
        self.by_name(kind.as_str())
    }

    /// The kind whose wire name is `name`, if registered.
    pub fn by_name(&self, name: &str) -> Option<&'static dyn CredentialKind> {
        self.all().find(|k| k.name() == name)
    }

    /// The kind of a drop created without one.
    pub fn default(&self) -> Option<&'static dyn CredentialKind> {
        self.kinds.first().copied()
    }

    /// The kind called `kind`, or a staff-facing error listing the known ones.
    pub fn require(&self, kind: Kind) -> Result<&'static dyn CredentialKind, String> {
        self.get(kind).ok_or_else(|| {
            format!(
                "unknown credential kind {:?}: use one of {}",
                kind.as_str(),
                self.names().join(", ")
            )
        })
    }

    /// A submitted form as a secret of `kind`, after the kind's local shape checks.
    pub fn parse(&self, kind: Kind, form: &Fields) -> Result<Secret, ValidationError> {
        match self.get(kind) {
            Some(k) => k.parse(form),
            None => Err(ValidationError::new(
                "kind",
                "This link asks for a kind of credential this service no longer accepts. \
                 Ask for a new link.",
            )),
        }
    }

    /// A secret read back from its JSON (SPEC §4): a registered kind, only that kind's fields
    /// (the optional ones may be missing or `null`), each a string. The shape checks are not
    /// run again: what was accepted once stays readable. The error never contains a value.
    pub fn secret_from_json(&self, json: &[u8]) -> Result<Secret, SecretFormatError> {
        let bad = |why: &str| SecretFormatError(why.to_owned());
        let mut map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(json).map_err(|_| bad("not a JSON object"))?;
        let kind = match map.remove("kind") {
            Some(serde_json::Value::String(name)) => self.by_name(&name),
            _ => None,
        }
        .ok_or_else(|| bad("no known kind"))?;
        let mut values = Vec::with_capacity(kind.fields().len());
        let mut error = None;
        for f in kind.fields() {
            match map.remove(f.name) {
                Some(serde_json::Value::String(s)) => values.push((f.name, Some(s))),
                None | Some(serde_json::Value::Null) if !f.required => values.push((f.name, None)),
                _ => error = Some(bad("a field is missing or not a string")),
            }
        }
        if !map.is_empty() {
            error = Some(bad("unknown field"));
        }
        // Whatever is left is wiped before it is dropped.
        for (_, v) in map.iter_mut() {
            if let serde_json::Value::String(s) = v {
                zeroize::Zeroize::zeroize(s);
            }
        }
        let secret = Secret::new(kind, values);
        match error {
            Some(e) => Err(e),
            None => Ok(secret),
        }
    }

    /// Runs the kind's shape checks again on a secret (e.g. one read back from JSON).
    pub fn validate(&self, secret: &Secret) -> Result<(), ValidationError> {
        let mut form = Fields::new();
        let kind = self.get(secret.kind()).ok_or_else(|| {
            ValidationError::new("kind", "This kind of credential is not registered.")
        })?;
        for f in kind.fields() {
            form.insert(f.name, secret.get(f.name).unwrap_or(""));
        }
        kind.parse(&form).map(drop)
    }
}

impl KindCatalog for Registry {
    fn default_kind(&self) -> Kind {
        self.default()
            .map_or_else(|| Kind::from_static(""), |k| k.kind())
    }

    fn check_kind(&self, kind: Kind) -> Result<(), String> {
        self.require(kind).map(drop)
    }

    fn profile(&self, kind: Kind, choice: ProfileChoice) -> Result<Profile, String> {
        let k = self.require(kind)?;
        match choice {
            ProfileChoice::Default => Ok(Profile::default_for(k)),
            ProfileChoice::Named(name) => Profile::named(k, &name),
            ProfileChoice::Explicit { required, optional } => {
                Profile::explicit(k, required, optional)
            }
        }
        .map_err(|e| e.to_string())
    }

    fn release_modes(&self, kind: Kind) -> ReleaseModes {
        self.get(kind)
            .map_or(ReleaseModes::HANDOFF, |k| k.release_modes())
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}
