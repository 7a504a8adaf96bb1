//! A JSON report read back whole (`report --from`, `tui --from`, `tlsaudit merge`): owned
//! mirrors of every field of [`json::Report`], deserialized from any `tlsaudit.report/v1`
//! document, that lend themselves out as a [`json::Report`] so that every writer (table, JSON,
//! HTML, Markdown, SARIF) renders a saved or merged report exactly as it renders a round.
//!
//! Unknown fields are ignored (a newer minor writer may add some); the cells are put back in the
//! writers' order (identity-major over the endpoint and identity lists), and a cell the document
//! lacks becomes "not probed", so no writer can index past the matrix.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;
use tlsaudit_engine::audit::drift::Drift;

use tlsaudit_engine::audit::{Expected, Finding, IdentityKind, Severity, Verdict};
use tlsaudit_engine::error::InputError;
use tlsaudit_engine::pki::IdentityCheck;
use tlsaudit_engine::probe::{OutcomeClass, ProbeRecord, Protocol};
use tlsaudit_engine::profile::Component;

use super::json::{
    self, CellOut, ClusterOut, EndpointOut, IdentityOut, Report, Summary, Tool, VantageCell,
};

/// A whole report as read from a file.
#[derive(Debug, Clone, Deserialize)]
pub struct SavedReport {
    pub schema: String,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    pub cluster: SavedCluster,
    #[serde(default)]
    pub vantage: Option<String>,
    #[serde(default)]
    pub vantages: Option<Vec<String>>,
    #[serde(default)]
    pub endpoints: Vec<SavedEndpoint>,
    #[serde(default)]
    pub identities: Vec<SavedIdentity>,
    #[serde(default)]
    pub cells: Vec<SavedCell>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub not_checked: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedCluster {
    pub name: String,
    #[serde(default)]
    pub ca: String,
    #[serde(default)]
    pub inventory: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedEndpoint {
    pub name: String,
    pub component: String,
    #[serde(default)]
    pub role: String,
    pub address: String,
    #[serde(default)]
    pub server_name: String,
    pub protocol: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub allowed_cn: Vec<String>,
    #[serde(default)]
    pub requires_client_cert: bool,
    #[serde(default)]
    pub list_enforced: bool,
    #[serde(default)]
    pub list_key: String,
    #[serde(default)]
    pub config_file: String,
    /// Rotation drift (`drift`), when the report had it.
    #[serde(default)]
    pub drift: Option<Drift>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedIdentity {
    pub name: String,
    pub kind: IdentityKind,
    #[serde(default)]
    pub component: Option<String>,
    #[serde(default)]
    pub cn: Option<String>,
    #[serde(default)]
    pub cert_file: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub not_after: Option<String>,
    #[serde(default)]
    pub check: IdentityCheck,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedCell {
    pub identity: String,
    pub endpoint: String,
    pub expected: Expected,
    #[serde(default)]
    pub verdict: Option<Verdict>,
    #[serde(default)]
    pub outcome: Option<OutcomeClass>,
    #[serde(default)]
    pub changed: bool,
    #[serde(default)]
    pub rotated: bool,
    #[serde(default)]
    pub fix: Option<String>,
    #[serde(default)]
    pub record: Option<ProbeRecord>,
    #[serde(default)]
    pub by_vantage: Option<BTreeMap<String, VantageCell>>,
}

impl SavedCell {
    /// A cell no report of the document probed.
    pub fn not_probed(identity: &str, endpoint: &str) -> SavedCell {
        SavedCell {
            identity: identity.to_string(),
            endpoint: endpoint.to_string(),
            expected: Expected {
                allow: false,
                needed: false,
                reason: "not probed: the report has no such cell".to_string(),
                deny_only_if_sent: false,
            },
            verdict: None,
            outcome: None,
            changed: false,
            rotated: false,
            fix: None,
            record: None,
            by_vantage: None,
        }
    }
}

/// The static name of a component (the writers group by it); an unknown one is `other`.
fn component_name(s: &str) -> &'static str {
    Component::ALL
        .iter()
        .find(|c| c.as_str() == s)
        .map_or("other", |c| c.as_str())
}

fn protocol_name(s: &str) -> &'static str {
    [
        Protocol::Tls,
        Protocol::Http,
        Protocol::Grpc,
        Protocol::Mysql,
    ]
    .into_iter()
    .find(|p| p.as_str() == s)
    .map_or("tls", Protocol::as_str)
}

impl SavedReport {
    /// Read a report from a file. Errors name the file and say what to give instead.
    pub fn load(path: &Path) -> Result<SavedReport, InputError> {
        let text = std::fs::read_to_string(path).map_err(|e| InputError::io(path, &e))?;
        SavedReport::parse(&text, &path.display().to_string())
    }

    /// Parse a report; `what` (a file name) names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<SavedReport, InputError> {
        let fix = "give a JSON report written by `tlsaudit report --format json`, `tlsaudit merge` or `tlsaudit serve` (/report.json)";
        // The schema first, so that another tool's JSON is named as such rather than by the
        // first field it lacks.
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| InputError::usage(format!("{what}: not JSON ({e})"), fix))?;
        match value.get("schema").and_then(serde_json::Value::as_str) {
            Some(s) if s.starts_with("tlsaudit.report/") => {}
            Some(s) => {
                return Err(InputError::usage(
                    format!(
                        "{what}: schema {s:?} is not a tlsaudit audit report (expected {})",
                        json::SCHEMA
                    ),
                    fix,
                ))
            }
            None => {
                return Err(InputError::usage(
                    format!("{what}: not a tlsaudit report (no \"schema\" field)"),
                    fix,
                ))
            }
        }
        let mut doc: SavedReport = serde_json::from_value(value)
            .map_err(|e| InputError::usage(format!("{what}: not a tlsaudit report ({e})"), fix))?;
        doc.normalize();
        Ok(doc)
    }

    /// Put the cells in the writers' order and fill the holes.
    pub fn normalize(&mut self) {
        let mut by_key: HashMap<(String, String), SavedCell> = std::mem::take(&mut self.cells)
            .into_iter()
            .map(|c| ((c.identity.clone(), c.endpoint.clone()), c))
            .collect();
        let mut cells = Vec::with_capacity(self.identities.len() * self.endpoints.len());
        for id in &self.identities {
            for ep in &self.endpoints {
                cells.push(
                    by_key
                        .remove(&(id.name.clone(), ep.name.clone()))
                        .unwrap_or_else(|| SavedCell::not_probed(&id.name, &ep.name)),
                );
            }
        }
        self.cells = cells;
    }

    /// Whether a finding reaches `fail_on` (the exit code of `report` and `merge`).
    pub fn fails(&self, fail_on: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= fail_on)
    }

    /// The report model the writers draw from, borrowing from this document.
    pub fn report(&self) -> Report<'_> {
        let mut verdicts: BTreeMap<&'static str, usize> =
            Verdict::ALL.iter().map(|v| (v.as_str(), 0)).collect();
        for c in &self.cells {
            if let Some(v) = c.verdict {
                *verdicts.entry(v.as_str()).or_default() += 1;
            }
        }
        let findings = super::shared::SEVERITIES
            .iter()
            .map(|s| {
                (
                    s.as_str(),
                    self.findings.iter().filter(|f| f.severity == *s).count(),
                )
            })
            .collect();
        Report {
            schema: json::SCHEMA,
            tool: Tool {
                name: "tlsaudit",
                version: env!("CARGO_PKG_VERSION"),
            },
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
            cluster: ClusterOut {
                name: self.cluster.name.clone(),
                ca: self.cluster.ca.clone(),
                inventory: self.cluster.inventory.clone(),
            },
            vantage: self.vantage.clone(),
            vantages: self.vantages.clone(),
            summary: Summary {
                endpoints: self.endpoints.len(),
                identities: self.identities.len(),
                cells: self.cells.len(),
                verdicts,
                findings,
            },
            endpoints: self
                .endpoints
                .iter()
                .map(|e| EndpointOut {
                    name: e.name.clone(),
                    component: component_name(&e.component),
                    role: e.role.clone(),
                    address: e.address.clone(),
                    server_name: e.server_name.clone(),
                    protocol: protocol_name(&e.protocol),
                    path: e.path.clone(),
                    allowed_cn: e.allowed_cn.clone(),
                    requires_client_cert: e.requires_client_cert,
                    list_enforced: e.list_enforced,
                    list_key: e.list_key.clone(),
                    config_file: e.config_file.clone(),
                    drift: e.drift.clone(),
                })
                .collect(),
            identities: self
                .identities
                .iter()
                .map(|i| IdentityOut {
                    name: i.name.clone(),
                    kind: i.kind,
                    component: i.component.as_deref().map(component_name),
                    cn: i.cn.clone(),
                    cert_file: i.cert_file.clone(),
                    sha256: i.sha256.clone(),
                    not_after: i.not_after.clone(),
                    check: i.check.clone(),
                })
                .collect(),
            cells: self
                .cells
                .iter()
                .map(|c| CellOut {
                    identity: &c.identity,
                    endpoint: &c.endpoint,
                    expected: &c.expected,
                    verdict: c.verdict,
                    outcome: c.outcome,
                    changed: c.changed,
                    rotated: c.rotated,
                    fix: c.fix.as_deref(),
                    record: c.record.as_ref(),
                    baseline: None,
                    by_vantage: c.by_vantage.clone(),
                })
                .collect(),
            findings: &self.findings,
            not_checked: self.not_checked.clone(),
            baseline: None,
        }
    }

    /// The report as pretty JSON (with a final newline).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(&self.report()).map(|mut s| {
            s.push('\n');
            s
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_tools_json_is_named_with_the_file() {
        let e = SavedReport::parse(r#"{"hello": 1}"#, "x.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.json") && e.contains("schema"), "{e}");
        let e = SavedReport::parse(r#"{"schema": "tlsaudit.lint/1"}"#, "lint.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("lint.json") && e.contains("tlsaudit.lint/1"),
            "{e}"
        );
        let e = SavedReport::parse("not json", "y.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("y.json: not JSON"), "{e}");
        let e = SavedReport::parse(r#"{"schema": "tlsaudit.report/v1"}"#, "z.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("z.json") && e.contains("cluster"), "{e}");
    }

    #[test]
    fn missing_cells_become_not_probed_in_matrix_order() {
        let text = r#"{"schema":"tlsaudit.report/v1","cluster":{"name":"c"},
          "endpoints":[{"name":"pd-1","component":"pd","address":"127.0.0.1:1","protocol":"tls"},
                       {"name":"kv","component":"nosuch","address":"127.0.0.1:2","protocol":"grpc"}],
          "identities":[{"name":"tidb","kind":"configured"},{"name":"anonymous","kind":"anonymous"}],
          "cells":[{"identity":"anonymous","endpoint":"pd-1","verdict":"enforced",
                    "expected":{"allow":false,"needed":false,"reason":"r"}}],
          "findings":[]}"#;
        let doc = SavedReport::parse(text, "t.json").unwrap();
        let r = doc.report();
        assert_eq!(r.cells.len(), 4);
        assert_eq!(
            (r.cells[2].identity, r.cells[2].endpoint),
            ("anonymous", "pd-1")
        );
        assert_eq!(r.cells[2].verdict, Some(Verdict::Enforced));
        assert_eq!(r.cells[0].verdict, None);
        assert_eq!(r.endpoints[1].component, "other");
        assert_eq!(r.endpoints[1].protocol, "grpc");
        assert_eq!(r.summary.verdicts["enforced"], 1);
    }
}
