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

    /// The exact permission to grant (`harvest:users:list`, `GET: List Users`).
    pub fn permission(&self) -> String {
        match self.permission {
            Permission::Scope => format!("harvest:{}:list", self.name),
            Permission::Labelled(p) => p.to_owned(),
        }
    }
}
