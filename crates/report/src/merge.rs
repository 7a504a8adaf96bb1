//! `tlsaudit merge`: the reports of one cluster taken from several vantage points (racks,
//! hosts, zones; `serve --vantage`, `report --vantage`) combined into one report of the same
//! schema. Each cell carries what every vantage point saw (`by_vantage`) and shows the worst
//! verdict by the engine's order ([`Verdict::badness`]); findings are the union, each tagged
//! with the vantage points that raised it, plus a `VANTAGE_DISAGREE` finding per link whose
//! verdicts differ between vantage points (a firewall, route or DNS difference).
//!
//! Works on the report model only ([`Report`]), never on the engine's audit, so reports
//! written by any `tlsaudit.report/v1` writer merge.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use tlsaudit_engine::audit::{Code, Verdict};
use tlsaudit_engine::error::InputError;

use crate::model::{Cell, Finding, Report, Summary, Tool, VantageCell};
use crate::named::Named;

/// One report to merge: its vantage point, its file and its content.
#[derive(Debug, Clone)]
pub struct Input {
    pub vantage: String,
    pub file: String,
    pub doc: Report,
}

/// Read the reports and check they can be merged: each is a single vantage point's report
/// (not itself a merge), all of one cluster, no two of the same vantage point.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Input>, InputError> {
    let mut inputs = Vec::with_capacity(paths.len());
    for path in paths {
        let doc = Report::load(path)?;
        inputs.push(input(path, doc)?);
    }
    check(&inputs)?;
    Ok(inputs)
}

/// One report read: its vantage point is its own, or its file stem.
pub fn input(path: &Path, doc: Report) -> Result<Input, InputError> {
    let file = path.display().to_string();
    if let Some(vs) = &doc.vantages {
        return Err(InputError::usage(
            format!("{file}: already a merged report (of {})", vs.join(", ")),
            "merge the reports of the single vantage points instead",
        ));
    }
    let vantage = doc
        .vantage
        .clone()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| file.clone());
    Ok(Input { vantage, file, doc })
}

/// One cluster, distinct vantage points, at least two reports.
pub fn check(inputs: &[Input]) -> Result<(), InputError> {
    let Some(first) = inputs.first() else {
        return Err(InputError::usage(
            "merge needs reports",
            "give two or more JSON reports",
        ));
    };
    for (k, b) in inputs.iter().enumerate().skip(1) {
        if b.doc.cluster.name != first.doc.cluster.name {
            return Err(InputError::usage(
                format!(
                    "{}: a report of cluster {:?}, but {} is of cluster {:?}",
                    b.file, b.doc.cluster.name, first.file, first.doc.cluster.name
                ),
                "merge the reports of one cluster only",
            ));
        }
        if let Some(a) = inputs[..k].iter().find(|a| a.vantage == b.vantage) {
            return Err(InputError::usage(
                format!(
                    "{}: vantage {:?} is also the vantage of {}",
                    b.file, b.vantage, a.file
                ),
                "give each exporter its own --vantage (serve --vantage, report --vantage); a report without one is named by its file name",
            ));
        }
    }
    Ok(())
}

/// Append `name` to `list` unless it is there.
fn push_unique(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_string());
    }
}

/// Merge checked inputs (see [`check`]) into one report.
pub fn merge(inputs: &[Input]) -> Report {
    let vantages: Vec<String> = inputs.iter().map(|i| i.vantage.clone()).collect();
    let Some(first) = inputs.first() else {
        return empty();
    };
    let mut out = first.doc.clone();
    // Endpoints and identities: the union by name, in the order first seen.
    for i in &inputs[1..] {
        for ep in &i.doc.endpoints {
            if !out.endpoints.iter().any(|e| e.name == ep.name) {
                out.endpoints.push(ep.clone());
            }
        }
        for id in &i.doc.identities {
            if !out.identities.iter().any(|x| x.name == id.name) {
                out.identities.push(id.clone());
            }
        }
    }
    out.started_at = inputs.iter().filter_map(|i| i.doc.started_at.clone()).min();
    out.finished_at = inputs
        .iter()
        .filter_map(|i| i.doc.finished_at.clone())
        .max();
    out.vantage = None;
    out.vantages = Some(vantages.clone());
    let (cells, disagree) = merge_cells(inputs, &out);
    out.cells = cells;
    out.findings = merge_findings(inputs, disagree);
    let mut not_checked = Vec::new();
    for i in inputs {
        for n in &i.doc.not_checked {
            push_unique(&mut not_checked, n);
        }
    }
    out.not_checked = not_checked;
    out.baseline = None;
    out.summary = Summary::of(&out);
    out
}

/// The merged cells in matrix order over `out`'s endpoints and identities, and a
/// VANTAGE_DISAGREE finding for each cell whose vantage points saw different verdicts.
fn merge_cells(inputs: &[Input], out: &Report) -> (Vec<Cell>, Vec<Finding>) {
    // Each input's cells by (identity, endpoint).
    let index: Vec<HashMap<(&str, &str), &Cell>> = inputs
        .iter()
        .map(|i| {
            i.doc
                .cells
                .iter()
                .filter(|c| c.verdict.is_some())
                .map(|c| ((c.identity.as_str(), c.endpoint.as_str()), c))
                .collect()
        })
        .collect();
    let mut cells = Vec::with_capacity(out.identities.len() * out.endpoints.len());
    let mut disagree = Vec::new();
    for id in &out.identities {
        for ep in &out.endpoints {
            let key = (id.name.as_str(), ep.name.as_str());
            let seen: Vec<(&str, &Cell)> = inputs
                .iter()
                .zip(&index)
                .filter_map(|(i, ix)| ix.get(&key).map(|c| (i.vantage.as_str(), *c)))
                .collect();
            // The worst verdict; the first vantage point's cell among equals.
            let worst = seen
                .iter()
                .fold(None, |acc: Option<&(&str, &Cell)>, s| match acc {
                    Some(a) if badness(a.1) >= badness(s.1) => Some(a),
                    _ => Some(s),
                });
            let Some((_, base)) = worst else {
                cells.push(Cell::not_probed(&id.name, &ep.name));
                continue;
            };
            let mut cell = (*base).clone();
            cell.baseline = None;
            cell.changed = seen.iter().any(|(_, c)| c.changed);
            cell.rotated = seen.iter().any(|(_, c)| c.rotated);
            let by: BTreeMap<String, VantageCell> = seen
                .iter()
                .map(|(v, c)| {
                    (
                        (*v).to_string(),
                        VantageCell {
                            verdict: c.verdict,
                            outcome: c.outcome,
                        },
                    )
                })
                .collect();
            if seen.iter().any(|(_, c)| c.verdict != base.verdict) {
                disagree.push(disagreement(&id.name, &ep.name, &ep.address, &seen));
            }
            cell.by_vantage = Some(by);
            cells.push(cell);
        }
    }
    (cells, disagree)
}

/// The union of the inputs' findings (each tagged with the vantage points that raised it) and
/// the disagreements, in the audit's order.
fn merge_findings(inputs: &[Input], disagree: Vec<Finding>) -> Vec<Finding> {
    // Findings: the union, each tagged with the vantage points that raised it.
    // The same finding: code, endpoint, identity and title.
    type Key<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a str);
    let mut seen: HashMap<Key<'_>, usize> = HashMap::new();
    let mut findings: Vec<Finding> = Vec::new();
    for i in inputs {
        for f in &i.doc.findings {
            let key = (
                f.code.as_str(),
                f.endpoint.as_deref(),
                f.identity.as_deref(),
                f.title.as_str(),
            );
            match seen.get(&key) {
                Some(&k) => push_unique(&mut findings[k].vantages, &i.vantage),
                None => {
                    seen.insert(key, findings.len());
                    let mut g = f.clone();
                    g.vantages = vec![i.vantage.clone()];
                    findings.push(g);
                }
            }
        }
    }
    findings.extend(disagree);
    // In the audit's order: severity, then code, endpoint and identity.
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.code.as_str().cmp(b.code.as_str()))
            .then_with(|| a.endpoint.cmp(&b.endpoint))
            .then_with(|| a.identity.cmp(&b.identity))
    });
    findings
}

/// The merge of no report: no cells, no findings.
fn empty() -> Report {
    let mut r = Report {
        schema: crate::model::SCHEMA.to_string(),
        tool: Tool::default(),
        started_at: None,
        finished_at: None,
        cluster: crate::model::Cluster::default(),
        vantage: None,
        vantages: Some(Vec::new()),
        summary: Summary::default(),
        endpoints: Vec::new(),
        identities: Vec::new(),
        cells: Vec::new(),
        findings: Vec::new(),
        not_checked: Vec::new(),
        baseline: None,
    };
    r.summary = Summary::of(&r);
    r
}

fn badness(c: &Cell) -> u8 {
    c.verdict.map_or(0, Verdict::badness)
}

fn verdict_name(v: Option<Verdict>) -> &'static str {
    v.map_or("not probed", Verdict::as_str)
}

/// The VANTAGE_DISAGREE finding of one link, naming which vantage point saw what.
fn disagreement(identity: &str, endpoint: &str, address: &str, seen: &[(&str, &Cell)]) -> Finding {
    let worst = seen.iter().map(|(_, c)| badness(c)).max().unwrap_or(0);
    let worse: Vec<&str> = seen
        .iter()
        .filter(|(_, c)| badness(c) == worst)
        .map(|(v, _)| *v)
        .collect();
    // "secure from rack-a, unreachable from rack-b": vantage points grouped by verdict.
    let mut groups: Vec<(Option<Verdict>, Vec<&str>)> = Vec::new();
    for (v, c) in seen {
        match groups.iter_mut().find(|(verdict, _)| *verdict == c.verdict) {
            Some((_, vs)) => vs.push(v),
            None => groups.push((c.verdict, vec![v])),
        }
    }
    let summary: Vec<String> = groups
        .iter()
        .map(|(v, vs)| format!("{} from {}", verdict_name(*v), vs.join(", ")))
        .collect();
    let evidence: Vec<String> = seen
        .iter()
        .map(|(v, c)| {
            let how = c
                .record
                .as_ref()
                .map(|r| format!(" ({}: {})", r.outcome.class, r.outcome.summary))
                .or_else(|| c.outcome.map(|o| format!(" ({o})")))
                .unwrap_or_default();
            format!("{v}: {}{how}", verdict_name(c.verdict))
        })
        .collect();
    Finding {
        code: Named::Known(Code::VantageDisagree),
        severity: Named::Known(Code::VantageDisagree.default_severity()),
        endpoint: Some(endpoint.to_string()),
        identity: Some(identity.to_string()),
        title: format!(
            "Vantage points disagree on {identity} at {endpoint}: {}",
            summary.join("; ")
        ),
        evidence: evidence.join("; "),
        fix: format!(
            "a firewall/route/DNS difference between the vantage points; check the network path from {} to {endpoint} ({address})",
            worse.join(" and ")
        ),
        source: None,
        vantages: seen.iter().map(|(v, _)| (*v).to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlsaudit_engine::audit::Severity;
    use tlsaudit_engine::probe::Protocol;
    use tlsaudit_engine::profile::Component;

    /// A report of cluster `c` from `vantage` with two identities at two endpoints; `verdicts`
    /// in identity-major order.
    fn report(cluster: &str, vantage: Option<&str>, verdicts: [&str; 4]) -> Report {
        let cells: Vec<serde_json::Value> = [
            ("tidb", "pd-1"),
            ("tidb", "tikv-1"),
            ("anonymous", "pd-1"),
            ("anonymous", "tikv-1"),
        ]
        .iter()
        .zip(verdicts)
        .map(|((i, e), v)| {
            serde_json::json!({"identity": i, "endpoint": e, "verdict": v,
                    "outcome": if v == "unreachable" { "refused" } else { "accepted" },
                    "expected": {"allow": true, "needed": false, "reason": "r"}})
        })
        .collect();
        let doc = serde_json::json!({
            "schema": "tlsaudit.report/v1",
            "cluster": {"name": cluster, "ca": "ca.crt"},
            "vantage": vantage,
            "endpoints": [
                {"name": "pd-1", "component": "pd", "address": "127.0.0.1:2379", "protocol": "tls"},
                {"name": "tikv-1", "component": "tikv", "address": "127.0.0.1:20160", "protocol": "grpc"}],
            "identities": [{"name": "tidb", "kind": "configured"}, {"name": "anonymous", "kind": "anonymous"}],
            "cells": cells,
            "findings": [{"code": "NO_ALLOW_LIST", "severity": "info", "endpoint": "pd-1",
                "title": "pd-1 has no allow-list", "evidence": "", "fix": "set it"}],
            "not_checked": [],
        });
        Report::parse(&doc.to_string(), "t.json").unwrap()
    }

    fn inputs(docs: Vec<(&str, Report)>) -> Result<Vec<Input>, InputError> {
        let v = docs
            .into_iter()
            .map(|(f, d)| input(Path::new(f), d))
            .collect::<Result<Vec<_>, _>>()?;
        check(&v)?;
        Ok(v)
    }

    #[test]
    fn disagreeing_links_get_the_worst_verdict_and_a_finding() {
        let a = report(
            "c",
            Some("rack-a"),
            ["secure", "secure", "enforced", "enforced"],
        );
        let b = report(
            "c",
            Some("rack-b"),
            ["secure", "unreachable", "enforced", "unreachable"],
        );
        let merged = merge(&inputs(vec![("a.json", a), ("b.json", b)]).unwrap());
        assert_eq!(
            merged.vantages.as_deref(),
            Some(&["rack-a".to_string(), "rack-b".to_string()][..])
        );
        let r = &merged;
        let tikv = &r.cells[1];
        assert_eq!(tikv.verdict, Some(Verdict::Unreachable));
        let by = tikv.by_vantage.as_ref().unwrap();
        assert_eq!(by["rack-a"].verdict, Some(Verdict::Secure));
        assert_eq!(by["rack-b"].verdict, Some(Verdict::Unreachable));
        assert!(tikv.disagrees());
        // Enforced (2) against unreachable (3): the engine's order keeps unreachable.
        assert_eq!(r.cells[3].verdict, Some(Verdict::Unreachable));
        assert!(!r.cells[0].disagrees() && !r.cells[2].disagrees());
        let disagree: Vec<_> = merged
            .findings
            .iter()
            .filter(|f| f.code == Code::VantageDisagree)
            .collect();
        assert_eq!(disagree.len(), 2);
        assert!(disagree
            .iter()
            .all(|f| f.endpoint.as_deref() == Some("tikv-1") && f.severity == Severity::Warning));
        let f = disagree
            .iter()
            .find(|f| f.identity.as_deref() == Some("tidb"))
            .unwrap();
        assert!(
            f.title.contains("secure from rack-a") && f.title.contains("unreachable from rack-b"),
            "{}",
            f.title
        );
        assert!(f.fix.contains("from rack-b to tikv-1"), "{}", f.fix);
        // The info finding both raised is one, tagged with both.
        let info: Vec<_> = merged
            .findings
            .iter()
            .filter(|f| f.code == Code::NoAllowList)
            .collect();
        assert_eq!(info.len(), 1);
        assert_eq!(info[0].vantages, ["rack-a", "rack-b"]);
    }

    #[test]
    fn agreeing_reports_raise_nothing_and_the_worst_order_is_the_engines() {
        let a = report("c", Some("a"), ["open", "secure", "enforced", "enforced"]);
        let b = report(
            "c",
            Some("b"),
            ["blocked", "secure", "enforced", "enforced"],
        );
        let merged = merge(&inputs(vec![("a.json", a), ("b.json", b)]).unwrap());
        // open (8) beats blocked (7), as the dashboard folds them.
        assert_eq!(merged.cells[0].verdict, Some(Verdict::Open));
        let n = merged
            .findings
            .iter()
            .filter(|f| f.code == Code::VantageDisagree)
            .count();
        assert_eq!(n, 1);
        let a = report("c", Some("a"), ["secure"; 4]);
        let b = report("c", Some("b"), ["secure"; 4]);
        let merged = merge(&inputs(vec![("a.json", a), ("b.json", b)]).unwrap());
        assert!(merged
            .findings
            .iter()
            .all(|f| f.code != Code::VantageDisagree));
    }

    #[test]
    fn a_cell_only_some_reports_have_is_kept_with_those_vantage_points() {
        let a = report("c", Some("a"), ["secure"; 4]);
        let mut b = report("c", Some("b"), ["secure"; 4]);
        b.endpoints.push(crate::model::Endpoint {
            name: "tidb-1".into(),
            component: Component::Tidb.into(),
            role: "status".into(),
            address: "127.0.0.1:10080".into(),
            server_name: "127.0.0.1".into(),
            protocol: Protocol::Http.into(),
            ..Default::default()
        });
        b.cells = Vec::new();
        for c in report("c", None, ["secure"; 4]).cells {
            b.cells.push(c);
        }
        let mut extra = Cell::not_probed("tidb", "tidb-1");
        extra.verdict = Some(Verdict::Secure);
        b.cells.push(extra);
        b.normalize();
        let merged = merge(&inputs(vec![("a.json", a), ("b.json", b)]).unwrap());
        assert_eq!(merged.endpoints.len(), 3);
        let r = &merged;
        let c = r
            .cells
            .iter()
            .find(|c| c.endpoint == "tidb-1" && c.identity == "tidb")
            .unwrap();
        assert_eq!(c.verdict, Some(Verdict::Secure));
        assert_eq!(
            c.by_vantage.as_ref().unwrap().keys().collect::<Vec<_>>(),
            ["b"]
        );
        let none = r
            .cells
            .iter()
            .find(|c| c.endpoint == "tidb-1" && c.identity == "anonymous")
            .unwrap();
        assert_eq!(none.verdict, None);
        assert!(merged
            .findings
            .iter()
            .all(|f| f.code != Code::VantageDisagree));
    }

    #[test]
    fn bad_inputs_name_the_file() {
        let e = inputs(vec![
            ("a.json", report("c", Some("a"), ["secure"; 4])),
            ("other.json", report("d", Some("b"), ["secure"; 4])),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("other.json") && e.contains("\"d\"") && e.contains("\"c\""),
            "{e}"
        );
        let e = inputs(vec![
            ("a.json", report("c", Some("x"), ["secure"; 4])),
            ("b.json", report("c", Some("x"), ["secure"; 4])),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("b.json") && e.contains("a.json") && e.contains("\"x\""),
            "{e}"
        );
        // Without a vantage, the file stem names the report.
        let v = inputs(vec![
            ("dir/rack-a.json", report("c", None, ["secure"; 4])),
            ("rack-b.json", report("c", None, ["secure"; 4])),
        ])
        .unwrap();
        assert_eq!(v[0].vantage, "rack-a");
        let merged = merge(&v);
        let e = input(Path::new("m.json"), merged).unwrap_err().to_string();
        assert!(
            e.contains("m.json") && e.contains("already a merged report"),
            "{e}"
        );
    }
}
