//! `tlsaudit diff`: what changed between two JSON reports. Works only on the report model
//! ([`super::json::ReportDoc`]), never on the engine, so any two `tlsaudit.report/v1` files
//! compare, whatever wrote them. Writers: text, JSON (schema `tlsaudit.diff/v1`,
//! `docs/diff.schema.json`) and Markdown (for a change ticket).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use serde::Serialize;

use super::json::{CertDoc, EndpointDoc, FindingDoc, IdentityDoc, ReportDoc};
use tlsaudit_engine::audit::Verdict;

/// The schema identifier of the diff document.
pub const SCHEMA: &str = "tlsaudit.diff/v1";

/// How a cell's verdict changed, in the order the writers list the groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Now `open`: a caller the list denies is admitted.
    NewlyOpen,
    /// Now `blocked`: a caller the list admits (or that needs the link) is refused.
    NewlyBlocked,
    /// Now `unencrypted` or `untrusted`.
    NewlyInsecure,
    /// Was failing, now `secure` or `enforced`.
    Fixed,
    /// Any other change (for example `secure` to `enforced`, or to `unreachable`).
    Other,
}

impl Change {
    pub const ALL: [Change; 5] = [
        Change::NewlyOpen,
        Change::NewlyBlocked,
        Change::NewlyInsecure,
        Change::Fixed,
        Change::Other,
    ];

    /// Classify a verdict change (`None`: no verdict, e.g. not probed).
    pub fn of(before: Option<Verdict>, after: Option<Verdict>) -> Option<Change> {
        if before == after {
            return None;
        }
        Some(match after {
            Some(Verdict::Open) => Change::NewlyOpen,
            Some(Verdict::Blocked) => Change::NewlyBlocked,
            Some(Verdict::Unencrypted | Verdict::Untrusted) => Change::NewlyInsecure,
            Some(Verdict::Secure | Verdict::Enforced)
                if before.is_some_and(Verdict::is_failing) =>
            {
                Change::Fixed
            }
            _ => Change::Other,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Change::NewlyOpen => "newly_open",
            Change::NewlyBlocked => "newly_blocked",
            Change::NewlyInsecure => "newly_insecure",
            Change::Fixed => "fixed",
            Change::Other => "other",
        }
    }

    /// The group heading.
    pub fn title(self) -> &'static str {
        match self {
            Change::NewlyOpen => "Newly open",
            Change::NewlyBlocked => "Newly blocked",
            Change::NewlyInsecure => "Newly unencrypted or untrusted",
            Change::Fixed => "Fixed",
            Change::Other => "Other verdict changes",
        }
    }
}

/// What makes `diff` exit 1 (`--fail-on`, comma separated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// A cell newly open.
    Open,
    /// A cell newly blocked.
    Blocked,
    /// A cell newly unencrypted or untrusted.
    Insecure,
    /// Any other verdict change (not fixes).
    Other,
    /// A server certificate changed.
    Rotation,
    /// An endpoint or identity added, removed or (endpoint) changed.
    Inventory,
    /// A critical finding added.
    Critical,
    /// Any change at all.
    Any,
}

/// One side of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub file: String,
    pub cluster: String,
    pub finished_at: Option<String>,
    pub endpoints: usize,
    pub identities: usize,
}

/// A cell whose verdict changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellChange {
    pub change: Change,
    pub identity: String,
    pub endpoint: String,
    pub before: Option<Verdict>,
    pub after: Option<Verdict>,
}

/// A server certificate that changed (a rotation, or a certificate appearing or going away).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rotation {
    pub endpoint: String,
    pub address: String,
    pub before: Option<CertDoc>,
    pub after: Option<CertDoc>,
}

/// An endpoint present in both reports whose description changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointChange {
    pub endpoint: String,
    /// `address`, `component`, `role` or `allowed_cn`.
    pub field: &'static str,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EndpointChanges {
    pub added: Vec<EndpointDoc>,
    pub removed: Vec<EndpointDoc>,
    pub changed: Vec<EndpointChange>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IdentityChanges {
    pub added: Vec<IdentityDoc>,
    pub removed: Vec<IdentityDoc>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FindingChanges {
    pub added: Vec<FindingDoc>,
    pub resolved: Vec<FindingDoc>,
}

/// Counts of every kind of change.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffSummary {
    /// Per change group, zero counts included.
    pub cells: BTreeMap<&'static str, usize>,
    pub rotations: usize,
    pub endpoints_added: usize,
    pub endpoints_removed: usize,
    pub endpoints_changed: usize,
    pub identities_added: usize,
    pub identities_removed: usize,
    pub findings_added: usize,
    pub findings_resolved: usize,
}

/// Everything that changed from `before` to `after`.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub schema: &'static str,
    pub before: Side,
    pub after: Side,
    pub summary: DiffSummary,
    /// Grouped ([`Change`] order), then in the after report's endpoint and identity order.
    pub cells: Vec<CellChange>,
    pub rotations: Vec<Rotation>,
    pub endpoints: EndpointChanges,
    pub identities: IdentityChanges,
    pub findings: FindingChanges,
}

fn side(file: &str, r: &ReportDoc) -> Side {
    Side {
        file: file.to_string(),
        cluster: r.cluster_name().to_string(),
        finished_at: r.finished_at.clone(),
        endpoints: r.endpoints.len(),
        identities: r.identities.len(),
    }
}

fn endpoint_changes(before: &ReportDoc, after: &ReportDoc) -> EndpointChanges {
    let old: HashMap<&str, &EndpointDoc> = before
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    let new: HashMap<&str, &EndpointDoc> = after
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    let mut out = EndpointChanges {
        added: after
            .endpoints
            .iter()
            .filter(|e| !old.contains_key(e.name.as_str()))
            .cloned()
            .collect(),
        removed: before
            .endpoints
            .iter()
            .filter(|e| !new.contains_key(e.name.as_str()))
            .cloned()
            .collect(),
        changed: Vec::new(),
    };
    for a in &after.endpoints {
        let Some(b) = old.get(a.name.as_str()) else {
            continue;
        };
        let mut field = |field: &'static str, before: String, after: String| {
            if before != after {
                out.changed.push(EndpointChange {
                    endpoint: a.name.clone(),
                    field,
                    before,
                    after,
                });
            }
        };
        field("address", b.address.clone(), a.address.clone());
        field("component", b.component.clone(), a.component.clone());
        field("role", b.role.clone(), a.role.clone());
        field(
            "allowed_cn",
            b.allowed_cn.join(", "),
            a.allowed_cn.join(", "),
        );
    }
    out
}

fn identity_changes(before: &ReportDoc, after: &ReportDoc) -> IdentityChanges {
    let names = |r: &ReportDoc| -> BTreeSet<String> {
        r.identities.iter().map(|i| i.name.clone()).collect()
    };
    let (old, new) = (names(before), names(after));
    IdentityChanges {
        added: after
            .identities
            .iter()
            .filter(|i| !old.contains(&i.name))
            .cloned()
            .collect(),
        removed: before
            .identities
            .iter()
            .filter(|i| !new.contains(&i.name))
            .cloned()
            .collect(),
    }
}

type FindingKey<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

fn finding_counts(r: &ReportDoc) -> HashMap<FindingKey<'_>, usize> {
    let mut m = HashMap::new();
    for f in &r.findings {
        *m.entry(f.key()).or_default() += 1;
    }
    m
}

/// The findings of `r` not matched in `other` (counted per key).
fn only_in<'a>(r: &'a ReportDoc, mut other: HashMap<FindingKey<'a>, usize>) -> Vec<FindingDoc> {
    r.findings
        .iter()
        .filter(|f| match other.get_mut(&f.key()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

/// Findings compared as multisets by (code, endpoint, identity).
fn finding_changes(before: &ReportDoc, after: &ReportDoc) -> FindingChanges {
    FindingChanges {
        added: only_in(after, finding_counts(before)),
        resolved: only_in(before, finding_counts(after)),
    }
}

fn cell_changes(before: &ReportDoc, after: &ReportDoc) -> Vec<CellChange> {
    let old: HashMap<(&str, &str), Option<Verdict>> = before
        .cells
        .iter()
        .map(|c| ((c.identity.as_str(), c.endpoint.as_str()), c.verdict))
        .collect();
    let ep_pos: HashMap<&str, usize> = after
        .endpoints
        .iter()
        .enumerate()
        .map(|(k, e)| (e.name.as_str(), k))
        .collect();
    let id_pos: HashMap<&str, usize> = after
        .identities
        .iter()
        .enumerate()
        .map(|(k, i)| (i.name.as_str(), k))
        .collect();
    let mut out: Vec<CellChange> = after
        .cells
        .iter()
        .filter_map(|c| {
            let was = *old.get(&(c.identity.as_str(), c.endpoint.as_str()))?;
            Some(CellChange {
                change: Change::of(was, c.verdict)?,
                identity: c.identity.clone(),
                endpoint: c.endpoint.clone(),
                before: was,
                after: c.verdict,
            })
        })
        .collect();
    out.sort_by_key(|c| {
        (
            c.change,
            ep_pos.get(c.endpoint.as_str()).copied(),
            id_pos.get(c.identity.as_str()).copied(),
        )
    });
    out
}

fn rotations(before: &ReportDoc, after: &ReportDoc) -> Vec<Rotation> {
    let (old, new) = (before.server_certs(), after.server_certs());
    let known: BTreeSet<&str> = before.endpoints.iter().map(|e| e.name.as_str()).collect();
    after
        .endpoints
        .iter()
        .filter(|e| known.contains(e.name.as_str()))
        .filter_map(|e| {
            let (b, a) = (old.get(e.name.as_str()), new.get(e.name.as_str()));
            // No chain on either side (plaintext, unreachable) is not a change.
            if b.map(|c| &c.sha256) == a.map(|c| &c.sha256) {
                return None;
            }
            Some(Rotation {
                endpoint: e.name.clone(),
                address: e.address.clone(),
                before: b.map(|c| (*c).clone()),
                after: a.map(|c| (*c).clone()),
            })
        })
        .collect()
}

/// Compare two reports. `files` name them in the output.
pub fn diff(before: &ReportDoc, after: &ReportDoc, files: (&str, &str)) -> Diff {
    let cells = cell_changes(before, after);
    let rotations = rotations(before, after);
    let endpoints = endpoint_changes(before, after);
    let identities = identity_changes(before, after);
    let findings = finding_changes(before, after);
    let summary = DiffSummary {
        cells: Change::ALL
            .iter()
            .map(|g| (g.as_str(), cells.iter().filter(|c| c.change == *g).count()))
            .collect(),
        rotations: rotations.len(),
        endpoints_added: endpoints.added.len(),
        endpoints_removed: endpoints.removed.len(),
        endpoints_changed: endpoints.changed.len(),
        identities_added: identities.added.len(),
        identities_removed: identities.removed.len(),
        findings_added: findings.added.len(),
        findings_resolved: findings.resolved.len(),
    };
    Diff {
        schema: SCHEMA,
        before: side(files.0, before),
        after: side(files.1, after),
        summary,
        cells,
        rotations,
        endpoints,
        identities,
        findings,
    }
}

impl Diff {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
            && self.rotations.is_empty()
            && self.endpoints.added.is_empty()
            && self.endpoints.removed.is_empty()
            && self.endpoints.changed.is_empty()
            && self.identities.added.is_empty()
            && self.identities.removed.is_empty()
            && self.findings.added.is_empty()
            && self.findings.resolved.is_empty()
    }

    fn count(&self, g: Change) -> usize {
        self.cells.iter().filter(|c| c.change == g).count()
    }

    /// The changes that reach `fail_on`, described (empty: exit 0).
    pub fn failing(&self, fail_on: &[FailOn]) -> Vec<String> {
        let mut out = Vec::new();
        let mut note = |n: usize, what: &str| {
            if n > 0 {
                out.push(format!("{n} {what}"));
            }
        };
        for f in fail_on {
            match f {
                FailOn::Open => note(self.count(Change::NewlyOpen), "newly open"),
                FailOn::Blocked => note(self.count(Change::NewlyBlocked), "newly blocked"),
                FailOn::Insecure => note(
                    self.count(Change::NewlyInsecure),
                    "newly unencrypted or untrusted",
                ),
                FailOn::Other => note(self.count(Change::Other), "other verdict change(s)"),
                FailOn::Rotation => note(self.rotations.len(), "certificate change(s)"),
                FailOn::Inventory => note(
                    self.endpoints.added.len()
                        + self.endpoints.removed.len()
                        + self.endpoints.changed.len()
                        + self.identities.added.len()
                        + self.identities.removed.len(),
                    "endpoint or identity change(s)",
                ),
                FailOn::Critical => note(
                    self.findings
                        .added
                        .iter()
                        .filter(|f| f.severity == "critical")
                        .count(),
                    "new critical finding(s)",
                ),
                FailOn::Any => note(usize::from(!self.is_empty()), "change set (any)"),
            }
        }
        out
    }

    /// The change of one cell, if it changed.
    pub fn cell(&self, identity: &str, endpoint: &str) -> Option<&CellChange> {
        self.cells
            .iter()
            .find(|c| c.identity == identity && c.endpoint == endpoint)
    }

    /// Whether an endpoint's server certificate changed.
    pub fn rotated(&self, endpoint: &str) -> bool {
        self.rotations.iter().any(|r| r.endpoint == endpoint)
    }
}

/// Peer-controlled text (certificate names, finding titles quoting servers) made inert for a
/// terminal: the one sanitizer, [`super::sanitize`].
pub use super::sanitize::inert;

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

fn cert_line(c: Option<&CertDoc>) -> String {
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

fn finding_target(f: &FindingDoc) -> String {
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
        d.before.finished_at.as_deref().unwrap_or("-"),
        inert(&d.before.file),
        d.after.finished_at.as_deref().unwrap_or("-"),
        inert(&d.after.file),
    );
    if d.is_empty() {
        let _ = writeln!(out, "\nno changes");
        return out;
    }
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
    if !d.rotations.is_empty() {
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
    text_inventory(d, &mut out);
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
                f.severity.to_uppercase(),
                inert(&f.code),
                inert(&finding_target(f)),
                inert(&f.title)
            );
        }
    }
    if !failing.is_empty() {
        let _ = writeln!(out, "\nfails --fail-on: {}", failing.join(", "));
    }
    out
}

fn text_inventory(d: &Diff, out: &mut String) {
    let ep = |e: &EndpointDoc| {
        format!(
            "{} ({} {} {})",
            inert(&e.name),
            inert(&e.component),
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
                c.field,
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
                    inert(&i.kind),
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
    let ep = |e: &EndpointDoc| {
        format!(
            "{} ({} {} {})",
            md(&e.name),
            md(&e.component),
            md(&e.role),
            md(&e.address)
        )
    };
    section(
        "Endpoints added",
        d.endpoints.added.iter().map(ep).collect(),
    );
    section(
        "Endpoints removed",
        d.endpoints.removed.iter().map(ep).collect(),
    );
    section(
        "Endpoints changed",
        d.endpoints
            .changed
            .iter()
            .map(|c| {
                format!(
                    "{} {}: \\[{}\\] → \\[{}\\]",
                    md(&c.endpoint),
                    c.field,
                    md(&c.before),
                    md(&c.after)
                )
            })
            .collect(),
    );
    let id = |i: &IdentityDoc| format!("{} ({})", md(&i.name), md(&i.kind));
    section(
        "Identities added",
        d.identities.added.iter().map(id).collect(),
    );
    section(
        "Identities removed",
        d.identities.removed.iter().map(id).collect(),
    );
    let finding = |f: &FindingDoc| {
        format!(
            "**{}** `{}` {}: {}",
            md(&f.severity),
            f.code.replace('`', "'"),
            md(&finding_target(f)),
            md(&f.title)
        )
    };
    section(
        "Findings added",
        d.findings.added.iter().map(finding).collect(),
    );
    section(
        "Findings resolved",
        d.findings.resolved.iter().map(finding).collect(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        use Verdict::*;
        assert_eq!(Change::of(Some(Secure), Some(Secure)), None);
        assert_eq!(
            Change::of(Some(Enforced), Some(Open)),
            Some(Change::NewlyOpen)
        );
        assert_eq!(
            Change::of(Some(Secure), Some(Blocked)),
            Some(Change::NewlyBlocked)
        );
        assert_eq!(
            Change::of(Some(Secure), Some(Untrusted)),
            Some(Change::NewlyInsecure)
        );
        assert_eq!(
            Change::of(Some(Open), Some(Unencrypted)),
            Some(Change::NewlyInsecure)
        );
        assert_eq!(Change::of(Some(Open), Some(Enforced)), Some(Change::Fixed));
        assert_eq!(
            Change::of(Some(Secure), Some(Enforced)),
            Some(Change::Other)
        );
        assert_eq!(Change::of(None, Some(Secure)), Some(Change::Other));
        assert_eq!(
            Change::of(Some(Secure), Some(Unreachable)),
            Some(Change::Other)
        );
    }

    #[test]
    fn hostile_text_is_inert() {
        assert_eq!(inert("a\x1b[31mb\n"), "a\\x1b[31mb\\n");
        assert_eq!(md("<script>|x_`"), "&lt;script&gt;\\|x\\_\\`");
    }
}

// ---- The command ----

/// Output formats of `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    #[value(alias = "table")]
    Text,
    Json,
    Markdown,
}

/// `tlsaudit diff BEFORE.json AFTER.json`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The report from before the change (`tlsaudit report --format json`).
    pub before: std::path::PathBuf,
    /// The report from after the change.
    pub after: std::path::PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text", ignore_case = true)]
    pub format: DiffFormat,
    /// Exit 1 when a change of these kinds is found, comma separated: open, blocked, insecure
    /// (unencrypted or untrusted), other (any other verdict change), rotation, inventory
    /// (endpoints or identities), critical (a new critical finding), any.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "open,blocked,insecure"
    )]
    pub fail_on: Vec<FailOn>,
    /// Write the diff to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

/// Read and parse a report file; errors name the file (exit 2).
pub fn load(path: &std::path::Path) -> Result<ReportDoc, tlsaudit_engine::error::InputError> {
    use tlsaudit_engine::error::InputError;
    let text = std::fs::read_to_string(path).map_err(|e| InputError::io(path, &e))?;
    ReportDoc::parse(&text, &path.display().to_string()).map_err(|problem| {
        InputError::usage(
            problem,
            "give two reports written by `tlsaudit report --format json`",
        )
    })
}

/// Run `diff`: the exit code is 1 when a change reaches `--fail-on`.
pub fn run(args: &DiffArgs) -> Result<u8, tlsaudit_engine::error::InputError> {
    let before = load(&args.before)?;
    let after = load(&args.after)?;
    let d = diff(
        &before,
        &after,
        (
            &args.before.display().to_string(),
            &args.after.display().to_string(),
        ),
    );
    let failing = d.failing(&args.fail_on);
    let text = match args.format {
        DiffFormat::Text => render_text(&d, &failing),
        DiffFormat::Markdown => render_markdown(&d, &failing),
        DiffFormat::Json => render_json(&d).map_err(|e| {
            tlsaudit_engine::error::InputError::usage(
                format!("cannot serialize the diff: {e}"),
                "report this as a bug",
            )
        })?,
    };
    match &args.output {
        Some(path) => tlsaudit_engine::fsutil::write_atomic(path, text.as_bytes())?,
        None => crate::cli::emit(&text),
    }
    Ok(u8::from(!failing.is_empty()))
}

/// `report --baseline FILE`: the report (JSON when `json`, else the table) of a round with the
/// changes since the baseline report marked.
pub fn render_report_with_baseline(
    plan: &tlsaudit_engine::audit::Plan,
    snap: &tlsaudit_engine::audit::Snapshot,
    baseline: &std::path::Path,
    json: bool,
    style: super::text::Style,
) -> Result<String, tlsaudit_engine::error::InputError> {
    let doc = load(baseline)?;
    let bug = |e: serde_json::Error| {
        tlsaudit_engine::error::InputError::usage(
            format!("cannot serialize the report: {e}"),
            "report this as a bug",
        )
    };
    let d =
        super::json::compare(plan, snap, (&doc, &baseline.display().to_string())).map_err(bug)?;
    if json {
        super::json::to_string_with_baseline(plan, snap, d)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(bug)
    } else {
        Ok(super::table::render_with_baseline(plan, snap, style, &d))
    }
}
