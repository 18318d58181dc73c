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

    /// The exact permission to grant (`harvest:users:list`, `GET: List Users`).
    pub fn permission(&self) -> String {
        match self.permission {
            Permission::Scope => format!("harvest:{}:list", self.name),
            Permission::Labelled(p) => p.to_owned(),
        }
    }

    /// The label Greenhouse's screen shows for the permission ("Candidates > List
    /// candidates"), when it is not the permission string itself.
    pub fn screen_label(&self) -> Option<&'static str> {
        self.screen
    }
}
