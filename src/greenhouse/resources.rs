//! A Greenhouse resource a kind can probe, with the exact permission a customer must grant and
//! a description in plain words. Each kind keeps its own catalogue (`kinds/<kind>/resources.rs`).
//! Harvest v3 scopes also carry the label Greenhouse's Manage Scopes screen shows for them
//! ("Candidates > List candidates"), so customer pages can name both (SPEC §1.2).

/// One probeable resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// The path segment(s) the probe calls, and the name used in profiles.
    pub name: &'static str,
    permission: Permission,
    /// Plain words for customers.
    pub description: &'static str,
    /// How Greenhouse's own screen labels the permission, when it differs from
    /// [`Resource::permission`] (v3: "Candidates > List candidates").
    screen: Option<&'static str>,
}

/// How a resource's permission is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permission {
    /// The OAuth scope `harvest:<name>:list`.
    Scope,
    /// A fixed name, as Greenhouse's screen shows it.
    Labelled(&'static str),
}

impl Resource {
    /// A resource granted by the OAuth scope `harvest:<name>:list`.
    pub const fn scope(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            permission: Permission::Scope,
            description,
            screen: None,
        }
    }

    /// The same resource, labelled `screen` on Greenhouse's screen.
    pub const fn on_screen(mut self, screen: &'static str) -> Self {
        self.screen = Some(screen);
        self
    }

    /// A resource granted by the permission called `permission`.
    pub const fn labelled(
        name: &'static str,
        permission: &'static str,
        description: &'static str,
    ) -> Self {
        Self {
            name,
            permission: Permission::Labelled(permission),
            description,
            screen: None,
        }
    }

    /// How Greenhouse's screen names the permission: its group, then the
    /// entry to tick ("Candidates > List candidates"): the catalogue's exact
    /// words when it gives them ([`Resource::on_screen`]), else derived from
    /// the name.
    pub fn screen_label(&self) -> String {
        if let Some(screen) = self.screen {
            return screen.to_owned();
        }
        let words = self.name.replace(['_', '/'], " ");
        let group: String = words
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" ");
        match self.permission {
            Permission::Scope => format!("{group} > List {words}"),
            Permission::Labelled(p) => format!("{group} > {p}"),
        }
    }

    /// The exact permission to grant (`harvest:users:list`, `GET: List Users`).
    pub fn permission(&self) -> String {
        match self.permission {
            Permission::Scope => format!("harvest:{}:list", self.name),
            Permission::Labelled(p) => p.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_labels_name_the_group_and_the_entry() {
        let r = Resource::scope("candidates", "x");
        assert_eq!(r.screen_label(), "Candidates > List candidates");
        let r = Resource::scope("job_interview_stages", "x");
        assert_eq!(
            r.screen_label(),
            "Job Interview Stages > List job interview stages"
        );
        let r = Resource::labelled("users", "GET: List Users", "x");
        assert_eq!(r.screen_label(), "Users > GET: List Users");
        let r = Resource::scope("eeoc", "x").on_screen("EEOC > List EEOC answers");
        assert_eq!(r.screen_label(), "EEOC > List EEOC answers");
    }
}
