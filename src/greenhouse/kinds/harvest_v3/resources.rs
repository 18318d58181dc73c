//! The Harvest v3 resources keydrop can probe: `GET /v3/<name>`, granted by the OAuth scope
//! `harvest:<name>:list`.

use crate::greenhouse::resources::Resource;

const fn scope(name: &'static str, description: &'static str) -> Resource {
    Resource::scope(name, description)
}

pub(in crate::greenhouse::kinds) static RESOURCES: &[Resource] = &[
    scope("users", "Users — the people in your Greenhouse account"),
    scope(
        "user_roles",
        "User roles — which permission level each user has",
    ),
    scope("jobs", "Jobs — the positions you recruit for"),
    scope("job_posts", "Job posts — the published ads for your jobs"),
    scope(
        "job_interview_stages",
        "Interview stages — the steps of each job's hiring plan",
    ),
    scope("openings", "Openings — the headcount slots of each job"),
    scope(
        "departments",
        "Departments — how your organisation is divided",
    ),
    scope("offices", "Offices — your locations"),
    scope(
        "candidates",
        "Candidates — the people who applied or were sourced",
    ),
    scope(
        "applications",
        "Applications — each candidate's application to a job",
    ),
    scope(
        "application_stages",
        "Application stage history — when applications entered and left each stage",
    ),
    scope("interviews", "Interviews — scheduled interviews"),
    scope("scorecards", "Scorecards — interviewers' feedback"),
    scope("offers", "Offers — offers made to candidates"),
    scope("sources", "Sources — where candidates came from"),
    scope(
        "rejection_reasons",
        "Rejection reasons — the reasons you use to reject candidates",
    ),
    scope("close_reasons", "Close reasons — why openings were closed"),
    scope(
        "custom_fields",
        "Custom fields — the extra fields your account defines",
    ),
    scope(
        "custom_field_options",
        "Custom field options — the choices of those custom fields",
    ),
    scope("job_owners", "Job owners — who owns each job"),
    scope(
        "job_hiring_managers",
        "Hiring managers — who manages hiring for each job",
    ),
    scope(
        "interviewers",
        "Interviewers — who interviews for each interview",
    ),
    scope("referrers", "Referrers — who referred candidates"),
    scope("notes", "Notes — notes on candidates"),
    scope("candidate_tags", "Candidate tags — the tags on candidates"),
    scope("prospect_pools", "Prospect pools — your pools of prospects"),
    scope(
        "user_job_permissions",
        "User job permissions — which users can see which jobs",
    ),
    scope(
        "rejection_details",
        "Rejection details — why each application was rejected",
    ),
    scope(
        "job_interviews",
        "Job interviews — the interviews planned in each job's hiring plan",
    ),
    scope(
        "eeoc",
        "EEOC answers — voluntary equal-opportunity survey answers (sensitive)",
    ),
    scope(
        "email_templates",
        "E-mail templates — your saved e-mail templates",
    ),
    scope(
        "approval_flows",
        "Approval flows — job and offer approval chains",
    ),
    scope(
        "candidate_educations",
        "Candidate education — schools and degrees on candidate profiles",
    ),
    scope(
        "candidate_employments",
        "Candidate employment — past employers on candidate profiles",
    ),
    scope(
        "scorecard_question_answers",
        "Scorecard answers — answers to scorecard questions",
    ),
    scope(
        "future_job_permissions",
        "Future job permissions — job access granted to users in advance",
    ),
    scope(
        "attachments",
        "Attachments — résumés and other files (sensitive)",
    ),
    scope(
        "demographic_questions",
        "Demographic questions — your demographic survey questions (sensitive)",
    ),
    scope(
        "demographic_question_sets",
        "Demographic question sets — groups of those questions (sensitive)",
    ),
    scope(
        "demographic_answer_options",
        "Demographic answer options — the choices offered (sensitive)",
    ),
    scope(
        "demographic_answers",
        "Demographic answers — candidates' answers (sensitive)",
    ),
];
