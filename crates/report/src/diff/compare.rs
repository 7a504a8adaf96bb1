//! The comparisons behind [`super::diff`], one per part of the report: cells, server
//! certificates, endpoints, identities and findings.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tlsaudit_engine::audit::Verdict;

use super::{
    CellChange, Cert, Change, EndpointBrief, EndpointChange, EndpointChanges, FindingBrief,
    FindingChanges, IdentityBrief, IdentityChanges, Rotation,
};
use crate::model::{Endpoint, Report};

/// Endpoints added, removed, and changed in address, component, role or allow-list.
pub(super) fn endpoints(before: &Report, after: &Report) -> EndpointChanges {
    let old: HashMap<&str, &Endpoint> = before
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    let new: BTreeSet<&str> = after.endpoints.iter().map(|e| e.name.as_str()).collect();
    let mut out = EndpointChanges {
        added: after
            .endpoints
            .iter()
            .filter(|e| !old.contains_key(e.name.as_str()))
            .map(EndpointBrief::from)
            .collect(),
        removed: before
            .endpoints
            .iter()
            .filter(|e| !new.contains(e.name.as_str()))
            .map(EndpointBrief::from)
            .collect(),
        changed: Vec::new(),
    };
    for a in &after.endpoints {
        let Some(b) = old.get(a.name.as_str()) else {
            continue;
        };
        let mut field = |field: &str, before: String, after: String| {
            if before != after {
                out.changed.push(EndpointChange {
                    endpoint: a.name.clone(),
                    field: field.to_string(),
                    before,
                    after,
                });
            }
        };
        field("address", b.address.clone(), a.address.clone());
        field(
            "component",
            b.component.as_str().to_string(),
            a.component.as_str().to_string(),
        );
        field("role", b.role.clone(), a.role.clone());
        field(
            "allowed_cn",
            b.allowed_cn.join(", "),
            a.allowed_cn.join(", "),
        );
    }
    out
}

/// Identities added and removed, by name.
pub(super) fn identities(before: &Report, after: &Report) -> IdentityChanges {
    let names =
        |r: &Report| -> BTreeSet<String> { r.identities.iter().map(|i| i.name.clone()).collect() };
    let (old, new) = (names(before), names(after));
    IdentityChanges {
        added: after
            .identities
            .iter()
            .filter(|i| !old.contains(&i.name))
            .map(IdentityBrief::from)
            .collect(),
        removed: before
            .identities
            .iter()
            .filter(|i| !new.contains(&i.name))
            .map(IdentityBrief::from)
            .collect(),
    }
}

/// What identifies a finding across reports: code, endpoint, identity.
type FindingKey<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

fn finding_counts(r: &Report) -> HashMap<FindingKey<'_>, usize> {
    let mut m = HashMap::new();
    for f in &r.findings {
        let key = (
            f.code.as_str(),
            f.endpoint.as_deref(),
            f.identity.as_deref(),
        );
        *m.entry(key).or_default() += 1;
    }
    m
}

/// The findings of `r` not matched in `other` (counted per key).
fn only_in<'a>(r: &'a Report, mut other: HashMap<FindingKey<'a>, usize>) -> Vec<FindingBrief> {
    r.findings
        .iter()
        .filter(|f| {
            let key = (
                f.code.as_str(),
                f.endpoint.as_deref(),
                f.identity.as_deref(),
            );
            match other.get_mut(&key) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            }
        })
        .map(FindingBrief::from)
        .collect()
}

/// Findings compared as multisets by (code, endpoint, identity).
pub(super) fn findings(before: &Report, after: &Report) -> FindingChanges {
    FindingChanges {
        added: only_in(after, finding_counts(before)),
        resolved: only_in(before, finding_counts(after)),
    }
}

/// The cells of both reports whose verdict changed, grouped by [`Change`], then in the after
/// report's endpoint and identity order.
pub(super) fn cells(before: &Report, after: &Report) -> Vec<CellChange> {
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

/// The server certificate (leaf) each endpoint served: from the first cell that recorded a
/// chain.
fn server_certs(r: &Report) -> BTreeMap<&str, Cert> {
    let mut out = BTreeMap::new();
    for c in &r.cells {
        if let Some(leaf) = c.record.as_ref().and_then(|r| r.server_chain.first()) {
            out.entry(c.endpoint.as_str()).or_insert_with(|| Cert {
                sha256: leaf.sha256.clone(),
                subject: leaf.subject.clone(),
                issuer: leaf.issuer.clone(),
                not_after: leaf.not_after.clone(),
            });
        }
    }
    out
}

/// The endpoints of both reports whose server certificate changed.
pub(super) fn rotations(before: &Report, after: &Report) -> Vec<Rotation> {
    let (old, new) = (server_certs(before), server_certs(after));
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
                before: b.cloned(),
                after: a.cloned(),
            })
        })
        .collect()
}
