//! Greenhouse error bodies can echo what we sent (the malformed-client-id answer repeats the
//! id). Before any of it reaches a log line it goes through [`excerpt`].

/// Longest excerpt of a Greenhouse answer we ever log, in characters.
const EXCERPT_CHARS: usize = 120;
const REDACTED: &str = "[redacted]";

/// A short, scrubbed excerpt of a Greenhouse answer, fit for a log line.
///
/// Only the `message`/`error`/`error_description` strings of a JSON body are kept (JSON
/// escapes decoded, so an echoed value is found whatever its spelling on the wire); anything
/// else is reduced to its length. Every value in `secrets` is then replaced with `[redacted]`
/// (raw, percent-encoded and JSON-escaped spellings), and the result is cut short.
pub(crate) fn excerpt(body: &str, secrets: &[&str]) -> String {
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => ["error", "error_description", "message"]
            .iter()
            .filter_map(|k| {
                map.get(*k)
                    .and_then(|v| v.as_str())
                    .map(|v| format!("{k}: {v}"))
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::new(),
    };
    if text.is_empty() {
        return format!("<{} bytes, not shown>", body.len());
    }
    let mut out = scrub(&text, secrets);
    if out.chars().count() > EXCERPT_CHARS {
        out = out.chars().take(EXCERPT_CHARS).collect::<String>() + "…";
        // Cutting may have split an echoed value so that a prefix of it survives, e.g. a
        // very long client id at the end: drop any tail that starts a secret.
        for s in secrets.iter().filter(|s| s.len() >= 4) {
            if let Some(pos) = (4..=s.len().min(out.len()))
                .rev()
                .filter(|n| s.is_char_boundary(*n))
                .find_map(|n| out.find(&s[..n]))
            {
                out.truncate(pos);
                out.push_str(REDACTED);
            }
        }
    }
    out
}

/// Replaces every non-empty value of `secrets` in `text`.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        for spelling in [
            (*s).to_owned(),
            percent_encode(s),
            serde_json::to_string(s)
                .map(|q| q.trim_matches('"').to_owned())
                .unwrap_or_default(),
        ] {
            if !spelling.is_empty() {
                out = out.replace(&spelling, REDACTED);
            }
        }
    }
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_id_is_redacted_in_every_spelling() {
        let id = "weird\"id é/1";
        let body = serde_json::json!({
            "message": format!("client_id={id} does not contain a valid client ID suffix"),
            "errorId": "err-1"
        })
        .to_string();
        let e = excerpt(&body, &[id, "secret"]);
        assert!(
            !e.contains(id) && e.contains("[redacted]") && e.contains("suffix"),
            "{e}"
        );
        assert!(!scrub(&format!("x={}", percent_encode(id)), &[id]).contains("weird"));
    }

    #[test]
    fn non_json_bodies_are_not_shown() {
        assert_eq!(excerpt("<html>secret</html>", &[]), "<19 bytes, not shown>");
        assert_eq!(excerpt("[1,2]", &[]), "<5 bytes, not shown>");
    }

    #[test]
    fn long_echo_is_cut_without_leaving_a_prefix() {
        let id = "a".repeat(200);
        let body = serde_json::json!({ "message": format!("client_id={id} bad") }).to_string();
        let e = excerpt(&body, &[&id]);
        assert!(e.chars().count() <= EXCERPT_CHARS + 12);
        assert!(!e.contains("aaaa"), "{e}");
        let short = excerpt(
            &serde_json::json!({"message": format!("{} client_id=abcdefgh", "x".repeat(115))})
                .to_string(),
            &["abcdefgh"],
        );
        assert!(!short.contains("abcd"), "{short}");
    }
}
