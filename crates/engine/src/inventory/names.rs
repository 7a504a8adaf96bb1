//! Names and paths read from an input file (an inventory, a TiUP topology) are untrusted: they
//! reach terminals, documents and HTTP requests. A name or path holding a control character
//! (C0, DEL, C1: ESC starts a terminal escape sequence, CR/LF split an HTTP request) or a
//! character that reorders or hides text (bidi controls and marks, zero-width characters, line
//! separators) is refused when the file is read; the writers still make every text inert.

/// Whether `c` is refused in a name or path: what the report's sanitizer escapes (controls,
/// bidi controls and marks, zero-width and invisible characters, line separators).
pub fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{061c}' | '\u{feff}')
}

/// The first refused character of `s`, with its byte offset.
pub fn first_forbidden(s: &str) -> Option<(usize, char)> {
    s.char_indices().find(|&(_, c)| is_forbidden(c))
}

/// `Err("<what> holds the control character U+001B (character 3)")` when `s` holds a refused
/// character; the text itself is not repeated (it would carry the character).
pub fn check(what: &str, s: &str) -> Result<(), String> {
    match first_forbidden(s) {
        None => Ok(()),
        Some((at, c)) => Err(format!(
            "{what} holds the {} U+{:04X} (character {})",
            if c.is_control() {
                "control character"
            } else {
                "invisible or bidi character"
            },
            c as u32,
            s[..at].chars().count() + 1
        )),
    }
}

/// What to do about a refused character.
pub const FIX: &str = "remove the control, bidi and invisible characters (escape sequences, \
                       CR/LF, U+202E ...) from the name";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        assert!(check("name", "tikv-1 é 漢字").is_ok());
        assert!(check("path", "/status?x=1").is_ok());
    }

    #[test]
    fn controls_bidi_and_invisible_are_refused() {
        for c in [
            '\x1b', '\x07', '\r', '\n', '\t', '\0', '\x7f', '\u{9b}', '\u{85}',
        ] {
            let e = check("endpoint name", &format!("ab{c}")).unwrap_err();
            assert!(e.contains("control character"), "{c:?}: {e}");
            assert!(e.contains("(character 3)"), "{e}");
        }
        for c in [
            '\u{202e}', '\u{2066}', '\u{200f}', '\u{200b}', '\u{feff}', '\u{2028}',
        ] {
            let e = check("endpoint name", &format!("a{c}")).unwrap_err();
            assert!(e.contains(&format!("U+{:04X}", c as u32)), "{e}");
            assert!(!e.contains(c));
        }
    }
}
