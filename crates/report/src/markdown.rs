//! The Markdown summary, for `$GITHUB_STEP_SUMMARY` or a pull-request comment: the verdict
//! counts, the matrix as a table (folded by component when it has many endpoints, with the
//! failing endpoints listed under it; in a merged report `≠` marks a cell whose vantage points
//! disagree), the critical and warning findings with their fix (and, merged, the vantage
//! points that saw them), and the TLS hygiene scan as a compact table (endpoint, versions
//! accepted, weakest suite) when the report carries one.
//! It stays under GitHub's 65,536-character comment limit whatever the size of the audit: what
//! does not fit is counted and left to the HTML or JSON report.
//!
//! Everything from the inventory, the inputs or a peer is escaped: prose has its Markdown and
//! HTML characters backslash-escaped, `@` mentions and emails broken, and every URL scheme and
//! `www.` (any case) broken with a word joiner so that no renderer makes a link of it; the
//! evidence (the text peers control most) goes into code spans.

use std::fmt::Write;

use tlsaudit_engine::audit::{Severity, Verdict};

use crate::model::{Finding, Provenance, Report};
use crate::shared::{inert, Doc, Group, Kind, SEVERITIES};

/// GitHub's limit for a comment body (and a step summary's per-step budget is larger).
pub const GITHUB_LIMIT: usize = 65_536;
/// What the summary aims for: the limit less room for a caller's own heading.
const BUDGET: usize = 60_000;
/// Above this many endpoints the matrix is folded by component.
const FOLD_ABOVE: usize = 30;

/// Escape text for Markdown prose (also inside table cells).
pub fn text(s: &str) -> String {
    let s = inert(s);
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // What makes emphasis, code, links, tables, strikethrough and math; `(`, `!` and
            // quotes are harmless once `[` is escaped, and text never starts a line.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '@' => {
                out.push('@');
                // A word joiner keeps GitHub from turning `@team` into a mention.
                if chars.peek().is_some_and(|n| n.is_alphanumeric()) {
                    out.push('\u{2060}');
                }
            }
            ':' | '.' if links(&out, c, chars.peek().copied()) => {
                // Keep peer-supplied URLs from becoming links.
                out.push('\u{2060}');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Schemes a renderer may link without `//` after the colon (GFM's `mailto:` and `xmpp:`, and
/// those a renderer or a viewer might honour).
const BARE_SCHEMES: [&str; 10] = [
    "http",
    "https",
    "mailto",
    "xmpp",
    "javascript",
    "data",
    "vbscript",
    "file",
    "tel",
    "ftp",
];

/// Whether `c` (a `:` or `.`) after `before` would let a renderer make a link, any case: a
/// scheme followed by `://` or a known scheme's colon (`HTTPS://`, `ftp:`, `mailto:`), or the
/// dot of `www.`. (`<` is escaped, so no `<...>` autolink; `@` is broken where it is written.)
fn links(before: &str, c: char, next: Option<char>) -> bool {
    let tail = |n: usize| {
        before
            .len()
            .checked_sub(n)
            .and_then(|i| before.get(i..))
            .unwrap_or("")
    };
    // What was broken before, kept byte for byte.
    if ["http", "https", "www"].iter().any(|s| tail(s.len()) == *s) {
        return true;
    }
    if c == '.' {
        return tail(3).eq_ignore_ascii_case("www");
    }
    let scheme_len = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .count();
    let scheme = tail(scheme_len);
    scheme.starts_with(|c: char| c.is_ascii_alphabetic()) && next == Some('/')
        || BARE_SCHEMES
            .iter()
            .any(|s| tail(s.len()).eq_ignore_ascii_case(s))
}

/// A code span holding any text: inert, on one line, fenced with more backticks than it holds.
/// (Not for table cells, where `|` would need escaping.)
pub fn code(s: &str) -> String {
    let s = inert(s);
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') || s.starts_with(' ') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

fn cell_symbol(v: Option<Verdict>) -> String {
    match v {
        Some(v) if v.is_failing() => format!("**{}**", text(&v.symbol().to_string())),
        Some(v) => text(&v.symbol().to_string()),
        None => "·".into(),
    }
}

/// The summary as Markdown.
pub fn render(doc: &Doc<'_>) -> String {
    let r = &doc.report;
    let mut out = String::new();
    let what = match doc.kind {
        Kind::Audit => "report",
        Kind::Lint => "lint",
    };
    let _ = writeln!(
        out,
        "## tlsaudit {what}: cluster {}\n",
        text(&r.cluster.name)
    );
    let mut facts = Vec::new();
    if doc.kind == Kind::Audit {
        facts.push(format!(
            "{} endpoints × {} identities",
            r.summary.endpoints, r.summary.identities
        ));
    }
    if let Some(f) = &r.finished_at {
        facts.push(text(f));
    }
    facts.push(format!("{} {}", r.tool.name, r.tool.version));
    let _ = writeln!(out, "{}\n", facts.join(" · "));
    if let Some(p) = &r.provenance {
        out.push_str(&provenance(r, p));
    }

    if doc.kind == Kind::Audit {
        let counts: Vec<String> = Verdict::ALL
            .iter()
            .map(|&v| (v, doc.verdict_count(v)))
            .filter(|(_, n)| *n > 0)
            .map(|(v, n)| format!("{} {} **{n}**", cell_symbol(Some(v)), v.as_str()))
            .collect();
        let _ = writeln!(out, "**Verdicts:** {}  ", counts.join(" · "));
    }
    let sev: Vec<String> = SEVERITIES
        .iter()
        .map(|&s| format!("{} {}", doc.count(s), s.as_str()))
        .collect();
    let _ = writeln!(out, "**Findings:** {}\n", sev.join(", "));
    if !r.not_checked.is_empty() {
        let _ = writeln!(out, "**Not checked:**\n");
        for n in &r.not_checked {
            let _ = writeln!(out, "- {}", text(n));
        }
        let _ = writeln!(out);
    }

    // The matrix takes at most half the budget (it folds, then cuts its list of failing
    // endpoints); the findings get what is left.
    if doc.kind == Kind::Audit {
        out.push_str(&matrix(doc, BUDGET / 2));
    }
    // The scan's section takes at most a quarter of what the matrix left, the findings
    // (before it) the rest.
    let left = BUDGET.saturating_sub(out.chars().count());
    let scans = scans(doc, left / 4);
    let room = left.saturating_sub(scans.chars().count());
    out.push_str(&findings(doc, room));
    out.push_str(&scans);
    // A last guard for extreme shapes (thousands of identities): cut at a line.
    if out.chars().count() > BUDGET {
        let cut: String = out.chars().take(BUDGET - 200).collect();
        let end = cut.rfind('\n').unwrap_or(cut.len());
        out = format!(
            "{}\n\n… cut to stay under GitHub's comment limit: see the HTML or JSON report.\n",
            &cut[..end]
        );
    }
    out
}

/// The provenance as a short list: when, build, command line, host and vantage, the
/// inventory's hash and the CA fingerprints.
fn provenance(r: &Report, p: &Provenance) -> String {
    let mut lines = Vec::new();
    if let (Some(s), Some(f)) = (&r.started_at, &r.finished_at) {
        lines.push(format!("- **When:** {} .. {}", text(s), text(f)));
    }
    if let Some(b) = &p.build {
        lines.push(format!("- **Build:** {}", text(b)));
    }
    if !p.command_line.is_empty() {
        lines.push(format!("- **Command:** {}", code(&p.command_text())));
    }
    let mut from = p.host.iter().map(|h| text(h)).collect::<Vec<_>>();
    from.extend(r.vantage.iter().map(|v| format!("vantage {}", text(v))));
    if !from.is_empty() {
        lines.push(format!("- **Probed from:** {}", from.join(", ")));
    }
    if let Some(h) = &p.inventory_sha256 {
        let name = r.cluster.inventory.as_deref().unwrap_or("inventory");
        lines.push(format!(
            "- **Inventory:** {} sha256 {}",
            code(name),
            code(h)
        ));
    }
    for ca in &p.ca_certificates {
        lines.push(format!(
            "- **CA:** {} sha256 {}",
            text(&ca.subject),
            code(&ca.sha256)
        ));
    }
    if lines.is_empty() {
        return String::new();
    }
    format!("{}\n\n", lines.join("\n"))
}

fn header_row(doc: &Doc<'_>, first: &str) -> String {
    let r = &doc.report;
    let mut h = format!("| {first} |");
    let mut sep = String::from("|---|");
    for id in &r.identities {
        let _ = write!(h, " {} |", text(&id.name));
        sep.push_str(":-:|");
    }
    format!("{h}\n{sep}\n")
}

fn endpoint_row(doc: &Doc<'_>, e: usize) -> String {
    let r = &doc.report;
    let ep = &r.endpoints[e];
    let role = match &ep.observed_protocol {
        Some(p) => format!("({}, answered {p})", ep.role),
        None => format!("({})", ep.role),
    };
    let mut row = format!("| {} {} |", text(&ep.name), text(&role));
    for i in 0..r.identities.len() {
        let c = doc.cell(i, e);
        let mark = if c.disagrees() { "≠" } else { "" };
        let _ = write!(row, " {}{mark} |", cell_symbol(c.verdict));
    }
    row.push('\n');
    row
}

fn legend(r: &crate::model::Report) -> String {
    let mut l: Vec<String> = crate::shared::legend_verdicts(r)
        .iter()
        .map(|v| format!("{} {}", code(&v.symbol().to_string()), v.as_str()))
        .collect();
    if r.vantages.is_some() {
        l.push(format!(
            "{} vantage points disagree (the cell shows the worst verdict)",
            code("≠")
        ));
    }
    format!("<sub>{}</sub>\n\n", l.join(" · "))
}

fn matrix(doc: &Doc<'_>, room: usize) -> String {
    let groups = doc.groups();
    let mut out = String::from("### Matrix\n\n");
    if doc.report.endpoints.len() <= FOLD_ABOVE {
        let table = full_matrix(doc, &groups);
        if table.chars().count() + 1000 < room {
            out.push_str(&table);
            out.push('\n');
            out.push_str(&legend(&doc.report));
            return out;
        }
    }
    out.push_str(&folded_matrix(doc, &groups));
    out.push('\n');
    out.push_str(&legend(&doc.report));
    failing_endpoints(doc, &groups, room, &mut out);
    out
}

/// Every endpoint, grouped by component.
fn full_matrix(doc: &Doc<'_>, groups: &[Group]) -> String {
    let mut table = header_row(doc, "endpoint");
    for g in groups {
        let mut row = format!("| **{}** |", g.title);
        row.push_str(&" |".repeat(doc.report.identities.len()));
        let _ = writeln!(table, "{row}");
        for &e in &g.endpoints {
            table.push_str(&endpoint_row(doc, e));
        }
    }
    table
}

/// Folded: one row per component; a cell shows its worst verdict and how many of the
/// component's endpoints fail for that identity.
fn folded_matrix(doc: &Doc<'_>, groups: &[Group]) -> String {
    let mut out = header_row(doc, "component");
    for g in groups {
        let _ = write!(out, "| {} ({}) |", g.title, g.endpoints.len());
        for i in 0..doc.report.identities.len() {
            let verdicts: Vec<Verdict> = g
                .endpoints
                .iter()
                .filter_map(|&e| doc.cell(i, e).verdict)
                .collect();
            let failing = verdicts.iter().filter(|v| v.is_failing()).count();
            let mark = if g.endpoints.iter().any(|&e| doc.cell(i, e).disagrees()) {
                "≠"
            } else {
                ""
            };
            let cell = match verdicts.iter().copied().filter(|v| v.is_failing()).max() {
                Some(worst) => format!(
                    "{} {failing}/{}",
                    cell_symbol(Some(worst)),
                    g.endpoints.len()
                ),
                None if verdicts.is_empty() => "·".into(),
                None => "ok".into(),
            };
            let _ = write!(out, " {cell}{mark} |");
        }
        out.push('\n');
    }
    out
}

/// Under a folded matrix: the failing endpoints' rows, as many as fit in `room`.
fn failing_endpoints(doc: &Doc<'_>, groups: &[Group], room: usize, out: &mut String) {
    let failing: Vec<usize> = groups
        .iter()
        .flat_map(|g| g.endpoints.iter().copied())
        .filter(|&e| doc.endpoint_failing(e))
        .collect();
    if failing.is_empty() {
        return;
    }
    let _ = writeln!(out, "#### Failing endpoints ({})\n", failing.len());
    out.push_str(&header_row(doc, "endpoint"));
    let tail_room = 200;
    for (k, &e) in failing.iter().enumerate() {
        let row = endpoint_row(doc, e);
        if out.chars().count() + row.chars().count() + tail_room > room {
            let _ = writeln!(
                out,
                "\n… and {} more failing endpoints: see the HTML or JSON report.",
                failing.len() - k
            );
            break;
        }
        out.push_str(&row);
    }
    out.push('\n');
}

/// The TLS hygiene scan: one row per endpoint that carries one (endpoint, versions accepted,
/// weakest suite), within `room`. When not all fit, the endpoints with something to look at
/// (a finding, a partial or failed scan) come first, then the rest, and those left out are
/// counted. Nothing when no endpoint carries a scan.
fn scans(doc: &Doc<'_>, room: usize) -> String {
    let scanned = crate::hygiene::scanned(&doc.report);
    if scanned.is_empty() {
        return String::new();
    }
    let n = scanned.len();
    let mut out = format!(
        "\n### TLS versions and suites ({n} endpoint{})\n\n| endpoint | versions | weakest suite |\n|---|---|---|\n",
        if n == 1 { "" } else { "s" }
    );
    let rows: Vec<String> = scanned.iter().map(scan_row).collect();
    let tail_room = 200;
    let all: usize = rows.iter().map(|r| r.chars().count()).sum();
    if out.chars().count() + all + tail_room <= room {
        rows.iter().for_each(|r| out.push_str(r));
        return out;
    }
    let (first, rest): (Vec<usize>, Vec<usize>) = (0..n).partition(|&k| scanned[k].concern());
    let order: Vec<usize> = first.into_iter().chain(rest).collect();
    for (k, &e) in order.iter().enumerate() {
        if out.chars().count() + rows[e].chars().count() + tail_room > room {
            let sound = order[k..]
                .iter()
                .filter(|&&e| !scanned[e].concern())
                .count();
            let _ = writeln!(
                out,
                "\n… and {} more endpoint{}, {sound} of them with nothing to note: see the HTML or JSON report.",
                n - k,
                if n - k == 1 { "" } else { "s" }
            );
            break;
        }
        out.push_str(&rows[e]);
    }
    out
}

/// One endpoint's row of the scan's table, each cell escaped; the weakest suite's IANA name in
/// a code span (`TLS_RSA_WITH_3DES_EDE_CBC_SHA` reads as itself, raw and rendered).
fn scan_row(s: &crate::hygiene::Scanned<'_>) -> String {
    let incomplete = if s.incomplete() { " (incomplete)" } else { "" };
    let weakest = s.weakest();
    let is_name = weakest.contains('_')
        && weakest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    let weakest = if is_name {
        format!("`{weakest}`")
    } else {
        text(&weakest)
    };
    format!(
        "| {} | {}{incomplete} | {weakest} |\n",
        text(&s.endpoint.name),
        text(&s.scan.versions_text()),
    )
}

/// The findings the budget has no room for in full: the critical ones still listed, one line
/// each, as far as `room` allows (any beyond it counted), and the warnings counted.
fn overflow(rest: &[&Finding], room: usize, out: &mut String) {
    let (crit, lesser): (Vec<&Finding>, Vec<&Finding>) =
        rest.iter().partition(|f| f.severity == Severity::Critical);
    let mut unlisted = 0;
    if !crit.is_empty() {
        let _ = writeln!(out, "\nIn short, for want of room:\n");
    }
    for f in &crit {
        let line = short_md(f);
        if out.chars().count() + line.chars().count() + 300 > room {
            unlisted += 1;
            continue;
        }
        out.push_str(&line);
    }
    let _ = writeln!(
        out,
        "\n… {} warning finding{} not listed{}: see the HTML or JSON report.",
        lesser.len(),
        if lesser.len() == 1 { "" } else { "s" },
        if unlisted > 0 {
            format!(", and {unlisted} critical past the size limit")
        } else {
            String::new()
        }
    );
}

/// A critical finding in one short line: its code and where (the title is in the HTML and
/// JSON reports).
fn short_md(f: &Finding) -> String {
    let at = match (&f.endpoint, &f.identity) {
        (Some(e), Some(i)) => format!("{} at {}", text(i), text(e)),
        (Some(e), None) => text(e),
        (None, Some(i)) => text(i),
        (None, None) => "cluster".to_string(),
    };
    format!("- **CRITICAL** {} {at}\n", code(f.code.as_str()))
}

fn finding_md(f: &Finding) -> String {
    let mut s = format!(
        "- **{}** {} {}",
        text(f.severity.as_str()).to_uppercase(),
        code(f.code.as_str()),
        text(&f.title)
    );
    match (&f.identity, &f.endpoint) {
        (Some(i), Some(e)) => {
            let _ = write!(s, " ({} at {})", text(i), text(e));
        }
        (None, Some(e)) => {
            let _ = write!(s, " ({})", text(e));
        }
        _ => {}
    }
    s.push('\n');
    if !f.evidence.is_empty() {
        let _ = writeln!(s, "  - seen: {}", code(&f.evidence));
    }
    if !f.vantages.is_empty() {
        let _ = writeln!(s, "  - seen from: {}", text(&f.vantages.join(", ")));
    }
    let _ = writeln!(s, "  - fix: {}", text(&f.fix));
    if let Some(src) = &f.source {
        let _ = writeln!(s, "  - at: {}", code(src));
    }
    s
}

fn findings(doc: &Doc<'_>, room: usize) -> String {
    let list = doc.findings_by_severity();
    let shown: Vec<&Finding> = list
        .iter()
        .copied()
        .filter(|f| f.severity.reaches(Severity::Warning))
        .collect();
    let mut out = String::new();
    if shown.is_empty() {
        let _ = writeln!(out, "### Findings\n\nNo critical or warning findings.");
    } else {
        let _ = writeln!(out, "### Findings\n");
        let tail_room = 300;
        // What the critical findings after each one would take in short: room kept for them,
        // so that a critical finding is never dropped for the full text of another.
        let mut short_after = vec![0; shown.len() + 1];
        for k in (0..shown.len()).rev() {
            let own = if shown[k].severity == Severity::Critical {
                short_md(shown[k]).chars().count()
            } else {
                0
            };
            short_after[k] = short_after[k + 1] + own;
        }
        for (k, f) in shown.iter().enumerate() {
            let item = finding_md(f);
            let need = item.chars().count() + short_after[k + 1] + tail_room;
            if out.chars().count() + need > room {
                overflow(&shown[k..], room, &mut out);
                break;
            }
            out.push_str(&item);
        }
    }
    let info = doc.count(Severity::Info);
    if info > 0 {
        let _ = writeln!(
            out,
            "\n{info} info finding{} not listed here.",
            if info == 1 { "" } else { "s" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_is_escaped() {
        assert_eq!(
            text("<script>alert(\"x\")</script>"),
            "&lt;script&gt;alert(\"x\")&lt;/script&gt;"
        );
        assert_eq!(text("a|b *c* [d](e)"), "a\\|b \\*c\\* \\[d\\](e)");
        assert_eq!(text("ping @team"), "ping @\u{2060}team");
        assert_eq!(text("see https://x"), "see https\u{2060}://x");
        assert_eq!(text("esc\x1b[0m"), "esc\\\\x1b\\[0m");
    }

    /// Text that GitHub-flavoured Markdown would turn into a link, in any case and form.
    const PLANTED: [&str; 22] = [
        "URI:HTTPS://evil.example/login",
        "DNS:Https://evil.example",
        "https://evil.example/a",
        "hTtP://evil.example",
        "ftp://evil.example/f",
        "FTP://evil.example/f",
        "www.evil.example",
        "WWW.evil.example/x",
        "Www.evil.example",
        "mailto:ops@evil.example",
        "MAILTO:ops@evil.example",
        "xmpp:ops@evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>x</script>",
        "<https://evil.example>",
        "<ops@evil.example>",
        "<MAILTO:ops@evil.example>",
        "ops@evil.example",
        "first.last+tag@evil.example.com",
        "[x](https://evil.example)",
        "irc://evil.example/chan",
    ];

    /// The link and raw-HTML nodes a GFM renderer (comrak, with GitHub's extensions) makes of
    /// `md`, with the rendered HTML.
    fn rendered_links(md: &str) -> (Vec<String>, String) {
        use comrak::nodes::NodeValue;
        let mut opts = comrak::Options::default();
        opts.extension.autolink = true;
        opts.extension.table = true;
        opts.extension.strikethrough = true;
        opts.extension.tagfilter = true;
        let arena = comrak::Arena::new();
        let root = comrak::parse_document(&arena, md, &opts);
        let found = root
            .descendants()
            .filter_map(|n| match &n.data.borrow().value {
                NodeValue::Link(l) | NodeValue::Image(l) => Some(format!("link {}", l.url)),
                NodeValue::HtmlInline(h)
                | NodeValue::HtmlBlock(comrak::nodes::NodeHtmlBlock { literal: h, .. }) => {
                    Some(format!("html {h}"))
                }
                _ => None,
            })
            .collect();
        (found, comrak::markdown_to_html(md, &opts))
    }

    #[test]
    fn every_scheme_and_www_is_broken_in_any_case() {
        for (p, want) in [
            ("URI:HTTPS://e.x", "URI:HTTPS\u{2060}://e.x"),
            ("Https://e.x", "Https\u{2060}://e.x"),
            ("ftp://e.x", "ftp\u{2060}://e.x"),
            ("irc://e.x", "irc\u{2060}://e.x"),
            ("WWW.e.x", "WWW\u{2060}.e.x"),
            ("MailTo:a", "MailTo\u{2060}:a"),
            ("JAVASCRIPT:x", "JAVASCRIPT\u{2060}:x"),
            ("data:x", "data\u{2060}:x"),
            // Not a scheme: left alone.
            ("reason: x", "reason: x"),
            ("10.0.1.1:2379", "10.0.1.1:2379"),
        ] {
            assert_eq!(text(p), want, "{p}");
        }
    }

    #[test]
    fn no_planted_text_becomes_a_link_in_a_gfm_renderer() {
        // The renderer does link them unescaped (else the test proves nothing).
        let linked: Vec<&str> = PLANTED
            .iter()
            .copied()
            .filter(|p| !rendered_links(&format!("see {p} now\n")).0.is_empty())
            .collect();
        for p in [
            "https://evil.example/a",
            "www.evil.example",
            "ops@evil.example",
            "<https://evil.example>",
            "<ops@evil.example>",
            "[x](https://evil.example)",
        ] {
            assert!(linked.contains(&p), "{p}: not a link unescaped");
        }
        for p in PLANTED {
            let t = text(p);
            for md in [
                format!("see {t} now\n"),
                format!("{t}\n"),
                format!("| a | b |\n| --- | --- |\n| {t} | x{t} |\n"),
                format!("- **{t}**: {t}\n"),
            ] {
                let (found, html) = rendered_links(&md);
                assert!(found.is_empty(), "{p:?} as {md:?}: {found:?}");
                assert!(!html.contains("<a "), "{p:?}: {html}");
            }
        }
    }

    #[test]
    fn code_spans_hold_anything() {
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(code("a|b\n"), "`a|b\\n`");
    }
}
