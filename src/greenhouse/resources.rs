//! A Greenhouse resource a kind can probe, with the exact permission a customer must grant and
//! a description in plain words. Each kind keeps its own catalogue (`kinds/<kind>/resources.rs`).

/// One probeable resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// The path segment(s) the probe calls, and the name used in profiles.
    pub name: &'static str,
    permission: Permission,
    /// Plain words for customers.
    pub description: &'static str,
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
        }
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
        }
    }

    /// How Greenhouse's screen names the permission: its group, then the
    /// entry to tick ("Candidates > List candidates"). Derived from the name
    /// here; a catalogue may give the screen's exact words.
    pub fn screen_label(&self) -> String {
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
    }
}
