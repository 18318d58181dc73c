//! Recognising the Client Secret pasted into the Client ID box, before Greenhouse is asked
//! (so the mistake costs no attempt and gets a message that says what happened).
//!
//! Greenhouse Client IDs end in a dash and digits (`…-4471`; Greenhouse itself refuses any
//! other shape with "does not contain a valid client ID suffix"). Only the clear cases are
//! caught here; anything else still goes to Greenhouse, which has the last word.

use crate::greenhouse::validation::ValidationError;

/// The shortest value without the Client ID suffix that is taken for a secret.
const SECRET_LIKE_CHARS: usize = 32;

/// Whether `v` ends in a dash and at least one digit, as Greenhouse Client IDs do.
fn has_id_suffix(v: &str) -> bool {
    v.rsplit_once('-')
        .is_some_and(|(_, tail)| !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()))
}

/// Refuses a Client ID that is the Client Secret (the same value twice, the two swapped, or a
/// long value without the Client ID suffix). Errors name the field, never the value.
pub(super) fn secret_not_in_id(
    client_id: &str,
    client_secret: &str,
) -> Result<(), ValidationError> {
    let message = if client_id == client_secret {
        "The Client ID and the Client Secret are the same value: the secret was probably pasted \
         into both boxes. Copy the Client ID (it ends in a dash and a number, such as …-4471) \
         into the first box."
    } else if !has_id_suffix(client_id) && has_id_suffix(client_secret) {
        "The Client ID and the Client Secret look swapped: the Client ID is the value that ends \
         in a dash and a number (such as …-4471). Paste each into its own box."
    } else if !has_id_suffix(client_id) && client_id.chars().count() >= SECRET_LIKE_CHARS {
        "This looks like the Client Secret, not the Client ID: a Client ID ends in a dash and a \
         number (such as …-4471). Paste the Client ID here and the secret into the next box."
    } else {
        return Ok(());
    };
    Err(ValidationError::new("client_id", message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_in_the_id_box_is_recognised() {
        let secret = "gh-secret-GOOD-8f2b1c9d7e6a5f4e3d2c";
        for (id, s) in [
            (secret, secret),
            ("abc", "acme-integration-4471"),
            ("Zx8f2b1c9d7e6a5f4e3d2cQ9f8e7d6c5b4a3", "other"),
        ] {
            let e = secret_not_in_id(id, s).unwrap_err();
            assert_eq!(e.field, "client_id");
            assert!(!e.to_string().contains(id));
        }
        for (id, s) in [
            ("acme-integration-4471", secret),
            ("a-1", "s"),
            ("short", "s"),
        ] {
            assert!(secret_not_in_id(id, s).is_ok(), "{id}");
        }
    }
}
