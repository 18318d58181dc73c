//! The Harvest v3 resources keydrop can probe: `GET /v3/<name>`, granted by the OAuth scope
//! `harvest:<name>:list`, which Greenhouse's screen shows as "<Resources> > List <resources>"
//! (e.g. "Candidates > List candidates"; GREENHOUSE.md §5.1).

use crate::greenhouse::resources::Resource;

/// A resource granted by `harvest:<name>:list`, which Greenhouse's Manage Scopes screen labels
/// `screen` ("<Resources> > List <resources>").
const fn scope(name: &'static str, screen: &'static str, description: &'static str) -> Resource {
    Resource::scope(name, description).on_screen(screen)
}

pub(in crate::greenhouse::kinds) static RESOURCES: &[Resource] = &[
    scope(
        "users",
        "Users > List users",
        "Users — the people in your Greenhouse account",
    ),
    scope(
        "user_roles",
        "User Roles > List user roles",
        "User roles — which permission level each user has",
    ),
    scope(
        "jobs",
        "Jobs > List jobs",
        "Jobs — the positions you recruit for",
    ),
    scope(
        "job_posts",
        "Job Posts > List job posts",
        "Job posts — the published ads for your jobs",
    ),
    scope(
        "job_interview_stages",
        "Job Interview Stages > List job interview stages",
        "Interview stages — the steps of each job's hiring plan",
    ),
    scope(
        "openings",
        "Openings > List openings",
        "Openings — the headcount slots of each job",
    ),
    scope(
        "departments",
        "Departments > List departments",
        "Departments — how your organisation is divided",
    ),
    scope(
        "offices",
        "Offices > List offices",
        "Offices — your locations",
    ),
    scope(
        "candidates",
        "Candidates > List candidates",
        "Candidates — the people who applied or were sourced",
    ),
    scope(
        "applications",
        "Applications > List applications",
        "Applications — each candidate's application to a job",
    ),
    scope(
        "application_stages",
        "Application Stages > List application stages",
        "Application stage history — when applications entered and left each stage",
    ),
    scope(
        "interviews",
        "Interviews > List interviews",
        "Interviews — scheduled interviews",
    ),
    scope(
        "scorecards",
        "Scorecards > List scorecards",
        "Scorecards — interviewers' feedback",
    ),
    scope(
        "offers",
        "Offers > List offers",
        "Offers — offers made to candidates",
    ),
    scope(
        "sources",
        "Sources > List sources",
        "Sources — where candidates came from",
    ),
    scope(
        "rejection_reasons",
        "Rejection Reasons > List rejection reasons",
        "Rejection reasons — the reasons you use to reject candidates",
    ),
    scope(
        "close_reasons",
        "Close Reasons > List close reasons",
        "Close reasons — why openings were closed",
    ),
    scope(
        "custom_fields",
        "Custom Fields > List custom fields",
        "Custom fields — the extra fields your account defines",
    ),
    scope(
        "custom_field_options",
        "Custom Field Options > List custom field options",
        "Custom field options — the choices of those custom fields",
    ),
    scope(
        "job_owners",
        "Job Owners > List job owners",
        "Job owners — who owns each job",
    ),
    scope(
        "job_hiring_managers",
        "Job Hiring Managers > List job hiring managers",
        "Hiring managers — who manages hiring for each job",
    ),
    scope(
        "interviewers",
        "Interviewers > List interviewers",
        "Interviewers — who interviews for each interview",
    ),
    scope(
        "referrers",
        "Referrers > List referrers",
        "Referrers — who referred candidates",
    ),
    scope("notes", "Notes > List notes", "Notes — notes on candidates"),
    scope(
        "candidate_tags",
        "Candidate Tags > List candidate tags",
        "Candidate tags — the tags on candidates",
    ),
    scope(
        "prospect_pools",
        "Prospect Pools > List prospect pools",
        "Prospect pools — your pools of prospects",
    ),
    scope(
        "user_job_permissions",
        "User Job Permissions > List user job permissions",
        "User job permissions — which users can see which jobs",
    ),
    scope(
        "rejection_details",
        "Rejection Details > List rejection details",
        "Rejection details — why each application was rejected",
    ),
    scope(
        "job_interviews",
        "Job Interviews > List job interviews",
        "Job interviews — the interviews planned in each job's hiring plan",
    ),
    scope(
        "eeoc",
        "EEOC > List EEOC answers",
        "EEOC answers — voluntary equal-opportunity survey answers (sensitive)",
    ),
    scope(
        "email_templates",
        "Email Templates > List email templates",
        "E-mail templates — your saved e-mail templates",
    ),
    scope(
        "approval_flows",
        "Approval Flows > List approval flows",
        "Approval flows — job and offer approval chains",
    ),
    scope(
        "candidate_educations",
        "Candidate Educations > List candidate educations",
        "Candidate education — schools and degrees on candidate profiles",
    ),
    scope(
        "candidate_employments",
        "Candidate Employments > List candidate employments",
        "Candidate employment — past employers on candidate profiles",
    ),
    scope(
        "scorecard_question_answers",
        "Scorecard Question Answers > List scorecard question answers",
        "Scorecard answers — answers to scorecard questions",
    ),
    scope(
        "future_job_permissions",
        "Future Job Permissions > List future job permissions",
        "Future job permissions — job access granted to users in advance",
    ),
    scope(
        "attachments",
        "Attachments > List attachments",
        "Attachments — résumés and other files (sensitive)",
    ),
    scope(
        "demographic_questions",
        "Demographic Questions > List demographic questions",
        "Demographic questions — your demographic survey questions (sensitive)",
    ),
    scope(
        "demographic_question_sets",
        "Demographic Question Sets > List demographic question sets",
        "Demographic question sets — groups of those questions (sensitive)",
    ),
    scope(
        "demographic_answer_options",
        "Demographic Answer Options > List demographic answer options",
        "Demographic answer options — the choices offered (sensitive)",
    ),
    scope(
        "demographic_answers",
        "Demographic Answers > List demographic answers",
        "Demographic answers — candidates' answers (sensitive)",
    ),
];

#[cfg(test)]
mod tests {
    use super::RESOURCES;

    /// "<Resources> > List <resources>", as Greenhouse's Manage Scopes screen reads.
    #[test]
    fn every_scope_has_its_screen_label() {
        for r in RESOURCES {
            let label = r.screen_label();
            let (title, list) = label.split_once(" > ").unwrap_or_default();
            assert_eq!(title.to_lowercase().replace(' ', "_"), r.name, "{label}");
            assert!(list.starts_with("List "), "{label}");
            assert!(!label.contains(':'), "{label}");
        }
        let label = |n: &str| {
            RESOURCES
                .iter()
                .find(|r| r.name == n)
                .unwrap()
                .screen_label()
        };
        assert_eq!(label("candidates"), "Candidates > List candidates");
        assert_eq!(label("applications"), "Applications > List applications");
        assert_eq!(
            label("job_interview_stages"),
            "Job Interview Stages > List job interview stages"
        );
    }
}
