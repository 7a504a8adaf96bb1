//! The JSON report: a versioned contract, separate from the engine's internal types. Its JSON
//! Schema is published at `docs/report.schema.json`; a test validates real output against it.

use std::collections::BTreeMap;

use serde::Serialize;

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
    pub summary: Summary,
    pub endpoints: Vec<EndpointOut>,
    pub identities: Vec<IdentityOut>,
    pub cells: Vec<CellOut<'a>>,
    pub findings: &'a [Finding],
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
}

/// Build the report of a snapshot.
pub fn build<'a>(plan: &'a Plan, snap: &'a Snapshot) -> Report<'a> {
    let inv = &plan.inventory;
    let n_ep = inv.endpoints.len();
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
    let endpoints = inv
        .endpoints
        .iter()
        .map(|ep| {
            let policy = ep
                .profile
                .policy(&ep.allowed_cn, ep.version, ep.path.as_deref());
            EndpointOut {
                name: ep.name.clone(),
                component: ep.component.as_str(),
                role: ep.role.to_string(),
                address: ep.address.clone(),
                server_name: ep
                    .server_name
                    .clone()
                    .unwrap_or_else(|| ep.host().to_string()),
                protocol: ep.protocol.as_str(),
                path: ep.path.clone(),
                allowed_cn: ep.allowed_cn.clone(),
                requires_client_cert: policy.requires_cert,
                list_enforced: policy.list_enforced,
                list_key: ep.profile.list.to_string(),
                config_file: ep.profile.config.file.to_string(),
            }
        })
        .collect();
    let identities = plan
        .identities
        .iter()
        .map(|id| {
            let r = id.caller.report();
            IdentityOut {
                name: id.name.clone(),
                kind: id.kind,
                component: id
                    .component
                    .map(tlsaudit_engine::profile::Component::as_str),
                cn: r.cn,
                cert_file: r.cert_file,
                sha256: r.sha256,
                not_after: r.not_after,
                check: r.check,
            }
        })
        .collect();
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
            });
        }
    }
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
        summary: Summary {
            endpoints: n_ep,
            identities: plan.identities.len(),
            cells: snap.cells.len(),
            verdicts,
            findings,
        },
        endpoints,
        identities,
        cells,
        findings: &snap.findings,
    }
}

/// The report as pretty JSON.
pub fn to_string(plan: &Plan, snap: &Snapshot) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&build(plan, snap))
}
