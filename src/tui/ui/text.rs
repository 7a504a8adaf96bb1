//! Text helpers shared by the drawing modules: widths and truncation, the labelled lines of
//! the detail panes ([`kv`], [`more`]) and their wrapping with a hanging indent, and peer text
//! made visible ([`inert_line`]).

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::Theme;
use tlsaudit_report::sanitize::{inert_owned, needs_escape};

pub(super) fn width(s: &str) -> u16 {
    u16::try_from(s.chars().count()).unwrap_or(u16::MAX)
}

pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else if max == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('~');
        t
    }
}

/// `HH:MM:SS` of an RFC 3339 time.
pub(super) fn clock(rfc3339: &str) -> &str {
    rfc3339.get(11..19).unwrap_or(rfc3339)
}

/// Peer text in a line made visible: each span through the one sanitizer (our own text has
/// nothing it changes).
pub(super) fn inert_line(mut line: Line<'static>) -> Line<'static> {
    for span in &mut line.spans {
        if span.content.chars().any(needs_escape) {
            span.content = inert_owned(&span.content).into();
        }
    }
    line
}

pub(super) fn kv(th: Theme, label: &str, value: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![Span::styled(format!("{label:<10}"), th.label())];
    spans.extend(value);
    Line::from(spans)
}

pub(super) fn more(value: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![Span::raw(" ".repeat(10))];
    spans.extend(value);
    Line::from(spans)
}

/// Wrap a line to `width` cells with a hanging indent: continuation lines start under the value
/// (after the label column, or under a tree node's text).
pub(super) fn hang_wrap(line: Line<'static>, width: usize) -> Vec<Line<'static>> {
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    if text.chars().count() <= width || width < 20 {
        return vec![line];
    }
    let lead = text.chars().take_while(|c| *c == ' ').count();
    let indent = if lead == 0 {
        10
    } else if text[lead..].starts_with("`- ") {
        lead + 3
    } else {
        lead
    }
    .min(width / 2);
    let mut out = Vec::new();
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    let newline = |out: &mut Vec<Line<'static>>, spans: &mut Vec<Span<'static>>| {
        out.push(Line::from(std::mem::take(spans)));
        spans.push(Span::raw(" ".repeat(indent)));
    };
    for (tok, style) in tokens(&line) {
        let len = tok.chars().count();
        if used + len <= width {
            spans.push(Span::styled(tok, style));
            used += len;
            continue;
        }
        if tok.starts_with(' ') {
            newline(&mut out, &mut spans);
            used = indent;
            continue;
        }
        if used > indent {
            newline(&mut out, &mut spans);
            used = indent;
        }
        let mut rest: Vec<char> = tok.chars().collect();
        while used + rest.len() > width {
            let head: String = rest.drain(..width - used).collect();
            spans.push(Span::styled(head, style));
            newline(&mut out, &mut spans);
            used = indent;
        }
        used += rest.len();
        spans.push(Span::styled(rest.into_iter().collect::<String>(), style));
    }
    if !spans.is_empty() {
        out.push(Line::from(spans));
    }
    out
}

/// A line cut into runs of spaces and runs of other characters, each with its span's style.
fn tokens(line: &Line<'_>) -> Vec<(String, Style)> {
    let mut tokens: Vec<(String, Style)> = Vec::new();
    for span in &line.spans {
        let mut cur = String::new();
        let mut cur_space = None;
        for c in span.content.chars() {
            let space = c == ' ';
            if cur_space.is_some_and(|s| s != space) {
                tokens.push((std::mem::take(&mut cur), span.style));
            }
            cur.push(c);
            cur_space = Some(space);
        }
        if !cur.is_empty() {
            tokens.push((cur, span.style));
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hang_wrap_keeps_the_value_column() {
        let th = Theme { color: false };
        let line = kv(th, "Fix", vec![Span::raw("word ".repeat(20))]);
        let lines = hang_wrap(line, 40);
        assert!(lines.len() > 2);
        for l in &lines {
            assert!(l.width() <= 40);
        }
        for l in &lines[1..] {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            assert!(text.starts_with("          word"), "{text:?}");
        }
        let long = Line::from(format!("     sha256 {}", "ab".repeat(40)));
        for l in hang_wrap(long, 30) {
            assert!(l.width() <= 30);
        }
    }
}
