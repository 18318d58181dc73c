//! The console's drops (SPEC §13): the list (filters, search by org or external_id prefix,
//! cursor pages), the new-drop form (the API's field names, the link shown once), a drop's
//! page (its credential's report, its timeline, actions by role). Every rule is the API's:
//! the same validation (`DropRequest::validate`), the same service calls, the same role
//! matrix (`Role::may`), with the signed-in person as the audit log's actor.

use super::console::{context, form_token, internal, page, person_who_may, posted_by, see_other};
use crate::domain::audit::{AuditEvent, AuditFilter};
use crate::domain::contact::Contact;
use crate::domain::drop::{DropRecord, DropRequest, DropState};
use crate::domain::role::Capability;
use crate::service;
use crate::service::console::Person;
use crate::service::credentials::Rechecked;
use crate::service::drops::{CreateError, Revoked};
use crate::store::{Cursor, DropFilter};
use crate::web::page_error::PageError;
use crate::web::pages::components::notice;
use crate::web::{client_ip, AppState};
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use maud::{html as markup, Markup};

/// Drops per page.
const PAGE: i64 = 50;

fn when(ms: i64) -> String {
    let t = crate::clock::from_millis(ms);
    crate::clock::rfc3339(t)
        .replace('T', " ")
        .chars()
        .take(16)
        .collect::<String>()
        + " UTC"
}

/// The date alone, for lists.
fn day(ms: i64) -> String {
    crate::clock::rfc3339(crate::clock::from_millis(ms))
        .chars()
        .take(10)
        .collect()
}

/// Who caused an event, in words a colleague reads at a glance.
fn who(actor: &str) -> String {
    match actor {
        "public" => "the customer (through the link)".into(),
        "system" => "keydrop".into(),
        "cli" => "the command line".into(),
        a => match a.strip_prefix("user:") {
            Some(email) => email.to_owned(),
            None => match a.strip_prefix("token:") {
                Some(id) => format!("API token {}…", id.chars().take(8).collect::<String>()),
                None => a.to_owned(),
            },
        },
    }
}

fn origin(person: &Person, req: &HttpRequest) -> crate::domain::event::Origin {
    crate::domain::event::Origin::new(person.actor(), client_ip(req))
}

/// The console's navigation, on every signed-in page.
pub(super) fn nav(person: &Person) -> Markup {
    markup! {
        nav.console-nav aria-label="Console" {
            a href="/console" { "Dashboard" }
            " · " a href="/console/drops" { "Drops" }
            @if person.role.may(Capability::ManageDrops) {
                " · " a href="/console/drops/new" { "New drop" }
            }
            @if person.role.may(Capability::ReadAudit) {
                " · " a href="/console/audit" { "Audit log" }
            }
            " — signed in as " (person.email) " (" (person.role.as_str()) ") · "
            a href="/console/sign-out" { "Sign out" }
        }
    }
}

#[derive(serde::Deserialize)]
struct ListQuery {
    state: Option<String>,
    kind: Option<String>,
    q: Option<String>,
    after: Option<String>,
}

/// A query-string value as a filter: trimmed, empty means none; control characters or more
/// than 200 characters are refused (the API's rule for list filters).
fn text_filter(v: Option<&str>) -> Result<Option<String>, ()> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.chars().count() > 200 || s.chars().any(char::is_control) => Err(()),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

fn bad_filter(state: &AppState, what: &str) -> HttpResponse {
    page(
        state,
        StatusCode::UNPROCESSABLE_ENTITY,
        "That filter cannot be used",
        None,
        markup! {
            (notice("warning", markup! { p { (what) } }))
            p { a href="/console/drops" { "All drops" } }
        },
    )
}

#[get("/console/drops")]
pub async fn list(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, person) = match person_who_may(&req, &state, Capability::ReadDrops).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let drop_state = match query.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match DropState::parse(s) {
            Some(st) => Some(st),
            None => {
                return bad_filter(
                    &state,
                    "state must be one of open, submitted, expired, revoked, locked.",
                )
            }
        },
    };
    let kind = match query.kind.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(k) => match state.checker.kinds().by_name(k) {
            Some(kind) => Some(kind.name().to_owned()),
            None => return bad_filter(&state, "kind is not a credential kind keydrop knows."),
        },
    };
    let Ok(q) = text_filter(query.q.as_deref()) else {
        return bad_filter(
            &state,
            "Search for at most 200 characters, without control characters.",
        );
    };
    let after = match query.after.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(a) => match Cursor::decode(a) {
            Some(c) => Some(c),
            None => return bad_filter(&state, "That page link is not one of this console's."),
        },
    };
    let filter = DropFilter {
        state: drop_state,
        kind: kind.clone(),
        prefix: q.clone(),
        ..DropFilter::default()
    };
    let drops = match state.store.list_drops(&filter, after.as_ref(), PAGE).await {
        Ok(d) => d,
        Err(e) => return internal(&state, &e.into()),
    };
    let next = crate::web::api::next(&drops, PAGE, |d| Cursor {
        created_at: d.created_at,
        id: d.id.clone(),
    })
    .map(|cursor| {
        let mut pairs = vec![("after", cursor)];
        if let Some(s) = drop_state {
            pairs.push(("state", s.as_str().to_owned()));
        }
        if let Some(k) = &kind {
            pairs.push(("kind", k.clone()));
        }
        if let Some(q) = &q {
            pairs.push(("q", q.clone()));
        }
        format!(
            "/console/drops?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    });
    page(
        &state,
        StatusCode::OK,
        "Drops",
        Some(markup! { "Every link sent, newest first." }),
        markup! {
            (nav(&person))
            form.filters method="get" action="/console/drops" role="search" {
                label { "State "
                    select name="state" {
                        option value="" { "any" }
                        @for s in DropState::ALL {
                            option value=(s.as_str()) selected[drop_state == Some(s)] { (s.as_str()) }
                        }
                    }
                }
                " "
                label { "Kind "
                    select name="kind" {
                        option value="" { "any" }
                        @for k in state.checker.kinds().all() {
                            option value=(k.name()) selected[kind.as_deref() == Some(k.name())] { (k.name()) }
                        }
                    }
                }
                " "
                label { "Org or external id starts with "
                    input type="search" name="q" maxlength="200" value=(q.as_deref().unwrap_or(""));
                }
                " "
                button.button type="submit" { "Filter" }
            }
            @if drops.is_empty() {
                p { "No drops match." }
            } @else {
                div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways on narrow screens)" {
                    table {
                        caption { "Drops" }
                        thead { tr { th scope="col" { "Customer" } th scope="col" { "State" } th scope="col" { "Created" } } }
                        tbody {
                            @for d in &drops {
                                tr {
                                    td {
                                        a href={ "/console/drops/" (d.id) } { (d.org) }
                                        br;
                                        small.muted {
                                            (d.kind.as_str())
                                            @if let Some(x) = &d.external_id { " · " (x) }
                                        }
                                    }
                                    td { (d.state.as_str()) }
                                    td.nowrap { (day(d.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a href=(next) { "Older drops →" } }
            }
        },
    )
}

/// The new-drop form: the API's field names; kind and profile from the kinds' catalogue;
/// contact defaulting to the signed-in person.
#[get("/console/drops/new")]
pub async fn new_form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (session, person) = match person_who_may(&req, &state, Capability::ManageDrops).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let form = NewDropForm {
        contact_email: Some(person.email.clone()),
        ..NewDropForm::default()
    };
    new_page(&state, &session, &person, &form, None, StatusCode::OK)
}

#[derive(Debug, Default, serde::Deserialize)]
struct NewDropForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    org: String,
    note: Option<String>,
    kind: Option<String>,
    profile: Option<String>,
    release: Option<String>,
    expires_in: Option<String>,
    max_attempts: Option<String>,
    external_id: Option<String>,
    contact_name: Option<String>,
    contact_email: Option<String>,
    send_to: Option<String>,
    /// Permissions chosen one by one: (kind, resource, "required" | "optional").
    #[serde(skip)]
    perms: Vec<(String, String, String)>,
}

impl NewDropForm {
    /// The posted form: the API's fields by name, and `perm.<kind>.<resource>` selections.
    /// Unknown names are ignored, as a browser may add none but a tampered form might.
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf_token" => f.csrf_token = v,
                "org" => f.org = v,
                "note" => f.note = Some(v),
                "kind" => f.kind = Some(v),
                "profile" => f.profile = Some(v),
                "release" => f.release = Some(v),
                "expires_in" => f.expires_in = Some(v),
                "max_attempts" => f.max_attempts = Some(v),
                "external_id" => f.external_id = Some(v),
                "contact_name" => f.contact_name = Some(v),
                "contact_email" => f.contact_email = Some(v),
                "send_to" => f.send_to = Some(v),
                other => {
                    if let Some((kind, resource)) =
                        other.strip_prefix("perm.").and_then(|r| r.split_once('.'))
                    {
                        if v == "required" || v == "optional" {
                            f.perms.push((kind.to_owned(), resource.to_owned(), v));
                        }
                    }
                }
            }
        }
        f
    }

    fn perm(&self, kind: &str, resource: &str) -> &str {
        self.perms
            .iter()
            .find(|(k, r, _)| k == kind && r == resource)
            .map_or("", |(_, _, c)| c.as_str())
    }
}

fn blank(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl NewDropForm {
    /// The API's request from the form; a number that is not one is the caller's to fix.
    /// `default_kind` is the kind a drop gets when none is chosen.
    fn request(&self, default_kind: &str) -> Result<DropRequest, String> {
        let number = |name: &str, v: &Option<String>| -> Result<Option<i64>, String> {
            blank(v)
                .map(|s| {
                    s.parse::<i64>()
                        .map_err(|_| format!("{name} must be a whole number"))
                })
                .transpose()
        };
        let json = |v: Option<String>| v.map(serde_json::Value::String);
        let contact = match (blank(&self.contact_name), blank(&self.contact_email)) {
            (None, None) => None,
            (name, Some(email)) => Some(Contact {
                name: name.unwrap_or_else(|| email.clone()),
                email,
            }),
            (Some(_), None) => return Err("contact_email is needed with contact_name".into()),
        };
        let mut req = DropRequest {
            org: self.org.clone(),
            note: blank(&self.note),
            profile: blank(&self.profile),
            expires_in: number("expires_in", &self.expires_in)?,
            max_attempts: number("max_attempts", &self.max_attempts)?,
            contact,
            external_id: blank(&self.external_id),
            send_to: blank(&self.send_to),
            ..DropRequest::default()
        };
        if let Some(k) = json(blank(&self.kind)) {
            req.kind = Some(serde_json::from_value(k).map_err(|e| format!("kind: {e}"))?);
        }
        if let Some(r) = json(blank(&self.release)) {
            req.release = Some(
                serde_json::from_value(r)
                    .map_err(|_| "release must be handoff or vend".to_owned())?,
            );
        }
        // Permissions chosen one by one, for the chosen kind only.
        let kind = blank(&self.kind).unwrap_or_else(|| default_kind.to_owned());
        let chosen = |which: &str| -> Vec<String> {
            self.perms
                .iter()
                .filter(|(k, _, c)| *k == kind && c == which)
                .map(|(_, r, _)| r.clone())
                .collect()
        };
        let (required, optional) = (chosen("required"), chosen("optional"));
        req.required = (!required.is_empty()).then_some(required);
        req.optional = (!optional.is_empty()).then_some(optional);
        Ok(req)
    }
}

fn new_page(
    state: &AppState,
    session: &str,
    person: &Person,
    form: &NewDropForm,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let kinds: Vec<_> = state.checker.kinds().all().collect();
    let chosen_kind = blank(&form.kind);
    page(
        state,
        status,
        "New drop",
        Some(
            markup! { "A one-time link for one customer. You will see the link once, on the next page." },
        ),
        markup! {
            (nav(person))
            @if let Some(e) = error {
                (notice("warning", markup! { p { (e) } }))
            }
            form.stack method="post" action="/console/drops/new" {
                input type="hidden" name="csrf_token" value=(form_token(state, session));
                label for="org" { "Customer (org)" }
                input #org type="text" name="org" required maxlength="200" value=(form.org);
                label for="external_id" { "External id (optional: your id for this customer)" }
                input #external_id type="text" name="external_id" maxlength="200" value=(form.external_id.as_deref().unwrap_or(""));
                label for="kind" { "Credential kind" }
                select #kind name="kind" {
                    @for k in &kinds {
                        option value=(k.name()) selected[chosen_kind.as_deref() == Some(k.name())] { (k.label()) " (" (k.name()) ")" }
                    }
                }
                label for="profile" { "Permissions profile" }
                select #profile name="profile" {
                    option value="" { "the kind's default" }
                    @for k in &kinds {
                        @for p in k.profiles() {
                            option value=(p.name) selected[form.profile.as_deref() == Some(p.name)] { (k.name()) ": " (p.name) " (" (p.required.len()) " required, " (p.optional.len()) " optional)" }
                        }
                    }
                }
                label for="release" { "Release" }
                select #release name="release" {
                    option value="" { "the kind's default" }
                    option value="handoff" selected[form.release.as_deref() == Some("handoff")] { "handoff: workers get the secret" }
                    option value="vend" selected[form.release.as_deref() == Some("vend")] { "vend: workers get short-lived access tokens only" }
                }
                details.permissions open[!form.perms.is_empty()] {
                    summary { "Or choose the permissions one by one" }
                    p.hint { "Instead of a profile (leave it on the kind's default): mark what the customer must grant, and what they may. Only the kind chosen above counts." }
                    @for k in &kinds {
                        fieldset {
                            legend { (k.label()) }
                            @for r in k.resources() {
                                @let name = format!("perm.{}.{}", k.name(), r.name);
                                @let chosen = form.perm(k.name(), r.name);
                                div.perm-choice {
                                    label for=(name) {
                                        (r.screen_label()) " " small { code { (r.permission()) } }
                                    }
                                    select id=(name) name=(name) {
                                        option value="" { "not asked" }
                                        option value="required" selected[chosen == "required"] { "required" }
                                        option value="optional" selected[chosen == "optional"] { "optional" }
                                    }
                                }
                            }
                        }
                    }
                }
                label for="expires_in" { "The link works for" }
                select #expires_in name="expires_in" {
                    @for (secs, words) in [("86400", "1 day"), ("259200", "3 days"), ("", "7 days (the default)"), ("1209600", "14 days"), ("2592000", "30 days")] {
                        option value=(secs) selected[form.expires_in.as_deref().unwrap_or("") == secs] { (words) }
                    }
                }
                label for="max_attempts" { "Failed attempts before the link locks (optional; default 10)" }
                input #max_attempts type="number" name="max_attempts" min="1" value=(form.max_attempts.as_deref().unwrap_or(""));
                label for="contact_name" { "Contact shown to the customer: name" }
                input #contact_name type="text" name="contact_name" maxlength="200" value=(form.contact_name.as_deref().unwrap_or(""));
                label for="contact_email" { "Contact shown to the customer: e-mail" }
                input #contact_email type="email" name="contact_email" maxlength="254" value=(form.contact_email.as_deref().unwrap_or(""));
                label for="note" { "Note to the customer (optional)" }
                textarea #note name="note" rows="3" maxlength="2000" { (form.note.as_deref().unwrap_or("")) }
                @if state.mailer.is_some() {
                    label for="send_to" { "E-mail the link to (optional)" }
                    input #send_to type="email" name="send_to" maxlength="254" value=(form.send_to.as_deref().unwrap_or(""));
                    p.hint { "keydrop e-mails the link to this address and, if it is still unused shortly before it expires, one reminder with a new link." }
                } @else {
                    p.hint { "To have keydrop e-mail links, set KEYDROP_SMTP_URL; until then, copy the link from the next page." }
                }
                button.button type="submit" { "Create the link" }
            }
        },
    )
}

#[post("/console/drops/new")]
pub async fn create(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = NewDropForm::from_pairs(form.into_inner());
    let (session, person) =
        match posted_by(&req, &state, Capability::ManageDrops, &form.csrf_token).await {
            Ok(p) => p,
            Err(res) => return res,
        };
    let default_kind = state.checker.kinds().default().map_or("", |k| k.name());
    let spec = form
        .request(default_kind)
        .and_then(|r| r.validate(state.checker.kinds()));
    let spec = match spec {
        Ok(s) => s,
        Err(why) => {
            return new_page(
                &state,
                &session,
                &person,
                &form,
                Some(&why),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    };
    let created = service::drops::create(
        &state.store,
        &state.checker,
        spec,
        &origin(&person, &req),
        &state.settings.public_url,
        state.mail_keyring(),
    )
    .await;
    let created = match created {
        Ok(c) => c,
        Err(e @ CreateError::NoMail) => {
            return new_page(
                &state,
                &session,
                &person,
                &form,
                Some(&e.to_string()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(CreateError::KindUnavailable(why)) => {
            return new_page(
                &state,
                &session,
                &person,
                &form,
                Some(&why),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(CreateError::Service(service::ServiceError::Store(
            crate::store::StoreError::Conflict(_),
        ))) => {
            return new_page(
                &state,
                &session,
                &person,
                &form,
                Some("Another live drop already has this external id."),
                StatusCode::CONFLICT,
            )
        }
        Err(CreateError::Service(e)) => return internal(&state, &e),
    };
    link_created(&state, &person, &created)
}

/// The 201 page that shows a new link, once (a new drop, a relink).
fn link_created(
    state: &AppState,
    person: &Person,
    created: &service::drops::CreatedDrop,
) -> HttpResponse {
    let url = created.url();
    page(
        state,
        StatusCode::CREATED,
        "Link created",
        Some(
            markup! { "Send this link to " (created.drop.org) ". It is shown only now: copy it before you leave this page." },
        ),
        markup! {
            (nav(person))
            p.link-once { code { (url) } }
            @if created.drop.replaces.is_some() {
                p { "When " (created.drop.org) " hands a credential over through it and Greenhouse verifies it, that credential replaces the one it was made for; the old one is destroyed then." }
            }
            @for w in &created.warnings {
                (notice("warning", markup! { p { (w) } }))
            }
            p { a href={ "/console/drops/" (created.drop.id) } { "Follow this drop" } }
        },
    )
}

/// Relink the drop's credential (SPEC §15): a new drop whose credential will replace it.
#[post("/console/drops/{id}/relink")]
pub async fn relink(
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<SendForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    use service::drops::RelinkError;
    let (_, person) = match posted_by(&req, &state, Capability::ManageDrops, &form.csrf_token).await
    {
        Ok(p) => p,
        Err(res) => return res,
    };
    let (id, credential_id) = match drop_and_credential(&state, &id).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    let Some(cid) = credential_id else {
        return see_other(&format!("/console/drops/{id}"));
    };
    let created = service::drops::relink(
        &state.store,
        &state.checker,
        &cid,
        service::drops::RelinkRequest {
            send_to: Some(form.send_to.trim().to_owned()).filter(|t| !t.is_empty()),
            ..service::drops::RelinkRequest::default()
        },
        &origin(&person, &req),
        &state.settings.public_url,
        state.mail_keyring(),
    )
    .await;
    match created {
        Ok(created) => link_created(&state, &person, &created),
        Err(RelinkError::Create(CreateError::Service(service::ServiceError::Store(
            crate::store::StoreError::Conflict(_),
        )))) => not_done(
            &state,
            &id,
            StatusCode::CONFLICT,
            "No new link was made",
            "Another open link already carries this customer's external id (an earlier relink, perhaps). Revoke it first, or send that one.",
        ),
        Err(RelinkError::Create(CreateError::Service(e))) => internal(&state, &e),
        Err(e) => not_done(
            &state,
            &id,
            StatusCode::CONFLICT,
            "No new link was made",
            &format!("{e}."),
        ),
    }
}

/// A drop-page action that did not happen: `title`, why, and the way back to the drop.
fn not_done(
    state: &AppState,
    id: &str,
    status: StatusCode,
    title: &str,
    why: &str,
) -> HttpResponse {
    page(
        state,
        status,
        title,
        None,
        markup! {
            (notice("warning", markup! { p { (why) } }))
            p { a href={ "/console/drops/" (id) } { "Back to the drop" } }
        },
    )
}

/// The drop a POST names (its id as the path gave it) and its credential's id, once one was
/// accepted — or the page to answer with (404, or the internal-error page).
async fn drop_and_credential(
    state: &AppState,
    raw: &str,
) -> Result<(String, Option<String>), HttpResponse> {
    let Some(id) = parse_id(raw) else {
        return Err(PageError::NotFound.response(&context(state)));
    };
    match service::drops::find(&state.store, &id).await {
        Ok(Some((drop, _))) => Ok((id, drop.credential_id)),
        Ok(None) => Err(PageError::NotFound.response(&context(state))),
        Err(e) => Err(internal(state, &e)),
    }
}

fn parse_id(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id).ok().map(|u| u.to_string())
}

#[get("/console/drops/{id}")]
pub async fn detail(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (session, person) = match person_who_may(&req, &state, Capability::ReadDrops).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let Some(id) = parse_id(&id) else {
        return PageError::NotFound.response(&context(&state));
    };
    let (drop, credential) = match service::drops::find(&state.store, &id).await {
        Ok(Some(found)) => found,
        Ok(None) => return PageError::NotFound.response(&context(&state)),
        Err(e) => return internal(&state, &e),
    };
    let mut timeline = match events_of(&state, &format!("drop:{id}")).await {
        Ok(t) => t,
        Err(res) => return res,
    };
    if let Some(c) = &credential {
        match events_of(&state, &format!("credential:{}", c.id)).await {
            Ok(more) => timeline.extend(more),
            Err(res) => return res,
        }
    }
    timeline.sort_by_key(|e| e.seq);
    timeline.dedup_by_key(|e| e.seq);
    let mails = match state.store.mail_of_drop(&id).await {
        Ok(m) => m,
        Err(e) => return internal(&state, &service::ServiceError::from(e)),
    };
    let token = form_token(&state, &session);
    let kind = state.checker.kinds().get(drop.kind);
    let can_send = drop.state == DropState::Open
        && person.role.may(Capability::ManageDrops)
        && state.mailer.is_some();
    page(
        &state,
        StatusCode::OK,
        &drop.org,
        Some(markup! { "A " (drop.kind.as_str()) " drop, " strong { (drop.state.as_str()) } "." }),
        markup! {
            (nav(&person))
            (facts(&drop))
            @if let Some(c) = &credential {
                section aria-labelledby="credential-title" {
                    h2 #credential-title { "Credential" }
                    dl.facts {
                        div { dt { "Status" } dd { (c.status.as_str()) } }
                        div { dt { "Delivery" } dd { (c.delivery.as_str()) } }
                        div { dt { "Identifies as" } dd { "…" (c.hint) } }
                        div { dt { "Last checked" } dd { (when(crate::clock::to_millis(c.verification.checked_at))) } }
                        @if let Some(at) = c.last_checked_at {
                            div { dt { "Last health check" } dd {
                                (when(at))
                                @if c.health_failures > 0 {
                                    " — " strong { "last check failed" } " (Greenhouse did not answer; "
                                    (c.health_failures) " in a row). It stays verified and is tried again sooner."
                                }
                            } }
                        }
                    }
                    p { (c.verification.message) }
                    @let label = |p: &str| kind.and_then(|k| k.screen_label(p)).unwrap_or_else(|| p.to_owned());
                    @if !c.verification.missing_required.is_empty() {
                        h3 { "Missing, required" }
                        ul { @for p in &c.verification.missing_required { li { (label(p)) } } }
                    }
                    @if !c.verification.missing_optional.is_empty() {
                        h3 { "Missing, optional" }
                        ul { @for p in &c.verification.missing_optional { li { (label(p)) } } }
                    }
                    @if !c.verification.granted.is_empty() {
                        details {
                            summary { "Granted (" (c.verification.granted.len()) ")" }
                            ul { @for p in &c.verification.granted { li { (label(p)) } } }
                        }
                    }
                    @if person.role.may(Capability::Recheck) && c.delivery.as_str() != "destroyed" {
                        form method="post" action={ "/console/drops/" (drop.id) "/recheck" } {
                            input type="hidden" name="csrf_token" value=(token);
                            button.button type="submit" { "Check it again now" }
                        }
                    }
                    @if let Some(by) = &c.superseded_by {
                        p { "Replaced by the credential " code { (by) } " of a relink; this one was destroyed then." }
                    } @else if person.role.may(Capability::ManageDrops) {
                        form method="post" action={ "/console/drops/" (drop.id) "/relink" } {
                            input type="hidden" name="csrf_token" value=(token);
                            @if state.mailer.is_some() {
                                label for="relink_send_to" { "E-mail the new link to (optional)" }
                                input #relink_send_to type="email" name="send_to" maxlength="254" value=(drop.send_to.as_deref().unwrap_or(""));
                            }
                            p.hint { "Relinking makes a new link for " (drop.org) " with the same permissions. Once Greenhouse verifies the credential handed over through it, that one replaces this one." }
                            button.button.button-secondary type="submit" { "Relink" }
                        }
                    }
                    @if person.role.may(Capability::Destroy) && c.delivery.as_str() != "destroyed" {
                        form method="post" action={ "/console/drops/" (drop.id) "/destroy" } {
                            input type="hidden" name="csrf_token" value=(token);
                            p.hint { "Destroying erases the secret for good; workers can no longer have it." }
                            button.button.button-secondary type="submit" { "Destroy the credential" }
                        }
                    }
                }
            }
            @if !mails.is_empty() || can_send {
                section aria-labelledby="mail-title" {
                    h2 #mail-title { "E-mail" }
                    @if !mails.is_empty() {
                        table {
                            thead { tr { th { "Queued" } th { "To" } th { "What" } th { "State" } } }
                            tbody {
                                @for m in &mails {
                                    tr {
                                        td { (when(m.created_at)) }
                                        td { (m.recipient) }
                                        td { @if m.purpose == "reminder" { "reminder, new link" } @else { "link" } }
                                        td {
                                            @match m.state.as_str() {
                                                "sent" => { "sent " @if let Some(at) = m.sent_at { (when(at)) } },
                                                "queued" if m.attempts > 0 => {
                                                    strong { "not sent yet" } " — " (m.attempts) " attempt(s); "
                                                    (m.last_error.as_deref().unwrap_or("")) "; next try " (when(m.next_attempt_at))
                                                },
                                                "queued" => { "on its way" },
                                                "failed" => { strong { "could not be delivered" } " — " (m.last_error.as_deref().unwrap_or("")) },
                                                _ => { "withdrawn (a newer link replaced it, or the link closed)" },
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if can_send {
                        form method="post" action={ "/console/drops/" (drop.id) "/send" } {
                            input type="hidden" name="csrf_token" value=(token);
                            label for="send_to" { "E-mail a new link to" }
                            input #send_to type="email" name="send_to" maxlength="254" required[drop.send_to.is_none()] value=(drop.send_to.as_deref().unwrap_or(""));
                            p.hint { "The link sent before stops working at once; whoever opens it is told a newer one was sent." }
                            button.button.button-secondary type="submit" { "Send a new link" }
                        }
                    }
                }
            }
            @if drop.state == DropState::Open && person.role.may(Capability::ManageDrops) {
                form method="post" action={ "/console/drops/" (drop.id) "/revoke" } {
                    input type="hidden" name="csrf_token" value=(token);
                    button.button.button-secondary type="submit" { "Revoke the link" }
                }
            }
            section aria-labelledby="timeline-title" {
                h2 #timeline-title { "Timeline" }
                p.hint { "Every audited event of this drop and its credential, oldest first." }
                ol.timeline {
                    @for e in &timeline {
                        @let words = crate::domain::event::plain_words(&e.action);
                        li {
                            strong { @if words.is_empty() { (e.action) } @else { (words) } }
                            " — " (who(&e.actor))
                            br;
                            small.muted { (when(e.at)) " · " code { (e.action) } }
                        }
                    }
                }
            }
        },
    )
}

fn facts(drop: &DropRecord) -> Markup {
    markup! {
        dl.facts {
            div { dt { "State" } dd { (drop.state.as_str()) } }
            div { dt { "Kind" } dd { (drop.kind.as_str()) } }
            div { dt { "Profile" } dd { (drop.profile.name) } }
            div { dt { "Release" } dd { (drop.release.as_str()) } }
            div { dt { "External id" } dd { (drop.external_id.as_deref().unwrap_or("—")) } }
            div { dt { "Created" } dd { (when(drop.created_at)) } }
            div { dt { "Expires" } dd { (when(drop.expires_at)) } }
            div { dt { "Attempts" } dd { (drop.attempts) " of " (drop.max_attempts) } }
            @if let Some(c) = &drop.contact {
                div { dt { "Contact" } dd { (c.name) " <" (c.email) ">" } }
            }
        }
    }
}

async fn events_of(state: &AppState, subject: &str) -> Result<Vec<AuditEvent>, HttpResponse> {
    let filter = AuditFilter {
        subject: Some(subject.to_owned()),
        ..AuditFilter::default()
    };
    state
        .store
        .search_audit(&filter, 0, 500)
        .await
        .map_err(|e| internal(state, &e.into()))
}

#[derive(serde::Deserialize)]
struct Token {
    csrf_token: String,
}

#[post("/console/drops/{id}/revoke")]
pub async fn revoke(
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<Token>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, person) = match posted_by(&req, &state, Capability::ManageDrops, &form.csrf_token).await
    {
        Ok(p) => p,
        Err(res) => return res,
    };
    let Some(id) = parse_id(&id) else {
        return PageError::NotFound.response(&context(&state));
    };
    let revoked = service::drops::revoke(&state.store, &id, &origin(&person, &req)).await;
    state.drop_cache.evict(&id);
    match revoked {
        Ok(Revoked::NotFound) => PageError::NotFound.response(&context(&state)),
        Ok(Revoked::Now(_) | Revoked::NotOpen(_)) => see_other(&format!("/console/drops/{id}")),
        Err(e) => internal(&state, &e),
    }
}

/// The console's "send a new link" form.
#[derive(serde::Deserialize)]
pub struct SendForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    send_to: String,
}

/// E-mail a new link for an open drop (SPEC §15); the old link answers 410 from now on.
#[post("/console/drops/{id}/send")]
pub async fn send(
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<SendForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    use service::mail::{send_again, SentAgain, NO_MAIL};
    let (_, person) = match posted_by(&req, &state, Capability::ManageDrops, &form.csrf_token).await
    {
        Ok(p) => p,
        Err(res) => return res,
    };
    let Some(id) = parse_id(&id) else {
        return PageError::NotFound.response(&context(&state));
    };
    let refused = |status, why: &str| not_done(&state, &id, status, "No new link was sent", why);
    let to = match form.send_to.trim() {
        "" => None,
        to => match crate::domain::contact::check_email("send_to", to) {
            Ok(to) => Some(to),
            Err(why) => return refused(StatusCode::UNPROCESSABLE_ENTITY, &why),
        },
    };
    let Some(keyring) = state.mail_keyring() else {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, NO_MAIL);
    };
    let sent = send_again(&state.store, keyring, &id, to, &origin(&person, &req)).await;
    state.drop_cache.evict(&id);
    match sent {
        Ok(SentAgain::Queued(_)) => see_other(&format!("/console/drops/{id}")),
        Ok(SentAgain::NotOpen(d)) => refused(StatusCode::CONFLICT, &Revoked::reason(&d)),
        Ok(SentAgain::NoRecipient) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Give the address to send the link to.",
        ),
        Ok(SentAgain::NotFound) => PageError::NotFound.response(&context(&state)),
        Err(e) => internal(&state, &e),
    }
}

#[post("/console/drops/{id}/recheck")]
pub async fn recheck(
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<Token>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, person) = match posted_by(&req, &state, Capability::Recheck, &form.csrf_token).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let (id, credential_id) = match drop_and_credential(&state, &id).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    let Some(cid) = credential_id else {
        return see_other(&format!("/console/drops/{id}"));
    };
    match state.check(&cid, &origin(&person, &req)).await {
        Ok(Rechecked::Checked(_) | Rechecked::NotFound | Rechecked::Destroyed) => {
            see_other(&format!("/console/drops/{id}"))
        }
        Err(crate::service::vend::VendError::Service(e)) => internal(&state, &e),
        // Greenhouse could not renew the token first: the report stays as it was.
        Err(e) => not_done(
            &state,
            &id,
            StatusCode::SERVICE_UNAVAILABLE,
            "The check could not run",
            &format!("{e}."),
        ),
    }
}

#[post("/console/drops/{id}/destroy")]
pub async fn destroy(
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<Token>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, person) = match posted_by(&req, &state, Capability::Destroy, &form.csrf_token).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let (id, credential_id) = match drop_and_credential(&state, &id).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    if let Some(cid) = credential_id {
        if let Err(e) = state.destroy(&cid, &origin(&person, &req)).await {
            return internal(&state, &e);
        }
    }
    see_other(&format!("/console/drops/{id}"))
}
