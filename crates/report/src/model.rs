//! The JSON report: a versioned contract, separate from the engine's internal types. Its JSON
//! Schema is published at `docs/report.schema.json`; a test validates real output against it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use tlsaudit_engine::audit::drift::Drift;
use tlsaudit_engine::audit::{
    EndpointId, Expected, Finding, IdentityId, IdentityKind, Plan, Snapshot, Verdict,
};
use tlsaudit_engine::pki::IdentityCheck;
use tlsaudit_engine::probe::{OutcomeClass, ProbeRecord};

/// The schema identifier; bump the version on an incompatible change.
pub const SCHEMA: &str = "tlsaudit.report/v1";

#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub schema: &'static str,
    pub tool: Tool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub cluster: ClusterOut,
    /// Where the audit ran (`serve --vantage`, `report --vantage`); null when not said.
    pub vantage: Option<String>,
    /// A merged report (`tlsaudit merge`): the vantage points it combines, in input order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vantages: Option<Vec<String>>,
    pub summary: Summary,
    pub endpoints: Vec<EndpointOut>,
    pub identities: Vec<IdentityOut>,
    pub cells: Vec<CellOut<'a>>,
    pub findings: &'a [Finding],
    /// What this audit did not check, in words (identities not tried, versions assumed,
    /// endpoints left out of scope).
    pub not_checked: Vec<String>,
    /// With `report --baseline`: everything that changed since the baseline report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::diff::Diff>,
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ClusterOut {
    pub name: String,
    pub ca: String,
    pub inventory: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub endpoints: usize,
    pub identities: usize,
    pub cells: usize,
    /// Every verdict, with zero counts included.
    pub verdicts: BTreeMap<&'static str, usize>,
    /// Findings by severity, zero counts included.
    pub findings: BTreeMap<&'static str, usize>,
}

#[derive(Debug, Serialize)]
pub struct EndpointOut {
    pub name: String,
    pub component: &'static str,
    pub role: String,
    pub address: String,
    pub server_name: String,
    pub protocol: &'static str,
    pub path: Option<String>,
    pub allowed_cn: Vec<String>,
    pub requires_client_cert: bool,
    pub list_enforced: bool,
    pub list_key: String,
    pub config_file: String,
    /// Rotation drift: the served certificate against the files the component is configured
    /// with (only where a `cert_file` or `ca_file` is known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
}

#[derive(Debug, Serialize)]
pub struct IdentityOut {
    pub name: String,
    pub kind: IdentityKind,
    pub component: Option<&'static str>,
    pub cn: Option<String>,
    pub cert_file: Option<String>,
    pub sha256: Option<String>,
    pub not_after: Option<String>,
    pub check: IdentityCheck,
}

#[derive(Debug, Serialize)]
pub struct CellOut<'a> {
    pub identity: &'a str,
    pub endpoint: &'a str,
    pub expected: &'a Expected,
    pub verdict: Option<Verdict>,
    pub outcome: Option<OutcomeClass>,
    pub changed: bool,
    pub rotated: bool,
    /// The fix of the finding about this cell, if any.
    pub fix: Option<&'a str>,
    pub record: Option<&'a ProbeRecord>,
    /// With `report --baseline`, on a cell whose verdict changed since the baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineMark>,
    /// A merged report: what each vantage point that probed this cell saw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_vantage: Option<BTreeMap<String, VantageCell>>,
}

impl CellOut<'_> {
    /// A merged cell whose vantage points saw different verdicts.
    pub fn disagrees(&self) -> bool {
        self.by_vantage.as_ref().is_some_and(|m| {
            let mut v = m.values().map(|c| c.verdict);
            v.next().is_some_and(|first| v.any(|x| x != first))
        })
    }
}

/// One vantage point's view of a merged cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VantageCell {
    pub verdict: Option<Verdict>,
    pub outcome: Option<OutcomeClass>,
}

/// How a cell changed since the baseline report.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BaselineMark {
    pub before: Option<Verdict>,
    pub change: super::diff::Change,
}

/// Counts of the snapshot's verdicts and findings: every verdict and severity, zeros included.
fn summary(plan: &Plan, snap: &Snapshot) -> Summary {
    let mut verdicts: BTreeMap<&'static str, usize> =
        Verdict::ALL.iter().map(|v| (v.as_str(), 0)).collect();
    for c in snap.cells.iter() {
        if let Some(v) = c.verdict {
            *verdicts.entry(v.as_str()).or_default() += 1;
        }
    }
    let mut findings: BTreeMap<&'static str, usize> = [
        tlsaudit_engine::audit::Severity::Critical,
        tlsaudit_engine::audit::Severity::Warning,
        tlsaudit_engine::audit::Severity::Info,
    ]
    .iter()
    .map(|s| (s.as_str(), 0))
    .collect();
    for f in &snap.findings {
        *findings.entry(f.severity.as_str()).or_default() += 1;
    }
    Summary {
        endpoints: plan.inventory.endpoints.len(),
        identities: plan.identities.len(),
        cells: snap.cells.len(),
        verdicts,
        findings,
    }
}

/// One entry per inventory endpoint, with its client-certificate policy.
fn endpoints_out(plan: &Plan, snap: &Snapshot) -> Vec<EndpointOut> {
    plan.inventory
        .endpoints
        .iter()
        .enumerate()
        .map(|(e, ep)| {
            let policy = ep.policy();
            EndpointOut {
                name: ep.name.clone(),
                component: ep.component.as_str(),
                role: ep.role.to_string(),
                address: ep.address.clone(),
                server_name: ep.verified_name().to_string(),
                protocol: ep.protocol.as_str(),
                path: ep.path.clone(),
                allowed_cn: ep.allowed_cn.clone(),
                requires_client_cert: policy.requires_cert,
                list_enforced: policy.list_enforced,
                list_key: ep.profile.list.to_string(),
                config_file: ep.profile.config.file.to_string(),
                drift: snap.drift.get(e).cloned().flatten(),
            }
        })
        .collect()
}

/// One entry per caller identity.
fn identities_out(plan: &Plan) -> Vec<IdentityOut> {
    plan.identities
        .iter()
        .map(|id| {
            let r = id.caller.report();
            IdentityOut {
                name: id.name.clone(),
                kind: id.kind,
                component: id
                    .component
                    .map(tlsaudit_engine::profile::Component::as_str),
                cn: r.cn.clone(),
                cert_file: r.cert_file.clone(),
                sha256: r.sha256.clone(),
                not_after: r.not_after.clone(),
                check: r.check.clone(),
            }
        })
        .collect()
}

/// One entry per cell, identity-major, with the fix of the finding about it.
fn cells_out<'a>(plan: &'a Plan, snap: &'a Snapshot) -> Vec<CellOut<'a>> {
    let inv = &plan.inventory;
    let mut cells = Vec::with_capacity(snap.cells.len());
    for (i, id) in plan.identities.iter().enumerate() {
        for (e, ep) in inv.endpoints.iter().enumerate() {
            let cell = (IdentityId(i), EndpointId(e));
            let c = &snap.cells[cell];
            let fix = snap
                .findings
                .iter()
                .find(|f| {
                    f.endpoint.as_deref() == Some(ep.name.as_str())
                        && f.identity.as_deref() == Some(id.name.as_str())
                })
                .map(|f| f.fix.as_str());
            cells.push(CellOut {
                identity: &id.name,
                endpoint: &ep.name,
                expected: &plan.expected[cell],
                verdict: c.verdict,
                outcome: c.record.as_ref().map(|r| r.outcome.class),
                changed: c.changed,
                rotated: c.rotated,
                fix,
                record: c.record.as_deref(),
                baseline: None,
                by_vantage: None,
            });
        }
    }
    cells
}

/// Build the report of a snapshot.
pub fn build<'a>(plan: &'a Plan, snap: &'a Snapshot) -> Report<'a> {
    let inv = &plan.inventory;
    let summary = summary(plan, snap);
    let endpoints = endpoints_out(plan, snap);
    let identities = identities_out(plan);
    let cells = cells_out(plan, snap);
    Report {
        schema: SCHEMA,
        tool: Tool {
            name: "tlsaudit",
            version: env!("CARGO_PKG_VERSION"),
        },
        started_at: snap.started_at.clone(),
        finished_at: snap.finished_at.clone(),
        cluster: ClusterOut {
            name: inv.cluster.clone(),
            ca: inv.ca.display().to_string(),
            inventory: inv.source.as_ref().map(|p| p.display().to_string()),
        },
        vantage: None,
        vantages: None,
        summary,
        endpoints,
        identities,
        cells,
        findings: &snap.findings,
        not_checked: plan.not_checked.clone(),
        baseline: None,
    }
}

/// The report as pretty JSON.
pub fn to_string(plan: &Plan, snap: &Snapshot) -> Result<String, serde_json::Error> {
    to_string_at(plan, snap, None)
}

/// The report as pretty JSON, labelled with where the audit ran.
pub fn to_string_at(
    plan: &Plan,
    snap: &Snapshot,
    vantage: Option<&str>,
) -> Result<String, serde_json::Error> {
    let mut report = build(plan, snap);
    report.vantage = vantage.map(str::to_string);
    serde_json::to_string_pretty(&report)
}

/// Write the report as pretty JSON (and a final newline) to `out` as it is serialized, without
/// building the whole text in memory first: at fleet scale the text is tens of megabytes.
pub fn write(plan: &Plan, snap: &Snapshot, out: impl std::io::Write) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    serde_json::to_writer_pretty(&mut out, &build(plan, snap))?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Compare a round with a baseline report (`baseline.1` names its file).
pub fn compare(
    plan: &Plan,
    snap: &Snapshot,
    baseline: (&ReportDoc, &str),
) -> Result<super::diff::Diff, serde_json::Error> {
    let now: ReportDoc = serde_json::from_value(serde_json::to_value(build(plan, snap))?)?;
    Ok(super::diff::diff(
        baseline.0,
        &now,
        (baseline.1, "this audit"),
    ))
}

/// The report as pretty JSON, with the changes since a baseline marked on the cells and
/// listed under `baseline`.
pub fn to_string_with_baseline(
    plan: &Plan,
    snap: &Snapshot,
    diff: super::diff::Diff,
) -> Result<String, serde_json::Error> {
    let mut report = build(plan, snap);
    for cell in &mut report.cells {
        cell.baseline = diff
            .cell(cell.identity, cell.endpoint)
            .map(|c| BaselineMark {
                before: c.before,
                change: c.change,
            });
    }
    report.baseline = Some(diff);
    serde_json::to_string_pretty(&report)
}

// ---- Reading reports back (`tlsaudit diff`, `report --baseline`) ----
//
// Owned mirrors of the fields above that comparing two reports needs. They read any
// `tlsaudit.report/v1` document (merged ones too): unknown fields are ignored and fields a
// writer may leave out default to empty, so that the serialized form above stays the only
// contract.

/// A report as read from a file.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportDoc {
    pub schema: String,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub cluster: Option<ClusterDoc>,
    #[serde(default)]
    pub endpoints: Vec<EndpointDoc>,
    #[serde(default)]
    pub identities: Vec<IdentityDoc>,
    #[serde(default)]
    pub cells: Vec<CellDoc>,
    #[serde(default)]
    pub findings: Vec<FindingDoc>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClusterDoc {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointDoc {
    pub name: String,
    #[serde(default)]
    pub component: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub allowed_cn: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityDoc {
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub cn: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CellDoc {
    pub identity: String,
    pub endpoint: String,
    #[serde(default)]
    pub verdict: Option<Verdict>,
    #[serde(default)]
    pub record: Option<RecordDoc>,
}

/// Of a probe record, the server chain (leaf first).
#[derive(Debug, Clone, Deserialize)]
pub struct RecordDoc {
    #[serde(default)]
    pub server_chain: Vec<CertDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertDoc {
    pub sha256: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub not_after: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingDoc {
    pub code: String,
    pub severity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub fix: String,
}

impl ReportDoc {
    /// Parse a report; `what` (a file name) names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<ReportDoc, String> {
        let doc: ReportDoc = serde_json::from_str(text).map_err(|e| {
            format!("{what}: not a tlsaudit JSON report ({e}); write one with `tlsaudit report --format json --output FILE`")
        })?;
        if !doc.schema.starts_with("tlsaudit.report/") {
            return Err(format!(
                "{what}: schema {:?} is not a tlsaudit report (expected {SCHEMA})",
                doc.schema
            ));
        }
        Ok(doc)
    }

    /// The cluster name, empty when the report has none.
    pub fn cluster_name(&self) -> &str {
        self.cluster.as_ref().map_or("", |c| c.name.as_str())
    }

    /// The server certificate (leaf) each endpoint served: from the first cell that recorded
    /// a chain.
    pub fn server_certs(&self) -> BTreeMap<&str, &CertDoc> {
        let mut out = BTreeMap::new();
        for c in &self.cells {
            if let Some(leaf) = c.record.as_ref().and_then(|r| r.server_chain.first()) {
                out.entry(c.endpoint.as_str()).or_insert(leaf);
            }
        }
        out
    }
}

impl FindingDoc {
    /// What identifies a finding across reports.
    pub fn key(&self) -> (&str, Option<&str>, Option<&str>) {
        (
            self.code.as_str(),
            self.endpoint.as_deref(),
            self.identity.as_deref(),
        )
    }
}
