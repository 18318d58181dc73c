//! Form fields: what a kind declares about each input, and the posted values.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// What the input helps the customer type (sets `inputmode`/`pattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    Text,
    /// Digits only: `inputmode="numeric" pattern="[0-9]*"`.
    Numeric,
    /// An e-mail address: `inputmode="email"` (still checked by the kind, not the browser).
    Email,
}

/// Whether a 422 page puts the customer's value back into the input.
#[derive(Debug, Clone, Copy)]
pub enum Keep {
    /// Never (secrets, and anything a secret might have been pasted into).
    Never,
    /// When the value passes this check: it then cannot be a secret pasted into the wrong box.
    IfWellFormed(fn(&str) -> bool),
    /// Only when Greenhouse accepted the credential and asked for more permissions.
    IfCredentialWorked,
}

/// One input of a kind's form.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// The form and secret JSON name (`client_id`).
    pub name: &'static str,
    pub label: &'static str,
    /// Where to find the value, in plain words.
    pub help: &'static str,
    /// What the value looks like (an example shape, never a real value).
    pub looks_like: Option<&'static str>,
    /// A password-type input, never pre-filled.
    pub secret: bool,
    /// Must not be empty. An optional field is `null` in the secret when left empty.
    pub required: bool,
    pub input: InputMode,
    pub keep: Keep,
}

impl FieldSpec {
    /// Whether `value` goes back into the input of a 422 page; `credential_worked` when
    /// Greenhouse accepted the credential but found permissions missing.
    pub fn kept(&self, value: &str, credential_worked: bool) -> bool {
        !self.secret
            && !value.is_empty()
            && match self.keep {
                Keep::Never => false,
                Keep::IfWellFormed(ok) => ok(value),
                Keep::IfCredentialWorked => credential_worked,
            }
    }
}

/// The posted form fields by name (the CSRF token aside). Values are wiped on drop.
#[derive(Default)]
pub struct Fields {
    pairs: Vec<Pair>,
}

#[derive(Zeroize)]
struct Pair {
    name: String,
    value: String,
}

impl Fields {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field; `false` (and nothing added) when the name is already there.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> bool {
        let name = name.into();
        if self.pairs.iter().any(|p| p.name == name) {
            return false;
        }
        self.pairs.push(Pair {
            name,
            value: value.into(),
        });
        true
    }

    /// The value of `name` without surrounding whitespace (a copy-and-paste artefact, never
    /// part of a credential); `""` when it was not posted.
    pub fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|p| p.name == name)
            .map_or("", |p| p.value.trim())
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Fields {
    fn from(pairs: [(&str, &str); N]) -> Self {
        let mut f = Fields::new();
        for (n, v) in pairs {
            f.insert(n, v);
        }
        f
    }
}

impl Zeroize for Fields {
    fn zeroize(&mut self) {
        self.pairs.iter_mut().for_each(Zeroize::zeroize);
        self.pairs.clear();
    }
}

impl Drop for Fields {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Fields {}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.pairs.iter().map(|p| &p.name))
            .finish()
    }
}
