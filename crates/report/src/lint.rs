//! `tlsaudit lint`'s writers: text for people, JSON (`tlsaudit.lint/1`, with the plan an
//! audit of the linted cluster would run), and the shared reports (HTML, Markdown, SARIF)
//! through [`Doc::lint`]: the report model with findings only.

use std::fmt::Write as _;

use tlsaudit_engine::audit::{Finding, Plan, Severity};
use tlsaudit_engine::error::InputError;
use tlsaudit_engine::tiup::Cluster;

use crate::model::{self, Report, Summary, Tool};
use crate::plan::PlanDoc;
use crate::shared::{Doc, Input, Kind};

/// The schema identifier of the lint's JSON.
pub const SCHEMA: &str = "tlsaudit.lint/1";

/// The files a lint read, for the shared reports' header.
fn inputs(cluster: &Cluster) -> Vec<Input> {
    let mut inputs = Vec::new();
    if let Some(t) = &cluster.topology {
        inputs.push(Input {
            label: "topology",
            value: t.display().to_string(),
        });
    }
    if let Some(d) = &cluster.tls_dir {
        inputs.push(Input {
            label: "TLS folder",
            value: d.dir.display().to_string(),
        });
    }
    for c in &cluster.component_configs {
        inputs.push(Input {
            label: "component config",
            value: c.path.display().to_string(),
        });
    }
    inputs
}

/// Now, to the second, in RFC 3339.
fn now() -> Option<String> {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
}

impl Doc<'static> {
    /// A lint: the report model with no endpoints, identities or cells.
    pub fn lint(cluster: &Cluster, findings: &[Finding]) -> Doc<'static> {
        let now = now();
        let mut report = Report {
            schema: SCHEMA.to_string(),
            tool: Tool::default(),
            started_at: now.clone(),
            finished_at: now,
            cluster: model::Cluster {
                name: cluster.name.clone(),
                ca: cluster
                    .ca
                    .as_ref()
                    .map(|c| c.value.display().to_string())
                    .unwrap_or_default(),
                inventory: None,
            },
            vantage: None,
            vantages: None,
            summary: Summary::default(),
            endpoints: Vec::new(),
            identities: Vec::new(),
            cells: Vec::new(),
            findings: findings.iter().map(model::Finding::from).collect(),
            not_checked: Vec::new(),
            baseline: None,
            provenance: None,
        };
        report.summary = Summary::of(&report);
        Doc {
            kind: Kind::Lint,
            report: report.into(),
            inputs: inputs(cluster),
        }
    }
}

/// The lint findings for people.
pub fn text(cluster: &Cluster, findings: &[Finding]) -> String {
    let mut out = String::new();
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let _ = writeln!(
        out,
        "tlsaudit lint: cluster {}, {} instance(s), {} finding(s): {} critical, {} warning, {} info",
        cluster.name,
        cluster.component_instances(),
        findings.len(),
        count(Severity::Critical),
        count(Severity::Warning),
        count(Severity::Info)
    );
    for f in findings {
        let _ = writeln!(
            out,
            "\n{:<8} {} {}",
            f.severity.as_str().to_uppercase(),
            f.code,
            f.title
        );
        if let Some(src) = &f.source {
            let _ = writeln!(out, "         at:   {src}");
        }
        if !f.evidence.is_empty() {
            let _ = writeln!(out, "         seen: {}", f.evidence);
        }
        let _ = writeln!(out, "         fix:  {}", f.fix);
    }
    out
}

/// The plan an audit of the linted cluster would run (`plan` in the lint's JSON), or why there
/// is none (no CA given, a certificate that does not load).
pub fn plan(cluster: &Cluster, expiry_days: u32) -> Result<PlanDoc, InputError> {
    let options = tlsaudit_engine::inventory::AuditOptions {
        expiry_warning_days: expiry_days,
        ..Default::default()
    };
    let (inv, _) = cluster.inventory(options)?;
    Ok(crate::plan::doc(&Plan::new(inv)?))
}

/// The lint findings as JSON, with the audit's plan (`plan`: null with `plan_unavailable`
/// saying why, when the inputs do not describe an audit).
pub fn json(
    cluster: &Cluster,
    findings: &[Finding],
    plan: Result<PlanDoc, InputError>,
) -> Result<String, serde_json::Error> {
    let (plan, plan_unavailable) = match plan {
        Ok(p) => (serde_json::to_value(p)?, None),
        Err(e) => (serde_json::Value::Null, Some(e.to_string())),
    };
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let doc = serde_json::json!({
        "schema": SCHEMA,
        "cluster": cluster.name,
        "inputs": {
            "topology": cluster.topology.as_ref().map(|p| p.display().to_string()),
            "tls_dir": cluster.tls_dir.as_ref().map(|d| d.dir.display().to_string()),
            "component_configs": cluster.component_configs.iter().map(|c| c.path.display().to_string()).collect::<Vec<_>>(),
        },
        "instances": cluster.component_instances(),
        "summary": {
            "critical": count(Severity::Critical),
            "warning": count(Severity::Warning),
            "info": count(Severity::Info),
        },
        "findings": findings,
        "plan": plan,
        "plan_unavailable": plan_unavailable,
    });
    serde_json::to_string_pretty(&doc).map(|mut s| {
        s.push('\n');
        s
    })
}
