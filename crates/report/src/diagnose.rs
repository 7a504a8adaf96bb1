//! A diagnosis as text: the trace's steps, the verdict with its causes and fixes.

use std::fmt::Write;

use tlsaudit_engine::diagnose::{CauseFinding, Diagnosis, StepStatus};

use super::sanitize::inert;
use super::text::Style;

fn badge(s: StepStatus, style: Style) -> String {
    match s {
        StepStatus::Ok => style.good("ok"),
        StepStatus::Warn => style.warn("warn"),
        StepStatus::Fail => style.bad("FAIL"),
        StepStatus::Info => style.dim("info"),
        StepStatus::Skipped => style.dim("skipped"),
    }
}

/// The diagnosis as text.
pub fn render(d: &Diagnosis, style: Style) -> String {
    let mut out = String::new();
    header(&mut out, d);
    for s in &d.steps {
        let _ = writeln!(
            out,
            "\n{}. {}  [{}]",
            s.number,
            inert(&s.title),
            badge(s.status, style)
        );
        for l in &s.lines {
            let _ = writeln!(out, "   {}", inert(l));
        }
    }
    verdict(&mut out, d, style);
    hygiene(&mut out, d, style);
    out
}

/// The hygiene scan of the target: one line of what it accepts, then its findings with their
/// fixes (they do not break the link: the verdict above stands).
fn hygiene(out: &mut String, d: &Diagnosis, style: Style) {
    let Some(scan) = &d.scan else { return };
    let _ = writeln!(
        out,
        "\n   TLS versions and suites accepted: {}",
        inert(&scan.summary())
    );
    for f in &d.hygiene {
        let sev = f.severity.as_str().to_uppercase();
        let sev = match f.severity {
            tlsaudit_engine::finding::Severity::Critical => style.bad(&sev),
            _ => style.warn(&sev),
        };
        let _ = writeln!(out, "     [{sev}] {}: {}", f.code.as_str(), inert(&f.title));
        let _ = writeln!(out, "       seen: {}", inert(&f.evidence));
        let _ = writeln!(out, "       fix:  {}", inert(&f.fix));
    }
}

/// The first line: what is diagnosed, as whom, over which protocol.
fn header(out: &mut String, d: &Diagnosis) {
    let target = match (&d.target.endpoint, d.target.component) {
        (Some(e), Some(c)) => format!(
            "{} ({}, {} {})",
            inert(e),
            inert(&d.target.address),
            c.title(),
            d.target.role.map_or("", |r| r.as_str())
        ),
        (None, Some(c)) => format!(
            "{} ({} {}{})",
            inert(&d.target.address),
            c.title(),
            d.target.role.map_or("", |r| r.as_str()),
            if d.target.component_guessed {
                ", guessed from the port"
            } else {
                ""
            }
        ),
        (Some(e), None) => format!("{} ({})", inert(e), inert(&d.target.address)),
        (None, None) => inert(&d.target.address).into_owned(),
    };
    let name = inert(&d.identity.name);
    let who = match &d.identity.cn {
        Some(cn) if *cn != d.identity.name => format!("{name} (CN {})", inert(cn)),
        Some(_) => name.into_owned(),
        None => format!("{name} (no client certificate)"),
    };
    let _ = writeln!(
        out,
        "diagnose {target} as {who}, over {}{}",
        d.target.protocol.as_str(),
        d.target
            .path
            .as_ref()
            .map(|p| format!(" {}", inert(p)))
            .unwrap_or_default()
    );
}

/// The verdict step: the headline, each finding, then the notes.
fn verdict(out: &mut String, d: &Diagnosis, style: Style) {
    let v = &d.verdict;
    // With the inventory's expectation, the label is the report's verdict for this cell.
    let label = match v.cell {
        Some(cell) if cell.is_failing() => style.bad(&cell.as_str().to_uppercase()),
        Some(cell) => style.good(&cell.as_str().to_uppercase()),
        None if v.works => style.good("WORKS"),
        None => style.bad("BROKEN"),
    };
    let _ = writeln!(out, "\n{}. Verdict  [{label}]", d.steps.len() + 1);
    let _ = writeln!(out, "   {}", inert(&v.headline));
    if let Some(e) = &v.expected {
        let _ = writeln!(out, "   expected: {} ({})", e.words(), inert(&e.reason));
    }
    for f in &v.findings {
        finding(out, f, style);
    }
    if !v.notes.is_empty() {
        let _ = writeln!(out, "\n   notes:");
        for n in &v.notes {
            let _ = writeln!(out, "     - {}", inert(n));
        }
    }
}

/// One finding: its cause, what showed it, the fixes, where to change them, and the log texts.
fn finding(out: &mut String, f: &CauseFinding, style: Style) {
    let fact = f
        .fact
        .map(|n| format!("  (docs/tidb.md failure mode {n})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n   {} {}{fact}",
        style.bad(&format!("[{}]", f.cause.id())),
        inert(&f.title)
    );
    let _ = writeln!(out, "     cause: {}", inert(&f.summary));
    for e in &f.evidence {
        let _ = writeln!(out, "     seen:  {}", inert(e));
    }
    for x in &f.fix {
        let _ = writeln!(out, "     fix:   {}", inert(x));
    }
    if let Some(c) = &f.config {
        let _ = writeln!(
            out,
            "     where: {} {}, {}{}",
            c.component,
            c.file,
            c.key,
            c.tiup
                .as_ref()
                .map(|t| format!(" (TiUP topology: {t})"))
                .unwrap_or_default()
        );
    }
    if !f.log_texts.is_empty() {
        let _ = writeln!(
            out,
            "     what the components print (match it in their logs):"
        );
        for t in &f.log_texts {
            let _ = writeln!(out, "       {}: \"{}\"", t.who, inert(&t.text));
        }
    }
}
