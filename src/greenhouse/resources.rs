//! The Greenhouse resources keydrop knows how to probe, per credential kind, with the exact
//! permission a customer must grant and a description in plain words.
//!
//! v3 permissions are the OAuth scope `harvest:<resource>:list`. v1 permissions are the names
//! Greenhouse shows in Dev Center when editing a Harvest API key's permissions, written
//! `GET: List <Thing>` after the list endpoint the probe calls (e.g. `GET: List Users` for
//! `/v1/users`). v1 names are derived from the endpoint, following the published names
//! integrators quote (Merge: "GET: List Users"); Greenhouse has no API listing them.

use crate::domain::kind::Kind;

/// One probeable resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub kind: Kind,
    /// The path segment(s) after `/v3/` or `/v1/`, and the name used in profiles.
    pub name: &'static str,
    /// v1 only: the permission label in Greenhouse; v3 uses `harvest:<name>:list`.
    v1_permission: &'static str,
    /// Plain words for customers.
    pub description: &'static str,
}

impl Resource {
    /// The exact permission to grant: `harvest:<name>:list` (v3) or `GET: List …` (v1).
    pub fn permission(&self) -> String {
        match self.kind {
            Kind::HarvestV3 => format!("harvest:{}:list", self.name),
            Kind::HarvestV1 => self.v1_permission.to_owned(),
        }
    }
}

const fn v3(name: &'static str, description: &'static str) -> Resource {
    Resource {
        kind: Kind::HarvestV3,
        name,
        v1_permission: "",
        description,
    }
}

const fn v1(name: &'static str, perm: &'static str, description: &'static str) -> Resource {
    Resource {
        kind: Kind::HarvestV1,
        name,
        v1_permission: perm,
        description,
    }
}

static V3: &[Resource] = &[
    v3("users", "Users — the people in your Greenhouse account"),
    v3(
        "user_roles",
        "User roles — which permission level each user has",
    ),
    v3("jobs", "Jobs — the positions you recruit for"),
    v3("job_posts", "Job posts — the published ads for your jobs"),
    v3(
        "job_interview_stages",
        "Interview stages — the steps of each job's hiring plan",
    ),
    v3("openings", "Openings — the headcount slots of each job"),
    v3(
        "departments",
        "Departments — how your organisation is divided",
    ),
    v3("offices", "Offices — your locations"),
    v3(
        "candidates",
        "Candidates — the people who applied or were sourced",
    ),
    v3(
        "applications",
        "Applications — each candidate's application to a job",
    ),
    v3(
        "application_stages",
        "Application stage history — when applications entered and left each stage",
    ),
    v3("interviews", "Interviews — scheduled interviews"),
    v3("scorecards", "Scorecards — interviewers' feedback"),
    v3("offers", "Offers — offers made to candidates"),
    v3("sources", "Sources — where candidates came from"),
    v3(
        "rejection_reasons",
        "Rejection reasons — the reasons you use to reject candidates",
    ),
    v3("close_reasons", "Close reasons — why openings were closed"),
    v3(
        "custom_fields",
        "Custom fields — the extra fields your account defines",
    ),
    v3(
        "custom_field_options",
        "Custom field options — the choices of those custom fields",
    ),
    v3("job_owners", "Job owners — who owns each job"),
    v3(
        "job_hiring_managers",
        "Hiring managers — who manages hiring for each job",
    ),
    v3(
        "interviewers",
        "Interviewers — who interviews for each interview",
    ),
    v3("referrers", "Referrers — who referred candidates"),
    v3("notes", "Notes — notes on candidates"),
    v3("candidate_tags", "Candidate tags — the tags on candidates"),
    v3("prospect_pools", "Prospect pools — your pools of prospects"),
    v3(
        "user_job_permissions",
        "User job permissions — which users can see which jobs",
    ),
    v3(
        "rejection_details",
        "Rejection details — why each application was rejected",
    ),
    v3(
        "job_interviews",
        "Job interviews — the interviews planned in each job's hiring plan",
    ),
    v3(
        "eeoc",
        "EEOC answers — voluntary equal-opportunity survey answers (sensitive)",
    ),
    v3(
        "email_templates",
        "E-mail templates — your saved e-mail templates",
    ),
    v3(
        "approval_flows",
        "Approval flows — job and offer approval chains",
    ),
    v3(
        "candidate_educations",
        "Candidate education — schools and degrees on candidate profiles",
    ),
    v3(
        "candidate_employments",
        "Candidate employment — past employers on candidate profiles",
    ),
    v3(
        "scorecard_question_answers",
        "Scorecard answers — answers to scorecard questions",
    ),
    v3(
        "future_job_permissions",
        "Future job permissions — job access granted to users in advance",
    ),
    v3(
        "attachments",
        "Attachments — résumés and other files (sensitive)",
    ),
    v3(
        "demographic_questions",
        "Demographic questions — your demographic survey questions (sensitive)",
    ),
    v3(
        "demographic_question_sets",
        "Demographic question sets — groups of those questions (sensitive)",
    ),
    v3(
        "demographic_answer_options",
        "Demographic answer options — the choices offered (sensitive)",
    ),
    v3(
        "demographic_answers",
        "Demographic answers — candidates' answers (sensitive)",
    ),
];

static V1: &[Resource] = &[
    v1(
        "users",
        "GET: List Users",
        "Users — the people in your Greenhouse account",
    ),
    v1(
        "user_roles",
        "GET: List User Roles",
        "User roles — which permission level each user has",
    ),
    v1(
        "jobs",
        "GET: List Jobs",
        "Jobs — the positions you recruit for",
    ),
    v1(
        "job_posts",
        "GET: List Job Posts",
        "Job posts — the published ads for your jobs",
    ),
    v1(
        "job_stages",
        "GET: List Job Stages",
        "Job stages — the steps of each job's hiring plan",
    ),
    v1(
        "departments",
        "GET: List Departments",
        "Departments — how your organisation is divided",
    ),
    v1("offices", "GET: List Offices", "Offices — your locations"),
    v1(
        "candidates",
        "GET: List Candidates",
        "Candidates — the people who applied or were sourced",
    ),
    v1(
        "applications",
        "GET: List Applications",
        "Applications — each candidate's application to a job",
    ),
    v1(
        "scheduled_interviews",
        "GET: List Scheduled Interviews",
        "Interviews — scheduled interviews",
    ),
    v1(
        "scorecards",
        "GET: List Scorecards",
        "Scorecards — interviewers' feedback",
    ),
    v1(
        "offers",
        "GET: List Offers",
        "Offers — offers made to candidates",
    ),
    v1(
        "sources",
        "GET: List Sources",
        "Sources — where candidates came from",
    ),
    v1(
        "rejection_reasons",
        "GET: List Rejection Reasons",
        "Rejection reasons — the reasons you use to reject candidates",
    ),
    v1(
        "close_reasons",
        "GET: List Close Reasons",
        "Close reasons — why openings were closed",
    ),
    v1(
        "custom_fields",
        "GET: List Custom Fields",
        "Custom fields — the extra fields your account defines",
    ),
    v1(
        "tags/candidate",
        "GET: List Candidate Tags",
        "Candidate tags — the tags on candidates",
    ),
    v1(
        "prospect_pools",
        "GET: List Prospect Pools",
        "Prospect pools — your pools of prospects",
    ),
    v1(
        "eeoc",
        "GET: List EEOC",
        "EEOC answers — voluntary equal-opportunity survey answers (sensitive)",
    ),
    v1(
        "email_templates",
        "GET: List Email Templates",
        "E-mail templates — your saved e-mail templates",
    ),
    v1(
        "degrees",
        "GET: List Degrees",
        "Degrees — the degree list used on candidate profiles",
    ),
    v1(
        "disciplines",
        "GET: List Disciplines",
        "Disciplines — the study fields used on candidate profiles",
    ),
    v1(
        "schools",
        "GET: List Schools",
        "Schools — the school list used on candidate profiles",
    ),
];

/// Every resource keydrop knows for `kind`, in catalogue order.
pub fn known_resources(kind: Kind) -> &'static [Resource] {
    match kind {
        Kind::HarvestV3 => V3,
        Kind::HarvestV1 => V1,
    }
}

/// The resource called `name` for `kind`, if keydrop knows it.
pub fn resource(kind: Kind, name: &str) -> Option<&'static Resource> {
    known_resources(kind).iter().find(|r| r.name == name)
}

/// The resource whose permission string is `permission` (as found in a [`super::Verification`]).
pub fn resource_by_permission(kind: Kind, permission: &str) -> Option<&'static Resource> {
    known_resources(kind)
        .iter()
        .find(|r| r.permission() == permission)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        for kind in Kind::ALL {
            let all = known_resources(kind);
            for (i, r) in all.iter().enumerate() {
                assert_eq!(r.kind, kind);
                assert!(
                    all[i + 1..].iter().all(|o| o.name != r.name),
                    "dup {}",
                    r.name
                );
                assert!(!r.description.is_empty());
                assert_eq!(resource_by_permission(kind, &r.permission()), Some(r));
            }
        }
        assert_eq!(
            resource(Kind::HarvestV3, "users").unwrap().permission(),
            "harvest:users:list"
        );
        assert_eq!(
            resource(Kind::HarvestV1, "tags/candidate")
                .unwrap()
                .permission(),
            "GET: List Candidate Tags"
        );
        assert!(resource(Kind::HarvestV3, "scheduled_interviews").is_none());
        assert!(resource(Kind::HarvestV1, "interviews").is_none());
    }
}
