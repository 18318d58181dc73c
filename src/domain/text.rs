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

/// Unicode category Cc: what [`char::is_control`] tests.
const CONTROL: &[(u32, u32)] = &[(0x00, 0x1F), (0x7F, 0x9F)];
/// Cc less the tab and line feed a multi-line text may hold.
const CONTROL_BUT_LINES: &[(u32, u32)] = &[(0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F)];
/// What `str::trim` removes (Unicode White_Space) that is neither Cc nor in
/// [`FORMAT`]: blank text is made of these.
const SPACES: &[(u32, u32)] = &[
    (0x0020, 0x0020),
    (0x00A0, 0x00A0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
];
/// White_Space in [`FORMAT`] (line and paragraph separators).
const SEPARATORS: &[(u32, u32)] = &[(0x2028, 0x2029)];

/// Regex character-class items for `ranges`: `\uXXXX` escapes, which
/// JSON Schema (ECMA 262), Python and Rust regexes all read, and the
/// character itself beyond the BMP.
fn class(ranges: &[&[(u32, u32)]]) -> String {
    let one = |cp: u32| match char::from_u32(cp) {
        Some(c) if cp > 0xFFFF => c.to_string(),
        _ => format!("\\u{cp:04X}"),
    };
    ranges
        .iter()
        .flat_map(|r| r.iter())
        .map(|&(lo, hi)| {
            if lo == hi {
                one(lo)
            } else {
                format!("{}-{}", one(lo), one(hi))
            }
        })
        .collect()
}

/// The JSON Schema `pattern` of text that passes [`check_shown`] on the
/// text as sent: `multiline` allows line feeds, tabs and CR LF pairs;
/// `nonblank` needs one character `trim` keeps.
pub fn shown_pattern(multiline: bool, nonblank: bool) -> String {
    if multiline {
        let refused = class(&[CONTROL_BUT_LINES, FORMAT]);
        return format!("^(?:[^{refused}]|\\r\\n)*$");
    }
    let refused = class(&[CONTROL, FORMAT]);
    if nonblank {
        let blank = class(&[SPACES]);
        format!("^[^{refused}]*[^{refused}{blank}][^{refused}]*$")
    } else {
        format!("^[^{refused}]*$")
    }
}

/// The JSON Schema `pattern` of text with no control character and one
/// character `trim` keeps (an API token's name).
pub fn plain_nonblank_pattern() -> String {
    let refused = class(&[CONTROL]);
    let blank = class(&[SPACES, SEPARATORS]);
    format!("^[^{refused}]*[^{refused}{blank}][^{refused}]*$")
}

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

/// `name`'s, or `name`' for a name ending in s ("Acme Analytics' import system").
pub fn possessive(name: &str) -> String {
    if name.ends_with(['s', 'S']) {
        format!("{name}'")
    } else {
        format!("{name}'s")
    }
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

    /// The code points the rules are about, and some around them.
    fn probes() -> impl Iterator<Item = char> {
        (0..0x3100u32)
            .chain(0xFEF0..0xFF00)
            .chain(0x110B0..0x110D0)
            .chain(0x13428..0x13448)
            .chain(0x1D170..0x1D180)
            .chain(0xE0000..0xE0082)
            .filter_map(char::from_u32)
    }

    #[test]
    fn patterns_match_exactly_what_the_checks_take() {
        let re = |p: String| regex_lite::Regex::new(&p).unwrap();
        let (line, any_line) = (
            re(shown_pattern(false, true)),
            re(shown_pattern(false, false)),
        );
        let (multi, plain) = (re(shown_pattern(true, false)), re(plain_nonblank_pattern()));
        let mut texts: Vec<String> = vec![
            String::new(),
            "Initech".into(),
            "a\r\nb".into(),
            "a\rb".into(),
            "a\r".into(),
            "\r\n".into(),
            "a\n\r\n".into(),
            "Zürich 🚀".into(),
        ];
        for c in probes() {
            texts.extend([
                c.to_string(),
                format!("a{c}b"),
                format!(" {c} "),
                format!("{c}\r\n{c}"),
            ]);
        }
        for t in &texts {
            let shown = check_shown("f", t, false).is_ok();
            let blank = t.trim().is_empty();
            assert_eq!(line.is_match(t), shown && !blank, "{t:?}");
            assert_eq!(any_line.is_match(t), shown, "{t:?}");
            let lines = check_shown("f", &t.replace("\r\n", "\n"), true).is_ok();
            assert_eq!(multi.is_match(t), lines, "{t:?}");
            let printable = !t.chars().any(char::is_control);
            assert_eq!(plain.is_match(t), printable && !blank, "{t:?}");
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
