//! The table report: the matrix (endpoints down, identities across) and the findings, fitting a
//! 100-column terminal.

use std::fmt::Write;

use super::diff::Diff;
use super::text::Style;
use tlsaudit_engine::audit::{EndpointId, IdentityId, Plan, Severity, Snapshot, Verdict};

const WIDTH: usize = 100;

fn wrap(text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > width {
            let _ = writeln!(out, "{}{line}", " ".repeat(indent));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{}{line}", " ".repeat(indent));
    }
    out
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('~');
        t
    }
}

fn paint(style: Style, v: Verdict, s: &str) -> String {
    match v {
        Verdict::Secure | Verdict::Enforced => style.good(s),
        Verdict::Open | Verdict::Blocked | Verdict::Unencrypted | Verdict::Untrusted => {
            style.bad(s)
        }
        Verdict::Unreachable | Verdict::Error => style.warn(s),
    }
}

/// Render the table report.
pub fn render(plan: &Plan, snap: &Snapshot, style: Style) -> String {
    render_with(plan, snap, style, None) + &not_checked(plan)
}

/// Render the table report with the changes since a baseline report marked: `*` after the
/// symbol of a cell whose verdict changed, `~` after the row of an endpoint whose server
/// certificate changed, and the changes listed after the legend.
pub fn render_with_baseline(plan: &Plan, snap: &Snapshot, style: Style, diff: &Diff) -> String {
    render_with(plan, snap, style, Some(diff)) + &not_checked(plan)
}

/// What the audit did not check, after the findings (nothing when it checked everything).
fn not_checked(plan: &Plan) -> String {
    if plan.not_checked.is_empty() {
        return String::new();
    }
    let mut out = format!("\nnot checked ({}):\n", plan.not_checked.len());
    for n in &plan.not_checked {
        let w = wrap(n, 4, WIDTH);
        out.push_str("  - ");
        out.push_str(w.get(4..).unwrap_or_default());
    }
    out
}

#[allow(clippy::too_many_lines)]
fn render_with(plan: &Plan, snap: &Snapshot, style: Style, baseline: Option<&Diff>) -> String {
    let inv = &plan.inventory;
    let n_ep = inv.endpoints.len();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "tlsaudit report: cluster {}, {} endpoints x {} identities, {}",
        inv.cluster,
        n_ep,
        plan.identities.len(),
        snap.finished_at.as_deref().unwrap_or("-")
    );
    let counts: Vec<String> = snap
        .counts()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| paint(style, v, &format!("{} {n}", v.as_str())))
        .collect();
    let _ = writeln!(out, "verdicts: {}\n", counts.join(", "));

    // Identity columns: as wide as the name, up to 9.
    let cols: Vec<String> = plan.identities.iter().map(|i| cut(&i.name, 9)).collect();
    let id_width: usize = cols.iter().map(|c| c.len() + 1).sum();
    let name_w = inv
        .endpoints
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(8)
        .clamp(8, 22);
    let kind_w = 14;
    let addr_w = inv
        .endpoints
        .iter()
        .map(|e| e.address.len())
        .max()
        .unwrap_or(0)
        .min(21);
    let show_addr = name_w + 1 + kind_w + 1 + addr_w + 1 + id_width <= WIDTH;
    let mut header = format!("{:<name_w$} {:<kind_w$} ", "ENDPOINT", "KIND");
    if show_addr {
        header.push_str(&format!("{:<addr_w$} ", "ADDRESS"));
    }
    for c in &cols {
        header.push_str(c);
        header.push(' ');
    }
    let _ = writeln!(out, "{}", header.trim_end());
    for (e, ep) in inv.endpoints.iter().enumerate() {
        let kind = format!("{} {}", ep.component.title(), ep.role);
        let mut line = format!(
            "{:<name_w$} {:<kind_w$} ",
            cut(&ep.name, name_w),
            cut(&kind, kind_w)
        );
        if show_addr {
            line.push_str(&format!("{:<addr_w$} ", cut(&ep.address, addr_w)));
        }
        for (i, c) in cols.iter().enumerate() {
            let cell = &snap.cells[(IdentityId(i), EndpointId(e))];
            let sym = cell
                .verdict
                .map_or('.', tlsaudit_engine::audit::Verdict::symbol);
            let pad = c.len().div_ceil(2);
            let mark = match baseline {
                Some(d) if d.cell(&plan.identities[i].name, &ep.name).is_some() => "*",
                _ => " ",
            };
            let text = format!("{:>pad$}{mark}{}", sym, " ".repeat(c.len() - pad));
            line.push_str(&match cell.verdict {
                Some(v) => paint(style, v, &text),
                None => text,
            });
        }
        if baseline.is_some_and(|d| d.rotated(&ep.name)) {
            line = format!("{} ~", line.trim_end());
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let legend: Vec<String> = Verdict::ALL
        .iter()
        .map(|v| format!("{} {}", v.symbol(), v.as_str()))
        .collect();
    let _ = write!(
        out,
        "\n{}",
        wrap(&format!("legend: {}", legend.join("  ")), 0, WIDTH)
    );
    if let Some(d) = baseline {
        let _ = writeln!(
            out,
            "*: verdict changed since the baseline  ~: server certificate changed\n"
        );
        out.push_str(&super::diff::render_text(d, &[]));
    }

    if snap.findings.is_empty() {
        let _ = writeln!(out, "\nno findings");
        return out;
    }
    let _ = writeln!(out, "\nfindings ({}):", snap.findings.len());
    for f in &snap.findings {
        let sev = match f.severity {
            Severity::Critical => style.bad("CRITICAL"),
            Severity::Warning => style.warn("WARNING "),
            Severity::Info => "INFO    ".to_string(),
        };
        let _ = writeln!(out);
        let head = format!("{} {}", f.code, f.title);
        let wrapped = wrap(&head, 9, WIDTH);
        let _ = write!(out, "{sev} {}", wrapped.trim_start());
        if !f.evidence.is_empty() {
            let _ = write!(out, "{}", wrap(&format!("seen: {}", f.evidence), 9, WIDTH));
        }
        if let Some(src) = &f.source {
            let _ = write!(out, "{}", wrap(&format!("from: {src}"), 9, WIDTH));
        }
        let _ = write!(out, "{}", wrap(&format!("fix:  {}", f.fix), 9, WIDTH));
    }
    out
}
