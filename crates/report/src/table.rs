//! The table report: the matrix (endpoints down, identities across) and the findings, fitting a
//! terminal `width` columns wide (the front end says how wide: `COLUMNS`, the terminal's). Names
//! too long for their column are shortened by [`abbreviate`] (unique, keeping the
//! distinguishing end) and a key under the table gives each in full. A report with a baseline
//! (`report --baseline`) marks what changed since. After the findings: disagreements of a
//! merge, rotation drift, the TLS hygiene scan (one line per endpoint) and what was not checked.

use std::fmt::Write;

use crate::diff::Diff;
use crate::model::{Finding, Identity, Report};
use crate::sanitize::inert;
use crate::shared::Doc;
use crate::text::Style;
use tlsaudit_engine::audit::{IdentityKind, Severity, Verdict};

/// The width when nothing says otherwise.
pub const DEFAULT_WIDTH: usize = 100;
/// The narrowest width the table lays itself out for.
pub const MIN_WIDTH: usize = 60;

/// Shorten each of `names` to at most `max` characters so that they stay unique and keep what
/// tells them apart. A name that fits is kept; a longer one is cut (`tikv-1-status` at 10:
/// `tikv-1-st~`). Names whose cuts come out alike (a shared long prefix) keep instead their first
/// `-` segment (the component) and the shortest run of their last segments that no other name
/// ends with (the port, the role), joined by `~`: `tiflash-127.0.0.1-59201` becomes
/// `tiflash~59201`, the first segment giving way before the end does. Names that still come out
/// alike take their 1-based position (`tiflash-127~3`), which makes every name unique as long as
/// `max` leaves room for the number.
pub fn abbreviate(names: &[&str], max: usize) -> Vec<String> {
    let mut out: Vec<String> = names
        .iter()
        .map(|n| {
            if len(n) <= max {
                (*n).to_string()
            } else {
                format!("{}~", take(n, max.saturating_sub(1)))
            }
        })
        .collect();
    for k in clashing(&out) {
        if out[k] != names[k] {
            if let Some(s) = keep_end(names[k], k, names, max) {
                out[k] = s;
            }
        }
    }
    let mut numbered = vec![false; names.len()];
    loop {
        // Shortened names give way first; a name kept whole is numbered only when it clashes
        // with another kept whole (the same name twice).
        let open: Vec<usize> = clashing(&out)
            .into_iter()
            .filter(|&k| !numbered[k])
            .collect();
        let short: Vec<usize> = open
            .iter()
            .copied()
            .filter(|&k| out[k] != names[k])
            .collect();
        let todo = if short.is_empty() { open } else { short };
        if todo.is_empty() {
            return out;
        }
        for k in todo {
            let n = (k + 1).to_string();
            let keep = max.saturating_sub(n.len() + 1);
            out[k] = format!("{}~{n}", take(names[k], keep));
            numbered[k] = true;
        }
    }
}

/// The positions whose text another position also has.
fn clashing(out: &[String]) -> Vec<usize> {
    (0..out.len())
        .filter(|&k| (0..out.len()).any(|j| j != k && out[j] == out[k]))
        .collect()
}

fn take(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn len(s: &str) -> usize {
    s.chars().count()
}

/// `head~end`: the first `-` segment of `name` (cut if need be) and the shortest run of its last
/// segments that no other name ends with; `None` when the name has one segment or the end does
/// not fit.
fn keep_end(name: &str, k: usize, all: &[&str], max: usize) -> Option<String> {
    let (head, rest) = name.split_once('-')?;
    // The ends of `rest` at segment boundaries, shortest first, then `rest` itself.
    let mut ends: Vec<&str> = rest
        .char_indices()
        .filter(|(_, c)| *c == '-')
        .map(|(i, _)| &rest[i + 1..])
        .rev()
        .collect();
    ends.push(rest);
    let unique = |end: &&&str| {
        all.iter()
            .enumerate()
            .filter(|(j, _)| *j != k)
            .all(|(_, o)| *o != **end && !o.ends_with(&format!("-{end}")))
    };
    let end = ends.iter().find(unique).copied().unwrap_or(rest);
    if len(end) + 2 <= max {
        return Some(format!("{}~{end}", take(head, max - len(end) - 1)));
    }
    // The end does not fit whole: keep its first segment (the port) and what fits after it.
    let first = end.split('-').next().unwrap_or(end);
    let head_len = max.checked_sub(len(first) + 4)?.clamp(1, len(head));
    Some(format!(
        "{}~{}~",
        take(head, head_len),
        take(end, max - head_len - 2)
    ))
}

/// `prefix` then `items` separated by `gap`, wrapped to `width` between items.
fn wrap_items(prefix: &str, items: &[String], gap: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = prefix.to_string();
    for item in items {
        let sep = if line.ends_with(' ') || line.is_empty() {
            ""
        } else {
            gap
        };
        if len(&line) + sep.len() + len(item) > width && !line.trim().is_empty() {
            let _ = writeln!(out, "{}", line.trim_end());
            line.clear();
            line.push_str(item);
        } else {
            line.push_str(sep);
            line.push_str(item);
        }
    }
    let _ = writeln!(out, "{}", line.trim_end());
    out
}

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
        Verdict::Unreachable | Verdict::Error | Verdict::BadIdentity => style.warn(s),
    }
}

/// Render a report (an audit round, or a saved or merged report read back) for a terminal
/// `width` columns wide. Cells of a merged report whose vantage points disagree carry `≠`, and
/// each is listed after the findings. With a baseline, `*` follows the symbol of a cell whose
/// verdict changed, `~` the row of an endpoint whose server certificate changed, and the
/// changes are listed after the legend.
pub fn render(doc: &Doc<'_>, style: Style, width: usize) -> String {
    let width = width.max(MIN_WIDTH);
    let r = &*doc.report;
    render_with(r, style, r.baseline.as_ref(), width)
        + &disagreements(r, width)
        + &drift(r, width)
        + &scans(r, width)
        + &not_checked(r, width)
}

/// A merged report's cells whose vantage points saw different verdicts, one line each, and
/// its endpoints they dialed at different addresses.
fn disagreements(r: &Report, width: usize) -> String {
    let cells: Vec<_> = r.cells.iter().filter(|c| c.disagrees()).collect();
    let mut out = String::new();
    if !cells.is_empty() {
        let _ = writeln!(out, "\nvantage points disagree ({} cells):", cells.len());
    }
    for c in cells {
        let seen: Vec<String> = c
            .by_vantage
            .iter()
            .flatten()
            .map(|(v, s)| match s.not_tried {
                Some(_) => format!("{v} not tried"),
                None => format!("{v} {}", s.verdict.map_or("not probed", Verdict::as_str)),
            })
            .collect();
        let line = format!("≠ {} at {}: {}", c.identity, c.endpoint, seen.join(", "));
        push_item(&mut out, &line, width);
    }
    let split: Vec<_> = r
        .endpoints
        .iter()
        .filter(|e| e.addresses.is_some())
        .collect();
    if !split.is_empty() {
        let _ = writeln!(
            out,
            "\nvantage points dialed different addresses ({} endpoint{}):",
            split.len(),
            if split.len() == 1 { "" } else { "s" }
        );
    }
    for ep in split {
        push_item(
            &mut out,
            &format!("≠ {}: {}", ep.name, ep.address_text()),
            width,
        );
    }
    out
}

/// One `≠` line of the disagreements, made inert and wrapped under its text.
fn push_item(out: &mut String, line: &str, width: usize) {
    let w = wrap(&inert(line), 4, width);
    out.push_str("  ");
    out.push_str(w.get(4..).unwrap_or_default());
}

/// An endpoint's ADDRESS cell: its address, or, where a merge's vantage points dialed
/// different ones, a pointer to the list of them.
fn address_cell(ep: &crate::model::Endpoint) -> String {
    match ep.addresses {
        Some(_) => "≠ see below".to_string(),
        None => inert(&ep.address).into_owned(),
    }
}

/// Rotation drift of the endpoints whose certificate or CA files are known, after the
/// findings (nothing when none is).
fn drift(r: &Report, width: usize) -> String {
    let with: Vec<_> = r
        .endpoints
        .iter()
        .filter_map(|e| Some((e, e.drift.as_ref()?)))
        .collect();
    if with.is_empty() {
        return String::new();
    }
    let mut out = format!("\nrotation drift ({} endpoints):\n", with.len());
    for (e, d) in with {
        let _ = writeln!(out, "  {}:", inert(&e.name));
        for line in d.describe() {
            let w = wrap(&inert(&line), 6, width);
            out.push_str("    - ");
            out.push_str(w.get(6..).unwrap_or_default());
        }
    }
    out
}

/// The TLS hygiene scan, one line per endpoint that carries one (`  tikv-1: TLS 1.2, TLS 1.3;
/// no weak suite`), after the findings (nothing when none does).
fn scans(r: &Report, width: usize) -> String {
    let scanned = crate::hygiene::scanned(r);
    if scanned.is_empty() {
        return String::new();
    }
    let n = scanned.len();
    let mut out = format!(
        "\nTLS versions and suites ({n} endpoint{}):\n",
        if n == 1 { "" } else { "s" }
    );
    for s in scanned {
        let line = format!("{}: {}", s.endpoint.name, s.line());
        push_item(&mut out, &line, width);
    }
    out
}

/// What the audit did not check, after the findings (nothing when it checked everything).
fn not_checked(r: &Report, width: usize) -> String {
    if r.not_checked.is_empty() {
        return String::new();
    }
    let mut out = format!("\nnot checked ({}):\n", r.not_checked.len());
    for n in &r.not_checked {
        let w = wrap(&inert(n), 4, width);
        out.push_str("  - ");
        out.push_str(w.get(4..).unwrap_or_default());
    }
    out
}

/// The columns of the matrix for one width: the shortened names and which columns show.
struct Columns {
    /// Identity column labels (each column is its label plus one space wide).
    ids: Vec<String>,
    /// Endpoint names as shown, at most `name_w` wide.
    eps: Vec<String>,
    kinds: Vec<String>,
    name_w: usize,
    kind_w: usize,
    /// The ADDRESS column's width, `None` when it does not fit.
    addr_w: Option<usize>,
}

/// The most an ADDRESS cell shows (longer addresses are cut and given in full in the key).
const ADDR_MAX: usize = 24;

/// A name as the matrix shows it: made inert.
fn inert_name(s: &str) -> String {
    inert(s).into_owned()
}

/// An identity's column label (`tidb*` when minted from the CA key), made inert.
fn label(id: &Identity) -> String {
    if id.kind == IdentityKind::Minted {
        format!("{}*", inert(&id.name))
    } else {
        inert(&id.name).into_owned()
    }
}

impl Columns {
    /// The widest layout that fits `width`: identity labels whole (at most 32), then cut to 16,
    /// 12 and 9; endpoint names shrink to 16, identity labels to 6, then both further, and the
    /// ADDRESS column goes last.
    fn fit(r: &Report, width: usize) -> Columns {
        // An identity minted from the CA key is marked `tidb*` (the key below says so).
        let id_labels: Vec<String> = r.identities.iter().map(label).collect();
        let id_names: Vec<&str> = id_labels.iter().map(String::as_str).collect();
        let ep_labels: Vec<String> = r.endpoints.iter().map(|e| inert_name(&e.name)).collect();
        let ep_names: Vec<&str> = ep_labels.iter().map(String::as_str).collect();
        let kinds: Vec<String> = r
            .endpoints
            .iter()
            .map(crate::shared::endpoint_kind)
            .collect();
        let kind_w = kinds.iter().map(|k| len(k)).max().unwrap_or(0).max(4);
        let addr_nat = r
            .endpoints
            .iter()
            .map(|e| len(&e.address))
            .max()
            .unwrap_or(0)
            .clamp(7, ADDR_MAX);
        let name_nat = ep_names
            .iter()
            .map(|n| len(n))
            .max()
            .unwrap_or(8)
            .clamp(8, 40);
        let id_w = |cap: usize| -> usize { id_names.iter().map(|n| len(n).min(cap) + 1).sum() };
        // Identity labels are whole when the width has room (`pd-control` at 160 columns),
        // then cut to 16, 12, and the steps below.
        let id_nat = id_names
            .iter()
            .map(|n| len(n))
            .max()
            .unwrap_or(9)
            .clamp(9, 32);
        let steps = [
            (name_nat, id_nat),
            (name_nat, id_nat.min(16)),
            (name_nat, id_nat.min(12)),
            (name_nat, 9),
            (name_nat.min(22), 9),
            (name_nat.min(16), 9),
            (name_nat.min(16), 8),
            (name_nat.min(16), 7),
            (name_nat.min(16), 6),
            (name_nat.min(14), 6),
            (name_nat.min(12), 6),
            (name_nat.min(12), 5),
            (name_nat.min(10), 5),
            (name_nat.min(10), 4),
            (8, 4),
        ];
        let fixed = |name_w: usize, addr: Option<usize>| {
            name_w + 1 + kind_w + 1 + addr.map_or(0, |a| a + 1)
        };
        let choice = [Some(addr_nat), None]
            .into_iter()
            .flat_map(|addr| steps.iter().map(move |&(n, cap)| (n, cap, addr)))
            .find(|&(n, cap, addr)| fixed(n, addr) + id_w(cap) <= width)
            .unwrap_or((8, 4, None));
        let (name_w, cap, addr_w) = choice;
        Columns {
            ids: abbreviate(&id_names, cap),
            eps: abbreviate(&ep_names, name_w),
            kinds,
            name_w,
            kind_w,
            addr_w,
        }
    }

    fn header(&self) -> String {
        let (name_w, kind_w) = (self.name_w, self.kind_w);
        let mut header = format!("{:<name_w$} {:<kind_w$} ", "ENDPOINT", "KIND");
        if let Some(addr_w) = self.addr_w {
            let _ = write!(header, "{:<addr_w$} ", "ADDRESS");
        }
        for c in &self.ids {
            header.push_str(c);
            header.push(' ');
        }
        header.trim_end().to_string()
    }

    /// The key to shortened names (and to every address when the ADDRESS column is left out).
    fn key(&self, r: &Report, width: usize) -> String {
        let mut rows: Vec<(String, String)> = Vec::new();
        for (k, ep) in r.endpoints.iter().enumerate() {
            let addr_cut = self.addr_w.is_some() && len(&ep.address) > ADDR_MAX;
            if self.addr_w.is_none() || addr_cut {
                rows.push((
                    self.eps[k].clone(),
                    format!("{}  {}", ep.name, ep.address_text()),
                ));
            } else if self.eps[k] != inert_name(&ep.name) {
                rows.push((self.eps[k].clone(), ep.name.clone()));
            }
        }
        for (k, id) in r.identities.iter().enumerate() {
            let label = label(id);
            if self.ids[k] != label {
                rows.push((self.ids[k].clone(), format!("{label} (identity)")));
            }
        }
        if rows.is_empty() {
            return String::new();
        }
        let mut out = format!(
            "\nkey: names shortened to fit {width} columns{} (COLUMNS sets the width)\n",
            if self.addr_w.is_none() {
                ", addresses below"
            } else {
                ""
            }
        );
        let w = rows.iter().map(|(s, _)| len(s)).max().unwrap_or(0);
        for (short, full) in rows {
            let _ = writeln!(out, "  {short:<w$}  {}", inert(&full));
        }
        out
    }
}

/// One endpoint's row of the matrix.
fn matrix_row(
    r: &Report,
    style: Style,
    baseline: Option<&Diff>,
    cols: &Columns,
    e: usize,
) -> String {
    let ep = &r.endpoints[e];
    let (name_w, kind_w) = (cols.name_w, cols.kind_w);
    let mut line = format!(
        "{:<name_w$} {:<kind_w$} ",
        cols.eps[e],
        cut(&cols.kinds[e], kind_w)
    );
    if let Some(addr_w) = cols.addr_w {
        let _ = write!(line, "{:<addr_w$} ", cut(&address_cell(ep), addr_w));
    }
    for (i, c) in cols.ids.iter().enumerate() {
        let cell = &r.cells[i * r.endpoints.len() + e];
        let sym = cell
            .verdict
            .map_or('.', tlsaudit_engine::audit::Verdict::symbol);
        let w = len(c);
        let pad = w.div_ceil(2);
        let mark = match baseline {
            Some(d) if d.cell(&r.identities[i].name, &ep.name).is_some() => "*",
            _ if cell.disagrees() => "≠",
            _ => " ",
        };
        let text = format!("{:>pad$}{mark}{}", sym, " ".repeat(w - pad));
        line.push_str(&match cell.verdict {
            Some(v) => paint(style, v, &text),
            None => text,
        });
    }
    if baseline.is_some_and(|d| d.rotated(&ep.name)) {
        line = format!("{} ~", line.trim_end());
    }
    line.trim_end().to_string()
}

/// `CRITICAL`, `WARNING ` or `INFO    `, coloured; a severity this version does not know as
/// written, in the colour of a critical one.
fn severity_label(f: &Finding, style: Style) -> String {
    match f.severity.known() {
        Some(Severity::Critical) => style.bad("CRITICAL"),
        Some(Severity::Warning) => style.warn("WARNING "),
        Some(Severity::Info) => "INFO    ".to_string(),
        None => style.bad(&format!("{:<8}", inert(f.severity.as_str()).to_uppercase())),
    }
}

fn render_findings(r: &Report, style: Style, width: usize, out: &mut String) {
    if r.findings.is_empty() {
        let _ = writeln!(out, "\nno findings");
        return;
    }
    let _ = writeln!(out, "\nfindings ({}):", r.findings.len());
    for f in &r.findings {
        let sev = severity_label(f, style);
        let _ = writeln!(out);
        let head = format!("{} {}", f.code, inert(&f.title));
        let wrapped = wrap(&head, 9, width);
        let _ = write!(out, "{sev} {}", wrapped.trim_start());
        if !f.evidence.is_empty() {
            let seen = format!("seen: {}", inert(&f.evidence));
            let _ = write!(out, "{}", wrap(&seen, 9, width));
        }
        if let Some(src) = &f.source {
            let _ = write!(out, "{}", wrap(&format!("from: {}", inert(src)), 9, width));
        }
        if !f.vantages.is_empty() {
            let _ = write!(
                out,
                "{}",
                wrap(
                    &format!("at:   {}", inert(&f.vantages.join(", "))),
                    9,
                    width
                )
            );
        }
        let _ = write!(
            out,
            "{}",
            wrap(&format!("fix:  {}", inert(&f.fix)), 9, width)
        );
    }
}

/// The first lines: the cluster, the matrix's size, when, and where the audit ran.
fn title(r: &Report, width: usize) -> String {
    let mut out = String::new();
    let title = format!(
        "tlsaudit report: cluster {}, {} endpoints x {} identities,",
        inert(&r.cluster.name),
        r.endpoints.len(),
        r.identities.len(),
    );
    let at = r.finished_at.as_deref().unwrap_or("-");
    let sep = if len(&title) + 1 + len(at) > width {
        '\n'
    } else {
        ' '
    };
    let _ = writeln!(out, "{title}{sep}{}", inert(at));
    if let Some(vs) = &r.vantages {
        let merged = format!("merged from {} vantage points: {}", vs.len(), vs.join(", "));
        out.push_str(&wrap(&inert(&merged), 0, width));
    } else if let Some(v) = &r.vantage {
        let _ = writeln!(out, "vantage: {}", inert(v));
    }
    out
}

/// `verdicts: secure 3, enforced 2, ...`: the verdicts seen, each in its colour.
fn verdict_counts(r: &Report, style: Style, width: usize) -> String {
    let counts: Vec<(Verdict, usize)> = Verdict::ALL
        .iter()
        .map(|&v| (v, r.cells.iter().filter(|c| c.verdict == Some(v)).count()))
        .collect();
    let nonzero = counts.iter().filter(|(_, n)| *n > 0).count();
    let counts: Vec<String> = counts
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .enumerate()
        .map(|(k, (v, n))| {
            let comma = if k + 1 < nonzero { "," } else { "" };
            paint(style, v, &format!("{} {n}{comma}", v.as_str()))
        })
        .collect();
    wrap_items("verdicts: ", &counts, " ", width)
}

/// Under the matrix: the symbols, the marks of a merge, the key to shortened names and the
/// identities minted from the CA key.
fn legend(r: &Report, cols: &Columns, width: usize) -> String {
    let legend: Vec<String> = crate::shared::legend_verdicts(r)
        .iter()
        .map(|v| format!("{} {}", v.symbol(), v.as_str()))
        .collect();
    let mut out = format!("\n{}", wrap_items("legend: ", &legend, "  ", width));
    if r.vantages.is_some() {
        let _ = writeln!(
            out,
            "≠: vantage points disagree (the cell shows the worst verdict; listed below)"
        );
    }
    out.push_str(&cols.key(r, width));
    let minted: Vec<&str> = r
        .identities
        .iter()
        .filter(|i| i.kind == IdentityKind::Minted)
        .map(|i| i.name.as_str())
        .collect();
    if !minted.is_empty() {
        out.push_str(&wrap(
            &format!(
                "name*: minted from the CA key with the CN TiUP gives the component, whose own certificate is not readable here ({})",
                inert(&minted.join(", "))
            ),
            0,
            width,
        ));
    }
    out
}

fn render_with(r: &Report, style: Style, baseline: Option<&Diff>, width: usize) -> String {
    let mut out = title(r, width);
    let _ = writeln!(out, "{}", verdict_counts(r, style, width));
    let cols = Columns::fit(r, width);
    let _ = writeln!(out, "{}", cols.header());
    for e in 0..r.endpoints.len() {
        let _ = writeln!(out, "{}", matrix_row(r, style, baseline, &cols, e));
    }
    out.push_str(&legend(r, &cols, width));
    if let Some(d) = baseline {
        let _ = writeln!(
            out,
            "*: verdict changed since the baseline  ~: server certificate changed\n"
        );
        out.push_str(&crate::diff::render_text(d, &[]));
    }
    render_findings(r, style, width, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::abbreviate;
    use std::collections::BTreeSet;

    fn unique(v: &[String]) -> bool {
        v.iter().collect::<BTreeSet<_>>().len() == v.len()
    }

    #[test]
    fn names_that_fit_are_kept() {
        let names = ["pd-1", "tikv-1", "tikv-1-status"];
        assert_eq!(abbreviate(&names, 13), names);
    }

    #[test]
    fn a_cut_is_enough_when_names_differ_early() {
        let names = ["tikv-1-status", "tikv-2-status", "tidb-1-status", "pd-1"];
        assert_eq!(
            abbreviate(&names, 10),
            ["tikv-1-st~", "tikv-2-st~", "tidb-1-st~", "pd-1"]
        );
        assert_eq!(
            abbreviate(&["1-status", "2-status", "1"], 4),
            ["1-s~", "2-s~", "1"]
        );
    }

    #[test]
    fn shared_long_prefixes_keep_the_component_and_the_distinguishing_end() {
        // Cut at 22 these were all `tiflash-127.0.0.1-592~`.
        let names = [
            "tiflash-127.0.0.1-59201",
            "tiflash-127.0.0.1-59202",
            "tiflash-127.0.0.1-59201-proxy",
            "tiflash-127.0.0.1-59202-proxy",
            "tikv-127.0.0.1-20160",
        ];
        let got = abbreviate(&names, 22);
        assert_eq!(
            got,
            [
                "tiflash~59201",
                "tiflash~59202",
                "tiflash~59201-proxy",
                "tiflash~59202-proxy",
                "tikv-127.0.0.1-20160",
            ]
        );
        // Narrower, the component gives way before the end does.
        let got = abbreviate(&names, 14);
        assert_eq!(got[2], "ti~59201-proxy");
        assert!(unique(&got), "{got:?}");
    }

    #[test]
    fn names_alike_but_for_the_middle_keep_it_or_are_numbered() {
        // Same prefix, same end: only the middle differs.
        let names = [
            "tikv-10.0.0.1-20160-status",
            "tikv-10.0.0.2-20160-status",
            "tikv-10.0.0.3-20160-status",
        ];
        // The distinguishing end does not fit whole: its first segment does.
        assert_eq!(
            abbreviate(&names, 12),
            ["t~10.0.0.1-~", "t~10.0.0.2-~", "t~10.0.0.3-~"]
        );
        // Not even that: their positions.
        assert_eq!(abbreviate(&names, 6), ["tikv~1", "tikv~2", "tikv~3"]);
    }

    #[test]
    fn uniqueness_holds_for_many_colliding_prefixes_and_any_width() {
        let owned: Vec<String> = (0..120)
            .map(|k| {
                format!(
                    "tiflash-very-long-shared-host-name.example.internal-{}",
                    3930 + k % 7
                )
            })
            .chain((0..30).map(|k| format!("tiflash-very-long-shared-host-name-{k}")))
            .collect();
        // Duplicated inputs too: a name appearing twice still gets two labels.
        let names: Vec<&str> = owned.iter().map(String::as_str).collect();
        for max in [4, 5, 6, 8, 12, 22, 40] {
            let got = abbreviate(&names, max);
            assert!(unique(&got), "max {max}: {got:?}");
            assert!(
                got.iter().all(|s| s.chars().count() <= max),
                "max {max}: {got:?}"
            );
        }
    }

    #[test]
    fn a_shortened_name_never_takes_another_names_text() {
        // `tikv~1` is the distinguishing form of the first and the second literally.
        let names = ["tikv-host-a-1", "tikv~1", "tikv-host-b-2"];
        let got = abbreviate(&names, 6);
        assert!(unique(&got), "{got:?}");
        assert!(got.iter().all(|s| s.chars().count() <= 6), "{got:?}");
        // A name kept whole gives way only to another kept whole: here none clash.
        let names = ["tikv-host-a-1", "tikv-1", "tikv-host-b-2"];
        // `1` ends `tikv-1` too, so the first keeps `a-1`.
        assert_eq!(abbreviate(&names, 6), ["ti~a-1", "tikv-1", "tikv~2"]);
    }
}
