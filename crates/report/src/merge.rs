//! `tlsaudit merge`: the reports of one cluster taken from several vantage points (racks,
//! hosts, zones; `serve --vantage`, `report --vantage`) combined into one report of the same
//! schema. Each cell carries what every vantage point saw (`by_vantage`, including those that
//! did not try it and why) and shows the worst verdict by the engine's order
//! ([`Verdict::badness`]); findings are the union, each tagged with the vantage points that
//! raised it, plus one `VANTAGE_DISAGREE` finding per endpoint whose vantage points saw
//! different verdicts (a firewall, route or DNS difference) or dialed it at different
//! addresses (their inventories differ: the verdicts may be of different servers). An endpoint
//! dialed at different addresses keeps each in `addresses`, and every fix about it says which
//! vantage point's address it names. Identities and endpoints only some reports have are named
//! in `not_checked`.
//!
//! Works on the report model only ([`Report`]), never on the engine's audit, so reports
//! written by any `tlsaudit.report/v1` writer merge.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use tlsaudit_engine::audit::{Code, Verdict};
use tlsaudit_engine::error::InputError;

use crate::model::{Cell, Endpoint, Finding, NotTried, Report, Summary, Tool, VantageCell};
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
    let names: Vec<Names<'_>> = inputs.iter().map(|i| Names::of(&i.doc)).collect();
    let mut out = first.doc.clone();
    union_names(&mut out, &inputs[1..]);
    for ep in &mut out.endpoints {
        ep.addresses = addresses(inputs, &names, &ep.name);
    }
    out.started_at = inputs.iter().filter_map(|i| i.doc.started_at.clone()).min();
    out.finished_at = inputs
        .iter()
        .filter_map(|i| i.doc.finished_at.clone())
        .max();
    out.vantage = None;
    out.vantages = Some(vantages);
    let (cells, disagree) = merge_cells(inputs, &names, &out);
    out.cells = cells;
    out.findings = merge_findings(inputs, &out.endpoints, disagree);
    out.not_checked = not_checked(inputs, &names, &out);
    out.baseline = None;
    out.summary = Summary::of(&out);
    out
}

/// Endpoints and identities: the union by name, in the order first seen; an endpoint's labels
/// the union of its labels (the first report's value where two differ).
fn union_names(out: &mut Report, rest: &[Input]) {
    let mut at: HashMap<String, usize> = (out.endpoints.iter().enumerate())
        .map(|(k, e)| (e.name.clone(), k))
        .collect();
    let mut ids: HashSet<String> = out.identities.iter().map(|x| x.name.clone()).collect();
    for i in rest {
        for ep in &i.doc.endpoints {
            if let Some(&k) = at.get(&ep.name) {
                let e = &mut out.endpoints[k];
                for (key, v) in &ep.labels {
                    e.labels.entry(key.clone()).or_insert_with(|| v.clone());
                }
            } else {
                at.insert(ep.name.clone(), out.endpoints.len());
                out.endpoints.push(ep.clone());
            }
        }
        for id in &i.doc.identities {
            if ids.insert(id.name.clone()) {
                out.identities.push(id.clone());
            }
        }
    }
}

/// One input's identity names and endpoint addresses by name, for lookups per cell.
struct Names<'a> {
    identities: HashSet<&'a str>,
    endpoints: HashMap<&'a str, &'a str>,
}

impl<'a> Names<'a> {
    fn of(doc: &'a Report) -> Names<'a> {
        Names {
            identities: doc.identities.iter().map(|x| x.name.as_str()).collect(),
            endpoints: (doc.endpoints.iter())
                .map(|e| (e.name.as_str(), e.address.as_str()))
                .collect(),
        }
    }
}

/// Each vantage point's address of endpoint `name`, when they are not all the same.
fn addresses(
    inputs: &[Input],
    names: &[Names<'_>],
    name: &str,
) -> Option<BTreeMap<String, String>> {
    let by: BTreeMap<String, String> = inputs
        .iter()
        .zip(names)
        .filter_map(|(i, n)| {
            let address = n.endpoints.get(name)?;
            Some((i.vantage.clone(), (*address).to_string()))
        })
        .collect();
    let mut all = by.values();
    let first = all.next()?;
    all.any(|a| a != first).then_some(by)
}

/// What the merge did not check beyond what each report says: the identities and endpoints
/// only some of the vantage points tried.
fn not_checked(inputs: &[Input], names: &[Names<'_>], out: &Report) -> Vec<String> {
    let mut list = Vec::new();
    for i in inputs {
        for n in &i.doc.not_checked {
            push_unique(&mut list, n);
        }
    }
    let only = |has: &dyn Fn(&Names<'_>) -> bool| -> Option<String> {
        let (from, missing): (Vec<_>, Vec<_>) = inputs.iter().zip(names).partition(|(_, n)| has(n));
        let from: Vec<&str> = from.iter().map(|(i, _)| i.vantage.as_str()).collect();
        let missing: Vec<&str> = missing.iter().map(|(i, _)| i.vantage.as_str()).collect();
        let whose = match missing.len() {
            1 => "its report does",
            _ => "their reports do",
        };
        (!missing.is_empty()).then(|| {
            format!(
                "only from {}, not from {} ({whose} not have it)",
                from.join(", "),
                missing.join(", ")
            )
        })
    };
    for id in &out.identities {
        if let Some(w) = only(&|n| n.identities.contains(id.name.as_str())) {
            push_unique(&mut list, &format!("identity {} was tried {w}", id.name));
        }
    }
    for ep in &out.endpoints {
        if let Some(w) = only(&|n| n.endpoints.contains_key(ep.name.as_str())) {
            push_unique(&mut list, &format!("endpoint {} was probed {w}", ep.name));
        }
    }
    list
}

/// One input's view of a merged cell: its cell with a verdict, or why it has none.
#[derive(Clone, Copy)]
enum Seen<'a> {
    Tried(&'a Cell),
    Not(NotTried),
}

/// One link whose vantage points saw different verdicts: the identity and what each vantage
/// point that tried it saw.
struct Link<'a> {
    identity: &'a str,
    seen: Vec<(&'a str, &'a Cell)>,
}

/// Each input's cells with a verdict, by (identity, endpoint).
type Index<'a> = HashMap<(&'a str, &'a str), &'a Cell>;

/// The merged cells in matrix order over `out`'s endpoints and identities, and a
/// VANTAGE_DISAGREE finding for each endpoint whose vantage points saw different verdicts on
/// some link or dialed it at different addresses.
fn merge_cells(inputs: &[Input], names: &[Names<'_>], out: &Report) -> (Vec<Cell>, Vec<Finding>) {
    let index: Vec<Index<'_>> = inputs
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
    let mut links: Vec<Vec<Link<'_>>> = out.endpoints.iter().map(|_| Vec::new()).collect();
    for id in &out.identities {
        for (e, ep) in out.endpoints.iter().enumerate() {
            let seen: Vec<(&str, Seen<'_>)> = (inputs.iter().zip(names).zip(&index))
                .map(|((i, n), ix)| (i.vantage.as_str(), seen_by(n, ix, &id.name, &ep.name)))
                .collect();
            let tried: Vec<(&str, &Cell)> = seen
                .iter()
                .filter_map(|(v, s)| match s {
                    Seen::Tried(c) => Some((*v, *c)),
                    Seen::Not(_) => None,
                })
                .collect();
            let Some(cell) = merged_cell(ep, &seen, &tried) else {
                cells.push(Cell::not_probed(&id.name, &ep.name));
                continue;
            };
            if cell.disagrees() {
                links[e].push(Link {
                    identity: &id.name,
                    seen: tried,
                });
            }
            cells.push(cell);
        }
    }
    let disagree = out
        .endpoints
        .iter()
        .zip(&links)
        .filter(|(ep, l)| !l.is_empty() || ep.addresses.is_some())
        .map(|(ep, l)| disagreement(ep, l, inputs))
        .collect();
    (cells, disagree)
}

/// What an input (its names and its cells) saw of `identity` at `endpoint`.
fn seen_by<'a>(n: &Names<'_>, ix: &Index<'a>, identity: &str, endpoint: &str) -> Seen<'a> {
    if let Some(c) = ix.get(&(identity, endpoint)) {
        Seen::Tried(c)
    } else if !n.identities.contains(identity) {
        Seen::Not(NotTried::Identity)
    } else if !n.endpoints.contains_key(endpoint) {
        Seen::Not(NotTried::Endpoint)
    } else {
        Seen::Not(NotTried::Cell)
    }
}

/// The merged cell: the worst of the tried cells (the first vantage point's among equals), with
/// what every vantage point saw; `None` when no vantage point tried it. Its fix, where the
/// vantage points dialed different addresses, says whose address it names.
fn merged_cell(ep: &Endpoint, seen: &[(&str, Seen<'_>)], tried: &[(&str, &Cell)]) -> Option<Cell> {
    let (worst_v, base) = tried
        .iter()
        .fold(None, |acc: Option<&(&str, &Cell)>, s| match acc {
            Some(a) if badness(a.1) >= badness(s.1) => Some(a),
            _ => Some(s),
        })?;
    let mut cell = (*base).clone();
    cell.baseline = None;
    cell.changed = tried.iter().any(|(_, c)| c.changed);
    cell.rotated = tried.iter().any(|(_, c)| c.rotated);
    if let (Some(fix), Some(by)) = (&cell.fix, &ep.addresses) {
        let at = by.get(*worst_v).map_or("", String::as_str);
        cell.fix = Some(format!(
            "from {worst_v} (dialing {} at {at}): {fix}",
            ep.name
        ));
    }
    let by: BTreeMap<String, VantageCell> = seen
        .iter()
        .map(|(v, s)| {
            let view = match s {
                Seen::Tried(c) => VantageCell {
                    verdict: c.verdict,
                    outcome: c.outcome,
                    not_tried: None,
                },
                Seen::Not(why) => VantageCell::not_tried(*why),
            };
            ((*v).to_string(), view)
        })
        .collect();
    cell.by_vantage = Some(by);
    Some(cell)
}

/// The union of the inputs' findings (each tagged with the vantage points that raised it) and
/// the disagreements, in the audit's order. A finding about an endpoint the vantage points
/// dialed at different addresses is merged only with the same finding from vantage points of
/// the same address, and its fix says which vantage points and address it is about.
fn merge_findings(
    inputs: &[Input],
    endpoints: &[Endpoint],
    disagree: Vec<Finding>,
) -> Vec<Finding> {
    // The same finding: code, endpoint, identity, title, and the address dialed where the
    // vantage points' differ.
    type Key<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
        Option<&'a str>,
    );
    let split: HashMap<&str, &BTreeMap<String, String>> = endpoints
        .iter()
        .filter_map(|e| Some((e.name.as_str(), e.addresses.as_ref()?)))
        .collect();
    let mut seen: HashMap<Key<'_>, usize> = HashMap::new();
    let mut findings: Vec<(Finding, Option<&str>)> = Vec::new();
    for i in inputs {
        for f in &i.doc.findings {
            let dialed = f
                .endpoint
                .as_deref()
                .and_then(|e| split.get(e))
                .and_then(|by| by.get(&i.vantage))
                .map(String::as_str);
            let key = (
                f.code.as_str(),
                f.endpoint.as_deref(),
                f.identity.as_deref(),
                f.title.as_str(),
                dialed,
            );
            match seen.get(&key) {
                Some(&k) => push_unique(&mut findings[k].0.vantages, &i.vantage),
                None => {
                    seen.insert(key, findings.len());
                    let mut g = f.clone();
                    g.vantages = vec![i.vantage.clone()];
                    findings.push((g, dialed));
                }
            }
        }
    }
    let mut findings: Vec<Finding> = findings
        .into_iter()
        .map(|(mut f, dialed)| {
            if let (Some(at), Some(e)) = (dialed, &f.endpoint) {
                f.fix = format!(
                    "from {} (dialing {e} at {at}): {}",
                    f.vantages.join(", "),
                    f.fix
                );
            }
            f
        })
        .collect();
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
        provenance: None,
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

/// The VANTAGE_DISAGREE finding of one endpoint: the addresses its vantage points dialed when
/// they differ, and the links whose verdicts differ, naming which vantage point saw what.
fn disagreement(ep: &Endpoint, links: &[Link<'_>], inputs: &[Input]) -> Finding {
    let mut said = Vec::new();
    if let Some(by) = &ep.addresses {
        said.push(format!(
            "dialed {} at different addresses ({})",
            ep.name,
            address_list(by)
        ));
    }
    if let Some(what) = links_title(&ep.name, links) {
        said.push(format!("disagree on {what}"));
    }
    let mut evidence: Vec<String> = ep
        .addresses
        .iter()
        .map(|by| format!("addresses: {}", address_list(by)))
        .collect();
    evidence.extend(links.iter().map(|l| link_evidence(l, links.len() > 1)));
    // The vantage points it is about: those with the endpoint, in input order.
    let vantages = inputs
        .iter()
        .filter(|i| {
            ep.addresses
                .as_ref()
                .is_some_and(|by| by.contains_key(&i.vantage))
                || links
                    .iter()
                    .any(|l| l.seen.iter().any(|(v, _)| *v == i.vantage))
        })
        .map(|i| i.vantage.clone())
        .collect();
    Finding {
        code: Named::Known(Code::VantageDisagree),
        severity: Named::Known(Code::VantageDisagree.default_severity()),
        endpoint: Some(ep.name.clone()),
        identity: (links.len() == 1).then(|| links[0].identity.to_string()),
        title: format!("Vantage points {}", said.join(" and ")),
        evidence: evidence.join("; "),
        fix: disagreement_fix(ep, links),
        source: None,
        vantages,
    }
}

/// `127.0.0.1:20160 from rack-a; 127.0.0.1:1 from rack-b`.
fn address_list(by: &BTreeMap<String, String>) -> String {
    by.iter()
        .map(|(v, a)| format!("{a} from {v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `tidb at tikv-1: secure from rack-a; unreachable from rack-b`, or for several links
/// `8 links at tikv-1 (tidb, pd, ...): secure 3, enforced 5 from rack-a; unreachable 8 from
/// rack-b`: each vantage point's verdicts, vantage points that saw the same grouped.
fn links_title(endpoint: &str, links: &[Link<'_>]) -> Option<String> {
    let first = links.first()?;
    let mut order: Vec<&str> = Vec::new();
    for l in links {
        for (v, _) in &l.seen {
            if !order.contains(v) {
                order.push(v);
            }
        }
    }
    // Each vantage point's verdicts over the links, in words.
    let words = |v: &str| -> String {
        let mut counts: Vec<(Option<Verdict>, usize)> = Vec::new();
        for (_, c) in links.iter().flat_map(|l| &l.seen).filter(|(w, _)| *w == v) {
            match counts.iter_mut().find(|(x, _)| *x == c.verdict) {
                Some((_, n)) => *n += 1,
                None => counts.push((c.verdict, 1)),
            }
        }
        let parts: Vec<String> = counts
            .iter()
            .map(|(x, n)| match links.len() {
                1 => verdict_name(*x).to_string(),
                _ => format!("{} {n}", verdict_name(*x)),
            })
            .collect();
        parts.join(", ")
    };
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for v in order {
        let w = words(v);
        match groups.iter_mut().find(|(x, _)| *x == w) {
            Some((_, vs)) => vs.push(v),
            None => groups.push((w, vec![v])),
        }
    }
    let seen: Vec<String> = groups
        .iter()
        .map(|(w, vs)| format!("{w} from {}", vs.join(", ")))
        .collect();
    let what = match links {
        [_] => format!("{} at {endpoint}", first.identity),
        _ => {
            let ids: Vec<&str> = links.iter().map(|l| l.identity).collect();
            format!("{} links at {endpoint} ({})", links.len(), ids.join(", "))
        }
    };
    Some(format!("{what}: {}", seen.join("; ")))
}

/// What each vantage point saw of one link, with the probe's outcome: `rack-a: secure
/// (accepted: ...), rack-b: unreachable (refused: ...)`, led by the identity when `named`.
fn link_evidence(l: &Link<'_>, named: bool) -> String {
    let each: Vec<String> = l
        .seen
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
    if named {
        format!("{}: {}", l.identity, each.join(", "))
    } else {
        each.join("; ")
    }
}

/// The vantage points whose network path to check, in the order seen: those that could not
/// reach the endpoint (`unreachable`) on a link another vantage point reached; where none,
/// those with the worst verdict of some link.
fn worse<'a>(links: &[Link<'a>]) -> Vec<&'a str> {
    let mut cut: Vec<&str> = Vec::new();
    let mut worst_of: Vec<&str> = Vec::new();
    for l in links {
        let worst = l.seen.iter().map(|(_, c)| badness(c)).max().unwrap_or(0);
        for (v, c) in &l.seen {
            if c.verdict == Some(Verdict::Unreachable) && !cut.contains(v) {
                cut.push(v);
            }
            if badness(c) == worst && !worst_of.contains(v) {
                worst_of.push(v);
            }
        }
    }
    if cut.is_empty() {
        worst_of
    } else {
        cut
    }
}

/// The fix of an endpoint's disagreement: make the addresses agree (when they differ), and
/// check the network path from the vantage points that fared worse ([`worse`]), each to the
/// address it dialed.
fn disagreement_fix(ep: &Endpoint, links: &[Link<'_>]) -> String {
    let worse = worse(links);
    let Some(by) = &ep.addresses else {
        return format!(
            "a firewall/route/DNS difference between the vantage points; check the network path from {} to {} ({})",
            worse.join(" and "),
            ep.name,
            ep.address
        );
    };
    let mut fix = format!(
        "the vantage points' inventories give {} different addresses ({}), so their verdicts may be of different servers: give it the same address in every vantage point's inventory (if the difference is meant, as behind NAT or a per-rack proxy, give each address its own endpoint name)",
        ep.name,
        address_list(by)
    );
    if !worse.is_empty() {
        let paths: Vec<String> = worse
            .iter()
            .map(|v| {
                let at = by.get(*v).map_or("", String::as_str);
                format!("from {v} to {} ({at})", ep.name)
            })
            .collect();
        fix.push_str(&format!(
            "; if they still disagree, check the network path {}",
            paths.join(" and ")
        ));
    }
    fix
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
        // One finding for the endpoint, listing both links and what each vantage point saw.
        let disagree: Vec<_> = merged
            .findings
            .iter()
            .filter(|f| f.code == Code::VantageDisagree)
            .collect();
        assert_eq!(disagree.len(), 1);
        let f = disagree[0];
        assert_eq!(f.endpoint.as_deref(), Some("tikv-1"));
        assert_eq!(f.identity, None);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.title,
            "Vantage points disagree on 2 links at tikv-1 (tidb, anonymous): secure 1, enforced 1 from rack-a; unreachable 2 from rack-b"
        );
        assert!(
            f.evidence.starts_with(
                "tidb: rack-a: secure (accepted), rack-b: unreachable (refused); anonymous: "
            ),
            "{}",
            f.evidence
        );
        assert!(
            f.fix.contains("from rack-b to tikv-1 (127.0.0.1:20160)"),
            "{}",
            f.fix
        );
        assert_eq!(f.vantages, ["rack-a", "rack-b"]);
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
        // a's report has no tidb-1: its view says so, and the merge does not call it a
        // disagreement.
        let by = c.by_vantage.as_ref().unwrap();
        assert_eq!(by.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(by["a"], VantageCell::not_tried(NotTried::Endpoint));
        assert_eq!(by["b"].verdict, Some(Verdict::Secure));
        assert!(!c.disagrees());
        assert!(merged.not_checked.contains(
            &"endpoint tidb-1 was probed only from b, not from a (its report does not have it)"
                .to_string()
        ));
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
    fn an_address_mismatch_is_kept_per_vantage_and_raised_once() {
        let a = report(
            "c",
            Some("rack-a"),
            ["secure", "secure", "enforced", "enforced"],
        );
        let mut b = report(
            "c",
            Some("rack-b"),
            ["secure", "unreachable", "enforced", "unreachable"],
        );
        b.endpoints[1].address = "127.0.0.1:1".into();
        // pd-1 too, with the same verdicts: a finding of its own, still.
        b.endpoints[0].address = "10.0.0.9:2379".into();
        let merged = merge(&inputs(vec![("a.json", a), ("b.json", b)]).unwrap());
        let tikv = &merged.endpoints[1];
        assert_eq!(tikv.address, "127.0.0.1:20160");
        let by = tikv.addresses.as_ref().unwrap();
        assert_eq!(by["rack-a"], "127.0.0.1:20160");
        assert_eq!(by["rack-b"], "127.0.0.1:1");
        assert_eq!(
            tikv.address_text(),
            "127.0.0.1:20160 from rack-a, 127.0.0.1:1 from rack-b"
        );
        let disagree: Vec<_> = merged
            .findings
            .iter()
            .filter(|f| f.code == Code::VantageDisagree)
            .collect();
        assert_eq!(disagree.len(), 2, "{disagree:#?}");
        let pd = disagree
            .iter()
            .find(|f| f.endpoint.as_deref() == Some("pd-1"))
            .unwrap();
        assert_eq!(
            pd.title,
            "Vantage points dialed pd-1 at different addresses (127.0.0.1:2379 from rack-a; 10.0.0.9:2379 from rack-b)"
        );
        assert!(!pd.fix.contains("network path"), "{}", pd.fix);
        let f = disagree
            .iter()
            .find(|f| f.endpoint.as_deref() == Some("tikv-1"))
            .unwrap();
        assert!(
            f.title.starts_with("Vantage points dialed tikv-1 at different addresses (127.0.0.1:20160 from rack-a; 127.0.0.1:1 from rack-b) and disagree on 2 links"),
            "{}",
            f.title
        );
        // The path to check is rack-b's, to the address rack-b dialed.
        assert!(
            f.fix.contains("from rack-b to tikv-1 (127.0.0.1:1)"),
            "{}",
            f.fix
        );
        assert!(
            f.fix
                .contains("same address in every vantage point's inventory"),
            "{}",
            f.fix
        );
        // The same finding seen at different addresses stays apart, each fix naming whose.
        let lists: Vec<_> = merged
            .findings
            .iter()
            .filter(|f| f.code == Code::NoAllowList)
            .collect();
        assert_eq!(lists.len(), 2);
        assert_eq!(lists[0].vantages, ["rack-a"]);
        assert_eq!(
            lists[0].fix,
            "from rack-a (dialing pd-1 at 127.0.0.1:2379): set it"
        );
        assert_eq!(
            lists[1].fix,
            "from rack-b (dialing pd-1 at 10.0.0.9:2379): set it"
        );
        // The JSON carries the addresses; a report whose vantage points agree does not.
        let json = merged.to_json().unwrap();
        assert!(json.contains("\"addresses\": {"), "{json}");
        let same = report("c", Some("x"), ["secure"; 4]);
        let same2 = report("c", Some("y"), ["secure"; 4]);
        let m = merge(&inputs(vec![("x.json", same), ("y.json", same2)]).unwrap());
        assert!(m.endpoints.iter().all(|e| e.addresses.is_none()));
        assert!(!m.to_json().unwrap().contains("\"addresses\""));
    }

    #[test]
    fn an_identity_one_report_lacks_is_named_not_tried() {
        let a = report("c", Some("rack-a"), ["secure"; 4]);
        let mut b = report("c", Some("rack-b"), ["secure"; 4]);
        b.identities.retain(|i| i.name != "anonymous");
        b.cells.retain(|c| c.identity != "anonymous");
        let merged = merge(&inputs(vec![("a.json", a), ("b.json", b)]).unwrap());
        let cell = merged
            .cells
            .iter()
            .find(|c| c.identity == "anonymous" && c.endpoint == "pd-1")
            .unwrap();
        assert_eq!(cell.verdict, Some(Verdict::Secure));
        let by = cell.by_vantage.as_ref().unwrap();
        assert_eq!(by["rack-b"].not_tried, Some(NotTried::Identity));
        assert_eq!(
            NotTried::Identity.describe("rack-b", "anonymous", "pd-1"),
            "not tried: rack-b's report has no identity anonymous"
        );
        assert!(!cell.disagrees());
        assert!(merged
            .findings
            .iter()
            .all(|f| f.code != Code::VantageDisagree));
        assert_eq!(
            merged.not_checked,
            ["identity anonymous was tried only from rack-a, not from rack-b (its report does not have it)"]
        );
        let json = merged.to_json().unwrap();
        assert!(json.contains("\"not_tried\": \"identity\""), "{json}");
    }

    #[test]
    fn every_face_shows_the_marks_and_the_vantage_points_that_did_not_try() {
        let a = report(
            "c",
            Some("rack-a"),
            ["secure", "secure", "enforced", "enforced"],
        );
        let mut b = report(
            "c",
            Some("rack-b"),
            ["secure", "unreachable", "enforced", "unreachable"],
        );
        b.endpoints[1].address = "127.0.0.1:1".into();
        let mut c = report(
            "c",
            Some("rack-c"),
            ["secure", "secure", "enforced", "enforced"],
        );
        c.identities.retain(|i| i.name != "anonymous");
        c.cells.retain(|c| c.identity != "anonymous");
        let merged = merge(&inputs(vec![("a.json", a), ("b.json", b), ("c.json", c)]).unwrap());
        let opts = crate::Options::default();
        let md = crate::render(&merged, crate::Format::Markdown, &opts).unwrap();
        let row = md.lines().find(|l| l.starts_with("| tikv-1 ")).unwrap();
        assert_eq!(row.matches('≠').count(), 2, "{row}");
        let row = md.lines().find(|l| l.starts_with("| pd-1 ")).unwrap();
        assert!(!row.contains('≠'), "{row}");
        assert!(md.contains("`≠` vantage points disagree"), "{md}");
        assert!(
            md.contains("  - seen from: rack-a, rack-b, rack-c\n"),
            "{md}"
        );
        let table = crate::render(&merged, crate::Format::Table, &opts).unwrap();
        assert!(
            table.contains(
                "≠ anonymous at tikv-1: rack-a enforced, rack-b unreachable, rack-c not tried"
            ),
            "{table}"
        );
        assert!(
            table.contains("≠ tikv-1: 127.0.0.1:20160 from rack-a, 127.0.0.1:1 from rack-b, 127.0.0.1:20160 from rack-c"),
            "{table}"
        );
        let html = crate::render(&merged, crate::Format::Html, &opts).unwrap();
        assert!(
            html.contains("rack-c: not tried: rack-c's report has no identity anonymous"),
            "{html}"
        );
        let sarif = crate::render(&merged, crate::Format::Sarif, &opts).unwrap();
        assert!(sarif.contains("\"addresses\""), "{sarif}");
    }

    #[test]
    fn labels_are_kept_and_left_out_when_empty() {
        let mut a = report("c", Some("a"), ["secure"; 4]);
        a.endpoints[0].labels.insert("rack".into(), "r1".into());
        let mut b = report("c", Some("b"), ["secure"; 4]);
        b.endpoints[0].labels.insert("zone".into(), "az1".into());
        let merged = merge(&inputs(vec![("a.json", a.clone()), ("b.json", b)]).unwrap());
        let labels: Vec<_> = merged.endpoints[0].labels.iter().collect();
        assert_eq!(labels.len(), 2);
        let json = a.to_json().unwrap();
        assert!(
            json.contains("\"labels\": {\n        \"rack\": \"r1\"\n      }"),
            "{json}"
        );
        assert_eq!(json.matches("\"labels\"").count(), 1);
        let back = Report::parse(&json, "a.json").unwrap();
        assert_eq!(back.endpoints[0].labels["rack"], "r1");
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
