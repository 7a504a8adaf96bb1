//! An explanation of a log line as text.

use std::fmt::Write;

use tlsaudit_engine::explain::Explanation;

use super::sanitize::inert;
use super::text::Style;

/// The explanation as text. The recognised words, the names read and the suggested command
/// come from the pasted line (a CN is whatever the certificate's maker chose): made inert.
pub fn render(e: &Explanation, style: Style) -> String {
    let mut out = String::new();
    for (i, m) in e.matches.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} \"{}\"",
            style.warn("recognised:"),
            inert(&m.matched)
        );
        let _ = writeln!(out, "  printed by: {}", m.source);
        let _ = writeln!(out, "  meaning:    {}", m.meaning);
        for d in &m.details {
            let _ = writeln!(out, "  read:       {}", inert(d));
        }
        let _ = writeln!(
            out,
            "  likely cause{}:",
            if m.causes.len() > 1 {
                "s, most likely first"
            } else {
                ""
            }
        );
        for c in &m.causes {
            let _ = writeln!(
                out,
                "    [{}] {}{}",
                c.cause.id(),
                c.title,
                c.fact
                    .map(|n| format!("  (docs/tidb.md failure mode {n})"))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(out, "  check:");
        for c in &m.checks {
            let _ = writeln!(out, "    - {}", inert(c));
        }
        let _ = writeln!(out, "  confirm:    {}", inert(&m.confirm));
    }
    out
}
