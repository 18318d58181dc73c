//! Rules for staff-written text that customers read (a drop's `org` and
//! `note`): no control characters and no invisible or bidirectional-override
//! characters, which could make a "who is asking" line say something else
//! than what it holds (U+202E before `moc.evil` makes it read `live.com`).

/// Characters of Unicode's general category Cf ("format": invisible, many of
/// them steer the bidirectional algorithm), plus the line and paragraph
/// separators, which also reset bidirectional text.
const FORMAT: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x2029),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// Invisible or direction-changing (see [`FORMAT`]).
pub fn is_invisible(c: char) -> bool {
    let c = u32::from(c);
    FORMAT.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// Check text shown to customers; `multiline` allows line feeds and tabs.
/// The message names the field and the first offending character.
pub fn check_shown(field: &str, text: &str, multiline: bool) -> Result<(), String> {
    for c in text.chars() {
        let allowed_control = multiline && (c == '\n' || c == '\t');
        if c.is_control() && !allowed_control {
            return Err(format!(
                "{field} must not contain control characters (found U+{:04X})",
                u32::from(c)
            ));
        }
        if is_invisible(c) {
            return Err(format!(
                "{field} must not contain invisible or text-direction characters (found U+{:04X})",
                u32::from(c)
            ));
        }
    }
    Ok(())
}

/// Text that came from outside (a Greenhouse organisation name) made fit to show: control,
/// invisible and text-direction characters removed (line breaks and tabs become spaces),
/// trimmed, and cut to `max_chars` characters. Escaping for HTML stays the page's job.
pub fn clean_shown(text: &str, max_chars: usize) -> String {
    let cleaned: String = text
        .chars()
        .filter_map(|c| {
            if c.is_control() {
                c.is_whitespace().then_some(' ')
            } else if is_invisible(c) {
                None
            } else {
                Some(c)
            }
        })
        .collect();
    cleaned
        .trim()
        .chars()
        .take(max_chars)
        .collect::<String>()
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_shown_strips_what_check_shown_refuses() {
        for c in SAMPLES {
            let cleaned = clean_shown(&format!(" Acme{c} Corp\u{7}\n"), 100);
            assert_eq!(cleaned, "Acme Corp", "U+{:04X}", u32::from(*c));
            assert!(check_shown("name", &cleaned, false).is_ok());
        }
        assert_eq!(clean_shown("a\tb\r\nc", 100), "a b  c");
        assert_eq!(clean_shown("Société Générale", 7), "Société");
        assert_eq!(clean_shown("\u{202E}\u{200B}", 10), "");
    }

    /// One of each kind the rule is about.
    pub const SAMPLES: &[char] = &[
        '\u{202E}',
        '\u{202A}',
        '\u{200B}',
        '\u{200E}',
        '\u{200F}',
        '\u{FEFF}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{061C}',
        '\u{00AD}',
        '\u{2060}',
        '\u{180E}',
        '\u{E0041}',
        '\u{1D173}',
        '\u{2028}',
    ];

    #[test]
    fn format_characters_are_refused_with_the_field_named() {
        for c in SAMPLES {
            for multiline in [false, true] {
                let e = check_shown("org", &format!("Init{c}ech"), multiline).unwrap_err();
                assert!(e.starts_with("org ") && e.contains("U+"), "{e}");
            }
        }
        for (lo, hi) in FORMAT {
            for cp in [*lo, *hi] {
                assert!(is_invisible(char::from_u32(cp).unwrap()), "U+{cp:04X}");
            }
        }
    }

    #[test]
    fn controls_are_refused_but_a_note_may_have_lines() {
        assert!(check_shown("note", "line one\nline two\tend", true).is_ok());
        assert!(check_shown("org", "a\nb", false).is_err());
        for c in [
            '\u{0}', '\u{7}', '\u{1B}', '\r', '\u{7F}', '\u{85}', '\u{9B}',
        ] {
            let e = check_shown("note", &format!("a{c}b"), true).unwrap_err();
            assert!(e.starts_with("note must not contain control"), "{e}");
        }
    }

    #[test]
    fn ordinary_text_in_any_script_passes() {
        for ok in [
            "Initech GmbH & Co. KG",
            "Société Générale",
            "شركة المثال",
            "株式会社テスト",
            "Zürich 🚀 ",
            "עברית",
            "\u{00A0}non-breaking",
        ] {
            assert!(check_shown("org", ok, false).is_ok(), "{ok}");
        }
    }
}
