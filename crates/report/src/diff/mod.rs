//! `tlsaudit diff`: what changed between two reports. Works only on the report model
//! ([`Report`]), never on the engine's audit, so any two `tlsaudit.report/v1` files compare,
//! whatever wrote them; `report --baseline` marks the same changes on a round
//! ([`Report::set_baseline`]). Writers: text ([`render_text`]), JSON ([`render_json`], schema
//! `tlsaudit.diff/v1`, `docs/diff.schema.json`) and Markdown ([`render_markdown`], for a change
//! ticket).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{BaselineMark, Endpoint, Finding, Identity, Report};
use crate::named::Named;
use tlsaudit_engine::audit::{Code, IdentityKind, Severity, Verdict};
use tlsaudit_engine::profile::Component;

mod compare;
mod render;

pub use render::{md, render_json, render_markdown, render_text};

/// The schema identifier of the diff document.
pub const SCHEMA: &str = "tlsaudit.diff/v1";

/// How a cell's verdict changed, in the order the writers list the groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// A TLS version or cipher suite an endpoint now accepts and did not before.
    Tls,
    /// Any change at all.
    Any,
}

/// One side of the comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Side {
    pub file: String,
    pub cluster: String,
    pub finished_at: Option<String>,
    pub endpoints: usize,
    pub identities: usize,
}

/// A cell whose verdict changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellChange {
    pub change: Change,
    pub identity: String,
    pub endpoint: String,
    pub before: Option<Verdict>,
    pub after: Option<Verdict>,
}

/// A server certificate (leaf) as the diff shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cert {
    pub sha256: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub not_after: String,
}

/// A server certificate that changed (a rotation, or a certificate appearing or going away).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    pub endpoint: String,
    pub address: String,
    pub before: Option<Cert>,
    pub after: Option<Cert>,
}

/// A TLS version, or a cipher suite of a version accepted before and after, that an endpoint
/// accepts now and did not (`accepted`), or no longer accepts. Only endpoints both reports
/// scanned to an answer are compared: a report without a scan (`--no-scan`, an earlier
/// version) or a failed scan says nothing about what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsChange {
    pub endpoint: String,
    pub address: String,
    /// `TLS 1.0` for a version; the version a suite was offered in, for a suite.
    pub version: String,
    /// The suite's IANA name; absent when the version itself changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// Accepted now (it was not before); false: no longer accepted.
    pub accepted: bool,
    /// An obsolete version (TLS 1.0, 1.1) or a suite with a weakness.
    pub weak: bool,
}

/// An endpoint added or removed, as the diff shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointBrief {
    pub name: String,
    #[serde(default)]
    pub component: Named<Component>,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub allowed_cn: Vec<String>,
}

impl From<&Endpoint> for EndpointBrief {
    fn from(e: &Endpoint) -> Self {
        EndpointBrief {
            name: e.name.clone(),
            component: e.component.clone(),
            role: e.role.clone(),
            address: e.address.clone(),
            allowed_cn: e.allowed_cn.clone(),
        }
    }
}

/// An identity added or removed, as the diff shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityBrief {
    pub name: String,
    #[serde(default)]
    pub kind: Named<IdentityKind>,
    #[serde(default)]
    pub cn: Option<String>,
}

impl From<&Identity> for IdentityBrief {
    fn from(i: &Identity) -> Self {
        IdentityBrief {
            name: i.name.clone(),
            kind: i.kind.clone(),
            cn: i.cn.clone(),
        }
    }
}

/// A finding added or resolved, as the diff shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingBrief {
    pub code: Named<Code>,
    pub severity: Named<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub fix: String,
}

impl From<&Finding> for FindingBrief {
    fn from(f: &Finding) -> Self {
        FindingBrief {
            code: f.code.clone(),
            severity: f.severity.clone(),
            endpoint: f.endpoint.clone(),
            identity: f.identity.clone(),
            title: f.title.clone(),
            fix: f.fix.clone(),
        }
    }
}

/// An endpoint present in both reports whose description changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointChange {
    pub endpoint: String,
    /// `address`, `component`, `role` or `allowed_cn`.
    pub field: String,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndpointChanges {
    pub added: Vec<EndpointBrief>,
    pub removed: Vec<EndpointBrief>,
    pub changed: Vec<EndpointChange>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdentityChanges {
    pub added: Vec<IdentityBrief>,
    pub removed: Vec<IdentityBrief>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FindingChanges {
    pub added: Vec<FindingBrief>,
    pub resolved: Vec<FindingBrief>,
}

/// Counts of every kind of change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DiffSummary {
    /// Per change group, zero counts included.
    pub cells: BTreeMap<String, usize>,
    pub rotations: usize,
    pub endpoints_added: usize,
    pub endpoints_removed: usize,
    pub endpoints_changed: usize,
    pub identities_added: usize,
    pub identities_removed: usize,
    pub findings_added: usize,
    pub findings_resolved: usize,
    /// TLS versions and suites newly accepted, and no longer accepted (left out when zero, so
    /// that diffs of reports without a scan read back byte for byte).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tls_accepted: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tls_dropped: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Everything that changed from `before` to `after`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Diff {
    pub schema: String,
    pub before: Side,
    pub after: Side,
    pub summary: DiffSummary,
    /// Grouped ([`Change`] order), then in the after report's endpoint and identity order.
    #[serde(default)]
    pub cells: Vec<CellChange>,
    #[serde(default)]
    pub rotations: Vec<Rotation>,
    #[serde(default)]
    pub endpoints: EndpointChanges,
    #[serde(default)]
    pub identities: IdentityChanges,
    #[serde(default)]
    pub findings: FindingChanges,
    /// TLS versions and suites accepted or no longer accepted, in the after report's endpoint
    /// order (left out when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<TlsChange>,
}

fn side(file: &str, r: &Report) -> Side {
    Side {
        file: file.to_string(),
        cluster: r.cluster.name.clone(),
        finished_at: r.finished_at.clone(),
        endpoints: r.endpoints.len(),
        identities: r.identities.len(),
    }
}

/// Compare two reports. `files` name them in the output.
pub fn diff(before: &Report, after: &Report, files: (&str, &str)) -> Diff {
    let cells = compare::cells(before, after);
    let rotations = compare::rotations(before, after);
    let endpoints = compare::endpoints(before, after);
    let identities = compare::identities(before, after);
    let findings = compare::findings(before, after);
    let tls = compare::tls(before, after);
    let summary = DiffSummary {
        cells: Change::ALL
            .iter()
            .map(|g| {
                let n = cells.iter().filter(|c| c.change == *g).count();
                (g.as_str().to_string(), n)
            })
            .collect(),
        rotations: rotations.len(),
        endpoints_added: endpoints.added.len(),
        endpoints_removed: endpoints.removed.len(),
        endpoints_changed: endpoints.changed.len(),
        identities_added: identities.added.len(),
        identities_removed: identities.removed.len(),
        findings_added: findings.added.len(),
        findings_resolved: findings.resolved.len(),
        tls_accepted: tls.iter().filter(|t| t.accepted).count(),
        tls_dropped: tls.iter().filter(|t| !t.accepted).count(),
    };
    Diff {
        schema: SCHEMA.to_string(),
        before: side(files.0, before),
        after: side(files.1, after),
        summary,
        cells,
        rotations,
        endpoints,
        identities,
        findings,
        tls,
    }
}

impl Report {
    /// Mark what changed since `before` (`report --baseline`; `file` names it): each changed
    /// cell's `baseline`, and the whole [`Diff`] as the report's `baseline`.
    pub fn set_baseline(&mut self, before: &Report, file: &str) {
        let d = diff(before, self, (file, "this audit"));
        for cell in &mut self.cells {
            cell.baseline = d
                .cell(&cell.identity, &cell.endpoint)
                .map(|c| BaselineMark {
                    before: c.before,
                    change: c.change,
                });
        }
        self.baseline = Some(d);
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
            && self.tls.is_empty()
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
                        .filter(|f| f.severity == Severity::Critical)
                        .count(),
                    "new critical finding(s)",
                ),
                FailOn::Tls => note(
                    self.tls.iter().filter(|t| t.accepted).count(),
                    "TLS version(s) or suite(s) newly accepted",
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
}
