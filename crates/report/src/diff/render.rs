//! The writers of a [`Diff`]: text for people, JSON (`tlsaudit.diff/v1`) and Markdown for a
//! change ticket. Peer-controlled text (certificate names, finding titles quoting servers)
//! goes through the one sanitizer, [`inert`].

use std::fmt::Write;

use tlsaudit_engine::audit::Verdict;

use super::{
    CellChange, Cert, Change, Diff, EndpointBrief, FindingBrief, IdentityBrief, TlsChange,
};
use crate::sanitize::inert;

/// The same for Markdown: also escapes what Markdown or HTML would interpret.
pub fn md(s: &str) -> String {
    let mut out = String::new();
    for c in inert(s).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

fn verdict_str(v: Option<Verdict>) -> &'static str {
    v.map_or("none", Verdict::as_str)
}

fn symbol(v: Option<Verdict>) -> char {
    v.map_or('.', Verdict::symbol)
}

fn short(sha: &str) -> &str {
    sha.get(..16).unwrap_or(sha)
}

fn cert_line(c: Option<&Cert>) -> String {
    match c {
        None => "no certificate".to_string(),
        Some(c) => format!(
            "sha256 {}\n             issuer {}, notAfter {}",
            inert(&c.sha256),
            inert(&c.issuer),
            inert(&c.not_after)
        ),
    }
}

fn finding_target(f: &FindingBrief) -> String {
    match (&f.endpoint, &f.identity) {
        (Some(e), Some(i)) => format!("{e} x {i}"),
        (Some(e), None) => e.clone(),
        (None, Some(i)) => format!("identity {i}"),
        (None, None) => "cluster".into(),
    }
}

/// The diff for people.
pub fn render_text(d: &Diff, failing: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "tlsaudit diff: cluster {}\n  before {} ({})\n  after  {} ({})",
        inert(&d.after.cluster),
        inert(d.before.finished_at.as_deref().unwrap_or("-")),
        inert(&d.before.file),
        inert(d.after.finished_at.as_deref().unwrap_or("-")),
        inert(&d.after.file),
    );
    if d.is_empty() {
        let _ = writeln!(out, "\nno changes");
        return out;
    }
    text_cells(d, &mut out);
    text_rotations(d, &mut out);
    text_inventory(d, &mut out);
    text_tls(d, &mut out);
    text_findings(d, &mut out);
    if !failing.is_empty() {
        let _ = writeln!(out, "\nfails --fail-on: {}", failing.join(", "));
    }
    out
}

/// The cells whose verdict changed, by group.
fn text_cells(d: &Diff, out: &mut String) {
    for g in Change::ALL {
        let cells: Vec<&CellChange> = d.cells.iter().filter(|c| c.change == g).collect();
        if cells.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{} ({}):", g.title(), cells.len());
        for c in cells {
            let _ = writeln!(
                out,
                "  {} {} -> {}: {} -> {}",
                symbol(c.after),
                inert(&c.identity),
                inert(&c.endpoint),
                verdict_str(c.before),
                verdict_str(c.after)
            );
        }
    }
}

/// The server certificates that changed, before and after.
fn text_rotations(d: &Diff, out: &mut String) {
    if d.rotations.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nServer certificates changed ({}):",
        d.rotations.len()
    );
    for r in &d.rotations {
        let _ = writeln!(out, "  ~ {} {}", inert(&r.endpoint), inert(&r.address));
        let _ = writeln!(out, "      before {}", cert_line(r.before.as_ref()));
        let _ = writeln!(out, "      after  {}", cert_line(r.after.as_ref()));
    }
}

impl TlsChange {
    /// `TLS 1.0` or `TLS_RSA_WITH_3DES_EDE_CBC_SHA in TLS 1.2`, with `(weak)` when it is.
    fn what(&self) -> String {
        let weak = if self.weak { " (weak)" } else { "" };
        match &self.suite {
            Some(s) => format!("{s} in {}{weak}", self.version),
            None => format!("{}{weak}", self.version),
        }
    }
}

/// The TLS versions and suites newly accepted, then those no longer accepted.
fn text_tls(d: &Diff, out: &mut String) {
    for (title, accepted, mark) in [
        ("TLS versions and suites newly accepted", true, '+'),
        ("TLS versions and suites no longer accepted", false, '-'),
    ] {
        let list: Vec<&TlsChange> = d.tls.iter().filter(|t| t.accepted == accepted).collect();
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title} ({}):", list.len());
        for t in list {
            let _ = writeln!(
                out,
                "  {mark} {} {}: {}",
                inert(&t.endpoint),
                inert(&t.address),
                inert(&t.what())
            );
        }
    }
}

/// The findings added and resolved.
fn text_findings(d: &Diff, out: &mut String) {
    for (title, list, mark) in [
        ("Findings added", &d.findings.added, '+'),
        ("Findings resolved", &d.findings.resolved, '-'),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title} ({}):", list.len());
        for f in list {
            let _ = writeln!(
                out,
                "  {mark} {:<8} {} {}: {}",
                inert(f.severity.as_str()).to_uppercase(),
                inert(f.code.as_str()),
                inert(&finding_target(f)),
                inert(&f.title)
            );
        }
    }
}

fn text_inventory(d: &Diff, out: &mut String) {
    let ep = |e: &EndpointBrief| {
        format!(
            "{} ({} {} {})",
            inert(&e.name),
            inert(e.component.as_str()),
            inert(&e.role),
            inert(&e.address)
        )
    };
    for (title, list, mark) in [
        ("Endpoints added", &d.endpoints.added, '+'),
        ("Endpoints removed", &d.endpoints.removed, '-'),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "\n{title} ({}):", list.len());
            for e in list {
                let _ = writeln!(out, "  {mark} {}", ep(e));
            }
        }
    }
    if !d.endpoints.changed.is_empty() {
        let _ = writeln!(out, "\nEndpoints changed ({}):", d.endpoints.changed.len());
        for c in &d.endpoints.changed {
            let _ = writeln!(
                out,
                "  {} {}: [{}] -> [{}]",
                inert(&c.endpoint),
                inert(&c.field),
                inert(&c.before),
                inert(&c.after)
            );
        }
    }
    for (title, list, mark) in [
        ("Identities added", &d.identities.added, '+'),
        ("Identities removed", &d.identities.removed, '-'),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "\n{title} ({}):", list.len());
            for i in list {
                let _ = writeln!(
                    out,
                    "  {mark} {} ({}{})",
                    inert(&i.name),
                    inert(i.kind.as_str()),
                    i.cn.as_deref()
                        .map(|cn| format!(", CN {}", inert(cn)))
                        .unwrap_or_default()
                );
            }
        }
    }
}

/// The diff as pretty JSON.
pub fn render_json(d: &Diff) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(d).map(|mut s| {
        s.push('\n');
        s
    })
}

/// The diff as Markdown, for a change ticket or a pull request comment.
pub fn render_markdown(d: &Diff, failing: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## tlsaudit diff: cluster {}\n\nBefore: `{}` ({}); after: `{}` ({}).\n",
        md(&d.after.cluster),
        d.before.file.replace('`', "'"),
        md(d.before.finished_at.as_deref().unwrap_or("-")),
        d.after.file.replace('`', "'"),
        md(d.after.finished_at.as_deref().unwrap_or("-")),
    );
    if d.is_empty() {
        let _ = writeln!(out, "No changes.");
        return out;
    }
    if !failing.is_empty() {
        let _ = writeln!(out, "**Fails the gate:** {}.\n", failing.join(", "));
    }
    if !d.cells.is_empty() {
        let _ = writeln!(out, "### Verdicts changed\n");
        let _ = writeln!(out, "| change | identity | endpoint | before | after |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for c in &d.cells {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                c.change.title(),
                md(&c.identity),
                md(&c.endpoint),
                verdict_str(c.before),
                verdict_str(c.after)
            );
        }
        out.push('\n');
    }
    if !d.rotations.is_empty() {
        let _ = writeln!(out, "### Server certificates changed\n");
        let _ = writeln!(out, "| endpoint | | sha256 | issuer | notAfter |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for r in &d.rotations {
            for (label, c) in [("before", &r.before), ("after", &r.after)] {
                let (sha, issuer, until) = c.as_ref().map_or(("-", String::from("-"), "-"), |c| {
                    (short(&c.sha256), md(&c.issuer), c.not_after.as_str())
                });
                let _ = writeln!(
                    out,
                    "| {} | {label} | `{sha}` | {issuer} | {} |",
                    md(&r.endpoint),
                    md(until)
                );
            }
        }
        out.push('\n');
    }
    markdown_lists(d, &mut out);
    out
}

fn md_endpoint(e: &EndpointBrief) -> String {
    format!(
        "{} ({} {} {})",
        md(&e.name),
        md(e.component.as_str()),
        md(&e.role),
        md(&e.address)
    )
}

fn md_identity(i: &IdentityBrief) -> String {
    format!("{} ({})", md(&i.name), md(i.kind.as_str()))
}

fn md_finding(f: &FindingBrief) -> String {
    format!(
        "**{}** `{}` {}: {}",
        md(f.severity.as_str()),
        f.code.as_str().replace('`', "'"),
        md(&finding_target(f)),
        md(&f.title)
    )
}

/// The endpoints, identities and findings that changed, as Markdown lists.
fn markdown_lists(d: &Diff, out: &mut String) {
    let mut section = |title: &str, items: Vec<String>| {
        if !items.is_empty() {
            let _ = writeln!(out, "### {title}\n");
            for i in items {
                let _ = writeln!(out, "- {i}");
            }
            out.push('\n');
        }
    };
    let endpoints = &d.endpoints;
    section(
        "Endpoints added",
        endpoints.added.iter().map(md_endpoint).collect(),
    );
    section(
        "Endpoints removed",
        endpoints.removed.iter().map(md_endpoint).collect(),
    );
    let changed = endpoints.changed.iter().map(|c| {
        format!(
            "{} {}: \\[{}\\] → \\[{}\\]",
            md(&c.endpoint),
            c.field,
            md(&c.before),
            md(&c.after)
        )
    });
    section("Endpoints changed", changed.collect());
    let identities = &d.identities;
    section(
        "Identities added",
        identities.added.iter().map(md_identity).collect(),
    );
    section(
        "Identities removed",
        identities.removed.iter().map(md_identity).collect(),
    );
    for (title, accepted) in [
        ("TLS versions and suites newly accepted", true),
        ("TLS versions and suites no longer accepted", false),
    ] {
        let items = d.tls.iter().filter(|t| t.accepted == accepted).map(|t| {
            format!(
                "{} ({}): {}",
                md(&t.endpoint),
                md(&t.address),
                md(&t.what())
            )
        });
        section(title, items.collect());
    }
    let findings = &d.findings;
    section(
        "Findings added",
        findings.added.iter().map(md_finding).collect(),
    );
    section(
        "Findings resolved",
        findings.resolved.iter().map(md_finding).collect(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_inert() {
        assert_eq!(inert("a\x1b[31mb\n"), "a\\x1b[31mb\\n");
        assert_eq!(md("<script>|x_`"), "&lt;script&gt;\\|x\\_\\`");
    }
}
