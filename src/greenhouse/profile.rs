//! Permission profiles: which resources a drop asks for (SPEC §1.3). The named profiles and
//! the resource catalogue of each kind live in its folder under `kinds/`; the rules for
//! checking a profile against a kind live here.

use super::kinds::CredentialKind;
use super::resources::Resource;
use super::validation::ValidationError;
pub use crate::domain::profile::Profile;

/// The default profile name of the Harvest kinds.
pub const DEFAULT_PROFILE: &str = "full-analytics";
/// The name given to explicit `required`/`optional` lists.
pub const CUSTOM_PROFILE: &str = "custom";

impl Profile {
    /// A named profile of `kind`.
    pub fn named(kind: &dyn CredentialKind, name: &str) -> Result<Self, ValidationError> {
        match kind.profiles().iter().find(|p| p.name == name) {
            Some(p) => Ok(p.to_profile()),
            None => Err(ValidationError::new(
                "profile",
                format!(
                    "Unknown profile {:?}; use one of: {}.",
                    shorten(name),
                    kind.profiles()
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// The default profile of `kind`.
    pub fn default_for(kind: &dyn CredentialKind) -> Self {
        kind.default_profile()
    }

    /// Explicit lists, named `custom`. Every name must be a resource known for `kind`;
    /// duplicates are dropped (a name in both lists stays required only); `required` must not
    /// be empty.
    pub fn explicit<R, O>(
        kind: &dyn CredentialKind,
        required: R,
        optional: O,
    ) -> Result<Self, ValidationError>
    where
        R: IntoIterator,
        R::Item: AsRef<str>,
        O: IntoIterator,
        O::Item: AsRef<str>,
    {
        let mut req: Vec<String> = Vec::new();
        for name in required {
            push_known(kind, "required", name.as_ref(), &mut req)?;
        }
        if req.is_empty() {
            return Err(ValidationError::new(
                "required",
                "At least one required resource is needed.",
            ));
        }
        let mut opt: Vec<String> = Vec::new();
        for name in optional {
            let name = name.as_ref();
            if !req.iter().any(|r| r == name) {
                push_known(kind, "optional", name, &mut opt)?;
            }
        }
        Ok(Profile {
            name: CUSTOM_PROFILE.to_owned(),
            required: req,
            optional: opt,
        })
    }

    /// Re-checks a profile read back from storage or JSON against `kind`.
    pub fn validate(&self, kind: &dyn CredentialKind) -> Result<(), ValidationError> {
        let again = Self::explicit(kind, &self.required, &self.optional)?;
        if again.required != self.required || again.optional != self.optional {
            return Err(ValidationError::new(
                "profile",
                "The profile lists a resource twice.",
            ));
        }
        Ok(())
    }

    /// The catalogue entries of the required resources, in order (unknown names skipped).
    pub fn required_resources(&self, kind: &dyn CredentialKind) -> Vec<&'static Resource> {
        self.required
            .iter()
            .filter_map(|n| kind.resource(n))
            .collect()
    }

    /// The catalogue entries of the optional resources, in order (unknown names skipped).
    pub fn optional_resources(&self, kind: &dyn CredentialKind) -> Vec<&'static Resource> {
        self.optional
            .iter()
            .filter_map(|n| kind.resource(n))
            .collect()
    }

    /// The profile's resources, required first, each with its "required" flag.
    pub fn planned(&self, kind: &dyn CredentialKind) -> Vec<(&'static Resource, bool)> {
        let mut out: Vec<(&'static Resource, bool)> = self
            .required_resources(kind)
            .into_iter()
            .map(|r| (r, true))
            .collect();
        out.extend(
            self.optional_resources(kind)
                .into_iter()
                .map(|r| (r, false)),
        );
        out
    }
}

fn push_known(
    kind: &dyn CredentialKind,
    field: &'static str,
    name: &str,
    into: &mut Vec<String>,
) -> Result<(), ValidationError> {
    if kind.resource(name).is_none() {
        return Err(ValidationError::new(
            field,
            format!(
                "Unknown {} resource {:?} in {field}.",
                kind.name(),
                shorten(name)
            ),
        ));
    }
    if !into.iter().any(|n| n == name) {
        into.push(name.to_owned());
    }
    Ok(())
}

/// Staff input echoed in an error: bounded, so a huge value does not bloat the message.
fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::greenhouse::kinds::{HARVEST_V1, HARVEST_V3};

    #[test]
    fn named_profiles_match_the_spec() {
        let full = Profile::named(HARVEST_V3, "full-analytics").unwrap();
        assert_eq!(full, Profile::default_for(HARVEST_V3));
        assert_eq!(full.required.len(), 19);
        assert_eq!(full.optional.len(), 8);
        assert_eq!(full.required_resources(HARVEST_V3).len(), 19);
        assert_eq!(full.optional_resources(HARVEST_V3).len(), 8);
        let v1 = Profile::named(HARVEST_V1, "full-analytics").unwrap();
        assert_eq!(v1.required.len(), 16);
        assert_eq!(v1.optional, ["tags/candidate", "prospect_pools"]);
        assert_eq!(v1.required_resources(HARVEST_V1).len(), 16);
        assert_eq!(v1, Profile::default_for(HARVEST_V1));
        for kind in [HARVEST_V3, HARVEST_V1] {
            let m = Profile::named(kind, "minimal").unwrap();
            assert_eq!(m.required, ["users"]);
            assert!(m.optional.is_empty());
            m.validate(kind).unwrap();
            Profile::default_for(kind).validate(kind).unwrap();
        }
        let e = Profile::named(HARVEST_V3, "everything").unwrap_err();
        assert_eq!(e.field, "profile");
        assert!(e.message.contains("everything"));
    }

    #[test]
    fn serde_shape() {
        let m = Profile::named(HARVEST_V3, "minimal").unwrap();
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!({"name":"minimal","required":["users"],"optional":[]})
        );
        assert!(serde_json::from_str::<Profile>(
            r#"{"name":"x","required":[],"optional":[],"more":1}"#
        )
        .is_err());
    }

    #[test]
    fn explicit_lists_are_checked_and_deduplicated() {
        let p = Profile::explicit(
            HARVEST_V3,
            ["users", "jobs", "users"],
            ["notes", "jobs", "notes", "eeoc"],
        )
        .unwrap();
        assert_eq!(p.name, "custom");
        assert_eq!(p.required, ["users", "jobs"]);
        assert_eq!(p.optional, ["notes", "eeoc"]);

        let e =
            Profile::explicit(HARVEST_V3, ["users", "scheduled_interviews"], [""; 0]).unwrap_err();
        assert_eq!(e.field, "required");
        assert!(e.message.contains("scheduled_interviews"));
        let e = Profile::explicit(HARVEST_V3, ["users"], ["bogus"]).unwrap_err();
        assert_eq!(e.field, "optional");
        assert!(e.message.contains("bogus"));
        let e = Profile::explicit(HARVEST_V3, [""; 0], ["users"]).unwrap_err();
        assert_eq!(e.field, "required");
        assert!(Profile::explicit(HARVEST_V1, ["tags/candidate"], ["job_stages"]).is_ok());
        assert!(Profile::explicit(HARVEST_V1, ["interviews"], [""; 0]).is_err());
    }

    #[test]
    fn validate_catches_bad_stored_profiles() {
        let p = Profile {
            name: "custom".into(),
            required: vec!["users".into(), "users".into()],
            optional: vec![],
        };
        assert!(p.validate(HARVEST_V3).is_err());
        let p = Profile {
            name: "custom".into(),
            required: vec!["job_stages".into()],
            optional: vec![],
        };
        assert!(p.validate(HARVEST_V3).is_err());
        assert!(p.validate(HARVEST_V1).is_ok());
    }
}
