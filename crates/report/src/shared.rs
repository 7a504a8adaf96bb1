//! The view the shared reports (HTML, Markdown, SARIF) and the table draw from: the report
//! model itself ([`Report`]), plus what the report was made from and whether it is an audit (a
//! matrix of probes) or a lint (findings only). Helpers every writer needs live here too:
//! component groups, stable cell anchors, making peer text inert, reading a finding's source.

use std::borrow::Cow;

use tlsaudit_engine::audit::{Plan, Severity, Snapshot, Verdict};
use tlsaudit_engine::profile::Component;

use crate::model::{Cell, Finding, Report};
use crate::named::Named;

pub use crate::named::SEVERITIES;

/// What a shared report describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One audit round: the matrix, its cells and the findings.
    Audit,
    /// A static lint of TiDB inputs: findings only.
    Lint,
}

/// A file (or flag) the report was made from, for the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub label: &'static str,
    pub value: String,
}

/// What the writers draw from: the report (borrowed, or owned when built for the writing)
/// and its inputs.
#[derive(Debug)]
pub struct Doc<'a> {
    pub kind: Kind,
    pub report: Cow<'a, Report>,
    pub inputs: Vec<Input>,
}

impl<'a> Doc<'a> {
    /// An audit round, with the same model as `--format json`.
    pub fn audit(plan: &Plan, snap: &Snapshot) -> Doc<'static> {
        Doc::from_report(Report::build(plan, snap))
    }

    /// An audit report (a round, a saved or merged report read back, or one built by hand).
    pub fn from_report(report: impl Into<Cow<'a, Report>>) -> Doc<'a> {
        let report = report.into();
        let mut inputs = Vec::new();
        if let Some(inv) = &report.cluster.inventory {
            // A tlsaudit.toml, or the TiUP topology a TiDB-native report was read from.
            let topology = inv.ends_with(".yaml") || inv.ends_with(".yml");
            inputs.push(Input {
                label: if topology { "topology" } else { "inventory" },
                value: inv.clone(),
            });
        }
        inputs.push(Input {
            label: "CA",
            value: report.cluster.ca.clone(),
        });
        Doc {
            kind: Kind::Audit,
            report,
            inputs,
        }
    }

    /// The cell of identity `i` at endpoint `e` (cells are identity-major).
    pub fn cell(&self, i: usize, e: usize) -> &Cell {
        self.report.cell(i, e)
    }

    /// Whether any identity's cell at endpoint `e` is a problem.
    pub fn endpoint_failing(&self, e: usize) -> bool {
        (0..self.report.identities.len())
            .any(|i| self.cell(i, e).verdict.is_some_and(Verdict::is_failing))
    }

    /// Endpoints grouped by component, in the dashboard's order (PD, TiKV, TiDB, ..., then
    /// components this version does not know), stable within a group.
    pub fn groups(&self) -> Vec<Group> {
        let endpoints = &self.report.endpoints;
        let mut groups: Vec<Group> = Vec::new();
        let mut order: Vec<usize> = (0..endpoints.len()).collect();
        order.sort_by_key(|&e| component_rank(&endpoints[e].component));
        for e in order {
            let component = &endpoints[e].component;
            match groups.last_mut() {
                Some(g) if g.component == component.as_str() => g.endpoints.push(e),
                _ => groups.push(Group {
                    component: component.as_str().to_string(),
                    title: component_title(component),
                    endpoints: vec![e],
                }),
            }
        }
        groups
    }

    /// The component of an endpoint, by name.
    pub fn endpoint_component(&self, endpoint: &str) -> Option<&Named<Component>> {
        self.report
            .endpoints
            .iter()
            .find(|e| e.name == endpoint)
            .map(|e| &e.component)
    }

    /// The findings, most severe first (stable within a severity; a severity this version
    /// does not know first of all).
    pub fn findings_by_severity(&self) -> Vec<&Finding> {
        let mut v: Vec<&Finding> = self.report.findings.iter().collect();
        v.sort_by(|a, b| b.severity.cmp(&a.severity));
        v
    }

    /// Count of findings of a severity.
    pub fn count(&self, s: Severity) -> usize {
        self.report
            .findings
            .iter()
            .filter(|f| f.severity == s)
            .count()
    }

    /// Count of cells with a verdict.
    pub fn verdict_count(&self, v: Verdict) -> usize {
        self.report
            .cells
            .iter()
            .filter(|c| c.verdict == Some(v))
            .count()
    }
}

/// Endpoints of one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The component's name, as the report writes it.
    pub component: String,
    pub title: &'static str,
    /// Indexes into `report.endpoints`.
    pub endpoints: Vec<usize>,
}

/// The order of the dashboard; components this version does not know come last.
fn component_rank(c: &Named<Component>) -> usize {
    c.known()
        .and_then(|k| Component::ALL.iter().position(|x| *x == k))
        .unwrap_or(Component::ALL.len())
}

/// The display name of a component (`tikv` → `TiKV`); `other` for one this version does not
/// know.
pub fn component_title(c: &Named<Component>) -> &'static str {
    c.known().map_or("other", Component::title)
}

/// What an endpoint is, for a column or label: its component and role (`TiKV status`), with the
/// protocol it answered in when that was not TLS (`TiKV status (http/1)`); a generic endpoint's
/// role is the protocol itself, so the observed one replaces it (`generic http/1`).
pub fn endpoint_kind(ep: &crate::model::Endpoint) -> String {
    let title = component_title(&ep.component);
    match ep.observed_protocol.as_deref().map(inert) {
        Some(p) if ep.role == "tls" => format!("{title} {p}"),
        Some(p) => format!("{title} {} ({p})", inert(&ep.role)),
        None => format!("{title} {}", inert(&ep.role)),
    }
}

/// The verdicts a legend explains: every one, except `bad_identity` (our own certificate's
/// fault, rare) when no cell of the report has it.
pub fn legend_verdicts(r: &crate::model::Report) -> Vec<Verdict> {
    let bad = r
        .cells
        .iter()
        .any(|c| c.verdict == Some(Verdict::BadIdentity));
    Verdict::ALL
        .into_iter()
        .filter(|v| bad || v.always_listed())
        .collect()
}

/// What a verdict means, for legends.
pub fn verdict_meaning(v: Verdict) -> &'static str {
    match v {
        Verdict::Secure => {
            "admitted over a verified chain, as intended (or where nothing is stated)"
        }
        Verdict::Enforced => "refused, as intended (or where nothing is stated)",
        Verdict::Open => "must be refused, but admitted: a list not enforced, or none stated",
        Verdict::Blocked => "must be admitted (needed, or listed), but refused: an outage",
        Verdict::Unencrypted => "the endpoint does not speak TLS",
        Verdict::Untrusted => "the server chain does not verify for the dialed address",
        Verdict::Unreachable => "refused or timed out",
        Verdict::Error => "reset, protocol error or no common TLS parameters",
        Verdict::BadIdentity => "refused because our own certificate is faulty (see its finding)",
    }
}

/// The stable anchor of a cell: `cell-<identity>-<endpoint>`, e.g. `cell-tidb-tikv-1`. Letters,
/// digits, `-`, `_` and `.` are kept; anything else becomes `_`.
pub fn cell_anchor(identity: &str, endpoint: &str) -> String {
    format!("cell-{}-{}", anchor_part(identity), anchor_part(endpoint))
}

/// The anchor of an endpoint's row in the matrix: `endpoint-<name>`.
pub fn endpoint_anchor(endpoint: &str) -> String {
    format!("endpoint-{}", anchor_part(endpoint))
}

/// The anchor of an endpoint's TLS hygiene scan in the HTML page: `scan-<name>`.
pub fn scan_anchor(endpoint: &str) -> String {
    format!("scan-{}", anchor_part(endpoint))
}

fn anchor_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Peer and input text made inert for display: the one sanitizer, [`crate::sanitize`].
pub use crate::sanitize::inert;

/// Where a finding's `source` points: `file:line:col: key` (TiUP and component configs), a bare
/// file (certificate files), `file: key (not set)`, or no file at all (`--ca`, a default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef<'s> {
    pub file: Option<&'s str>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The key (or what is left of the source once the file is taken out).
    pub key: Option<&'s str>,
}

/// Read a finding's source.
pub fn parse_source(s: &str) -> SourceRef<'_> {
    // `file:line:col: key` or `file:line:col`: find the last `:N:M` followed by `: ` or the end.
    let mut i = s.len();
    while let Some(colon) = s[..i].rfind(':') {
        if let Some(found) = line_col_at(s, colon) {
            let (line, column, end) = found;
            let key = s[end..].strip_prefix(": ").filter(|k| !k.is_empty());
            if end == s.len() || key.is_some() {
                return SourceRef {
                    file: Some(&s[..colon]).filter(|f| !f.is_empty()),
                    line: Some(line),
                    column: Some(column),
                    key,
                };
            }
        }
        i = colon;
    }
    // `file: key`: the part before `: ` is a file when it looks like a path.
    if let Some((file, key)) = s.split_once(": ") {
        if looks_like_path(file) {
            return SourceRef {
                file: Some(file),
                line: None,
                column: None,
                key: Some(key),
            };
        }
    }
    if looks_like_path(s) {
        return SourceRef {
            file: Some(s),
            line: None,
            column: None,
            key: None,
        };
    }
    SourceRef {
        file: None,
        line: None,
        column: None,
        key: Some(s).filter(|k| !k.is_empty()),
    }
}

/// `:N:M` at byte `colon` of `s`: the line, the column and the index past them.
fn line_col_at(s: &str, colon: usize) -> Option<(usize, usize, usize)> {
    let rest = &s[colon + 1..];
    let n_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if n_len == 0 || rest.as_bytes().get(n_len) != Some(&b':') {
        return None;
    }
    let after = &rest[n_len + 1..];
    let m_len = after.bytes().take_while(u8::is_ascii_digit).count();
    if m_len == 0 {
        return None;
    }
    let line = rest[..n_len].parse().ok()?;
    let column = after[..m_len].parse().ok()?;
    Some((line, column, colon + 1 + n_len + 1 + m_len))
}

fn looks_like_path(s: &str) -> bool {
    if ["/", "./", "../", "~/"].iter().any(|p| s.starts_with(p)) {
        return true;
    }
    !s.is_empty()
        && !s.starts_with('-')
        && !s.chars().any(char::is_whitespace)
        && (s.contains('/')
            || s.contains('\\')
            || [".toml", ".yaml", ".yml", ".crt", ".pem", ".key", ".cert"]
                .iter()
                .any(|ext| s.ends_with(ext)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_read_in_every_form() {
        let s = parse_source("tests/fixtures/components/tikv.toml:16:1: security.ca-path");
        assert_eq!(s.file, Some("tests/fixtures/components/tikv.toml"));
        assert_eq!((s.line, s.column), (Some(16), Some(1)));
        assert_eq!(s.key, Some("security.ca-path"));
        let s =
            parse_source("/tmp/x:y/prod.yaml:85:3: server_configs tikv security.cert-allowed-cn");
        assert_eq!(s.file, Some("/tmp/x:y/prod.yaml"));
        assert_eq!((s.line, s.column), (Some(85), Some(3)));
        let s = parse_source("tls/tidb.crt");
        assert_eq!((s.file, s.line, s.key), (Some("tls/tidb.crt"), None, None));
        let s = parse_source("topology.yaml: global.enable_tls (not set)");
        assert_eq!(s.file, Some("topology.yaml"));
        assert_eq!(s.key, Some("global.enable_tls (not set)"));
        let s = parse_source("security.cert-allowed-cn (default)");
        assert_eq!(
            (s.file, s.key),
            (None, Some("security.cert-allowed-cn (default)"))
        );
        let s = parse_source("/home/me/my cluster/tls/ca.crt");
        assert_eq!(
            (s.file, s.key),
            (Some("/home/me/my cluster/tls/ca.crt"), None)
        );
        let s = parse_source("--ca");
        assert_eq!((s.file, s.key), (None, Some("--ca")));
        let s = parse_source("a.toml:12:7");
        assert_eq!(
            (s.file, s.line, s.column, s.key),
            (Some("a.toml"), Some(12), Some(7), None)
        );
    }

    #[test]
    fn anchors_are_stable_and_safe() {
        assert_eq!(cell_anchor("tidb", "tikv-1"), "cell-tidb-tikv-1");
        assert_eq!(cell_anchor("a b", "x\"<y>"), "cell-a_b-x__y_");
    }
}
