//! The comparisons behind [`super::diff`], one per part of the report: cells, server
//! certificates, endpoints, identities, findings, and the TLS versions and suites accepted.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tlsaudit_engine::audit::Verdict;
use tlsaudit_engine::scan::Version;

use super::{
    CellChange, Cert, Change, EndpointBrief, EndpointChange, EndpointChanges, FindingBrief,
    FindingChanges, IdentityBrief, IdentityChanges, Rotation, TlsChange,
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

/// What a report's scan of an endpoint says it accepts, when the scan got an answer: per
/// version accepted, its suites.
fn accepted(e: &Endpoint) -> Option<BTreeMap<Version, BTreeSet<&str>>> {
    let scan = e.scan.as_ref().filter(|s| s.failure.is_none())?;
    Some(
        scan.versions
            .iter()
            .filter(|v| v.accepted)
            .map(|v| {
                (
                    v.version,
                    v.suites.iter().map(|s| s.name.as_str()).collect(),
                )
            })
            .collect(),
    )
}

/// The weakness of a suite by name, from whichever report lists it.
fn suite_weak(e: &Endpoint, name: &str) -> bool {
    e.scan
        .iter()
        .flat_map(|s| &s.versions)
        .flat_map(|v| &v.suites)
        .any(|s| s.name == name && !s.weaknesses.is_empty())
}

/// The versions and suites each endpoint of both reports accepts now and did not, or no
/// longer accepts. A version that came or went is one change (its suites are not listed one
/// by one); suites are compared within the versions both scans accepted.
pub(super) fn tls(before: &Report, after: &Report) -> Vec<TlsChange> {
    let mut out = Vec::new();
    for a in &after.endpoints {
        let Some(b) = before.endpoints.iter().find(|b| b.name == a.name) else {
            continue;
        };
        let (Some(was), Some(now)) = (accepted(b), accepted(a)) else {
            continue;
        };
        let change = |version: Version, suite: Option<&str>, accepted: bool| TlsChange {
            endpoint: a.name.clone(),
            address: a.address.clone(),
            version: version.name().to_string(),
            suite: suite.map(str::to_string),
            accepted,
            weak: suite.map_or(version.is_obsolete(), |s| {
                suite_weak(a, s) || suite_weak(b, s)
            }),
        };
        for v in Version::ALL {
            match (was.get(&v), now.get(&v)) {
                (None, Some(_)) => out.push(change(v, None, true)),
                (Some(_), None) => out.push(change(v, None, false)),
                (Some(old), Some(new)) => {
                    out.extend(new.difference(old).map(|s| change(v, Some(s), true)));
                    out.extend(old.difference(new).map(|s| change(v, Some(s), false)));
                }
                (None, None) => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlsaudit_engine::scan::{ScanFailure, ScanResult, SuiteSeen, VersionScan};

    fn suite(name: &str, weak: bool) -> SuiteSeen {
        SuiteSeen {
            id: "0x0000".into(),
            name: name.into(),
            weaknesses: if weak {
                vec![tlsaudit_engine::scan::Weakness::TripleDes]
            } else {
                Vec::new()
            },
        }
    }

    /// A report of one endpoint `e` whose scan accepts `versions` (each with its suites).
    fn report(versions: &[(Version, &[(&str, bool)])], failed: bool) -> Report {
        let scan = ScanResult {
            address: "a:1".into(),
            protocol: "tls".into(),
            versions: Version::ALL
                .iter()
                .map(|&v| {
                    let mut s = VersionScan::new(v);
                    if let Some((_, suites)) = versions.iter().find(|(x, _)| *x == v) {
                        s.accepted = true;
                        s.suites = suites.iter().map(|(n, w)| suite(n, *w)).collect();
                    }
                    s
                })
                .collect(),
            certificates: Vec::new(),
            connections: 1,
            elapsed_ms: 1,
            complete: true,
            finished_at: None,
            failure: failed.then(|| ScanFailure {
                class: tlsaudit_engine::scan::Failure::Timeout,
                detail: "no answer".into(),
            }),
        };
        let mut r: Report = serde_json::from_str(r#"{"schema":"tlsaudit.report/v1"}"#).unwrap();
        r.endpoints.push(Endpoint {
            name: "e".into(),
            address: "a:1".into(),
            scan: Some(scan),
            ..Endpoint::default()
        });
        r
    }

    #[test]
    fn a_version_or_suite_newly_accepted_is_a_change_and_a_failed_scan_is_none() {
        let aead: &[(&str, bool)] = &[("TLS_AES_128_GCM_SHA256", false)];
        let before = report(&[(Version::Tls13, aead)], false);
        let after = report(
            &[
                (Version::Tls10, &[("TLS_RSA_WITH_3DES_EDE_CBC_SHA", true)]),
                (
                    Version::Tls13,
                    &[
                        ("TLS_AES_128_GCM_SHA256", false),
                        ("TLS_AES_256_GCM_SHA384", false),
                    ],
                ),
            ],
            false,
        );
        let changes = tls(&before, &after);
        let seen: Vec<(&str, Option<&str>, bool, bool)> = changes
            .iter()
            .map(|t| (t.version.as_str(), t.suite.as_deref(), t.accepted, t.weak))
            .collect();
        assert_eq!(
            seen,
            [
                ("TLS 1.0", None, true, true),
                ("TLS 1.3", Some("TLS_AES_256_GCM_SHA384"), true, false)
            ]
        );
        // The way back: both no longer accepted, neither gates.
        let back = tls(&after, &before);
        assert!(back.iter().all(|t| !t.accepted) && back.len() == 2);
        // A scan that failed on either side says nothing about a change.
        assert!(tls(&before, &report(&[], true)).is_empty());
        assert!(tls(&report(&[], true), &after).is_empty());
        // A report without a scan (an earlier version, --no-scan) neither.
        let mut old = before.clone();
        old.endpoints[0].scan = None;
        assert!(tls(&old, &after).is_empty());
        let d = super::super::diff(&before, &after, ("b", "a"));
        assert_eq!(
            d.failing(&[super::super::FailOn::Tls]),
            ["2 TLS version(s) or suite(s) newly accepted"]
        );
        assert!(d.failing(&[super::super::FailOn::Open]).is_empty());
    }
}
