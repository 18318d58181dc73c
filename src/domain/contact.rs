//! Whom a customer can reach about a link (SPEC §2 `contact`, §6
//! `KEYDROP_SUPPORT_EMAIL`): a name with the same text rules as `org`, and
//! an e-mail address that is syntactically sane.

use super::text::check_shown;
use serde::{Deserialize, Serialize};

/// Longest contact name, in characters (as `org`).
pub const NAME_CHARS: std::ops::RangeInclusive<usize> = 1..=200;
/// Longest e-mail address (RFC 5321's path limit less the brackets).
pub const EMAIL_MAX: usize = 254;

/// The staff member a customer can reach about one drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    pub email: String,
}

impl Contact {
    /// Check both fields (`field` is the API name, `contact`); surrounding
    /// whitespace is trimmed. The message names the field and the rule.
    pub fn validate(self, field: &str) -> Result<Self, String> {
        // As `org`: the rules apply to the text as sent, then it is trimmed.
        check_shown(&format!("{field}.name"), &self.name, false)?;
        let name = self.name.trim().to_owned();
        if name.is_empty() || self.name.chars().count() > *NAME_CHARS.end() {
            return Err(format!("{field}.name must be 1 to 200 characters"));
        }
        if self.email.chars().count() > EMAIL_MAX {
            return Err(format!(
                "{field}.email must be an e-mail address such as name@example.com"
            ));
        }
        let email = check_email(&format!("{field}.email"), &self.email)?;
        Ok(Self { name, email })
    }
}

/// A syntactically sane address, trimmed: `local@domain`, at most
/// [`EMAIL_MAX`] characters; the local part (at most 64) ASCII letters, digits and
/// ``.!#$%&'*+/=?^_`{|}~-`` (no leading, trailing or doubled dot); the domain
/// at least two dot-separated labels of letters, digits and inner hyphens.
/// Quoted local parts, IP-literal domains and non-ASCII addresses are
/// refused: they are legal but not what staff type. The message never
/// repeats the value.
pub fn check_email(field: &str, text: &str) -> Result<String, String> {
    let email = text.trim();
    let bad = || {
        Err(format!(
            "{field} must be an e-mail address such as name@example.com"
        ))
    };
    if email.is_empty() || email.len() > EMAIL_MAX {
        return bad();
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return bad();
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._!#$%&'*+/=?^`{|}~-".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if local_ok && domain_ok {
        Ok(email.to_owned())
    } else {
        bad()
    }
}

/// A `mailto:` URI for a checked address: every byte but unreserved ones
/// and `@` is percent-encoded (RFC 6068), so `?`, `&`, `#` or `%` in a
/// local part can never add headers or a body to the message.
pub fn mailto(email: &str) -> String {
    let mut uri = String::from("mailto:");
    for b in email.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_addresses_pass_and_are_trimmed() {
        for ok in [
            "jane@example.com",
            " jane.doe+keys@sub.example.co.uk ",
            "o'brien&co@example.com",
            "x@a-b.io",
        ] {
            assert_eq!(check_email("e", ok).unwrap(), ok.trim(), "{ok}");
        }
    }

    #[test]
    fn insane_addresses_are_refused_without_echo() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long = format!("a@{}.com", "b".repeat(250));
        for bad in [
            "",
            "jane",
            "@example.com",
            "jane@",
            "jane@localhost",
            "jane@@example.com",
            "ja ne@example.com",
            ".jane@example.com",
            "jane.@example.com",
            "ja..ne@example.com",
            "jane@-example.com",
            "jane@example..com",
            "jane@exa_mple.com",
            "\"jane\"@example.com",
            "jäne@example.com",
            "jane@exam\nple.com",
            "<jane@example.com>",
            long_local.as_str(),
            long.as_str(),
        ] {
            let e = check_email("contact.email", bad).unwrap_err();
            assert!(e.starts_with("contact.email must be"), "{bad:?}: {e}");
            assert!(!e.contains("jane") && !e.contains("bbbb"), "{e}");
        }
    }

    #[test]
    fn contact_names_follow_the_org_rules() {
        // The bounds count the text as sent, surrounding spaces included.
        let padded = Contact {
            name: format!(" {} ", "x".repeat(199)),
            email: "jane@example.com".into(),
        };
        assert!(padded.validate("contact").is_err());
        let c = |name: &str| Contact {
            name: name.into(),
            email: "jane@example.com".into(),
        };
        assert_eq!(
            c("  Jane Doe ").validate("contact").unwrap().name,
            "Jane Doe"
        );
        assert!(c(&"x".repeat(200)).validate("contact").is_ok());
        for bad in ["", "   ", "Jane\nDoe", "Jane\u{202E}eoD"] {
            let e = c(bad).validate("contact").unwrap_err();
            assert!(e.starts_with("contact.name must"), "{e}");
        }
        assert!(c(&"x".repeat(201)).validate("contact").is_err());
    }

    #[test]
    fn mailto_encodes_everything_that_could_add_a_header() {
        assert_eq!(mailto("jane@example.com"), "mailto:jane@example.com");
        assert_eq!(
            mailto("a?cc=b&x#%'@example.com"),
            "mailto:a%3Fcc%3Db%26x%23%25%27@example.com"
        );
    }
}
