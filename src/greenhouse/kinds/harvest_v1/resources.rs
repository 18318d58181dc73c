//! The legacy Harvest v1 endpoints keydrop can probe, with the permission names Greenhouse shows
//! in Dev Center when editing a Harvest API key's permissions, written `GET: List <Thing>` after
//! the list endpoint the probe calls (e.g. `GET: List Users` for `/v1/users`). The names are
//! derived from the endpoint, following the published names integrators quote (Merge:
//! "GET: List Users"); Greenhouse has no API listing them.

use crate::greenhouse::resources::Resource;

const fn labelled(
    name: &'static str,
    permission: &'static str,
    description: &'static str,
) -> Resource {
    Resource::labelled(name, permission, description)
}

pub(super) static RESOURCES: &[Resource] = &[
    labelled(
        "users",
        "GET: List Users",
        "Users — the people in your Greenhouse account",
    ),
    labelled(
        "user_roles",
        "GET: List User Roles",
        "User roles — which permission level each user has",
    ),
    labelled(
        "jobs",
        "GET: List Jobs",
        "Jobs — the positions you recruit for",
    ),
    labelled(
        "job_posts",
        "GET: List Job Posts",
        "Job posts — the published ads for your jobs",
    ),
    labelled(
        "job_stages",
        "GET: List Job Stages",
        "Job stages — the steps of each job's hiring plan",
    ),
    labelled(
        "departments",
        "GET: List Departments",
        "Departments — how your organisation is divided",
    ),
    labelled("offices", "GET: List Offices", "Offices — your locations"),
    labelled(
        "candidates",
        "GET: List Candidates",
        "Candidates — the people who applied or were sourced",
    ),
    labelled(
        "applications",
        "GET: List Applications",
        "Applications — each candidate's application to a job",
    ),
    labelled(
        "scheduled_interviews",
        "GET: List Scheduled Interviews",
        "Interviews — scheduled interviews",
    ),
    labelled(
        "scorecards",
        "GET: List Scorecards",
        "Scorecards — interviewers' feedback",
    ),
    labelled(
        "offers",
        "GET: List Offers",
        "Offers — offers made to candidates",
    ),
    labelled(
        "sources",
        "GET: List Sources",
        "Sources — where candidates came from",
    ),
    labelled(
        "rejection_reasons",
        "GET: List Rejection Reasons",
        "Rejection reasons — the reasons you use to reject candidates",
    ),
    labelled(
        "close_reasons",
        "GET: List Close Reasons",
        "Close reasons — why openings were closed",
    ),
    labelled(
        "custom_fields",
        "GET: List Custom Fields",
        "Custom fields — the extra fields your account defines",
    ),
    labelled(
        "tags/candidate",
        "GET: List Candidate Tags",
        "Candidate tags — the tags on candidates",
    ),
    labelled(
        "prospect_pools",
        "GET: List Prospect Pools",
        "Prospect pools — your pools of prospects",
    ),
    labelled(
        "eeoc",
        "GET: List EEOC",
        "EEOC answers — voluntary equal-opportunity survey answers (sensitive)",
    ),
    labelled(
        "email_templates",
        "GET: List Email Templates",
        "E-mail templates — your saved e-mail templates",
    ),
    labelled(
        "degrees",
        "GET: List Degrees",
        "Degrees — the degree list used on candidate profiles",
    ),
    labelled(
        "disciplines",
        "GET: List Disciplines",
        "Disciplines — the study fields used on candidate profiles",
    ),
    labelled(
        "schools",
        "GET: List Schools",
        "Schools — the school list used on candidate profiles",
    ),
];
