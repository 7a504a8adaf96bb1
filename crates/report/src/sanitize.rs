//! The one sanitizer for text that meets a terminal (or a document a person reads) but came
//! from somewhere we do not control: a peer (certificate subjects and SANs, CA hints, HTTP
//! bodies, `grpc-message`, MySQL greetings and error texts), a pasted log line, or an input
//! file. Every text writer (probe, table, diagnose, explain, diff, the shared reports) and the
//! dashboard pass such text through [`inert`]; the JSON writers do not, so JSON keeps the
//! exact text.
//!
//! What is made visible, as a Rust-style escape (`\x1b`, `\n`, `\u{202e}`):
//! - C0 controls (U+0000-U+001F, so also ESC and newlines: a one-line field stays one line),
//!   DEL and the C1 controls (U+0080-U+009F, which include the 8-bit CSI U+009B);
//! - the bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and
//!   the marks (U+200E, U+200F, U+061C), which reorder what a person reads;
//! - zero-width and invisible characters (U+200B-U+200D, U+2060-U+2064, U+FEFF) and the
//!   line and paragraph separators (U+2028, U+2029), which hide or split text.
//!
//! Since ESC itself is escaped, no escape sequence (CSI, OSC, DCS) survives in any form.

use std::borrow::Cow;

/// Whether `c` is escaped by [`inert`].
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{061c}' | '\u{feff}')
}

/// `s` with every character of [`needs_escape`] replaced by a visible escape: `\n`, `\r`, `\t`,
/// `\xHH` below U+0100, `\u{hhhh}` above. Borrowed (no allocation) when nothing needs it.
pub fn inert(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`inert`] into an owned `String` (for places that keep the text, like ratatui spans).
pub fn inert_owned(s: &str) -> String {
    inert(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let s = "CN=tikv, O=PingCAP; SAN localhost 127.0.0.1 é 漢字";
        assert!(matches!(inert(s), Cow::Borrowed(_)));
        assert_eq!(inert(s), s);
    }

    #[test]
    fn c0_controls_and_newlines_are_visible() {
        assert_eq!(inert("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(inert("\0\x07\x08\x1f"), "\\x00\\x07\\x08\\x1f");
    }

    #[test]
    fn escape_sequences_lose_their_esc() {
        // CSI (colour, cursor moves, clear screen), OSC (title, hyperlink), DCS.
        assert_eq!(inert("a\x1b[31mred\x1b[0m"), "a\\x1b[31mred\\x1b[0m");
        assert_eq!(inert("\x1b[2J\x1b[H"), "\\x1b[2J\\x1b[H");
        assert_eq!(inert("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
        assert_eq!(inert("\x1bP1$r\x1b\\"), "\\x1bP1$r\\x1b\\");
        assert!(!inert("x\x1b[31my").contains('\x1b'));
    }

    #[test]
    fn del_and_c1_controls_are_visible() {
        assert_eq!(inert("\x7f"), "\\x7f");
        // U+009B is the 8-bit CSI; U+0085 is NEL (a line break).
        assert_eq!(inert("a\u{9b}31mb\u{85}"), "a\\x9b31mb\\x85");
    }

    #[test]
    fn bidi_controls_are_visible() {
        for (c, e) in [
            ('\u{202a}', "\\u{202a}"),
            ('\u{202b}', "\\u{202b}"),
            ('\u{202c}', "\\u{202c}"),
            ('\u{202d}', "\\u{202d}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2067}', "\\u{2067}"),
            ('\u{2068}', "\\u{2068}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{200e}', "\\u{200e}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{061c}', "\\u{61c}"),
        ] {
            assert_eq!(inert(&format!("x{c}y")), format!("x{e}y"), "{c:?}");
        }
    }

    #[test]
    fn zero_width_and_separators_are_visible() {
        for (c, e) in [
            ('\u{200b}', "\\u{200b}"),
            ('\u{200c}', "\\u{200c}"),
            ('\u{200d}', "\\u{200d}"),
            ('\u{2060}', "\\u{2060}"),
            ('\u{2064}', "\\u{2064}"),
            ('\u{feff}', "\\u{feff}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
        ] {
            assert_eq!(inert(&format!("x{c}y")), format!("x{e}y"), "{c:?}");
        }
    }

    #[test]
    fn nothing_escaped_survives_in_the_output() {
        let hostile: String = (0u32..0x3000)
            .filter_map(char::from_u32)
            .chain(['\u{feff}'])
            .collect();
        let out = inert(&hostile);
        assert!(!out.chars().any(needs_escape));
    }
}
