//! Permission profiles: which resources a drop asks for (SPEC §1 "Permission profiles").

use super::resources::{resource, Resource};
use super::validation::ValidationError;
use crate::domain::kind::Kind;
pub use crate::domain::profile::Profile;

/// The default profile name.
pub const DEFAULT_PROFILE: &str = "full-analytics";
/// The name given to explicit `required`/`optional` lists.
pub const CUSTOM_PROFILE: &str = "custom";
/// The named profiles, in the order to offer them.
pub const PROFILE_NAMES: [&str; 2] = [DEFAULT_PROFILE, "minimal"];

const V3_FULL_REQUIRED: &[&str] = &[
    "users",
    "user_roles",
    "jobs",
    "job_posts",
    "job_interview_stages",
    "openings",
    "departments",
    "offices",
    "candidates",
    "applications",
    "application_stages",
    "interviews",
    "scorecards",
    "offers",
    "sources",
    "rejection_reasons",
    "close_reasons",
    "custom_fields",
    "custom_field_options",
];
const V3_FULL_OPTIONAL: &[&str] = &[
    "job_owners",
    "job_hiring_managers",
    "interviewers",
    "referrers",
    "notes",
    "candidate_tags",
    "prospect_pools",
    "user_job_permissions",
];
const V1_FULL_REQUIRED: &[&str] = &[
    "users",
    "user_roles",
    "jobs",
    "job_posts",
    "job_stages",
    "departments",
    "offices",
    "candidates",
    "applications",
    "scheduled_interviews",
    "scorecards",
    "offers",
    "sources",
    "rejection_reasons",
    "close_reasons",
    "custom_fields",
];
const V1_FULL_OPTIONAL: &[&str] = &["tags/candidate", "prospect_pools"];
const MINIMAL_REQUIRED: &[&str] = &["users"];

impl Default for Profile {
    /// `full-analytics` for `harvest_v3`.
    fn default() -> Self {
        named_lists(DEFAULT_PROFILE, V3_FULL_REQUIRED, V3_FULL_OPTIONAL)
    }
}

impl Profile {
    /// A named profile (`full-analytics` or `minimal`) for `kind`.
    pub fn named(kind: Kind, name: &str) -> Result<Self, ValidationError> {
        let (required, optional) = match (kind, name) {
            (Kind::HarvestV3, DEFAULT_PROFILE) => (V3_FULL_REQUIRED, V3_FULL_OPTIONAL),
            (Kind::HarvestV1, DEFAULT_PROFILE) => (V1_FULL_REQUIRED, V1_FULL_OPTIONAL),
            (_, "minimal") => (MINIMAL_REQUIRED, &[][..]),
            _ => {
                return Err(ValidationError::new(
                    "profile",
                    format!(
                        "Unknown profile {:?}; use one of: {}.",
                        shorten(name),
                        PROFILE_NAMES.join(", ")
                    ),
                ))
            }
        };
        Ok(named_lists(name, required, optional))
    }

    /// The default profile (`full-analytics`) for `kind`.
    pub fn default_for(kind: Kind) -> Self {
        match kind {
            Kind::HarvestV3 => Self::default(),
            Kind::HarvestV1 => named_lists(DEFAULT_PROFILE, V1_FULL_REQUIRED, V1_FULL_OPTIONAL),
        }
    }

    /// Explicit lists, named `custom`. Every name must be a resource known for `kind`;
    /// duplicates are dropped (a name in both lists stays required only); `required` must not
    /// be empty.
    pub fn explicit<R, O>(kind: Kind, required: R, optional: O) -> Result<Self, ValidationError>
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
    pub fn validate(&self, kind: Kind) -> Result<(), ValidationError> {
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
    pub fn required_resources(&self, kind: Kind) -> Vec<&'static Resource> {
        self.required
            .iter()
            .filter_map(|n| resource(kind, n))
            .collect()
    }

    /// The catalogue entries of the optional resources, in order (unknown names skipped).
    pub fn optional_resources(&self, kind: Kind) -> Vec<&'static Resource> {
        self.optional
            .iter()
            .filter_map(|n| resource(kind, n))
            .collect()
    }
}

fn named_lists(name: &str, required: &[&str], optional: &[&str]) -> Profile {
    Profile {
        name: name.to_owned(),
        required: required.iter().map(|s| (*s).to_owned()).collect(),
        optional: optional.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn push_known(
    kind: Kind,
    field: &'static str,
    name: &str,
    into: &mut Vec<String>,
) -> Result<(), ValidationError> {
    if resource(kind, name).is_none() {
        return Err(ValidationError::new(
            field,
            format!(
                "Unknown {} resource {:?} in {field}.",
                kind.as_str(),
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

    #[test]
    fn named_profiles_match_the_spec() {
        let full = Profile::named(Kind::HarvestV3, "full-analytics").unwrap();
        assert_eq!(full, Profile::default());
        assert_eq!(full.required.len(), 19);
        assert_eq!(full.optional.len(), 8);
        assert_eq!(full.required_resources(Kind::HarvestV3).len(), 19);
        assert_eq!(full.optional_resources(Kind::HarvestV3).len(), 8);
        let v1 = Profile::named(Kind::HarvestV1, "full-analytics").unwrap();
        assert_eq!(v1.required.len(), 16);
        assert_eq!(v1.optional, ["tags/candidate", "prospect_pools"]);
        assert_eq!(v1.required_resources(Kind::HarvestV1).len(), 16);
        assert_eq!(v1, Profile::default_for(Kind::HarvestV1));
        for kind in Kind::ALL {
            let m = Profile::named(kind, "minimal").unwrap();
            assert_eq!(m.required, ["users"]);
            assert!(m.optional.is_empty());
            m.validate(kind).unwrap();
            Profile::default_for(kind).validate(kind).unwrap();
        }
        let e = Profile::named(Kind::HarvestV3, "everything").unwrap_err();
        assert_eq!(e.field, "profile");
        assert!(e.message.contains("everything"));
    }

    #[test]
    fn serde_shape() {
        let m = Profile::named(Kind::HarvestV3, "minimal").unwrap();
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
            Kind::HarvestV3,
            ["users", "jobs", "users"],
            ["notes", "jobs", "notes", "eeoc"],
        )
        .unwrap();
        assert_eq!(p.name, "custom");
        assert_eq!(p.required, ["users", "jobs"]);
        assert_eq!(p.optional, ["notes", "eeoc"]);

        let e = Profile::explicit(Kind::HarvestV3, ["users", "scheduled_interviews"], [""; 0])
            .unwrap_err();
        assert_eq!(e.field, "required");
        assert!(e.message.contains("scheduled_interviews"));
        let e = Profile::explicit(Kind::HarvestV3, ["users"], ["bogus"]).unwrap_err();
        assert_eq!(e.field, "optional");
        assert!(e.message.contains("bogus"));
        let e = Profile::explicit(Kind::HarvestV3, [""; 0], ["users"]).unwrap_err();
        assert_eq!(e.field, "required");
        assert!(Profile::explicit(Kind::HarvestV1, ["tags/candidate"], ["job_stages"]).is_ok());
        assert!(Profile::explicit(Kind::HarvestV1, ["interviews"], [""; 0]).is_err());
    }

    #[test]
    fn validate_catches_bad_stored_profiles() {
        let p = Profile {
            name: "custom".into(),
            required: vec!["users".into(), "users".into()],
            optional: vec![],
        };
        assert!(p.validate(Kind::HarvestV3).is_err());
        let p = Profile {
            name: "custom".into(),
            required: vec!["job_stages".into()],
            optional: vec![],
        };
        assert!(p.validate(Kind::HarvestV3).is_err());
        assert!(p.validate(Kind::HarvestV1).is_ok());
    }
}
